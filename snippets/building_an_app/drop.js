"use strict";
// The DROP protocol of drop_protocol.py, over one WebSocket: each request
// and each reply is one binary message holding one DROP frame.

const MAGIC = [0x44, 0x50]; // "DP"
const VERSION = 1;
const HEADER_SIZE = 8;
const TYPES = { PUT: "P", GET: "G", LIST: "L", STORED: "S", FILE: "F",
  NAMES: "N", ERROR: "E" };
const CODES = ["", "BAD_FRAME", "BAD_VERSION", "UNKNOWN_TYPE", "TOO_LARGE",
  "BAD_NAME", "NOT_FOUND", "TOO_SLOW", "BUSY", "FULL"];
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;
const statusLine = document.getElementById("status");
const fileList = document.getElementById("files");

// --- Frames ----------------------------------------------------------------

function frame(type, payload = new Uint8Array()) {
  const bytes = new Uint8Array(HEADER_SIZE + payload.length);
  const header = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  header.setUint8(2, VERSION);
  header.setUint8(3, type.charCodeAt(0));
  header.setUint32(4, payload.length); // big-endian, as DataView does
  bytes.set(payload, HEADER_SIZE);
  return bytes;
}

function parse(bytes) {
  const header = new DataView(bytes.buffer, bytes.byteOffset);
  if (bytes.length < HEADER_SIZE || bytes[0] !== MAGIC[0] ||
      bytes[1] !== MAGIC[1] || header.getUint8(2) !== VERSION ||
      header.getUint32(4) !== bytes.length - HEADER_SIZE) {
    throw new Error("the server's reply is not a DROP frame");
  }
  const type = String.fromCharCode(header.getUint8(3));
  const payload = bytes.subarray(HEADER_SIZE);
  if (type === TYPES.ERROR) {
    const code = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
    const text = new TextDecoder().decode(payload.subarray(2));
    throw new Error(`The server refused: ${CODES[code] || code}: ${text}`);
  }
  return { type, payload };
}

// --- One request at a time, over one WebSocket, opened on the first click ---

let socket = null;
let pending = null; // { resolve, reject } of the request awaiting its reply

function dropUrl() {
  // The WebSocket lives where this page came from: ws://host:port/drop.
  const url = new URL("/drop", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function connected() {
  if (socket !== null) {
    return Promise.resolve(socket);
  }
  return new Promise((resolve, reject) => {
    const opening = new WebSocket(dropUrl());
    opening.binaryType = "arraybuffer";
    opening.addEventListener("open", () => {
      socket = opening;
      resolve(opening);
    });
    opening.addEventListener("message", ({ data }) => {
      pending?.resolve(new Uint8Array(data));
      pending = null;
    });
    opening.addEventListener("close", ({ code, reason }) => {
      socket = null;
      const why = closeReason(code, reason);
      pending?.reject(new Error(why));
      pending = null;
      reject(new Error(why));
    });
  });
}

function closeReason(code, reason) {
  if (code === 1001) return "The server is restarting: try again";
  if (code === 1006) return "Cannot reach the server";
  if (code === 1009) return "Too large for this server";
  return `Disconnected (${code}${reason ? ": " + reason : ""})`;
}

async function request(bytes) {
  const websocket = await connected();
  return new Promise((resolve, reject) => {
    pending = { resolve, reject };
    websocket.send(bytes);
  }).then(parse);
}

// --- What the buttons do ------------------------------------------------

async function upload(file) {
  if (!NAME.test(file.name)) {
    throw new Error(`Rename ${file.name}: letters, digits, '.', '_', '-'`);
  }
  const name = new TextEncoder().encode(file.name);
  const content = new Uint8Array(await file.arrayBuffer());
  const payload = new Uint8Array(1 + name.length + content.length);
  payload[0] = name.length;
  payload.set(name, 1);
  payload.set(content, 1 + name.length);
  const reply = await request(frame(TYPES.PUT, payload));
  const digest = await crypto.subtle.digest("SHA-256", content);
  if (reply.type !== TYPES.STORED ||
      reply.payload.join() !== new Uint8Array(digest).join()) {
    throw new Error("The server stored other bytes than we sent");
  }
  return `Stored ${file.name}: ${content.length} bytes, SHA-256 checked`;
}

async function list() {
  const reply = await request(frame(TYPES.LIST));
  const text = new TextDecoder().decode(reply.payload);
  fileList.replaceChildren();
  for (const name of text ? text.split("\n") : []) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name; // text, never markup
    button.addEventListener("click", () => act(() => download(name)));
    const item = document.createElement("li");
    item.append(button);
    fileList.append(item);
  }
  return `${fileList.children.length} files`;
}

let lastDownload = null; // its object URL, freed at the next download

async function download(name) {
  const encoded = new TextEncoder().encode(name);
  const reply = await request(frame(TYPES.GET, encoded));
  if (lastDownload !== null) URL.revokeObjectURL(lastDownload);
  lastDownload = URL.createObjectURL(new Blob([reply.payload]));
  const link = document.createElement("a");
  link.href = lastDownload;
  link.download = name;
  link.click();
  return `Fetched ${name}: ${reply.payload.length} bytes`;
}

// Nothing connects until the reader clicks; each click says how it went.
async function act(action) {
  statusLine.textContent = "Working...";
  try {
    statusLine.textContent = await action();
  } catch (error) {
    statusLine.textContent = error.message;
  }
}

document.getElementById("upload").addEventListener("submit", (submit) => {
  submit.preventDefault();
  act(() => upload(document.getElementById("file").files[0]));
});
document.getElementById("list").addEventListener("click", () => act(list));
