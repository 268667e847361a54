"""Tests of the page "Serving many clients" (docs/sockets/many-clients.md).

Both servers, the threaded one and the selectors one, pass the same tests.
"""

import contextlib
import selectors
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

CLIENT = "sockets/framed_echo_client.py"
SERVERS = ["sockets/threaded_echo_server.py", "sockets/selectors_echo_server.py"]
HEADER = struct.Struct("!I")
CONCURRENT_CLIENTS = 100
BARRIER_TIMEOUT = 30.0  # seconds; reached only if the server serves one at a time
# Seconds of silence before the server hangs up: short, so the silent client's
# test is quick; long enough for any client here to send its first frame.
CLIENT_TIMEOUT = 0.5


def server_id(path: str) -> str:
    return path.split("/")[1].split("_")[0]


@pytest.fixture(scope="module", params=SERVERS, ids=server_id)
def server(request, live_server):
    """One server for the module's tests, and a client that never sends.

    The silent client connects first and is timed out after CLIENT_TIMEOUT
    while the other tests run: a concurrent server serves them meanwhile.
    """
    with live_server(request.param, "--client-timeout", str(CLIENT_TIMEOUT)) as running:
        running.snippet = request.param
        with running.connect(timeout=BARRIER_TIMEOUT) as running.silent_client:
            yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def test_client_program_talks_to_it_unchanged(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
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


def test_oversized_frame_closes_that_connection_only(
    server, client, closed_by_peer, import_snippet
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
    assert client.echo_all([b"fresh"], server.host, server.port) == [b"fresh"]


def test_garbage_is_refused_and_the_server_goes_on(server, client, closed_by_peer):
    garbage = bytes(range(255, -1, -1))  # starts b"\xff\xfe\xfd\xfc": 4 GiB
    (announced,) = HEADER.unpack(garbage[: HEADER.size])
    with server.connect() as sock:
        sock.sendall(garbage)
        assert closed_by_peer(sock)
    assert server.wait_for_line("Refused").startswith(f"Refused: frame of {announced}")
    assert client.echo_all([b"fresh"], server.host, server.port) == [b"fresh"]


@pytest.mark.parametrize("how", ["reset", "close"])
def test_client_vanishing_mid_frame_does_not_stop_the_server(
    server, client, vanish, how
):
    sock = server.connect()
    sock.sendall(HEADER.pack(100) + b"only ten b")
    if how == "reset":
        vanish(sock)
        server.wait_for_line("Client went away: Connection reset by peer")
    else:
        sock.close()
        server.wait_for_line("Client went away: closed")
    assert client.echo_all([b"still there?"], server.host, server.port) == [
        b"still there?"
    ]


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


def test_client_that_never_sends_is_timed_out(server, client):
    # Connected when the server started, silent since: the server hangs up.
    assert server.silent_client.recv(1) == b""
    line = server.wait_for_line("Timed out")
    assert line.endswith(f"for {CLIENT_TIMEOUT} seconds")
    assert client.echo_all([b"my turn"], server.host, server.port) == [b"my turn"]


def test_a_client_that_does_not_read_its_replies_is_not_read_from(import_snippet):
    # The page: past MAX_UNSENT bytes of replies the selectors server stops
    # reading from that client until it catches up (backpressure).
    server = import_snippet("sockets/selectors_echo_server.py")
    frame = server.HEADER.pack(64 * 1024) + bytes(64 * 1024)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)  # as the server's sockets are
        theirs.setblocking(False)
        conn = server.Connection(ours)
        while len(conn.unsent) < server.MAX_UNSENT:
            conn.received += frame
            conn.take_frames()
        assert conn.wanted_events() == selectors.EVENT_WRITE  # no EVENT_READ
        while len(conn.unsent) >= server.MAX_UNSENT:  # the client reads again
            conn.write()
            with contextlib.suppress(BlockingIOError):
                while theirs.recv(1024 * 1024):
                    pass
        assert conn.wanted_events() == selectors.EVENT_READ | selectors.EVENT_WRITE
