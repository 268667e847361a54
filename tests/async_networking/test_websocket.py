"""Tests of the page "WebSockets with aiohttp" (docs/async/aiohttp-websockets.md):
the /ws route of api_server.py and aiohttp_websocket_client.py.

Most tests share the chapter's API server (`api_server`); the clients that
stall, which must wait for a limit, run at once against a server whose
limits are a fraction of a second (`strict`). Each hostile client is
followed by a well-behaved one that must be echoed. The client runs against
the site's server, against servers of other shapes written here, and
against websocketd (Go); the server is driven by Node.js with the npm
package `ws`, and by curl.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hostile import attacks
from peers.daemons import run_client
from peers.programs import require
from yarl import URL

API_SERVER = "http_examples/api_server.py"
CLIENT = "async_networking/aiohttp_websocket_client.py"
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
MAX_SIZE = 64 * 1024  # bytes: the server's default --ws-max-message-size
MESSAGE_TIMEOUT = 1.5  # seconds: the strict server's --ws-message-timeout
HEARTBEAT = 0.5  # seconds: its --ws-heartbeat (a pong is due within 0.25)
SEND_TIMEOUT = 0.5  # seconds: its --send-timeout
SLACK = 2.0  # seconds a busy machine may add to a deadline, at most
STRICT = (
    *("--ws-message-timeout", str(MESSAGE_TIMEOUT)),
    *("--ws-heartbeat", str(HEARTBEAT)),
    *("--send-timeout", str(SEND_TIMEOUT)),
    *("--max-connections", "8"),
)
HELLO = ["< 'Hello, WebSocket!'", "< 'Ça va ? 👋'"]


@pytest.fixture
def server(api_server):
    """The chapter's API server, shared: bad input must not stop it."""
    return api_server


@pytest.fixture(scope="module")
def strict(start_server):
    with start_server(API_SERVER, *STRICT) as server:
        yield server


def ws_url(server, path: str = "/ws", scheme: str = "ws") -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"{scheme}://{host}:{server.port}{path}"


async def echoed(url: str, text: str = "still here", **options) -> str:
    """A well-behaved client: one message, its echo."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, **options) as websocket,
    ):
        await websocket.send_str(text)
        reply = await websocket.receive(timeout=5)
    assert reply.type is aiohttp.WSMsgType.TEXT, reply
    return reply.data


def well_behaved(server, record_wait=None) -> None:
    start = time.monotonic()
    assert asyncio.run(echoed(ws_url(server))) == "still here"
    if record_wait:
        record_wait(time.monotonic() - start)


# --- Raw WebSocket, for clients that break the rules --------------------------

KEY = base64.b64encode(os.urandom(16)).decode()


def handshake_request(host: str) -> bytes:
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def handshake(server) -> socket.socket:
    """A TCP connection that has switched to WebSocket (101) at /ws."""
    sock = attacks.connect(server.host, server.port)
    sock.sendall(handshake_request(ws_url(server).split("/")[2]))
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)  # a byte at a time: no frame is read too
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    accept = hashlib.sha1(  # noqa: S324 (RFC 6455 says SHA-1)
        (KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
    ).digest()
    assert f"Sec-WebSocket-Accept: {base64.b64encode(accept).decode()}".encode() in (
        answer
    )
    return sock


def frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """A client's frame, masked as RFC 6455 requires (with a zero mask)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return head + b"\0\0\0\0" + payload


PING = frame(b"", opcode=0x9)


def close_code(data: bytes) -> int | None:
    """The code of the server's CLOSE frame in `data`, if it sent one."""
    at = data.find(b"\x88")  # FIN + CLOSE, unmasked
    if at < 0 or len(data) < at + 4:
        return None
    return struct.unpack("!H", data[at + 2 : at + 4])[0]


# --- The client -----------------------------------------------------------------


def test_the_client_prints_what_the_page_shows(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))


def exit_message(client, monkeypatch, *args: str) -> str:
    """Run the client's main(), which must end with one line: that line."""
    monkeypatch.setattr("sys.argv", [CLIENT, *args])
    with pytest.raises(SystemExit) as exit_info:
        client.main()
    message = exit_info.value.code
    assert isinstance(message, str)
    assert "\n" not in message
    return message


def test_the_client_says_when_no_server_listens(import_snippet, monkeypatch, free_port):
    client = import_snippet(CLIENT)
    assert exit_message(client, monkeypatch, "--port", str(free_port)) == (
        f"ws://127.0.0.1:{free_port}/ws: connection refused: is the server running?"
    )


