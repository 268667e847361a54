"""The figures of "Networking protocols" (docs/protocols/index.md).

The WebSocket upgrade is drawn from the bytes that cross a real connection to
the site's echo server (websocket_apps/echo_server.py); the TCP handshake is
a picture of what the socket calls do, drawn with the same renderer so that it
reads on a phone. (The HTTP exchange on that page is the figure of "HTTP on
the wire", which tests/http_examples/test_wire.py draws from nginx.)
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
from pathlib import Path

from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

DOCS = Path(__file__).resolve().parents[2] / "docs"
ECHO_SERVER = "websocket_apps/echo_server.py"
# RFC 6455's own example key: fixed, so the figure is the same on every run
# (a real client draws 16 random bytes for each connection).
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
SHOWN_HEADERS = ("upgrade", "connection", "sec-websocket-accept")


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client's frame: FIN set, payload under 126 bytes, masked (all-zero mask
    here: the bytes stay readable and the server unmasks them all the same)."""
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + bytes(4) + payload


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection early"
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = read_exactly(sock, 2)
    assert not second & 0x80, "a server never masks its frames"
    return first & 0x0F, read_exactly(sock, second & 0x7F)


def test_the_upgrade_figure_is_what_the_echo_server_answers(start_server, request):
    with (
        start_server(ECHO_SERVER) as server,
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        handshake = (
            "GET / HTTP/1.1",
            f"Host: {server.host}:PORT",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {KEY}",
            "Sec-WebSocket-Version: 13",
        )
        wire = "\r\n".join(handshake).replace("PORT", str(server.port))
        sock.sendall(wire.encode() + b"\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert rest == b"", "nothing after the 101 before we speak"
        status, *header_lines = head.decode("ascii").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        by_name = {name.lower(): (name, value) for name, value in headers.items()}
        sock.sendall(masked_frame(0x1, b"Hello"))
        echoed = read_frame(sock)
        sock.sendall(masked_frame(0x8, struct.pack("!H", 1000)))
        closed = read_frame(sock)

    # SHA-1 is what RFC 6455 specifies here: a check of the protocol, no security.
    digest = hashlib.sha1((KEY + GUID).encode(), usedforsecurity=False).digest()
    expected = base64.b64encode(digest)
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert by_name["sec-websocket-accept"][1] == expected.decode()
    assert echoed == (0x1, b"Hello")
    assert closed == (0x8, struct.pack("!H", 1000))
    shown = [f"{name}: {value}" for name, value in map(by_name.get, SHOWN_HEADERS)]
    svg = sequence_svg(
        "websocket-upgrade",
        "A WebSocket connection opened with HTTP, then carrying frames",
        "The client sends an HTTP GET with the headers Upgrade: websocket, "
        "Connection: Upgrade, a Sec-WebSocket-Key and Sec-WebSocket-Version: 13. "
        "The echo server answers HTTP/1.1 101 Switching Protocols with Upgrade, "
        "Connection and a Sec-WebSocket-Accept computed from the key. From then "
        "on the connection carries frames: the client sends a text frame Hello, "
        "the server sends it back, the client sends a close frame with code "
        "1000 and the server answers with its own. Recorded by a test from the "
        "site's echo server.",
        actors=[Actor("Client"), Actor("Server", "echo_server.py")],
        steps=[
            Message(0, 1, [*handshake, ""]),
            Message(1, 0, [status, *shown, ""]),
            Note("Other headers (Date, Server) left out. From here on: frames."),
            Message(0, 1, ["TEXT frame, masked: 'Hello'"]),
            Message(1, 0, ["TEXT frame: 'Hello'"]),
            Message(0, 1, ["CLOSE frame, masked: code 1000"]),
            Message(1, 0, ["CLOSE frame: code 1000"]),
            Note("Then the server closes the TCP connection."),
        ],
    )
    check_figure(request, DOCS / "protocols" / "websocket-upgrade.svg", svg)


def test_the_handshake_figure_draws_what_the_socket_calls_do(request):
    # A picture of the segments, not a capture: "Seeing the traffic" shows
    # the real ones with tcpdump. Drawn by the same renderer, so it reads on
    # a phone like the figures recorded from traffic.
    svg = sequence_svg(
        "tcp-handshake",
        "The TCP handshake, data, and closing",
        "The client sends SYN, the server answers SYN-ACK, the client sends "
        "ACK: the connection is open, and connect() and accept() return. Then "
        "data flows both ways, each segment acknowledged. To close, the client "
        "sends FIN (from close() or shutdown(SHUT_WR)), the server's recv() "
        "returns b'', and the server acknowledges and sends its own FIN, which "
        "the client acknowledges.",
        actors=[Actor("Client", "create_connection()"), Actor("Server", "accept()")],
        steps=[
            Message(0, 1, ["SYN"]),
            Message(1, 0, ["SYN-ACK"]),
            Message(0, 1, ["ACK"]),
            Note("The connection is open: connect() and accept() return."),
            Message(0, 1, ["data: sendall(b'Hello')"]),
            Message(1, 0, ["ACK, data: b'Hello'"]),
            Message(0, 1, ["ACK"]),
            Note("close() or shutdown(SHUT_WR) on the client:"),
            Message(0, 1, ["FIN"]),
            Message(1, 0, ["ACK"]),
            Note("The server's recv() returns b''. It closes too:"),
            Message(1, 0, ["FIN"]),
            Message(0, 1, ["ACK"]),
        ],
    )
    check_figure(request, DOCS / "protocols" / "tcp-handshake.svg", svg)
