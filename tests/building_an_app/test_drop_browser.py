"""The browser's side of drop_server.py: its page and script, the same
DROP frames over a WebSocket, its limits there, and Chromium using it."""

from __future__ import annotations

import base64
import functools
import http.server
import logging
import os
import socket
import ssl
import threading
from contextlib import ExitStack

import pytest
from drop_protocol import (
    HEADER_SIZE,
    LIST,
    NAMES,
    STORED,
    Code,
    encode,
    get_request,
    list_request,
    parse_header,
    put_request,
    sha256,
)
from hostile.attacks import memory_of, reset, served_within
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from .conftest import (
    DEADLINE,
    LARGE,
    MAX_SIZE,
    SERVER,
    SNIPPETS,
    TIMEOUT,
    drop_server_running,
    error_of,
    read_to_end,
)
from .conftest import (
    connect as connect_tcp,
)

PAGE = "building_an_app/drop.html"
SCRIPT = "building_an_app/drop.js"


def websocket(server, **options):
    return connect(server.ws_url + "drop", open_timeout=TIMEOUT, **options)


def ask(ws, request: bytes) -> bytes:
    ws.send(request)
    return ws.recv(timeout=TIMEOUT)


def served_meanwhile(server, record_wait) -> None:
    def list_over_websocket():
        with websocket(server) as ws:
            assert (
                parse_header(ask(ws, list_request())[:HEADER_SIZE], 1024).kind == NAMES
            )

    record_wait(served_within(TIMEOUT, list_over_websocket))


def test_the_same_frames_over_a_websocket(shared_drop):
    with websocket(shared_drop) as ws:
        stored = ask(ws, put_request("ws.txt", b"over a WebSocket"))
        assert stored == encode(STORED, sha256(b"over a WebSocket"))
        reply = ask(ws, get_request("ws.txt"))
        assert reply[HEADER_SIZE:] == b"over a WebSocket"
        names = ask(ws, list_request())
        assert b"ws.txt" in names[HEADER_SIZE:].split(b"\n")


@pytest.mark.hostile(SERVER, "garbage", limit="Frames")
@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("text, not bytes", Code.BAD_FRAME),
        (encode(LIST) + b"more", Code.BAD_FRAME),  # bytes after the frame
        (put_request("cut.txt", b"abc")[:-1], Code.BAD_FRAME),  # cut short
        (b"GET / HTTP/1.1\r\n\r\n", Code.BAD_FRAME),
        (get_request("missing.txt"), Code.NOT_FOUND),
    ],
    ids=["text", "trailing", "cut", "http", "missing"],
)
def test_a_bad_message_gets_an_error_and_the_connection_goes_on(
    shared_drop, message, code, record_wait
):
    with websocket(shared_drop) as ws:
        assert error_of(ask(ws, message)).code == code
        assert parse_header(ask(ws, list_request())[:8], 1024).kind == NAMES
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "oversize", limit="WebSocket message")
def test_a_message_over_the_limit_closes_with_1009(shared_drop, record_wait):
    with websocket(shared_drop, max_size=None) as ws:
        ws.send(put_request("big.bin", b"x" * (MAX_SIZE + 100)))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd.code == 1009
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "silent", limit="Time for a request")
def test_an_idle_websocket_closes_at_the_deadline(shared_drop, record_wait):
    with websocket(shared_drop) as ws:
        served_meanwhile(shared_drop, record_wait)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=DEADLINE + TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too slow")


@pytest.mark.hostile(SERVER, "confinement", limit="Hosts and origins")
def test_a_page_of_another_site_cannot_use_the_websocket(shared_drop, record_wait):
    with pytest.raises(InvalidStatus) as refused:
        websocket(shared_drop, origin="http://attacker.example")
    assert refused.value.response.status_code == 403
    served_meanwhile(shared_drop, record_wait)


@pytest.mark.hostile(SERVER, "confinement", limit="Hosts and origins")
@pytest.mark.parametrize(
    "hosts", [["rebound.example"], ["127.0.0.1:{port}", "rebound.example"]]
)
def test_another_host_name_is_refused(shared_drop, hosts, record_wait):
    port = shared_drop.ws_url.rstrip("/").rpartition(":")[2]
    with socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT) as sock:
        host_lines = "".join(f"Host: {host.format(port=port)}\r\n" for host in hosts)
        sock.sendall(f"GET / HTTP/1.1\r\n{host_lines}\r\n".encode())
        assert read_to_end(sock).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    served_meanwhile(shared_drop, record_wait)


def test_the_page_and_its_script_are_served(shared_drop):
    import urllib.request

    base = shared_drop.ws_url.replace("ws", "http", 1)
    for path, snippet, kind in (
        ("", PAGE, "text/html"),
        ("drop.js", SCRIPT, "text/javascript"),
    ):
        with urllib.request.urlopen(base + path, timeout=TIMEOUT) as response:  # noqa: S310
            assert response.headers["Content-Type"] == f"{kind}; charset=utf-8"
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            assert response.read() == (SNIPPETS.parent / snippet).read_bytes()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "secret.txt", timeout=TIMEOUT)  # noqa: S310
    assert missing.value.code == 404
    missing.value.close()


