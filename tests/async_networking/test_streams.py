"""Tests of the page "asyncio for network code" (docs/async/streams.md).

Each fault test also measures how long a well-behaved client waits while the
fault goes on: the server serves its clients at once, so the answer should be
"hardly at all".
"""

import asyncio
import logging
import queue
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from hostile.attacks import (
    closed_within,
    connect,
    flood,
    low_file_limit,
    memory_of,
    read_until_closed,
    reset,
    served_within,
    slow_drip,
)
from peers.echo_peers import tcp_exchange

SERVER = "async_networking/async_echo_server.py"
CLIENT = "async_networking/async_echo_client.py"
DEADLINE = 0.5  # seconds for each whole line, and for its echo to be taken
LOG_WAIT = 10.0  # seconds a test waits for a line it expects in the log
needs_3_11 = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.timeout() is new in Python 3.11"
)


class Log:
    """The lines a running server prints, read as they come.

    A test claims the first line that contains what it waits for; lines that
    other tests' clients caused stay for those tests.
    """

    def __init__(self, server) -> None:
        self.server = server
        self.host, self.port = server.host, server.port
        self._lines: queue.Queue[str] = queue.Queue()
        self._unclaimed: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self.server.process.stdout:
                self._lines.put(line.rstrip("\n"))
        except (OSError, ValueError):  # the stream closed as the server stopped
            pass

    def wait_for(self, expected: str) -> str:
        deadline = time.monotonic() + LOG_WAIT
        while True:
            for index, line in enumerate(self._unclaimed):
                if expected in line:
                    return self._unclaimed.pop(index)
            try:
                left = max(deadline - time.monotonic(), 0)
                self._unclaimed.append(self._lines.get(timeout=left))
            except queue.Empty:
                raise AssertionError(f"the server did not log {expected!r}") from None


@contextmanager
def running(start_server, *args, **options):
    with start_server(SERVER, *args, **options) as server:
        yield Log(server)


@pytest.fixture(scope="module")
def echo_server(start_server):
    """One echo server for the tests that do not stop it themselves."""
    with running(start_server, "--deadline", str(DEADLINE)) as server:
        yield server
        # Ctrl+C here, so that its last line reaches the log's own reader
        # (it would race with the one that start_server uses after).
        server.server.process.send_signal(signal.SIGINT)
        server.wait_for("Server stopped")
        server.server.process.wait(timeout=LOG_WAIT)


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def echo(client, lines, server):
    return asyncio.run(client.echo_within_wait_for(lines, server.host, server.port, 5))


def echo_of(client, server, line: bytes = b"well-behaved") -> float:
    """Seconds a well-behaved client waits for its echo (failing past 5 s)."""

    def exchange() -> None:
        assert echo(client, [line], server) == [line]

    return served_within(5, exchange)


def test_coroutines_run_while_others_wait(run_example):
    run_example("async_networking/coroutines.py")


def test_client_prints_each_echoed_line(echo_server, run_example):
    run_example(CLIENT, "--host", echo_server.host, "--port", str(echo_server.port))
    assert echo_server.wait_for("Echoed 2 lines") == "Echoed 2 lines"


@pytest.mark.interop(SERVER, "ncat", "lines echoed over IPv6")
def test_server_and_client_work_over_ipv6(start_server, run_example, ipv6_loopback):
    with running(start_server, "--host", "::1") as server:
        run_example(CLIENT, "--host", "::1", "--port", str(server.port))
        assert server.wait_for("Echoed 2 lines")
        lines = "first line\nsecond, 👋\n".encode()
        assert tcp_exchange("ncat", "::1", server.port, lines) == lines
        assert server.wait_for("Echoed 2 lines")


@pytest.mark.asyncio
async def test_many_clients_are_served_at_once(echo_server, client):
    lines = [[f"client {n}, line {i}".encode() for i in range(3)] for n in range(50)]
    exchanges = (
        client.echo_within_wait_for(own, echo_server.host, echo_server.port, 5)
        for own in lines
    )
    assert await asyncio.gather(*exchanges) == lines


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_bytes_are_echoed_like_any_others(echo_server, client, record_wait):
    garbage = bytes(range(256)) * 4 + b"\n"  # byte 10 is b"\n": several lines
    with connect(echo_server.host, echo_server.port) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        assert read_until_closed(sock, 5) == garbage
    record_wait(echo_of(client, echo_server))


@pytest.mark.hostile(SERVER, "oversize", limit="Line length")
@pytest.mark.parametrize("extra", [1, 1024 * 1024], ids=["just-over", "a-megabyte"])
def test_line_over_the_limit_is_refused_and_server_goes_on(
    echo_server, client, import_snippet, extra, record_wait
):
    limit = import_snippet(SERVER).MAX_LINE_LENGTH
    # The server hangs up: the client reads the end of the stream or, if the
    # server closed with our data unread, a reset.
    with pytest.raises(ConnectionError):
        echo(client, [b"x" * (limit + extra)], echo_server)
    assert echo_server.wait_for("Refused: line") == f"Refused: line over {limit} bytes"
    record_wait(echo_of(client, echo_server))


