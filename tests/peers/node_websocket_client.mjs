// A WebSocket client not written in Python: Node.js's own WebSocket (undici,
// built into Node.js; version 20 needs --experimental-websocket, 22 and
// later have it on). The tests drive api_server.py's /ws route with it. Each
// event is printed as one line of JSON.
//
//   node --experimental-websocket node_websocket_client.mjs URL
//        [--origin ORIGIN] [--send TEXT]...
//
// It sends the messages once connected, prints each reply, and closes with
// 1000 once every message has its reply.
const [url, ...rest] = process.argv.slice(2);
const headers = {};
const messages = [];
for (let i = 0; i < rest.length; i += 2) {
  const [name, value] = [rest[i], rest[i + 1]];
  if (name === "--origin") headers.Origin = value;
  else if (name === "--send") messages.push(value);
  else throw new Error(`unknown option ${name}`);
}

const print = (event) => console.log(JSON.stringify(event));
// `headers` is undici's own option: a browser sets Origin itself.
const websocket = new WebSocket(url, { headers });
const giveUp = setTimeout(() => {
  print({ event: "timeout" });
  process.exit(2);
}, 10000);
let replies = 0;

websocket.onopen = () => {
  print({ event: "open" });
  for (const message of messages) websocket.send(message);
  if (messages.length === 0) websocket.close(1000);
};
websocket.onmessage = (message) => {
  print({ event: "message", data: message.data });
  replies += 1;
  if (replies === messages.length) websocket.close(1000);
};
websocket.onerror = (error) => {
  print({ event: "error", message: error.message });
  // Refused at the handshake: undici may not report a close after it.
  if (websocket.readyState !== WebSocket.OPEN) clearTimeout(giveUp);
};
websocket.onclose = (close) => {
  print({ event: "close", code: close.code, reason: close.reason });
  clearTimeout(giveUp);
};