# --- Chromium ----------------------------------------------------------------------


def watch(page, record: dict) -> None:
    """Record what a page asks for and what its console says."""
    page.on("request", lambda request: record["requests"].append(request.url))
    page.on("websocket", lambda ws: record["websockets"].append(ws.url))
    page.on("console", lambda message: record["console"].append(message.text))
    page.on("pageerror", lambda error: record["console"].append(str(error)))


@pytest.mark.interop(PAGE, "chromium", "upload, list and download over a WebSocket")
@pytest.mark.interop(SERVER, "chromium", "serves its page, and DROP over a WebSocket")
def test_chromium_stores_lists_and_fetches_a_file(shared_drop, chromium, tmp_path):
    from playwright.async_api import expect

    site = shared_drop.ws_url.replace("ws", "http", 1)
    content = "Dropped from Chromium 👋\n".encode()
    record = {"requests": [], "websockets": [], "console": []}

    async def drop_a_file_and_fetch_it_back() -> bytes:
        page = await chromium.browser.new_page()
        try:
            watch(page, record)
            await page.goto(site)
            await page.get_by_label("File").set_input_files(
                files=[{"name": "from-chromium.txt", "mimeType": "text/plain",
                        "buffer": content}]
            )  # fmt: skip
            await page.get_by_role("button", name="Upload").click()
            status = page.get_by_role("status")
            stored = f"Stored from-chromium.txt: {len(content)} bytes, SHA-256 checked"
            await expect(status).to_have_text(stored)
            await page.get_by_role("button", name="List the files").click()
            entry = page.get_by_role("button", name="from-chromium.txt")
            async with page.expect_download() as started:
                await entry.click()
            download = await started.value
            await download.save_as(tmp_path / "downloaded")
            fetched = f"Fetched from-chromium.txt: {len(content)} bytes"
            await expect(status).to_have_text(fetched)
            return (tmp_path / "downloaded").read_bytes()
        finally:  # pass or fail, the shared browser keeps no page of this test
            await page.close()

    assert chromium.run(drop_a_file_and_fetch_it_back()) == content
    # What the browser stored, any DROP client reads back.
    assert (shared_drop.folder / "from-chromium.txt").read_bytes() == content
    assert record["console"] == []
    assert record["requests"] == [site, site + "drop.js"]
    assert record["websockets"] == [shared_drop.ws_url + "drop"]


@pytest.fixture
def page_without_server(tmp_path):
    """drop.html and drop.js served as static files, with no drop_server.py."""
    for name in ("drop.html", "drop.js"):
        (tmp_path / name).write_bytes((SNIPPETS / name).read_bytes())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/drop.html"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_the_page_connects_only_when_asked(page_without_server, chromium):
    from playwright.async_api import expect

    record = {"requests": [], "websockets": [], "console": []}

    async def load_then_click() -> tuple[list, list]:
        page = await chromium.browser.new_page()
        try:
            watch(page, record)
            await page.goto(page_without_server)
            await expect(page.get_by_role("heading")).to_have_text("File drop")
            before_click = (list(record["console"]), list(record["websockets"]))
            await page.get_by_role("button", name="List the files").click()
            await expect(page.get_by_role("status")).to_have_text(
                "Cannot reach the server"
            )
            return before_click
        finally:
            await page.close()

    console, websockets = chromium.run(load_then_click())
    assert console == []  # a clean console with no server running
    assert websockets == []  # and no connection before the click
    assert len(record["websockets"]) == 1  # the click tried, once


# --- Large replies: clients that stop reading, or go away ---------------------------


def raw_websocket(server, *, buffer: int) -> socket.socket:
    """A WebSocket opened by hand, on a socket with a small receive buffer:
    a library would go on reading into its own memory."""
    sock = connect_tcp(server, buffer=buffer, port=server.ws_port)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /drop HTTP/1.1\r\nHost: 127.0.0.1:{server.ws_port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)  # byte by byte: nothing of the reply after
    assert response.startswith(b"HTTP/1.1 101 "), response
    return sock


def masked_binary_frame(payload: bytes) -> bytes:
    """One final binary frame, masked as a client must (RFC 6455)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x82, 0x80 | len(payload)]) + mask + masked  # < 126 bytes


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One frame from the server (unmasked): its opcode and payload."""
    first, second = read_exactly(sock, 2)
    length = second & 0x7F
    if length >= 126:
        size = 2 if length == 126 else 8
        length = int.from_bytes(read_exactly(sock, size), "big")
    return first & 0x0F, read_exactly(sock, length)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 16))
        assert chunk, "closed early"
        data += chunk
    return data