async def refuse(request):
    raise web.HTTPForbidden(text="no")


async def close_at_once(request):
    websocket = web.WebSocketResponse()
    await websocket.prepare(request)
    await websocket.close(code=4000, message=b"bye \x1b[31m")
    return websocket


async def never_reply(request):
    websocket = web.WebSocketResponse()
    await websocket.prepare(request)
    await websocket.receive()  # the client's message, never answered
    await websocket.receive()  # until the client closes
    return websocket


async def reply_too_much(request):
    websocket = web.WebSocketResponse()
    await websocket.prepare(request)
    await websocket.receive()
    await websocket.send_str("x" * 70_000)
    await websocket.receive()
    return websocket


async def reply_in_binary(request):
    websocket = web.WebSocketResponse()
    await websocket.prepare(request)
    await websocket.receive()
    await websocket.send_bytes(b"\0\1\2")
    await websocket.receive()
    return websocket


async def vanish(request):
    websocket = web.WebSocketResponse()
    await websocket.prepare(request)
    await websocket.receive()
    request.transport.abort()  # no closing frame
    return websocket


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (refuse, "no WebSocket here: the server answered 403 Forbidden"),
        (close_at_once,
         r"the server closed the connection: 4000 'bye \x1b[31m'"),
        (never_reply, "no reply within 0.2 s"),
        (reply_too_much,
         "the connection failed: Message size 70000 exceeds limit 65536"),
        (vanish, "the connection ended without a closing frame"),
    ],
    ids=["refused", "closed", "silent", "too-big", "vanished"],
)  # fmt: skip
async def test_the_client_names_what_another_server_did(
    import_snippet, monkeypatch, handler, reason
):
    client = import_snippet(CLIENT)
    monkeypatch.setattr(client, "CONVERSATION", aiohttp.ClientWSTimeout(0.2, 1))
    app = web.Application()
    app.router.add_get("/ws", handler)
    async with TestServer(app, host="127.0.0.1") as peer:
        url = URL(str(peer.make_url("/ws")).replace("http", "ws", 1))
        with pytest.raises(Exception) as error_info:  # noqa: PT011
            await client.converse(url, ["hello"])
    assert client.failure(error_info.value) == reason


@pytest.mark.asyncio
async def test_a_binary_reply_is_counted(import_snippet):
    client = import_snippet(CLIENT)
    app = web.Application()
    app.router.add_get("/ws", reply_in_binary)
    async with TestServer(app, host="127.0.0.1") as peer:
        url = URL(str(peer.make_url("/ws")).replace("http", "ws", 1))
        assert await client.converse(url, ["hello"]) == ["3 bytes"]


class OneMessage:
    """Stands for a ClientWebSocketResponse: receive() gives `message`."""

    def __init__(self, message: aiohttp.WSMessage) -> None:
        self.message = message

    async def receive(self) -> aiohttp.WSMessage:
        return self.message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "data", "extra", "said"),
    [
        (aiohttp.WSMsgType.CLOSE, 1000, "", "the server closed the connection: 1000"),
        (aiohttp.WSMsgType.ERROR, ValueError("too big"), None,
         "the connection failed: too big"),
        (aiohttp.WSMsgType.CLOSED, None, None,
         "the connection ended without a closing frame"),
    ],
    ids=["close", "error", "closed"],
)  # fmt: skip
async def test_each_way_a_conversation_ends_is_told(
    import_snippet, kind, data, extra, said
):
    client = import_snippet(CLIENT)
    with pytest.raises(client.Closed) as closed:
        await client.reply(OneMessage(aiohttp.WSMessage(kind, data, extra)))
    assert str(closed.value) == said


async def raw_server(answer: bytes, port_found: asyncio.Future) -> None:
    """A TCP server that answers any request with `answer`, then hangs up."""

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_found.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await asyncio.Event().wait()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"", "the server hung up during the handshake"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
         "not a WebSocket server: Invalid challenge response"),
    ],
    ids=["hangs-up", "wrong-accept"],
)  # fmt: skip
async def test_the_client_names_a_broken_handshake(import_snippet, answer, reason):
    client = import_snippet(CLIENT)
    port = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(raw_server(answer, port))
    try:
        url = URL.build(scheme="ws", host="127.0.0.1", port=await port, path="/")
        with pytest.raises(aiohttp.ClientError) as error_info:
            await client.converse(url, ["hello"])
    finally:
        serving.cancel()
    assert client.failure(error_info.value) == reason


