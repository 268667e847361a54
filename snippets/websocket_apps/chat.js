"use strict";

const joinForm = document.getElementById("join");
const talkForm = document.getElementById("talk");
const messages = document.getElementById("messages");
const statusLine = document.getElementById("status");
let websocket = null;

// The WebSocket lives on the server that served this page:
// ws://host:port/chat, or wss:// for a page that came over https:.
function chatUrl(name) {
  const url = new URL("/chat", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("name", name);
  return url;
}

// textContent, never innerHTML: a message is text to show, not markup to run.
function show(line) {
  const item = document.createElement("li");
  item.textContent = line;
  messages.append(item);
}

function showEvent(event) {
  if (event.type === "join") {
    show(`* ${event.name} joined (${event.online} online)`);
  } else if (event.type === "leave") {
    show(`* ${event.name} left (${event.online} online)`);
  } else if (event.type === "message") {
    show(`${event.name}: ${event.text}`);
  }
}

joinForm.addEventListener("submit", (submit) => {
  submit.preventDefault();
  websocket = new WebSocket(chatUrl(document.getElementById("name").value));
  websocket.addEventListener("open", () => {
    joinForm.hidden = true;
    talkForm.hidden = false;
    statusLine.textContent = "Connected";
  });
  websocket.addEventListener("message", ({ data }) => {
    showEvent(JSON.parse(data));
  });
  websocket.addEventListener("close", ({ code, reason }) => {
    // 1006 means the connection broke without a closing handshake.
    const why = reason ? `: ${reason}` : "";
    statusLine.textContent = `Disconnected (${code}${why})`;
    joinForm.hidden = false;
    talkForm.hidden = true;
  });
});

talkForm.addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = document.getElementById("text");
  websocket.send(input.value);
  input.value = "";
});
