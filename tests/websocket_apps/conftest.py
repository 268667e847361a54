"""Fixtures of the WebSockets chapter: a hand-written client, a shared server.

* `raw_websocket` opens connections byte by byte, to send what no library
  would: an invalid frame, a frame header that announces too much, a client
  that never answers a ping or that disappears without closing.
* `echo_server` is the echo server of "Server and client", for two pages.

The browser test of the chat uses the shared `chromium` (tests/conftest.py).
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct

import pytest

TIMEOUT = 5.0  # seconds for any read from a server under test

TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9


class RawWebSocket:
    """A client-side WebSocket connection over a plain socket."""

    def __init__(
        self, host: str, port: int, path: str = "/", tls: ssl.SSLContext | None = None
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status = self._read_until(b"\r\n\r\n").split(b"\r\n")[0]
        assert status == b"HTTP/1.1 101 Switching Protocols", status

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(64 * 1024)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_until(self, end: bytes) -> bytes:
        while end not in self.buffer:
            chunk = self.sock.recv(64 * 1024)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(end)
        return data

    def send_frame(
        self, opcode: int, payload: bytes, *, announced_length: int | None = None
    ) -> None:
        """Send one masked frame; `announced_length` makes its header lie."""
        self.sock.sendall(self.frame(opcode, payload, announced_length))

    def send_then_close(self, message: str) -> None:
        """A text message and a CLOSE frame, in one write: they arrive together."""
        close = self.frame(CLOSE, struct.pack("!H", 1000))
        self.sock.sendall(self.frame(TEXT, message.encode()) + close)

    @staticmethod
    def frame(
        opcode: int, payload: bytes, announced_length: int | None = None
    ) -> bytes:
        length = len(payload) if announced_length is None else announced_length
        header = bytes([0x80 | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 2**16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return header + mask + masked

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the server (which never masks): opcode, payload."""
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def read_close(self) -> tuple[int, str]:
        """Read past data and pings (never answering) to the close frame."""
        while True:
            opcode, payload = self.read_frame()
            if opcode == CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    def vanish(self) -> None:
        """Disappear as a crashed client does: a reset, no closing handshake."""
        # Linger 0: close() sends a TCP reset instead of an orderly end.
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.sock.close()


@pytest.fixture(scope="session")
def echo_server(start_server):
    """The echo server of "Server and client", shared by the tests of two pages."""
    with start_server("websocket_apps/echo_server.py") as server:
        yield server
    assert server.output.endswith("Server stopped\n")


@pytest.fixture
def raw_websocket() -> type[RawWebSocket]:
    """`with raw_websocket(host, port, path) as ws:` a hand-made connection."""
    return RawWebSocket