def test_the_client_names_a_handshake_never_answered(
    import_snippet, monkeypatch, silent_server
):
    client = import_snippet(CLIENT)
    handshake_timeout = aiohttp.ClientTimeout(total=10, connect=3, sock_read=0.2)
    monkeypatch.setattr(client, "HANDSHAKE", handshake_timeout)
    host, port = silent_server
    message = exit_message(client, monkeypatch, "--port", str(port))
    assert message == (
        f"ws://{host}:{port}/ws: no answer to the handshake within 0.2 s"
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (aiohttp.ConnectionTimeoutError(), "no connection within 3 s"),
        (asyncio.TimeoutError(), "no handshake within 10 s"),
        (aiohttp.ClientConnectorError(None, OSError(101, "Network is unreachable")),
         "cannot connect: [Errno 101] Network is unreachable"),
    ],
    ids=["connect-timeout", "total-timeout", "unreachable"],
)  # fmt: skip
def test_the_client_names_each_cause(import_snippet, error, reason):
    assert import_snippet(CLIENT).failure(error) == reason


# --- The client against websocketd (Go) -----------------------------------------


@pytest.mark.interop(CLIENT, "websocketd", "text messages echoed, over IPv6")
def test_the_client_against_websocketd(websocketd, run_example):
    with websocketd("cat", host="::1") as daemon:
        run_example(CLIENT, "--url", ws_url(daemon, "/"))


@pytest.mark.interop(CLIENT, "websocketd", "wss://: trusted with --cafile only")
def test_the_client_against_websocketd_over_tls(
    websocketd, local_certificates, import_snippet, monkeypatch
):
    with websocketd("cat", tls=True) as daemon:
        url = ws_url(daemon, "/", scheme="wss")
        client = import_snippet(CLIENT)
        refused = exit_message(client, monkeypatch, "--url", url)
        # Run as a reader runs it, in a process of its own: after a wss://
        # WebSocket closes, aiohttp starts the TLS shutdown and does not wait
        # for it (aiohttp issue 1925), so a process that ends at once may
        # leave that socket to the OS, which a warning in this process's
        # garbage collector would blame on whichever test runs next.
        trusted = run_client(
            [sys.executable, SNIPPETS / CLIENT, "--url", url,
             "--cafile", local_certificates.ca_file]
        )  # fmt: skip
    assert refused == (
        f"{url}: certificate not trusted (unable to get local issuer "
        "certificate): see --cafile"
    )
    assert (trusted.returncode, trusted.stderr) == (0, "")
    assert trusted.stdout.splitlines() == HELLO


# --- The server: what the page says it allows ------------------------------------


def test_bytes_come_back_as_bytes(server):
    async def echo_bytes() -> aiohttp.WSMessage:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(ws_url(server)) as websocket,
        ):
            await websocket.send_bytes(b"\x00\xff")
            return await websocket.receive(timeout=5)

    reply = asyncio.run(echo_bytes())
    assert (reply.type, reply.data) == (aiohttp.WSMsgType.BINARY, b"\x00\xff")


def test_a_plain_get_is_told_to_use_a_websocket(server):
    with attacks.connect(server.host, server.port) as sock:
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {ws_url(server).split('/')[2]}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = attacks.read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert answer.endswith(b'{"error": "connect with a WebSocket client"}')


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_its_own_pages_may_connect(server, name):
    url = f"ws://{name}:{server.port}/ws"
    origin = f"http://{name}:{server.port}"
    assert asyncio.run(echoed(url, "hi", origin=origin)) == "hi"


@pytest.mark.asyncio
async def test_the_pages_of_allow_origin_may_connect(import_snippet):
    other_page = "http://127.0.0.1:3000"  # --allow-origin http://127.0.0.1:3000
    app = import_snippet(API_SERVER).make_app(origins=[other_page])
    async with TestServer(app, host="127.0.0.1") as peer:
        url = str(peer.make_url("/ws"))
        assert await echoed(url, "hi", origin=other_page) == "hi"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await echoed(url, origin="http://127.0.0.1:3001")
    assert refused.value.status == 403


@pytest.mark.hostile(API_SERVER, "confinement", limit="Origins")
@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://127.0.0.1:9999", "null", "https://127.0.0.1"],
)
def test_a_page_of_another_origin_gets_403(server, origin, record_wait):
    # What a browser sends for a page of another site that opens a
    # WebSocket to this server (cross-site WebSocket hijacking).
    with pytest.raises(aiohttp.WSServerHandshakeError) as error_info:
        asyncio.run(echoed(ws_url(server), origin=origin))
    assert error_info.value.status == 403
    well_behaved(server, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="WebSocket message size")
