"""Tests of the page "Message framing over TCP" (docs/sockets/framing.md).

The server serves one connection at a time: each fault test measures how long
a well-behaved client that connects during the fault waits for its echo.
"""

import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hostile.attacks import (
    closed_within,
    fill_without_reading,
    read_until_closed,
    reset,
    served_within,
    slow_drip,
)
from peers.echo_peers import tcp_exchange

SERVER = "sockets/framed_echo_server.py"
CLIENT = "sockets/framed_echo_client.py"
HEADER = struct.Struct("!I")
IDLE = 0.3  # seconds of silence before the shared server hangs up
DEADLINE = 0.6  # seconds for a whole frame, and for its echo to be taken
LIMITS = ("--idle-timeout", str(IDLE), "--deadline", str(DEADLINE))


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@pytest.fixture(scope="module")
def server(live_server):
    # One server for the module's tests, with short limits.
    with live_server(SERVER, *LIMITS) as running:
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def echo_of(client, server, message: bytes = b"next") -> float:
    """Seconds a well-behaved client waits for its echo (failing past 5 s)."""

    def exchange() -> None:
        assert client.echo_all([message], server.host, server.port) == [message]

    return served_within(5, exchange)


def test_a_byte_stream_keeps_no_message_boundaries(run_example):
    run_example("sockets/stream_boundaries.py")