@pytest.mark.hostile(SERVER, "reset")
@pytest.mark.parametrize(
    ("vanish", "logged"),
    [
        (reset, "Client went away: Connection reset by peer"),
        (socket.socket.close, "Client closed the connection mid-line"),
    ],
    ids=["reset", "closed"],
)
def test_client_that_vanishes_mid_line_does_not_stop_the_server(
    echo_server, client, vanish, logged, record_wait
):
    sock = connect(echo_server.host, echo_server.port)
    sock.sendall(b"half a li")
    vanish(sock)
    assert echo_server.wait_for(logged.split(":")[0]) == logged
    record_wait(echo_of(client, echo_server, b"still there?"))


@pytest.mark.hostile(SERVER, "silent", limit="Time to send a line")
def test_client_that_never_sends_is_timed_out(echo_server, client, record_wait):
    with connect(echo_server.host, echo_server.port) as silent:
        record_wait(echo_of(client, echo_server))  # served at once meanwhile
        assert closed_within(silent, 5) is not None
    logged = echo_server.wait_for("Timed out: no whole line")
    assert logged == f"Timed out: no whole line in {DEADLINE} seconds"


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a line")
def test_a_line_that_trickles_in_is_cut_off_at_the_deadline(
    echo_server, client, record_wait
):
    # One byte every DEADLINE / 4 seconds: the line never ends in time.
    with (
        connect(echo_server.host, echo_server.port) as dripper,
        ThreadPoolExecutor(1) as pool,
    ):
        drip = pool.submit(
            slow_drip, dripper, b"x" * 100, every=DEADLINE / 4, for_at_most=10
        )
        record_wait(echo_of(client, echo_server))
        assert drip.result() is not None, "the drip was never cut off"
    logged = echo_server.wait_for("Timed out: no whole line")
    assert logged == f"Timed out: no whole line in {DEADLINE} seconds"


@pytest.mark.hostile(SERVER, "non-reading", limit="Time to take the echo")
def test_a_client_that_does_not_read_its_echoes_is_dropped(
    start_server, client, record_wait, request
):
    line = b"z" * 60_000 + b"\n"
    with (
        running(start_server, "--deadline", str(DEADLINE)) as server,
        socket.socket() as greedy,
    ):
        before = memory_of(server.server.process.pid)["VmRSS"]
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.settimeout(5)
        greedy.connect((server.host, server.port))
        for _ in range(1000):  # bounded: the server stops reading far sooner
            try:
                greedy.sendall(line)
            except (ConnectionResetError, BrokenPipeError):
                break  # dropped
        record_wait(echo_of(client, server))
        logged = server.wait_for("Timed out: echo")
        grown = memory_of(server.server.process.pid)["VmHWM"] - before
    assert logged == f"Timed out: echo not taken in {DEADLINE} seconds"
    request.node.user_properties.append(("memory grown", grown))
    assert grown < 16 * 1024 * 1024  # a line and the write buffer, not all of it


@pytest.mark.hostile(SERVER, "flood", limit="Clients at once")
def test_a_client_past_the_cap_is_refused_at_once(start_server, client, record_wait):
    slots = 20
    with running(start_server, "--max-clients", str(slots)) as server:
        with flood(server.host, server.port, slots + 10) as socks:
            for sock in socks[:slots]:  # the first ones are being served
                sock.sendall(b"in\n")
                assert sock.recv(10) == b"in\n"
            refused = [closed_within(sock, 2) for sock in socks[slots:]]
            assert None not in refused, "a client past the cap was kept waiting"
            for _ in range(10):
                server.wait_for(f"Refused: {slots} clients already")
        for _ in range(slots):  # the flood has gone: slots free up
            server.wait_for("Echoed 1 lines")
        record_wait(max(refused) + echo_of(client, server))


@pytest.mark.hostile(SERVER, "flood")
def test_two_hundred_and_fifty_clients_at_once_and_a_newcomer_is_served(
    start_server, client, record_wait
):
    with running(start_server) as server, flood(server.host, server.port, 250) as socks:
        assert len(socks) == 250
        record_wait(echo_of(client, server))
        for sock in socks[:10]:
            sock.sendall(b"held\n")
            assert sock.recv(10) == b"held\n"


@pytest.mark.hostile(SERVER, "fd exhaustion", limit="Open files")
def test_out_of_file_descriptors_it_pauses_and_recovers(
    start_server, client, record_wait
):
    # asyncio stops accepting for a second when accept() fails for lack of
    # descriptors; the server logs one line, not a traceback.
    deadline = ("--deadline", str(DEADLINE))
    with (
        running(start_server, *deadline, preexec_fn=low_file_limit(64)) as server,
        flood(server.host, server.port, 80) as socks,
    ):
        assert server.wait_for("Accepting paused: Too many open files")
        record_wait(echo_of(client, server))
        assert len(socks) == 80