def test_a_message_at_the_limit_is_closed_with_1009(server, record_wait):
    async def too_big() -> aiohttp.WSMessage:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(ws_url(server), max_msg_size=0) as websocket,
        ):
            await websocket.send_str("x" * MAX_SIZE)
            return await websocket.receive(timeout=5)

    closed = asyncio.run(too_big())
    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1009)
    largest = "x" * (MAX_SIZE - 1)  # aiohttp: less than max_msg_size
    assert asyncio.run(echoed(ws_url(server), largest)) == largest
    well_behaved(server, record_wait)


def sends_nothing(server) -> tuple[aiohttp.WSMessage, float]:
    """An aiohttp client that answers pings (autoping) and says nothing."""

    async def wait() -> tuple[aiohttp.WSMessage, float]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(ws_url(server)) as websocket,
        ):
            start = time.monotonic()
            closed = await websocket.receive(timeout=MESSAGE_TIMEOUT + SLACK)
            return closed, time.monotonic() - start

    return asyncio.run(wait())


def drips_between_pings(server) -> float | None:
    """The start of a message, then a ping every 0.1 s, never the rest:
    aiohttp's own receive_timeout would start again at each ping."""
    with handshake(server) as drip:
        drip.sendall(frame(b"the start of ", fin=False))
        start = time.monotonic()
        for _ in range(50):
            try:
                drip.sendall(PING)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
            if attacks.closed_within(drip, 0.1) is not None:
                return time.monotonic() - start
    return None


def never_answers_pings(server) -> tuple[bytes, float]:
    with handshake(server) as silent:
        start = time.monotonic()
        received = attacks.read_until_closed(silent, HEARTBEAT + SLACK + 1)
        return received, time.monotonic() - start


def never_reads(server) -> float | None:
    """Messages sent, their echoes never read: once the buffers are full,
    an echo waits, and the server must drop the client."""
    with handshake(server) as stuck:
        attacks.fill_without_reading(stuck, frame(b"x" * 1000), rounds=5000)
        return attacks.closed_within(stuck, SEND_TIMEOUT + SLACK)


async def over_the_connection_limit(server) -> int:
    """The strict server admits 8 connections; WebSockets count."""
    async with aiohttp.ClientSession() as session:
        opened = []
        try:
            for _ in range(8):
                opened.append(await session.ws_connect(ws_url(server)))
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url(server))
        finally:
            for websocket in opened:
                await websocket.close()
    return refused.value.status


@pytest.mark.hostile(API_SERVER, "silent", limit="WebSocket time per message")
@pytest.mark.hostile(API_SERVER, "slow drip", limit="WebSocket time per message")
@pytest.mark.hostile(API_SERVER, "silent", limit="WebSocket keepalive")
@pytest.mark.hostile(API_SERVER, "non-reading", limit="Time to read an answer")
@pytest.mark.hostile(API_SERVER, "flood", limit="Connections")
def test_clients_that_stall_are_dropped_each_at_its_limit(strict, record_wait):
    # Four clients at once, each waiting for its own limit, while a
    # well-behaved client is served; then more WebSockets than the server
    # admits. (One test, so that the waits overlap.)
    with ThreadPoolExecutor(max_workers=4) as clients:
        silent = clients.submit(sends_nothing, strict)
        drip = clients.submit(drips_between_pings, strict)
        no_pong = clients.submit(never_answers_pings, strict)
        stuck = clients.submit(never_reads, strict)
        well_behaved(strict, record_wait)
        memory = attacks.memory_of(strict.process.pid)
        closed, after = silent.result()
        assert (closed.type, closed.data, closed.extra) == (
            aiohttp.WSMsgType.CLOSE,
            1008,
            f"no message within {MESSAGE_TIMEOUT} s",
        )
        assert MESSAGE_TIMEOUT * 0.8 < after < MESSAGE_TIMEOUT + SLACK
        assert MESSAGE_TIMEOUT * 0.8 < drip.result() < MESSAGE_TIMEOUT + SLACK
        received, after = no_pong.result()
        assert received.startswith(b"\x89\x00")  # a ping, then nothing
        assert close_code(received) is None  # dropped: no closing frame
        assert after < MESSAGE_TIMEOUT  # before the other limit
        assert stuck.result() is not None  # reset, at the send deadline
    assert memory["VmRSS"] < 100 * 1024 * 1024
    assert asyncio.run(over_the_connection_limit(strict)) == 503
    well_behaved(strict)


