"""Tests of the page "TCP client and server" (docs/sockets/tcp.md).

The server serves one client at a time, so each fault test also measures how
long a well-behaved client that connects during the fault waits: the limit
that ends the fault is that wait.
"""

import os
import socket
import threading

import pytest
from hostile.attacks import (
    closed_within,
    connect,
    read_until_closed,
    reset,
    served_within,
    slow_drip,
)
from peers.echo_peers import tcp_exchange

SERVER = "sockets/tcp_echo_server.py"
CLIENT = "sockets/tcp_echo_client.py"
# Small limits keep each fault short; a well-behaved client sends its whole
# message at once, far inside them.
IDLE = 0.3
DEADLINE = 0.6
FAST = ("--idle-timeout", str(IDLE), "--deadline", str(DEADLINE))


@pytest.fixture(scope="module")
def server(live_server):
    """One server for the module's tests, with short limits."""
    with live_server(SERVER, *FAST) as running:
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def echo_of(client, server, message: bytes = b"next") -> float:
    """Seconds a well-behaved client waits for its echo (failing past 5 s)."""

    def exchange() -> None:
        assert client.echo(message, server.host, server.port) == message

    return served_within(5, exchange)


def test_client_prints_the_echoed_greeting(start_server, run_example):
    with start_server(SERVER) as server:
        run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert "Echoed 16 bytes" in server.output
    assert server.output.endswith("Server stopped\n")


@pytest.mark.interop(SERVER, "ncat", "echo of one message over IPv6")
def test_server_and_client_work_over_ipv6(live_server, run_example, ipv6_loopback):
    with live_server(SERVER, "--host", "::1") as server:
        assert server.host == "::1"
        run_example(CLIENT, "--host", "::1", "--port", str(server.port))
        assert server.wait_for_line("Echoed 16 bytes")
        message = "ncat says hello 👋\n".encode()
        assert tcp_exchange("ncat", "::1", server.port, message) == message
        assert server.wait_for_line(f"Echoed {len(message)} bytes")


def test_an_empty_message_gets_an_empty_echo(server, client):
    assert client.echo(b"", server.host, server.port) == b""
    assert server.wait_for_line("Echoed 0 bytes")


def test_a_one_megabyte_message_arrives_intact(server, client):
    message = os.urandom(1_000_000)
    assert client.echo(message, server.host, server.port) == message


@pytest.mark.hostile(SERVER, "oversize", limit="Message size")
@pytest.mark.parametrize("extra", [1, 1024 * 1024], ids=["just-over", "double"])
def test_oversized_message_is_refused_and_server_goes_on(
    server, client, import_snippet, extra, record_wait
):
    limit = import_snippet(SERVER).MAX_MESSAGE_SIZE
    # The server hangs up without a reply. The client sees a cut-off echo
    # or, if the server closed with our data unread, the reset that follows
    # (from recv, sendall or shutdown, depending on timing).
    refused = "incomplete echo|reset by peer|not connected|Broken pipe"
    with pytest.raises(OSError, match=refused):
        client.echo(b"x" * (limit + extra), server.host, server.port)
    assert server.wait_for_line(f"Refused: message over {limit} bytes")
    record_wait(echo_of(client, server))


@pytest.mark.hostile(SERVER, "reset")
def test_client_that_vanishes_mid_message_does_not_stop_the_server(
    server, client, record_wait
):
    sock = connect(server.host, server.port)
    sock.sendall(b"half a mess")
    reset(sock)  # as a crashed client's kernel does
    record_wait(echo_of(client, server, b"still there?"))
    assert server.wait_for_line("Client went away: Connection reset by peer")


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_never_sends_is_timed_out(server, client, record_wait):
    with connect(server.host, server.port) as silent:
        # Connected after the silent one: served once it is dropped.
        record_wait(echo_of(client, server, b"my turn"))
        assert closed_within(silent, 5) is not None  # it was hung up on
    assert server.wait_for_line(f"Timed out: no data for {IDLE} seconds")


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_stops_half_way_is_timed_out(server, client, record_wait):
    with connect(server.host, server.port) as stalled:
        stalled.sendall(b"half a mess")  # and nothing more, not even the end
        record_wait(echo_of(client, server, b"my turn"))
        assert closed_within(stalled, 5) is not None
    assert server.wait_for_line(f"Timed out: no data for {IDLE} seconds")


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a message")
def test_a_slow_drip_is_cut_off_at_the_deadline(server, client, record_wait):
    # One byte every IDLE / 3 seconds: the idle timeout never fires, the
    # message's deadline does.
    dripper = connect(server.host, server.port)
    outcome = {}

    def drip() -> None:
        with dripper:
            outcome["closed after"] = slow_drip(
                dripper, b"x" * 1000, every=IDLE / 3, for_at_most=10
            )

    thread = threading.Thread(target=drip)
    thread.start()
    try:
        record_wait(echo_of(client, server, b"next in line"))
    finally:
        thread.join(15)
    assert outcome["closed after"] is not None, "the drip was never cut off"
    expected = f"Timed out: message not complete in {DEADLINE} seconds"
    assert server.wait_for_line("Timed out: message") == expected