def test_a_retry_to_accept_after_the_server_closed_is_one_line(import_snippet, capsys):
    # What asyncio reports when the server closes within a second of an
    # out-of-descriptors pause (seen in a test run of this server under
    # load): its retry finds the listening socket closed.
    snippet = import_snippet(SERVER)
    context = {
        "message": "Exception in callback BaseSelectorEventLoop._start_serving(...)",
        "exception": ValueError("Invalid file descriptor: -1"),
    }
    loop = asyncio.new_event_loop()
    try:
        snippet.report_accept_errors(loop, context)
    finally:
        loop.close()
    assert capsys.readouterr().out == (
        "Accepting again failed: the server has closed\n"
    )


def test_other_loop_errors_are_reported_as_asyncio_reports_them(import_snippet, caplog):
    snippet = import_snippet(SERVER)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            snippet.report_accept_errors(loop, {"message": "something else"})
    finally:
        loop.close()
    assert [record.getMessage() for record in caplog.records] == ["something else"]


def test_open_connections_finish_within_the_grace_period(start_server, client):
    with running(start_server, "--shutdown-grace", "30") as server:
        with connect(server.host, server.port) as sock:
            sock.sendall(b"before\n")
            assert sock.recv(100) == b"before\n"
            server.server.process.send_signal(signal.SIGTERM)  # service managers
            assert "1 open" in server.wait_for("Shutting down")
            with pytest.raises(ConnectionRefusedError):  # no longer accepting
                echo(client, [b"new client?"], server)
            sock.sendall(b"during the grace period\n")
            assert sock.recv(100) == b"during the grace period\n"
        # We closed: the server stops at once, not after the 30 s of grace.
        assert server.server.process.wait(timeout=5) == 0
        assert server.wait_for("Echoed 2 lines")
        assert server.wait_for("Server stopped")


def test_connections_still_open_after_the_grace_period_are_closed(start_server):
    with running(start_server, "--shutdown-grace", "0.1") as server:
        with connect(server.host, server.port) as sock:
            sock.sendall(b"hello\n")
            assert sock.recv(100) == b"hello\n"
            server.server.process.send_signal(signal.SIGINT)  # Ctrl+C
            assert sock.recv(100) == b""  # the server closed the connection
        assert server.server.process.wait(timeout=5) == 0
        assert server.wait_for("Shutting down") == (
            "Shutting down: 1 open, waiting up to 0.1 s"
        )
        assert server.wait_for("Connection closed") == "Connection closed by shutdown"
        assert server.wait_for("Server stopped")


def test_no_server_gives_connection_refused(client, free_port):
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(client.echo_lines([b"anyone?"], "127.0.0.1", free_port))


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start async_echo_server.py"
    )


@needs_3_11
def test_timeout_ends_an_exchange_with_a_silent_server(client, silent_server):
    host, port = silent_server
    with pytest.raises(TimeoutError):
        asyncio.run(client.echo_within([b"hello?"], host, port, 0.1))


def test_wait_for_ends_an_exchange_with_a_silent_server(client, silent_server):
    host, port = silent_server
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(client.echo_within_wait_for([b"hello?"], host, port, 0.1))


def test_client_program_says_when_no_echo_comes(run_example, silent_server):
    host, port = silent_server
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port), "--timeout", "0.1")
    assert exit_info.value.code == f"No echo from {host}:{port} within 0.1 s"


def test_client_program_reports_a_server_that_hangs_up(run_example):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        try:
            with pytest.raises(SystemExit) as exit_info:
                run_example(CLIENT, "--port", str(port))
        finally:
            thread.join(5)
    message = exit_info.value.code
    assert message.startswith(f"Echo from {host}:{port} failed: ")
    assert "\n" not in message


# --- Real peers ---------------------------------------------------------------


@pytest.mark.interop(SERVER, "ncat", "lines echoed over IPv4")
def test_ncat_gets_its_lines_back(echo_server):
    lines = "first line\nsecond, 👋\n".encode()
    assert tcp_exchange("ncat", echo_server.host, echo_server.port, lines) == lines
    assert echo_server.wait_for("Echoed 2 lines")


@pytest.mark.interop(SERVER, "socat", "a hundred lines echoed in order")
def test_socat_gets_its_lines_back(echo_server):
    lines = b"".join(f"line {number}\n".encode() for number in range(100))
    assert tcp_exchange("socat", echo_server.host, echo_server.port, lines) == lines


@pytest.mark.interop(CLIENT, "socat", "lines echoed by socat, IPv4 and IPv6")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_client_against_socat(run_example, socat_tcp_echo, host, ipv6_loopback):
    run_example(CLIENT, "--host", host, "--port", str(socat_tcp_echo.port))


@pytest.mark.interop(CLIENT, "ncat", "lines echoed by ncat running cat")
def test_client_against_ncat(run_example, ncat_tcp_echo):
    run_example(CLIENT, "--host", "::1", "--port", str(ncat_tcp_echo.port))


@pytest.mark.asyncio
async def test_asyncio_streams_turn_nagle_off(echo_server):
    # What the framing page says: asyncio sets TCP_NODELAY on every TCP
    # connection, so a line written in pieces is not held back.
    _reader, writer = await asyncio.open_connection(echo_server.host, echo_server.port)
    try:
        sock = writer.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        writer.close()
        await writer.wait_closed()
