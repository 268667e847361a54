// A WebSocket client written with Node.js and the `ws` package: the tests
// drive the Python servers with it, to prove them against a client that this
// project did not write. Each event is printed as one line of JSON.
//
//   node ws_client.mjs URL [--origin ORIGIN] [--ca FILE] [--expect N]
//                          [--send TEXT]... [--send-bytes HEX]... [--send-size N]
//
// It sends the messages in order once connected, prints the first N messages
// it receives, then closes with 1000 and prints how the connection closed.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const [url, ...rest] = process.argv.slice(2);
const options = { handshakeTimeout: 5000 };
const messages = [];
let expected = 0;
for (let i = 0; i < rest.length; i += 2) {
  const [name, value] = [rest[i], rest[i + 1]];
  if (name === "--origin") options.origin = value;
  else if (name === "--ca") options.ca = readFileSync(value);
  else if (name === "--expect") expected = Number(value);
  else if (name === "--send") messages.push(value);
  else if (name === "--send-bytes") messages.push(Buffer.from(value, "hex"));
  else if (name === "--send-size") messages.push("x".repeat(Number(value)));
  else throw new Error(`unknown option ${name}`);
}

const print = (event) => console.log(JSON.stringify(event));
const websocket = new WebSocket(url, options);
const giveUp = setTimeout(() => {
  print({ event: "timeout" });
  process.exit(2);
}, 10000);
let received = 0;

websocket.on("open", () => {
  print({ event: "open" });
  for (const message of messages) websocket.send(message);
  if (expected === 0) websocket.close(1000);
});
websocket.on("message", (data, isBinary) => {
  received += 1;
  print({
    event: "message",
    binary: isBinary,
    data: isBinary ? data.toString("hex") : data.toString("utf8"),
  });
  if (received === expected) websocket.close(1000);
});
websocket.on("unexpected-response", (request, response) => {
  print({ event: "refused", status: response.statusCode });
  clearTimeout(giveUp);
  request.destroy();
});
websocket.on("error", (error) => print({ event: "error", message: error.message }));
websocket.on("close", (code, reason) => {
  print({ event: "close", code, reason: reason.toString() });
  clearTimeout(giveUp);
});
