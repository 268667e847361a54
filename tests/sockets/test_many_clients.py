"""Tests of the page "Serving many clients" (docs/sockets/many-clients.md).

Both servers, the threaded one and the selectors one, pass the same tests.
Each fault test also measures how long a well-behaved client waits while the
fault goes on: these servers serve many clients at once, so the answer
should be "hardly at all".
"""

import contextlib
import logging
import selectors
import signal
import socket
import struct
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
from hostile.attacks import (
    closed_within,
    flood,
    low_file_limit,
    memory_of,
    reset,
    served_within,
    slow_drip,
)
from peers.echo_peers import tcp_exchange

CLIENT = "sockets/framed_echo_client.py"
THREADED = "sockets/threaded_echo_server.py"
SELECTORS = "sockets/selectors_echo_server.py"
SERVERS = [THREADED, SELECTORS]
HEADER = struct.Struct("!I")
CONCURRENT_CLIENTS = 100
BARRIER_TIMEOUT = 30.0  # seconds; reached only if the server serves one at a time
# The shared server's limits: roomy, so that a hundred client threads
# starting at once on a busy machine are never timed out.
RELAXED = ("--idle-timeout", "5", "--deadline", "10")
# The fault tests' limits: short, so that each fault ends quickly.
IDLE = 0.3
DEADLINE = 0.6
STRICT = ("--idle-timeout", str(IDLE), "--deadline", str(DEADLINE))
# Out of descriptors: the silent clients must outlive the flood that opens
# them, which takes more than 0.3 s on a busy machine.
FD_IDLE = 1.0
FD_LIMITS = ("--idle-timeout", str(FD_IDLE), "--deadline", str(2 * FD_IDLE))


def server_id(path: str) -> str:
    return path.split("/")[1].split("_")[0]


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def on_each_server(fault: str, *limits: str, fixture: str = "strict_server"):
    """Run the test against both servers, each marked as attacked by `fault`
    (breaking the limit rows named, if any)."""
    params = []
    for path in SERVERS:
        marks = [pytest.mark.hostile(path, fault, limit=limit) for limit in limits]
        params.append(
            pytest.param(
                path,
                id=server_id(path),
                marks=marks or [pytest.mark.hostile(path, fault)],
            )
        )
    return pytest.mark.parametrize(fixture, params, indirect=fixture != "snippet")


@pytest.fixture(scope="module", params=SERVERS, ids=server_id)
def server(request, live_server):
    """One server of each kind for the module's functional tests."""
    with live_server(request.param, *RELAXED) as running:
        running.snippet = request.param
        yield running


@pytest.fixture(scope="module", params=SERVERS, ids=server_id)
def strict_server(request, live_server):
    """One server of each kind with short limits, for the fault tests."""
    with live_server(request.param, *STRICT) as running:
        running.snippet = request.param
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def echo_of(client, server, message: bytes = b"well-behaved") -> float:
    """Seconds a well-behaved client waits for its echo (failing past 5 s)."""

    def exchange() -> None:
        assert client.echo_all([message], server.host, server.port) == [message]

    return served_within(5, exchange)


def echo_after_refusals(client, server, attempts: int = 100) -> float:
    """Seconds a client that tries again when refused waits for its echo.

    A refusal is a prompt close; the client tries again at once, a bounded
    number of times. (The threaded server logs a client's end a moment before
    its thread gives the slot back: the first try may still find it taken.)
    """

    def exchange() -> None:
        for _ in range(attempts):
            try:
                replies = client.echo_all([b"again"], server.host, server.port)
            except ConnectionError:
                continue
            assert replies == [b"again"]
            return
        raise AssertionError(f"refused {attempts} times")

    return served_within(5, exchange)