@pytest.mark.hostile(SERVER, "non-reading", limit="Memory per client")
def test_a_websocket_that_stops_reading_is_dropped(large_drop, record_wait):
    before = memory_of(large_drop.pid)["VmRSS"]
    with raw_websocket(large_drop, buffer=4096) as sock:
        sock.sendall(masked_binary_frame(get_request("large.bin")))
        # ... and never reads the reply.
        large_drop.wait_for("Too slow: a WebSocket reply")
        peak = memory_of(large_drop.pid)["VmHWM"]
    served_meanwhile(large_drop, record_wait)
    assert peak - before < 16 * 2**20, (before, peak)


@pytest.mark.hostile(SERVER, "reset")
def test_a_websocket_that_vanishes_mid_reply_ends_quietly(large_drop):
    with raw_websocket(large_drop, buffer=4096) as sock:
        sock.sendall(masked_binary_frame(get_request("large.bin")))
        # A binary frame, not the last: the reply has begun, in fragments.
        assert sock.recv(1) == b"\x02"
        reset(sock)  # and we vanish, while the server is still sending
    large_drop.wait_for("Client went away: a WebSocket reply")
    with websocket(large_drop) as ws:  # the server goes on
        assert parse_header(ask(ws, list_request())[:8], 1024).kind == NAMES


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_websocket_beyond_the_cap_gets_503(shared_drop, record_wait):
    with ExitStack() as stack:
        for slot in range(shared_drop.cap):  # every slot taken: uploads begun
            sock = stack.enter_context(connect_tcp(shared_drop))
            sock.sendall(put_request(f"slot-{slot}.txt", b"never all sent")[:-1])
        for slot in range(shared_drop.cap):
            shared_drop.wait_for(f"PUT slot-{slot}.txt: receiving")
        with pytest.raises(InvalidStatus) as refused:
            websocket(shared_drop)
        assert refused.value.response.status_code == 503
    served_meanwhile(shared_drop, record_wait)


# --- Drain, and TLS -------------------------------------------------------------------


def test_sigterm_closes_an_idle_websocket_and_finishes_a_busy_one(
    start_server, tmp_path
):
    (tmp_path / "large.bin").write_bytes(b"L" * LARGE)
    with drop_server_running(
        start_server, tmp_path, "--max-size", str(LARGE + 100),
        "--max-bytes", str(LARGE), "--deadline", "10", ws=True,
    ) as server:  # fmt: skip
        with (
            websocket(server) as idle,
            raw_websocket(server, buffer=4096) as busy,  # cannot take it all
        ):
            assert ask(idle, list_request())[:4] == b"DP\x01N"
            busy.sendall(masked_binary_frame(get_request("large.bin")))
            first = read_frame(busy)  # the reply has begun
            server.running.process.terminate()  # SIGTERM
            server.wait_for("Draining 2 connections")
            with pytest.raises(ConnectionClosed) as closed:
                idle.recv(timeout=TIMEOUT)
            assert closed.value.rcvd.code == 1001
            frames = [first]
            while frames[-1][0] != 0x8:  # until the close frame
                frames.append(read_frame(busy))
            reply = b"".join(payload for opcode, payload in frames[:-1])
            assert len(reply) == HEADER_SIZE + LARGE  # finished, all of it
            assert frames[-1][1][:2] == (1001).to_bytes(2, "big")
        server.wait_for("Drained")
        assert server.running.process.wait(timeout=10) == 0


def test_with_a_certificate_the_page_and_websocket_use_tls(
    tls_drop, local_certificates
):
    assert tls_drop.ws_url.startswith("wss://127.0.0.1:")
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with websocket(tls_drop, ssl=context) as ws:
        assert parse_header(ask(ws, list_request())[:8], 1024).kind == NAMES


@pytest.mark.hostile(SERVER, "garbage")
@pytest.mark.parametrize(
    "garbage",
    [b"\x16\x03\x01\x00\xff" + b"\x00" * 40 + b"\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"],
    ids=["tls", "http/1.0"],
)
def test_a_broken_handshake_is_refused_and_not_logged(
    shared_drop, garbage, record_wait
):
    port = int(shared_drop.ws_url.rstrip("/").rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(garbage)
        answer = read_to_end(sock)
    # websockets 16 answers 400; 17 closes on TLS bytes and refuses an
    # HTTP/1.0 request without Host. Neither logs an error (the shared
    # server's stderr is checked when it stops).
    status = answer.partition(b"\r\n")[0]
    assert status in (b"", b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 403 Forbidden")
    served_meanwhile(shared_drop, record_wait)


def test_only_a_failed_handshake_is_left_out_of_the_log(import_snippet):
    from websockets.exceptions import InvalidMessage

    server = import_snippet(SERVER)

    def record(error: Exception | None) -> logging.LogRecord:
        exc_info = (type(error), error, None) if error else None
        return logging.LogRecord("websockets.server", logging.ERROR, __file__, 1,
                                 "opening handshake failed", (), exc_info)  # fmt: skip

    assert not server.not_a_bad_handshake(record(InvalidMessage("garbage")))
    assert server.not_a_bad_handshake(record(RuntimeError("a bug of ours")))
    assert server.not_a_bad_handshake(record(None))