@pytest.mark.hostile(SERVER, "non-reading", limit="Time to take the echo")
def test_a_client_that_does_not_read_its_echo_is_dropped(
    live_server, client, record_wait
):
    # A message larger than what the kernels buffer between the two sides,
    # so that the server's sendall() must wait for the client to read.
    size = 8 * 1024 * 1024
    with (
        live_server(SERVER, *FAST, "--max-size", str(size)) as server,
        socket.socket() as greedy,
    ):
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.settimeout(5)
        greedy.connect((server.host, server.port))
        greedy.sendall(b"y" * size)
        greedy.shutdown(socket.SHUT_WR)
        record_wait(echo_of(client, server, b"after"))
        # What it gets, once it reads: part of the echo, then the end.
        assert 0 < len(read_until_closed(greedy, 5)) < size
        expected = f"Timed out: echo not taken in {DEADLINE} seconds"
        assert server.wait_for_line("Timed out: echo") == expected


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_bytes_are_echoed_like_any_others(server, client, record_wait):
    garbage = bytes(range(256)) * 4  # not UTF-8, and every byte value
    assert client.echo(garbage, server.host, server.port) == garbage
    record_wait(echo_of(client, server))


@pytest.mark.hostile(SERVER, "flood", limit="Clients at once")
def test_two_hundred_clients_at_once_wait_their_turn(server, client, record_wait):
    # All connect before any is served: they wait in the listen queue, and
    # the server answers each in turn.
    count = 200
    clients = [connect(server.host, server.port) for _ in range(count)]
    try:
        for number, sock in enumerate(clients):
            sock.sendall(f"client {number}".encode())
            sock.shutdown(socket.SHUT_WR)
        replies = [read_until_closed(sock, 10) for sock in clients]
    finally:
        for sock in clients:
            sock.close()
    record_wait(echo_of(client, server))
    assert replies == [f"client {number}".encode() for number in range(count)]


def test_no_server_gives_connection_refused(client, free_port):
    with pytest.raises(ConnectionRefusedError):
        client.echo(b"anyone?", "127.0.0.1", free_port)


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start tcp_echo_server.py"
    )


def test_client_program_tells_a_silent_server_from_no_server(
    run_example, silent_listener
):
    host, port = silent_listener
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port), "--timeout", "0.1")
    assert exit_info.value.code == f"{host}:{port} did not answer within 0.1 s"


def test_client_program_reports_a_server_that_hangs_up(run_example, hang_up_listener):
    host, port = hang_up_listener
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port))
    # A cut-off echo, or the reset of a server that closed with our bytes
    # unread: one line either way, naming the server.
    message = exit_info.value.code
    assert message.startswith(f"Echo from {host}:{port} failed: ")
    assert "\n" not in message


# --- Real peers ---------------------------------------------------------------


@pytest.mark.interop(SERVER, "socat", "echo of 100 KB of every byte value")
def test_socat_gets_binary_data_back_intact(server):
    message = bytes(range(256)) * 400
    assert tcp_exchange("socat", server.host, server.port, message) == message


@pytest.mark.interop(CLIENT, "socat", "echo through socat, IPv4 and IPv6")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_client_against_socat(run_example, socat_tcp_echo, host, ipv6_loopback):
    run_example(CLIENT, "--host", host, "--port", str(socat_tcp_echo.port))
