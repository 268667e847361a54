"""The echo server's answers to bad input, as the table of "Robustness" shows them.

Each is followed by a normal exchange that succeeds. The other faults (a
client that resets, sends text that is not UTF-8, stays silent, or stops
reading) are in the fault matrix, test_limits.py.
"""

import asyncio
import os
import socket

import pytest

ECHO_SERVER = "websocket_apps/echo_server.py"
ECHO_CLIENT = "websocket_apps/echo_client.py"
BINARY = 0x2


@pytest.fixture
def still_serving(echo_server, import_snippet):
    """Check, after the bad input, that the server still echoes."""
    client = import_snippet(ECHO_CLIENT)

    def check() -> None:
        uri = f"ws://{echo_server.host}:{echo_server.port}/"
        assert asyncio.run(client.echo_each(["next?", b"\x00"], uri)) == [
            "next?",
            b"\x00",
        ]

    return check


def exchange(server, data: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(64 * 1024):
            reply += chunk
    return reply


@pytest.mark.hostile(ECHO_SERVER, "garbage", limit="Protocol")
def test_plain_http_request_gets_426(echo_server, still_serving):
    reply = exchange(echo_server, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"You cannot access a WebSocket server directly with a browser" in reply
    still_serving()


@pytest.mark.parametrize(
    "garbage",
    [os.urandom(1000) + b"\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n"],
    ids=["random-bytes", "tls-hello-on-plain-port"],
)
@pytest.mark.hostile(ECHO_SERVER, "garbage", limit="Protocol")
def test_garbage_instead_of_a_handshake_is_refused(echo_server, still_serving, garbage):
    # No HTTP request, no HTTP answer: the server closes the connection.
    assert exchange(echo_server, garbage) == b""
    still_serving()


@pytest.mark.hostile(ECHO_SERVER, "oversize", limit="Message size")
def test_frame_announcing_too_much_is_refused_before_it_arrives(
    echo_server, still_serving, raw_websocket, import_snippet
):
    limit = import_snippet(ECHO_SERVER).Limits().max_size
    with raw_websocket(echo_server.host, echo_server.port) as websocket:
        # The header announces 1 TiB; the server closes without reading on.
        websocket.send_frame(BINARY, b"", announced_length=2**40)
        code, reason = websocket.read_close()
    assert code == 1009
    # Its wording changes between versions of websockets; the numbers do not.
    assert str(2**40) in reason
    assert str(limit) in reason
    still_serving()