def test_client_sends_four_messages_on_one_connection(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert server.wait_for_line("Echoed 4 frames")


@pytest.mark.interop(SERVER, "socat", "frames built by the test, over IPv6")
def test_server_and_client_work_over_ipv6(live_server, run_example, ipv6_loopback):
    with live_server(SERVER, "--host", "::1") as server:
        run_example(CLIENT, "--host", "::1", "--port", str(server.port))
        assert server.wait_for_line("Echoed 4 frames")
        # And socat, sending frames that the test builds.
        frames = frame(b"one") + frame("twö 👋".encode()) + frame(bytes(5000))
        assert tcp_exchange("socat", "::1", server.port, frames) == frames
        assert server.wait_for_line("Echoed 3 frames")


def test_a_frame_sent_one_byte_at_a_time_is_reassembled(server, client):
    message = "one byte at a time 👋".encode()
    with server.connect() as sock:
        # No Nagle delay: each one-byte send leaves as its own TCP segment.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in frame(message):
            sock.sendall(bytes([byte]))
        assert client.receive_frame(sock) == message


def test_two_frames_in_one_write_get_two_replies(server, client):
    with server.connect() as sock:
        sock.sendall(frame(b"first") + frame(b"second"))
        assert client.receive_frame(sock) == b"first"
        assert client.receive_frame(sock) == b"second"


def test_receive_frame_reads_a_frame_that_arrives_in_one_byte_pieces(client):
    class OneByteAtATime:
        """A socket whose every recv() returns a single byte: the worst case."""

        def __init__(self, sock):
            self.sock = sock

        def recv(self, size):
            return self.sock.recv(1)

    writer, reader = socket.socketpair()
    with writer, reader:
        reader.settimeout(5)
        writer.sendall(frame(b"piece by piece") + frame(b""))
        trickle = OneByteAtATime(reader)
        assert client.receive_frame(trickle) == b"piece by piece"
        assert client.receive_frame(trickle) == b""


def test_large_messages_come_back_intact(server, client):
    messages = [bytes([n]) * 300_000 for n in range(3)]
    assert client.echo_all(messages, server.host, server.port) == messages


@pytest.mark.hostile(SERVER, "oversize", limit="Frame size")
def test_oversized_frame_is_refused_and_the_next_client_served(
    server, client, record_wait
):
    limit = client.MAX_FRAME_SIZE
    with server.connect() as bad:
        bad.sendall(HEADER.pack(limit + 1))
        # Connected while the server handles `bad`: it waits its turn.
        with server.connect() as waiting:
            record_wait(
                served_within(5, lambda: client.send_frame(waiting, b"my turn"))
                + served_within(5, lambda: client.receive_frame(waiting))
            )
            assert closed_within(bad, 5) is not None  # refused: hung up on
    line = server.wait_for_line("Refused")
    assert line == f"Refused: frame of {limit + 1} bytes is over the {limit}-byte limit"


@pytest.mark.hostile(SERVER, "garbage", limit="Frame size")
def test_garbage_is_read_as_a_huge_length_and_refused(
    server, client, closed_by_peer, record_wait
):
    garbage = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    (announced,) = HEADER.unpack(garbage[: HEADER.size])
    with server.connect() as sock:
        sock.sendall(garbage)
        assert closed_by_peer(sock)
    assert server.wait_for_line("Refused").startswith(f"Refused: frame of {announced}")
    record_wait(echo_of(client, server, b"fresh"))


@pytest.mark.hostile(SERVER, "reset")
@pytest.mark.parametrize("how", ["reset", "close"])
def test_client_vanishing_mid_frame_does_not_stop_the_server(
    server, client, how, record_wait
):
    sock = server.connect()
    sock.sendall(HEADER.pack(100) + b"only ten b")
    if how == "reset":
        reset(sock)
        expected = "Client went away: Connection reset by peer"
    else:
        sock.close()
        expected = "Client went away: closed after 10 of 100 bytes"
    assert server.wait_for_line(expected)
    record_wait(echo_of(client, server, b"still there?"))


def test_client_closing_right_after_a_header_is_logged(server, client):
    with server.connect() as sock:
        sock.sendall(HEADER.pack(5))
    line = server.wait_for_line("Client went away")
    assert line == "Client went away: closed after 0 of 5 bytes"
    assert client.echo_all([b"next"], server.host, server.port) == [b"next"]


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_never_sends_is_timed_out(server, client, record_wait):
    with server.connect() as silent:
        record_wait(echo_of(client, server, b"my turn"))  # waits its turn
        assert closed_within(silent, 5) is not None
    assert server.wait_for_line("Timed out") == f"Timed out: no data for {IDLE} seconds"


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_stops_half_way_through_a_frame_is_timed_out(
    server, client, record_wait
):
    with server.connect() as stalled:
        stalled.sendall(HEADER.pack(100) + b"only ten b")
        record_wait(echo_of(client, server, b"my turn"))  # waits its turn
        assert closed_within(stalled, 5) is not None
    assert server.wait_for_line("Timed out") == f"Timed out: no data for {IDLE} seconds"


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a frame")
def test_a_frame_that_trickles_in_is_cut_off_at_the_deadline(
    server, client, record_wait
):
    # One byte every IDLE / 3 seconds: never idle, and never done.
    dripper = server.connect()
    outcome = {}

    def drip() -> None:
        with dripper:
            outcome["closed after"] = slow_drip(
                dripper, frame(b"x" * 100), every=IDLE / 3, for_at_most=10
            )

    thread = threading.Thread(target=drip)
    thread.start()
    try:
        record_wait(echo_of(client, server))
    finally:
        thread.join(15)
    assert outcome["closed after"] is not None, "the drip was never cut off"
    expected = f"Timed out: frame not complete in {DEADLINE} seconds"
    assert server.wait_for_line("Timed out") == expected


@pytest.mark.hostile(SERVER, "slow drip", limit="Time per connection")
def test_a_client_that_never_leaves_is_let_go(live_server, client, record_wait):
    # Well-formed frames, each on time, one after another: with one
    # connection at a time, the connection itself needs a time limit.
    with live_server(SERVER, *LIMITS, "--connection-time", "0.5") as server:
        with server.connect() as stayer, server.connect() as waiting:
            client.send_frame(waiting, b"me")  # then waits for its turn
            started = time.monotonic()
            echoed = 0
            for _ in range(1_000_000):  # bounded; the limit ends it far sooner
                try:
                    client.send_frame(stayer, b"still here")
                    client.receive_frame(stayer)
                except ConnectionError:
                    break
                echoed += 1
            assert client.receive_frame(waiting) == b"me"
            record_wait(time.monotonic() - started)
        assert server.wait_for_line("Timed out") == (
            "Timed out: connection open for 0.5 seconds"
        )
    assert echoed > 0


@pytest.mark.hostile(SERVER, "non-reading", limit="Time to take the echo")
def test_a_client_that_does_not_read_its_echoes_is_dropped(server, client, record_wait):
    with socket.socket() as greedy, ThreadPoolExecutor(1) as pool:
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.settimeout(5)
        greedy.connect((server.host, server.port))
        big = frame(bytes(client.MAX_FRAME_SIZE))
        # It sends until the server, stuck on an echo nobody reads, stops
        # reading too, and then hangs up; meanwhile another client waits.
        sent = pool.submit(fill_without_reading, greedy, big, rounds=64)
        record_wait(echo_of(client, server, b"after"))
        assert sent.result() < 64
        read_until_closed(greedy, 5)
    expected = f"Timed out: echo not taken in {DEADLINE} seconds"
    assert server.wait_for_line("Timed out") == expected


@pytest.mark.hostile(SERVER, "flood", limit="Clients at once")
def test_two_hundred_clients_at_once_wait_their_turn(server, client, record_wait):
    count = 200
    clients = [server.connect() for _ in range(count)]
    try:
        for number, sock in enumerate(clients):
            sock.sendall(frame(f"client {number}".encode()))
            sock.shutdown(socket.SHUT_WR)  # one frame, then done
        replies = [read_until_closed(sock, 10) for sock in clients]
    finally:
        for sock in clients:
            sock.close()
    assert replies == [frame(f"client {number}".encode()) for number in range(count)]
    record_wait(echo_of(client, server))


def test_client_refuses_an_oversized_reply_before_reading_it(client):
    limit = client.MAX_FRAME_SIZE
    peer, sock = socket.socketpair()
    with peer, sock:
        sock.settimeout(5)
        peer.sendall(HEADER.pack(limit + 1))
        with pytest.raises(ConnectionError, match=f"over the {limit}-byte limit"):
            client.receive_frame(sock)


def test_client_reports_a_reply_cut_short(client):
    peer, sock = socket.socketpair()
    with peer, sock:
        sock.settimeout(5)
        peer.sendall(HEADER.pack(10) + b"abc")
        peer.close()
        with pytest.raises(ConnectionError, match="closed after 3 of 10 bytes"):
            client.receive_frame(sock)


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start framed_echo_server.py"
    )