def test_client_program_talks_to_it_unchanged(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert server.wait_for_line("Echoed 4 frames")


@pytest.mark.parametrize("snippet", SERVERS, ids=server_id)
def test_it_serves_over_ipv6(live_server, run_example, snippet, ipv6_loopback):
    with live_server(snippet, "--host", "::1") as server:
        run_example(CLIENT, "--host", "::1", "--port", str(server.port))
        assert server.wait_for_line("Echoed 4 frames")


def test_a_hundred_concurrent_clients_are_all_answered(server, client):
    # Each client gets its reply, then keeps its connection open until all
    # have theirs. A server that serves one client at a time never answers
    # the second: the barrier breaks and the test fails.
    everyone_answered = threading.Barrier(CONCURRENT_CLIENTS, timeout=BARRIER_TIMEOUT)

    def one_client(number: int) -> bytes:
        message = f"client {number} ".encode() * (number + 1)
        with server.connect() as sock:
            client.send_frame(sock, message)
            reply = client.receive_frame(sock)
            everyone_answered.wait()
        return reply

    with ThreadPoolExecutor(max_workers=CONCURRENT_CLIENTS) as pool:
        replies = list(pool.map(one_client, range(CONCURRENT_CLIENTS)))
    expected = [f"client {n} ".encode() * (n + 1) for n in range(CONCURRENT_CLIENTS)]
    assert replies == expected


def test_a_slow_client_does_not_block_the_others(server, client):
    message = b"a message sent slowly"
    with server.connect() as slow:
        # The slow client sends half its frame, then waits while others are
        # served: a one-at-a-time server would wait for its second half.
        half = len(message) // 2
        slow.sendall(HEADER.pack(len(message)) + message[:half])
        for number in range(10):
            others = [f"other {number}".encode()]
            assert client.echo_all(others, server.host, server.port) == others
        slow.sendall(message[half:])
        assert client.receive_frame(slow) == message


@on_each_server("oversize", "Frame size", fixture="server")
def test_oversized_frame_closes_that_connection_only(
    server, client, closed_by_peer, import_snippet, record_wait
):
    limit = import_snippet(server.snippet).MAX_FRAME_SIZE
    with server.connect() as other:
        client.send_frame(other, b"before")
        assert client.receive_frame(other) == b"before"
        with server.connect() as bad:
            bad.sendall(HEADER.pack(limit + 1))
            assert closed_by_peer(bad)
        line = server.wait_for_line("Refused")
        assert line == (
            f"Refused: frame of {limit + 1} bytes is over the {limit}-byte limit"
        )
        # The client connected before the bad one goes on, on the same connection.
        client.send_frame(other, b"after")
        assert client.receive_frame(other) == b"after"
    record_wait(echo_of(client, server, b"fresh"))


@on_each_server("garbage", "Frame size", fixture="server")
def test_garbage_is_refused_and_the_server_goes_on(
    server, client, closed_by_peer, record_wait
):
    garbage = bytes(range(255, -1, -1))  # starts b"\xff\xfe\xfd\xfc": 4 GiB
    (announced,) = HEADER.unpack(garbage[: HEADER.size])
    with server.connect() as sock:
        sock.sendall(garbage)
        assert closed_by_peer(sock)
    assert server.wait_for_line("Refused").startswith(f"Refused: frame of {announced}")
    record_wait(echo_of(client, server, b"fresh"))


@on_each_server("reset", fixture="server")
@pytest.mark.parametrize("how", ["reset", "close"])
def test_client_vanishing_mid_frame_does_not_stop_the_server(
    server, client, how, record_wait
):
    sock = server.connect()
    sock.sendall(HEADER.pack(100) + b"only ten b")
    if how == "reset":
        reset(sock)
        server.wait_for_line("Client went away: Connection reset by peer")
    else:
        sock.close()
        server.wait_for_line("Client went away: closed")
    record_wait(echo_of(client, server, b"still there?"))


def test_client_closing_right_after_a_header_does_not_stop_the_server(server, client):
    with server.connect() as sock:
        sock.sendall(HEADER.pack(5))
    server.wait_for_line("Client went away: closed")
    assert client.echo_all([b"next"], server.host, server.port) == [b"next"]


def test_a_client_may_send_its_frames_then_close_its_side(server, client):
    with server.connect() as sock:
        sock.sendall(HEADER.pack(3) + b"one" + HEADER.pack(3) + b"two")
        sock.shutdown(socket.SHUT_WR)  # no more frames, replies still welcome
        assert client.receive_frame(sock) == b"one"
        assert client.receive_frame(sock) == b"two"
        assert sock.recv(1) == b""
    assert server.wait_for_line("Echoed 2 frames")


@on_each_server("silent", "Idle time")
def test_client_that_never_sends_is_timed_out(strict_server, client, record_wait):
    server = strict_server
    with server.connect() as silent:
        record_wait(echo_of(client, server))  # served at once meanwhile
        assert closed_within(silent, 5) is not None
    line = server.wait_for_line("Timed out: no data")
    assert line == f"Timed out: no data for {IDLE} seconds"


@on_each_server("silent", "Idle time")
def test_client_that_stops_half_way_through_a_frame_is_timed_out(
    strict_server, client, record_wait
):
    server = strict_server
    with server.connect() as stalled:
        stalled.sendall(HEADER.pack(100) + b"only ten b")
        record_wait(echo_of(client, server))  # served at once meanwhile
        assert closed_within(stalled, 5) is not None
    line = server.wait_for_line("Timed out: no data")
    assert line == f"Timed out: no data for {IDLE} seconds"


@on_each_server("slow drip", "Time to send a frame")
def test_a_frame_that_trickles_in_is_cut_off_at_the_deadline(
    strict_server, client, record_wait
):
    server = strict_server
    # One byte every IDLE / 3 seconds: never idle, and never done.
    with server.connect() as dripper, ThreadPoolExecutor(1) as pool:
        drip = pool.submit(
            slow_drip, dripper, frame(b"x" * 100), every=IDLE / 3, for_at_most=10
        )
        record_wait(echo_of(client, server))  # served at once meanwhile
        assert drip.result() is not None, "the drip was never cut off"
    line = server.wait_for_line("Timed out: frame")
    assert line == f"Timed out: frame not complete in {DEADLINE} seconds"


@on_each_server("slow drip", "Clients at once", fixture="snippet")
def test_more_tricklers_than_slots_cannot_hold_the_server(
    live_server, client, snippet, record_wait, request
):
    # The issue this fixes: 260 tricklers took all 256 slots, and a newcomer
    # waited in the queue for as long as they trickled (36 s). Now a client
    # past the cap is refused at once; and the deadline per frame, tested
    # above, frees each slot in time.
    slots, tricklers = 8, 10
    with (
        live_server(snippet, *RELAXED, "--max-clients", str(slots)) as server,
        flood(server.host, server.port, tricklers) as socks,
        ThreadPoolExecutor(tricklers) as pool,
    ):
        stop = time.monotonic() + 5  # the drips end with the test
        drips = [
            pool.submit(slow_drip, sock, frame(b"x" * 100), every=0.1,
                        for_at_most=stop - time.monotonic())
            for sock in socks
        ]  # fmt: skip
        server.log_lines(f"Refused: {slots} clients already", tricklers - slots)
        # A newcomer while every slot is taken: a prompt close.
        with server.connect() as newcomer:
            refused_in = closed_within(newcomer, 5)
        assert refused_in is not None
        record_wait(refused_in)
        server.wait_for_line(f"Refused: {slots} clients already")
        for sock in socks:  # the tricklers give up (their drips see it)
            with contextlib.suppress(OSError):  # the refused are gone already
                sock.shutdown(socket.SHUT_RDWR)
        assert None not in [drip.result() for drip in drips]
        # Mid-frame, or before their first byte if their drip had not begun.
        server.log_lines(("Client went away", "Echoed 0 frames"), slots)
        served_in = echo_after_refusals(client, server)
    request.node.user_properties.append(("served after they left", served_in))


@on_each_server("flood", "Clients at once", fixture="snippet")
def test_a_client_past_the_cap_is_refused_at_once(
    live_server, client, snippet, record_wait
):
    slots = 20
    with live_server(snippet, *RELAXED, "--max-clients", str(slots)) as server:
        with flood(server.host, server.port, slots + 10) as socks:
            refused = [closed_within(sock, 2) for sock in socks[slots:]]
            assert None not in refused, "a client past the cap was kept waiting"
            for sock in socks[:slots]:  # the first ones are being served
                sock.sendall(frame(b"in"))
                assert read_frame(sock) == b"in"
            server.log_lines(f"Refused: {slots} clients already", 10)
        # The flood has gone: slots free up, and a newcomer is served.
        server.log_lines("Echoed 1 frames", slots)
        record_wait(max(refused) + echo_after_refusals(client, server))


@on_each_server("flood", fixture="server")
def test_two_hundred_and_fifty_clients_at_once_and_a_newcomer_is_served(
    server, client, record_wait
):
    # Under the cap (256 by default): every connection is held, and still a
    # newcomer is answered at once.
    with flood(server.host, server.port, 250) as socks:
        assert len(socks) == 250
        record_wait(echo_of(client, server))
        for sock in socks[:10]:
            sock.sendall(frame(b"held"))
            assert read_frame(sock) == b"held"


def read_frame(sock: socket.socket) -> bytes:
    (length,) = HEADER.unpack(read_exactly(sock, HEADER.size))
    return read_exactly(sock, length)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


# How many clients that never read: the figure, 40, for selectors.
NON_READERS = {THREADED: 4, SELECTORS: 40}


def never_read(host: str, port: int, payload: bytes) -> float | None:
    """Send frames and never read the echoes; seconds until the server hangs
    up, None if it did not within 10 s."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        sock.connect((host, port))
        for _ in range(1000):  # bounded: the server stops reading far sooner
            try:
                sock.sendall(payload)
            except (ConnectionResetError, BrokenPipeError):
                return 0.0
            except TimeoutError:  # the server stopped reading from us
                break
        return closed_within(sock, 10)


@pytest.mark.parametrize(
    "snippet",
    [
        pytest.param(
            THREADED,
            id="threaded",
            marks=pytest.mark.hostile(
                THREADED, "non-reading", limit="Time to take the echo"
            ),
        ),
        pytest.param(
            SELECTORS,
            id="selectors",
            marks=[
                pytest.mark.hostile(
                    SELECTORS, "non-reading", limit="Time to take the echo"
                ),
                pytest.mark.hostile(
                    SELECTORS, "non-reading", limit="Replies held per client"
                ),
            ],
        ),
    ],
)
def test_clients_that_never_read_are_dropped_and_memory_stays_bounded(
    live_server, client, snippet, import_snippet, record_wait, request
):
    # The issue this fixes: 40 clients that never read made the selectors
    # server grow from 12 MB to 184 MB, and stay.
    limits = import_snippet(snippet)
    payload = frame(bytes(limits.MAX_FRAME_SIZE))
    with live_server(snippet, *STRICT) as server:
        before = memory_of(server.process.pid)["VmRSS"]
        count = NON_READERS[snippet]
        with ThreadPoolExecutor(count) as pool:
            dropped = list(
                pool.map(
                    lambda _: never_read(server.host, server.port, payload),
                    range(count),
                )
            )
        record_wait(echo_of(client, server))
        peak = memory_of(server.process.pid)["VmHWM"]
        server.log_lines(f"Timed out: echo not taken in {DEADLINE} seconds", count)
    assert None not in dropped, "a client that never reads was never dropped"
    grown = peak - before
    # What one client may make the server hold: a frame being read, and the
    # replies it has not taken (selectors), or the one frame of its thread.
    per_client = limits.MAX_FRAME_SIZE * 2 + getattr(limits, "MAX_UNSENT", 0) * 2
    request.node.user_properties.append(("peak memory", peak))
    request.node.user_properties.append(("memory grown", grown))
    assert grown < count * per_client + 16 * 1024 * 1024


@pytest.mark.parametrize(
    "snippet",
    [
        pytest.param(
            p,
            id=server_id(p),
            marks=pytest.mark.hostile(p, "fd exhaustion", limit="Open files"),
        )
        for p in SERVERS
    ],
)
def test_out_of_file_descriptors_it_pauses_and_recovers(
    live_server, client, snippet, record_wait
):
    # The issue this fixes: 80 clients at a limit of 64 descriptors made the
    # selectors server exit with "Too many open files".
    with live_server(snippet, *FD_LIMITS, preexec_fn=low_file_limit(64)) as server:
        with flood(server.host, server.port, 80) as socks:
            assert server.wait_for_line("Accepting paused: Too many open files")
            # The silent ones are timed out; their descriptors free up, and
            # the server accepts again: the newcomer waits for that.
            record_wait(echo_of(client, server))
            assert len(socks) == 80
        assert server.process.poll() is None  # still running


@pytest.mark.hostile(SELECTORS, "fd exhaustion", limit="Open files")
def test_out_of_file_descriptors_it_tries_again_after_a_pause(live_server, client):
    # Nobody leaves (the idle timeout is long): the selectors server tries
    # again after its pause, finds no descriptor, and pauses again, instead of
    # spinning on a listening socket that stays ready.
    with (
        live_server(
            SELECTORS, *RELAXED, "--accept-pause", "0.05",
            preexec_fn=low_file_limit(64),
        ) as server,
        flood(server.host, server.port, 80),
    ):  # fmt: skip
        server.log_lines("Accepting paused: Too many open files", 2)
        assert server.process.poll() is None


def test_ctrl_c_stops_the_selectors_loop_only_where_it_waits(import_snippet):
    # A Ctrl+C while a step is half done (a socket accepted, not yet
    # registered) is noted; the loop stops at its next wait, with every
    # client's socket registered, so every one is closed. In select(), it
    # stops at once.
    module = import_snippet(SELECTORS)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = module.EchoServer(listener, module.Limits())
        server.on_ctrl_c(signal.SIGINT, None)
        assert server.stop_requested
        with pytest.raises(KeyboardInterrupt):
            server.serve_forever()
        assert not server.waiting
        server.waiting = True  # as in select()
        with pytest.raises(KeyboardInterrupt):
            server.on_ctrl_c(signal.SIGINT, None)


# --- Real peers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "program", "host"),
    [
        pytest.param(
            path, program, host,
            id=f"{server_id(path)}-{program}-{host}",
            marks=pytest.mark.interop(
                path, program, f"frames built by the test, over {family}"
            ),
        )
        for path in SERVERS
        for program, host, family in (
            ("ncat", "127.0.0.1", "IPv4"),
            ("socat", "::1", "IPv6"),
        )
    ],
)  # fmt: skip
def test_peer_clients_get_their_frames_back(
    live_server, snippet, program, host, ipv6_loopback
):
    frames = frame(b"one") + frame("twö 👋".encode()) + frame(b"") + frame(bytes(5000))
    with live_server(snippet, "--host", host) as server:
        assert tcp_exchange(program, host, server.port, frames) == frames
        assert server.wait_for_line("Echoed 4 frames")


def test_a_socket_closed_under_the_threaded_handler_is_logged(import_snippet, caplog):
    # Ctrl+C can reach socketserver while it starts a client's thread: it
    # then closes that client's socket under the new thread.
    snippet = import_snippet(THREADED)
    closed = socket.socket()
    closed.close()
    server = types.SimpleNamespace(limits=snippet.Limits())
    with caplog.at_level(logging.INFO, logger="threaded_echo_server"):
        snippet.FramedEchoHandler(closed, ("127.0.0.1", 9), server)
    assert caplog.messages == ["Connection failed: Bad file descriptor"]


def test_a_client_that_does_not_read_its_replies_is_not_read_from(import_snippet):
    # The page: past MAX_UNSENT bytes of replies the selectors server stops
    # reading from that client until it catches up (backpressure).
    server = import_snippet(SELECTORS)
    limits = server.Limits()
    frame_ = server.HEADER.pack(limits.frame_size) + bytes(limits.frame_size)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)  # as the server's sockets are
        theirs.setblocking(False)
        conn = server.Connection(ours, limits)
        while len(conn.unsent) < limits.unsent:
            conn.received += frame_
            conn.take_frames()
        assert conn.wanted_events() == selectors.EVENT_WRITE  # no EVENT_READ
        clock = conn.time_is_up()[1]
        assert conn.why_late(clock) == f"echo not taken in {limits.deadline} seconds"
        while len(conn.unsent) >= limits.unsent:  # the client reads again
            conn.write()
            with contextlib.suppress(BlockingIOError):
                while theirs.recv(1024 * 1024):
                    pass
        assert conn.wanted_events() & selectors.EVENT_READ  # reading again