@pytest.mark.hostile(API_SERVER, "garbage")
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(b"\xff\xfe not UTF-8"), 1007),
        (frame(b"more", opcode=0x0), 1002),  # the rest of nothing
        (frame(b"", opcode=0x3), 1002),  # an opcode no one defined
        (bytes([0xC1]) + frame(b"x")[1:], 1002),  # a reserved bit set
    ],
    ids=["not-utf-8", "continuation", "opcode", "reserved-bit"],
)
def test_a_malformed_frame_closes_the_connection(server, data, code, record_wait):
    with handshake(server) as sock:
        sock.sendall(data)
        received = attacks.read_until_closed(sock, 5)
    assert close_code(received) == code
    well_behaved(server, record_wait)


@pytest.mark.hostile(API_SERVER, "reset")
def test_a_client_that_resets_mid_frame_does_not_stop_the_server(server, record_wait):
    sock = handshake(server)
    sock.sendall(frame(b"half of a message")[:9])
    attacks.reset(sock)
    well_behaved(server, record_wait)


@pytest.mark.asyncio
async def test_websockets_are_told_when_the_server_stops(import_snippet):
    # What Ctrl+C does: runner.cleanup() runs the app's on_shutdown.
    app = import_snippet(API_SERVER).make_app()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stopping = None
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(str(server.make_url("/ws"))) as websocket,
        ):
            await websocket.send_str("hi")
            await websocket.receive(timeout=5)
            stopping = asyncio.create_task(server.close())
            closed = await websocket.receive(timeout=5)
    finally:
        await (stopping or server.close())
    assert (closed.type, closed.data, closed.extra) == (
        aiohttp.WSMsgType.CLOSE,
        1001,
        "shutdown",
    )


async def fill_until_stuck(writer: asyncio.StreamWriter, message: bytes) -> bool:
    """Send until the server stops reading, as its echoes wait for us."""
    for _ in range(1000):
        writer.write(message)
        try:
            await asyncio.wait_for(writer.drain(), 0.5)
        except asyncio.TimeoutError:
            return True
    return False


@pytest.mark.asyncio
async def test_a_client_that_reads_nothing_does_not_hold_up_the_shutdown(
    import_snippet, monkeypatch
):
    api = import_snippet(API_SERVER)
    monkeypatch.setattr(api, "GOODBYE_TIMEOUT", 0.2)
    app = api.make_app()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(handshake_request(f"{server.host}:{server.port}"))
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        writer.transport.pause_reading()  # it reads nothing from now on
        assert await fill_until_stuck(writer, frame(b"x" * 60_000))
        start = time.monotonic()
        await api.close_websockets(app)
        assert time.monotonic() - start < api.GOODBYE_TIMEOUT + SLACK
        writer.transport.abort()
    finally:
        await server.close()


# --- The server, driven by real clients ------------------------------------------


@pytest.mark.interop(API_SERVER, "node:ws", "WebSocket echo of text messages")
def test_the_ws_package_of_node_is_echoed(server, node_ws):
    events = node_ws(ws_url(server), "--send", "héllo", "--send", "👋", "--expect", "2")
    assert events == [
        {"event": "open"},
        {"event": "message", "binary": False, "data": "héllo"},
        {"event": "message", "binary": False, "data": "👋"},
        {"event": "close", "code": 1000, "reason": ""},
    ]


@pytest.mark.interop(API_SERVER, "node:ws", "WebSocket: another site's Origin gets 403")
def test_the_ws_package_of_node_from_another_origin_is_refused(server, node_ws):
    events = node_ws(ws_url(server), "--origin", "http://evil.example")
    assert {"event": "refused", "status": 403} in events
    assert {"event": "open"} not in events


@pytest.mark.interop(API_SERVER, "curl", "WebSocket: 426 to plain HTTP, 403 Origin")
def test_curl_sees_the_websocket_handshakes(server):
    curl = require("curl")
    upgrade = [
        *("--header", "Connection: Upgrade", "--header", "Upgrade: websocket"),
        *("--header", f"Sec-WebSocket-Key: {KEY}"),
        *("--header", "Sec-WebSocket-Version: 13"),
    ]

    def status(*options: str) -> str:
        result = run_client(
            [curl, "--silent", "--max-time", "5", "--output", "/dev/null",
             "--write-out", "%{http_code}", *options, ws_url(server, scheme="http")]
        )  # fmt: skip
        return result.stdout

    assert status() == "426"
    assert status(*upgrade, "--header", "Origin: http://evil.example") == "403"