def test_client_program_tells_a_silent_server_from_no_server(
    run_example, silent_listener
):
    host, port = silent_listener
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port), "--timeout", "0.1")
    assert exit_info.value.code == f"{host}:{port} did not answer within 0.1 s"


def test_client_program_names_a_server_of_another_protocol(run_example):
    # A server that answers in another protocol: its first four bytes, read
    # as a length, announce a frame far over the client's limit.
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()

        def answer_and_close() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(answer)

        thread = threading.Thread(target=answer_and_close)
        thread.start()
        try:
            with pytest.raises(SystemExit) as exit_info:
                run_example(CLIENT, "--port", str(port))
        finally:
            thread.join(5)
    (announced,) = HEADER.unpack(answer[: HEADER.size])
    assert exit_info.value.code == (
        f"Echo from {host}:{port} failed: frame of {announced} bytes"
        " is over the 1048576-byte limit"
    )


# --- Real peers ---------------------------------------------------------------


@pytest.mark.interop(SERVER, "socat", "an empty frame and a 300 KB one")
def test_socat_sends_frames_and_gets_each_back(server):
    frames = frame(b"") + frame(bytes(range(256)) * 1200)
    assert tcp_exchange("socat", server.host, server.port, frames) == frames
    assert server.wait_for_line("Echoed 2 frames")


@pytest.mark.interop(SERVER, "ncat", "a frame in, the same frame out")
def test_ncat_sends_a_frame_and_gets_it_back(server):
    message = frame("from ncat 👋".encode())
    assert tcp_exchange("ncat", server.host, server.port, message) == message


@pytest.mark.interop(SERVER, "curl", "an HTTP request is refused as an oversized frame")
def test_curl_speaking_http_is_refused(server, client):
    from peers.daemons import run_client
    from peers.programs import require

    url = f"http://{server.host}:{server.port}/"
    result = run_client([require("curl"), "--silent", "--max-time", "5", url])
    # curl: 52, "Empty reply from server", or 56, a reset (the server hung up
    # with the rest of the request unread).
    assert result.returncode in (52, 56), result.stderr
    assert server.wait_for_line("Refused").startswith("Refused: frame of")
    assert client.echo_all([b"fresh"], server.host, server.port) == [b"fresh"]


@pytest.mark.interop(CLIENT, "socat", "four frames echoed by socat, IPv4 and IPv6")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_client_against_socat(run_example, socat_tcp_echo, host, ipv6_loopback):
    run_example(CLIENT, "--host", host, "--port", str(socat_tcp_echo.port))


@pytest.mark.interop(CLIENT, "ncat", "four frames echoed by ncat running cat")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_client_against_ncat(run_example, ncat_tcp_echo, host, ipv6_loopback):
    run_example(CLIENT, "--host", host, "--port", str(ncat_tcp_echo.port))


# --- Nagle's algorithm and TCP_NODELAY -------------------------------------

NAGLE = "sockets/nagle_delay.py"


def test_two_writes_then_a_read_wait_for_a_delayed_ack(run_example):
    # The #> lines hold orders of magnitude, not times: two writes per
    # request take 10 to 100 ms each (Linux delays the ACK by 40 ms), one
    # write or TCP_NODELAY under 10 ms.
    run_example(NAGLE)


def test_the_delay_is_the_acks_and_nodelay_removes_it(import_snippet):
    nagle = import_snippet(NAGLE)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=nagle.answer_requests, args=[listener])
        server.start()
        delayed = nagle.time_requests(listener.getsockname(), False, 2)
        server.join()
    # Linux's shortest delayed ACK is 40 ms (TCP_DELACK_MIN); a loaded
    # machine adds to it, never takes from it.
    assert 0.035 <= delayed < 0.2
    # What the program prints: orders of magnitude, with their bounds.
    assert nagle.magnitude(0.0099) == "under 10 ms"
    assert nagle.magnitude(0.04) == "10 to 100 ms"
    assert nagle.magnitude(0.2) == "100 ms or more"
