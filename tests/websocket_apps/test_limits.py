"""The fault matrix: each server of the chapter under attack, on loopback.

Every test breaks a limit of a server's limits table (on its page), checks
what the table says the attacker gets, and checks that a well-behaved client
is served meanwhile or right after (the wait is recorded for the fault
report). The servers run with short limits, given as options, so that each
fault is over in well under a second or two.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from hostile.attacks import (
    flood,
    low_file_limit,
    memory_of,
    read_until_closed,
    served_within,
    slow_drip,
)
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from .conftest import (
    BINARY,
    SERVERS,
    TEXT,
    TIMEOUT,
    RawWebSocket,
    ServerUnderTest,
    handshake,
)

CHAT = SERVERS["chat_server"]
HANDSHAKE = "Time to complete the handshake"  # a row of every limits table
MARGIN = 2.0  # seconds of slack on a loaded machine, on top of a limit
ACCEPTED = b"HTTP/1.1 101 Switching Protocols"
BUSY = b"HTTP/1.1 503 Service Unavailable"


def each_server(*faults: tuple[str, str | None], only=tuple(SERVERS)) -> list:
    """One parameter per server, marked hostile for each (fault, row of its
    limits table that the test breaks)."""
    return [
        pytest.param(
            SERVERS[name],
            marks=[
                pytest.mark.hostile(SERVERS[name].snippet, fault, limit=row)
                for fault, row in faults
            ],
            id=name,
        )
        for name in only
    ]


def served_meanwhile(server: ServerUnderTest, record_wait) -> None:
    record_wait(served_within(TIMEOUT, server.serve_one))


def answered_or_dropped(sockets: list[socket.socket], seconds: float) -> list:
    """What the server sent each connection before it closed it."""
    return [read_until_closed(sock, seconds) for sock in sockets]


# --- Before the handshake ---------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    each_server(("silent", HANDSHAKE), ("slow drip", HANDSHAKE), ("flood", HANDSHAKE)),
)
def test_silent_slow_and_many_handshakes_are_dropped_at_the_deadline(
    kind, shared_server, record_wait
):
    # 200 connections that say nothing, and one that sends its handshake a
    # byte at a time: the deadline covers the whole handshake, not the time
    # between two bytes. None counts against the cap of open connections.
    server = shared_server(kind)
    request = handshake(server.host, server.port, kind.path)
    with (
        server.connect_tcp() as dripping,
        ThreadPoolExecutor(1) as pool,
        flood(server.host, server.port, 200) as silent,
    ):
        drip = pool.submit(
            slow_drip, dripping, request, every=0.05, for_at_most=4 * kind.open_timeout
        )
        served_meanwhile(server, record_wait)
        answers = answered_or_dropped(silent, kind.open_timeout + 2 * MARGIN)
        dripped_for = drip.result()
    assert answers == [b""] * len(silent)  # dropped without a word
    assert dripped_for is not None, "the dripping handshake was never dropped"
    assert dripped_for < kind.open_timeout + MARGIN


@pytest.mark.parametrize("kind", each_server(("garbage", "Protocol")))
def test_bytes_that_are_not_a_handshake_get_no_websocket(
    kind, shared_server, record_wait
):
    server = shared_server(kind)
    with server.connect_tcp() as sock:
        sock.sendall(b"\x00\xff\x16 not HTTP at all\r\n\r\n")
        assert b"101" not in read_until_closed(sock, TIMEOUT)
    served_meanwhile(server, record_wait)


@pytest.mark.parametrize("kind", each_server(("garbage", "Protocol")))
def test_a_broken_handshake_is_answered_with_400(kind, shared_server, record_wait):
    server = shared_server(kind)
    bad = {"Sec-WebSocket-Version": "99"}
    with server.raw(expect=b"HTTP/1.1 400 Bad Request", **bad):
        pass
    served_meanwhile(server, record_wait)


@pytest.mark.parametrize(
    "kind", each_server(("garbage", "Protocol"), only=["secure_echo_server"])
)
def test_plain_http_on_the_tls_port_is_closed(kind, shared_server, record_wait):
    server = shared_server(kind)
    with socket.create_connection((server.host, server.port), TIMEOUT) as plain:
        plain.sendall(handshake(server.host, server.port))
        assert read_until_closed(plain, TIMEOUT) == b""
    served_meanwhile(server, record_wait)


# --- After the handshake ----------------------------------------------------


@pytest.mark.parametrize("kind", each_server(("reset", None)))
def test_a_reset_in_the_middle_of_a_frame_harms_no_one(
    kind, shared_server, record_wait
):
    server = shared_server(kind)
    with server.raw() as websocket:
        websocket.sock.sendall(b"\x81\x85")  # a text frame's header, cut short
        websocket.vanish()
    served_meanwhile(server, record_wait)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (RawWebSocket.frame(TEXT, "café".encode("latin-1")), 1007),  # not UTF-8
        (b"\x81\x02hi", 1002),  # not masked: a protocol error
        (RawWebSocket.frame(0x3, b""), 1002),  # opcode 3 is reserved
    ],
    ids=["invalid-utf8", "unmasked", "reserved-opcode"],
)
@pytest.mark.parametrize("kind", each_server(("garbage", "Protocol")))
def test_a_malformed_frame_is_closed_with_the_code_that_says_why(
    kind, frame, code, shared_server, record_wait
):
    server = shared_server(kind)
    with server.raw() as websocket:
        websocket.sock.sendall(frame)
        assert websocket.read_close()[0] == code
    served_meanwhile(server, record_wait)


def size_limit(kind, import_snippet) -> int:
    module = import_snippet(kind.snippet)
    if kind.name == "greeting_server":
        return module.MAX_NAME_SIZE
    return module.Limits().max_size


@pytest.mark.parametrize("kind", each_server(("oversize", "Message size")))
def test_a_frame_over_the_size_limit_is_refused_before_it_arrives(
    kind, shared_server, import_snippet, record_wait
):
    server = shared_server(kind)
    limit = size_limit(kind, import_snippet)
    with server.raw() as websocket:
        # The header announces one byte too many; no payload follows.
        websocket.send_frame(BINARY, b"", announced_length=limit + 1)
        code, reason = websocket.read_close()
    assert code == 1009  # message too big
    assert str(limit) in reason
    served_meanwhile(server, record_wait)


@pytest.mark.parametrize(
    "kind",
    each_server(
        ("silent", "Keepalive"),
        only=["echo_server", "chat_server", "secure_echo_server"],
    ),
)
def test_a_client_that_answers_no_ping_is_closed_with_1011(
    kind, shared_server, record_wait
):
    server = shared_server(kind)
    with server.raw() as silent:
        started = time.monotonic()
        served_meanwhile(server, record_wait)
        code, reason = silent.read_close()  # reads pings, never answers
    assert (code, reason) == (1011, "keepalive ping timeout")
    # --ping-interval 0.2 --ping-timeout 0.2 (conftest.py)
    assert time.monotonic() - started < 0.4 + MARGIN


# --- A client that stops reading -------------------------------------------

NON_READERS = 20
PEAK_MEMORY = 100 * 2**20  # bytes: the target of issue 14, for 20 of them


def flood_without_reading(websocket: RawWebSocket, frame: bytes, seconds: float):
    """Send `frame` again and again, never reading what comes back, until the
    server drops the connection; the seconds that took, or None."""
    started = time.monotonic()
    websocket.sock.settimeout(seconds)
    while time.monotonic() - started < seconds:
        try:
            websocket.sock.sendall(frame)
        except TimeoutError:
            return None  # the server stopped reading, and kept us
        except OSError:  # reset, broken pipe, a TLS connection cut short
            return time.monotonic() - started
    return None


def non_readers_flood(server, frame, seconds, record_wait, path=None) -> list:
    """NON_READERS clients send `frame` until dropped, never reading; a
    well-behaved client is served meanwhile. How long each lasted."""
    readers = [
        server.raw(path, receive_buffer=4096) for _ in range(NON_READERS)
    ]  # fmt: skip
    try:
        with ThreadPoolExecutor(NON_READERS) as pool:
            drops = pool.map(
                lambda reader: flood_without_reading(reader, frame, seconds),
                readers,
            )
            served_meanwhile(server, record_wait)
            return list(drops)
    finally:
        for reader in readers:
            reader.sock.close()


@pytest.mark.parametrize(
    "kind",
    each_server(
        ("non-reading", "Time to take an echo"),
        only=["echo_server", "secure_echo_server"],
    ),
)
def test_echo_clients_that_stop_reading_are_dropped_and_memory_stays_bounded(
    kind, server_under_test, import_snippet, record_wait
):
    limits = import_snippet(kind.snippet).Limits()
    send_timeout = float(kind.options[kind.options.index("--send-timeout") + 1])
    frame = RawWebSocket.frame(BINARY, os.urandom(limits.max_size))
    # No keepalive drops: the send deadline alone must drop them.
    with server_under_test(kind, *kind.no_keepalive) as server:
        lasted = non_readers_flood(server, frame, 10.0, record_wait)
        peak = memory_of(server.pid)["VmHWM"]
    dropped = f"No echo sent in {send_timeout} s: client dropped"
    assert server.output.count(dropped) == NON_READERS
    assert None not in lasted, "a client that stopped reading stayed"
    assert peak < PEAK_MEMORY, f"{peak / 2**20:.0f} MiB at peak"


@pytest.mark.hostile(CHAT.snippet, "non-reading", limit="Unread data per client")
def test_chat_members_that_stop_reading_are_dropped_and_memory_stays_bounded(
    server_under_test, import_snippet, record_wait
):
    limits = import_snippet(CHAT.snippet).Limits()
    # Its messages come back to each of them, unread. Keepalive as by
    # default: only the limit on unread data can drop them this fast.
    frame = RawWebSocket.frame(TEXT, b"x" * limits.max_size)
    keepalive = ("--ping-interval", "20", "--ping-timeout", "20")
    with server_under_test(CHAT, *keepalive) as server:
        lasted = non_readers_flood(
            server, frame, 20.0, record_wait, path="/chat?name=Deaf"
        )
        peak = memory_of(server.pid)["VmHWM"]
    assert None not in lasted, "a member that stopped reading stayed"
    stated = limits.ping_interval + limits.ping_timeout + limits.close_timeout
    assert max(lasted) < stated  # the page: dropped within 50 s at worst
    assert peak < PEAK_MEMORY, f"{peak / 2**20:.0f} MiB at peak"


def next_event(websocket, kind: str, name: str) -> dict:
    while True:
        event = json.loads(websocket.recv(timeout=TIMEOUT))
        if (event["type"], event["name"]) == (kind, name):
            return event


@pytest.mark.hostile(CHAT.snippet, "non-reading", limit="Keepalive")
def test_chat_pings_a_member_whose_buffers_are_full_and_drops_it(
    server_under_test, record_wait
):
    # websockets stops sending keepalive pings to a connection whose write
    # buffer holds more than write_limit: its ping timeout never starts.
    # Sleepy stops reading while the room talks, far below --max-buffer.
    big = str(64 * 2**20)
    # (Talker, in this busy process, gets a second to answer each ping.)
    interval, timeout, close = 0.5, 1.0, 0.2  # the options below
    options = ("--max-buffer", big, "--ping-interval", str(interval),
               "--ping-timeout", str(timeout))  # fmt: skip
    with server_under_test(CHAT, *options) as server:
        talker = connect(server.url("/chat?name=Talker"), open_timeout=TIMEOUT)
        with talker, server.raw("/chat?name=Sleepy", receive_buffer=4096):
            next_event(talker, "join", "Sleepy")
            for _ in range(2000):  # 8 MB for Sleepy: more than TCP holds
                talker.send("x" * 4000)
            talked = time.monotonic()
            next_event(talker, "leave", "Sleepy")
            record_wait(time.monotonic() - talked)
            dropped_after = time.monotonic() - talked
    assert dropped_after < interval + timeout + close + MARGIN


# --- Many connections --------------------------------------------------------


def open_one_after_another(server: ServerUnderTest, count: int, stack) -> list:
    """Open `count` WebSocket connections, each answered before the next
    starts (their .status says how)."""
    return [stack.enter_context(server.raw(expect=None)) for _ in range(count)]


@pytest.mark.parametrize(
    "kind",
    each_server(
        ("fd exhaustion", "Connections at once"), ("flood", "Connections at once")
    ),
)
def test_the_cap_follows_the_file_limit_and_a_burst_only_pauses_accepting(
    kind, server_under_test, import_snippet, record_wait
):
    files = 64
    cap = files - import_snippet(kind.snippet).SPARE_FILES
    low = low_file_limit(files)
    # On IPv6 loopback, while we are at it.
    with server_under_test(
        kind, *kind.no_keepalive, preexec_fn=low, host="::1"
    ) as server:
        with ExitStack() as stack:
            opened = open_one_after_another(server, cap + 4, stack)
            statuses = [websocket.status for websocket in opened]
            assert (statuses.count(ACCEPTED), statuses.count(BUSY)) == (cap, 4)
            with pytest.raises(InvalidStatus, match="HTTP 503"):
                server.serve_one()  # what websockets' own client sees
            started = time.monotonic()
            opened[0].close()  # one leaves: the next client is served
            server.serve_one()
            record_wait(time.monotonic() - started)
        # More connections at once than the process may open files: accept()
        # fails, asyncio stops accepting for a second, and goes on.
        with flood(server.host, server.port, files + 8) as sockets:
            answers = answered_or_dropped(sockets, kind.open_timeout + 3 * MARGIN)
        assert answers == [b""] * len(sockets)
        server.serve_one()
    # Said in one line, and nothing on stderr (start_server checks that).
    assert "Not accepting for a second: Too many open files" in server.output


# --- Who may connect to the chat ---------------------------------------------


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("rebind.example:{port}", "http://rebind.example:{port}", 403),
        ("127.0.0.1:{port}", "http://rebind.example:{port}", 403),
        ("127.0.0.1:{port}", "http://127.0.0.1:9", 403),
        ("127.0.0.1:{port}", "null", 403),
        ("127.0.0.1:{port}", "https://127.0.0.1:{port}", 101),
        ("localhost:{port}", "http://localhost:{port}", 101),
        ("[::1]:{port}", "http://[::1]:{port}", 101),
    ],
    ids=[
        "dns-rebinding",
        "other-site",
        "other-port",
        "sandboxed-page",
        "own-page-over-https",
        "localhost",
        "ipv6",
    ],
)
@pytest.mark.hostile(CHAT.snippet, "confinement", limit="Hosts and pages served")
def test_only_the_chats_own_hosts_and_pages_may_connect(
    host, origin, status, shared_server, record_wait
):
    server = shared_server(CHAT)
    headers = {
        "Host": host.format(port=server.port),
        "Origin": origin.format(port=server.port),
    }
    expect = ACCEPTED if status == 101 else b"HTTP/1.1 403 Forbidden"
    with server.raw("/chat?name=Visitor", expect=expect, **headers):
        pass
    served_meanwhile(server, record_wait)


@pytest.mark.hostile(CHAT.snippet, "confinement", limit="Hosts and pages served")
def test_a_page_asked_for_under_another_host_name_is_refused(shared_server):
    server = shared_server(CHAT)
    request = f"GET / HTTP/1.1\r\nHost: rebind.example:{server.port}\r\n\r\n"
    with socket.create_connection((server.host, server.port), TIMEOUT) as sock:
        sock.sendall(request.encode())
        assert read_until_closed(sock, TIMEOUT).startswith(b"HTTP/1.1 403 ")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /chat HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n5\r\nhello\r\n0\r\n\r\n",
        b"PUT /chat.js HTTP/1.1\r\nHost: {host}\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n",
    ],
    ids=["post-with-body", "chunked-body", "put", "head"],
)
@pytest.mark.hostile(CHAT.snippet, "garbage", limit="Protocol")
def test_methods_other_than_get_get_405_even_with_a_body(
    request_bytes, shared_server, record_wait
):
    server = shared_server(CHAT)
    host = f"127.0.0.1:{server.port}".encode()
    with socket.create_connection((server.host, server.port), TIMEOUT) as sock:
        sock.sendall(request_bytes.replace(b"{host}", host))
        reply = read_until_closed(sock, TIMEOUT)
    head = reply.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 405 Method Not Allowed"
    assert b"Allow: GET" in head
    served_meanwhile(server, record_wait)


# --- What the servers log -----------------------------------------------------

SERVER_SNIPPETS = [kind.snippet for kind in SERVERS.values()]


@pytest.mark.parametrize("snippet", SERVER_SNIPPETS)
def test_running_out_of_files_is_said_in_one_line_once_a_second(
    snippet, import_snippet, capsys, caplog
):
    module = import_snippet(snippet)
    loop = asyncio.new_event_loop()
    try:
        module.report_file_shortage(loop)
        emfile = OSError(errno.EMFILE, "Too many open files")
        for _ in range(3):  # asyncio reports each accept() that fails
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource",
                 "exception": emfile}
            )  # fmt: skip
        loop.call_exception_handler({"message": "another problem"})
    finally:
        loop.close()
    assert capsys.readouterr().out == (
        "Not accepting for a second: Too many open files\n"
    )
    # Any other problem is asyncio's to log, as it would have.
    assert [record.getMessage() for record in caplog.records] == ["another problem"]


@pytest.mark.parametrize("snippet", SERVER_SNIPPETS)
def test_only_failed_handshakes_are_left_out_of_the_log(snippet, import_snippet):
    module = import_snippet(snippet)

    def record(error: Exception | None) -> logging.LogRecord:
        exc_info = None if error is None else (type(error), error, None)
        return logging.LogRecord(
            "websockets.server", logging.ERROR, __file__, 1, "failed", None, exc_info
        )

    assert module.is_handshake_error(record(InvalidMessage("not HTTP")))
    assert not module.is_handshake_error(record(ValueError("a bug")))
    assert not module.is_handshake_error(record(None))
