"""Tests of the page "asyncio for network code" (docs/async/streams.md)."""

import asyncio
import signal
import socket
import struct
import sys

import pytest

SERVER = "async_networking/async_echo_server.py"
CLIENT = "async_networking/async_echo_client.py"
IDLE_TIMEOUT = "0.5"
needs_3_11 = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.timeout() is new in Python 3.11"
)


@pytest.fixture(scope="module")
def echo_server(start_server):
    """One echo server for the tests that do not stop it themselves."""
    with start_server(SERVER, "--idle-timeout", IDLE_TIMEOUT) as server:
        yield server
    assert server.output.endswith("Server stopped\n")


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def echo(client, lines, server):
    return asyncio.run(client.echo_within_wait_for(lines, server.host, server.port, 5))


def test_coroutines_run_while_others_wait(run_example):
    run_example("async_networking/coroutines.py")


def test_client_prints_each_echoed_line(wait_for_log, echo_server, run_example):
    run_example(CLIENT, "--host", echo_server.host, "--port", str(echo_server.port))
    # Lines from other tests may come first: wait for this one.
    assert wait_for_log(echo_server, "Echoed 2 lines") == "Echoed 2 lines"


@pytest.mark.asyncio
async def test_many_clients_are_served_at_once(echo_server, client):
    lines = [[f"client {n}, line {i}".encode() for i in range(3)] for n in range(50)]
    exchanges = (
        client.echo_within_wait_for(own, echo_server.host, echo_server.port, 5)
        for own in lines
    )
    assert await asyncio.gather(*exchanges) == lines


def test_garbage_bytes_are_echoed_like_any_others(echo_server):
    garbage = bytes(range(256)) * 4 + b"\n"  # byte 10 is b"\n": several lines
    with socket.create_connection(
        (echo_server.host, echo_server.port), timeout=5
    ) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received == garbage


@pytest.mark.parametrize("extra", [1, 1024 * 1024], ids=["just-over", "a-megabyte"])
def test_line_over_the_limit_is_refused_and_server_goes_on(
    wait_for_log, echo_server, client, import_snippet, extra
):
    limit = import_snippet(SERVER).MAX_LINE_LENGTH
    # The server hangs up: the client reads the end of the stream or, if the
    # server closed with our data unread, a reset.
    with pytest.raises(ConnectionError):
        echo(client, [b"x" * (limit + extra)], echo_server)
    assert wait_for_log(echo_server, "Refused") == f"Refused: line over {limit} bytes"
    assert echo(client, [b"next"], echo_server) == [b"next"]


@pytest.mark.parametrize(
    ("reset", "logged"),
    [
        (True, "Client went away: Connection reset by peer"),
        (False, "Client closed the connection mid-line"),
    ],
    ids=["reset", "closed"],
)
def test_client_that_vanishes_mid_line_does_not_stop_the_server(
    wait_for_log, echo_server, client, reset, logged
):
    with socket.create_connection(
        (echo_server.host, echo_server.port), timeout=5
    ) as sock:
        sock.sendall(b"half a li")
        if reset:  # linger 0: close() sends a reset, as a crashed client's kernel does
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    assert wait_for_log(echo_server, logged.split(":")[0]) == logged
    assert echo(client, [b"still there?"], echo_server) == [b"still there?"]


def test_client_that_never_sends_is_timed_out(wait_for_log, echo_server, client):
    with socket.create_connection(
        (echo_server.host, echo_server.port), timeout=5
    ) as silent:
        # The server hangs up on us: our read ends with b"" (closed).
        assert silent.recv(1) == b""
    logged = wait_for_log(echo_server, "Timed out")
    assert logged == f"Timed out: nothing for {IDLE_TIMEOUT} seconds"
    assert echo(client, [b"my turn"], echo_server) == [b"my turn"]


def test_open_connections_finish_within_the_grace_period(
    wait_for_log, start_server, client
):
    with start_server(SERVER, "--shutdown-grace", "30") as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"before\n")
            assert sock.recv(100) == b"before\n"
            server.process.send_signal(signal.SIGTERM)  # what service managers send
            assert "1 open" in wait_for_log(server, "Shutting down")
            with pytest.raises(ConnectionRefusedError):  # no longer accepting
                echo(client, [b"new client?"], server)
            sock.sendall(b"during the grace period\n")
            assert sock.recv(100) == b"during the grace period\n"
        # We closed: the server stops at once, not after the 30 s of grace.
        assert server.process.wait(timeout=5) == 0
    assert server.output == "Echoed 2 lines\nServer stopped\n"


def test_connections_still_open_after_the_grace_period_are_closed(start_server):
    with start_server(SERVER, "--shutdown-grace", "0.1") as server:
        sock = socket.create_connection((server.host, server.port), timeout=5)
        with sock:
            sock.sendall(b"hello\n")
            assert sock.recv(100) == b"hello\n"
            server.process.send_signal(signal.SIGINT)  # Ctrl+C
            assert sock.recv(100) == b""  # the server closed the connection
        assert server.process.wait(timeout=5) == 0
    assert server.output.splitlines() == [
        "Shutting down: 1 open, waiting up to 0.1 s",
        "Connection closed by shutdown",
        "Server stopped",
    ]


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
