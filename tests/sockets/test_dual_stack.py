"""Tests of the page "IPv6 and dual stack" (docs/sockets/ipv6.md).

Every test here needs the IPv6 loopback, ::1: on a machine without it, each
one is skipped and pytest -rs prints why.
"""

import socket
import threading

import pytest
from hostile.attacks import (
    closed_within,
    read_until_closed,
    reset,
    served_within,
    slow_drip,
)
from peers.echo_peers import tcp_exchange

SERVER = "sockets/dual_stack_server.py"
CLIENT = "sockets/dual_stack_client.py"
IDLE = 0.3  # seconds of silence before the server hangs up
DEADLINE = 0.6  # seconds for a whole message, and for its echo to be taken

pytestmark = pytest.mark.usefixtures("ipv6_loopback")


@pytest.fixture(scope="module")
def server(live_server, ipv6_loopback):
    # Default addresses (127.0.0.1 and ::1), and short limits.
    limits = ("--idle-timeout", str(IDLE), "--deadline", str(DEADLINE))
    with live_server(SERVER, *limits) as running:
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


@pytest.fixture
def server_snippet(import_snippet):
    return import_snippet(SERVER)


def test_client_reaches_the_server_over_both_families(server, run_example):
    run_example(CLIENT, "--port", str(server.port))
    size = len("Hello, IPv6 👋".encode())
    assert server.wait_for_line(f"Echoed {size} bytes to ::1")
    assert server.wait_for_line(f"Echoed {size} bytes to 127.0.0.1")


def test_the_tcp_page_client_works_over_ipv6_unchanged(server, run_example):
    run_example(
        "sockets/tcp_echo_client.py", "--host", "::1", "--port", str(server.port)
    )
    size = len("Hello, TCP! 👋".encode())
    assert server.wait_for_line(f"Echoed {size} bytes to ::1")


def test_an_empty_message_gets_an_empty_echo(server, client):
    assert client.echo(b"", "::1", server.port) == ("AF_INET6", b"")
    assert server.wait_for_line("Echoed 0 bytes to ::1")


def test_ipv6_socket_addresses_have_four_parts(server):
    with socket.create_connection(("::1", server.port), timeout=5) as sock:
        assert sock.family == socket.AF_INET6
        host, port, flowinfo, scope_id = sock.getpeername()
    assert (host, port, flowinfo, scope_id) == ("::1", server.port, 0, 0)


def test_dual_stack_socket_sees_ipv4_clients_as_mapped_addresses(server_snippet):
    # ::ffff:127.0.0.1 is the IPv4 loopback written as IPv6: a dual-stack
    # socket bound there takes the IPv4 clients of 127.0.0.1, and only them.
    with server_snippet.open_listener("::ffff:127.0.0.1", 0) as listener:
        assert listener.family == socket.AF_INET6
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ipv4_client:
            conn, address = listener.accept()
            conn.close()
            assert ipv4_client.family == socket.AF_INET
    assert address[0] == "::ffff:127.0.0.1"


def test_dual_stack_on_ipv6_loopback_does_not_take_ipv4_clients(server_snippet):
    # Hold the IPv4 port (bound, not listening) so that nothing else listens there.
    with socket.socket() as ipv4_holder:
        ipv4_holder.bind(("127.0.0.1", 0))
        port = ipv4_holder.getsockname()[1]
        with server_snippet.open_listener("::1", port):
            with socket.create_connection(("::1", port), timeout=5):
                pass
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_failed_address_closes_the_listeners_already_open(server_snippet):
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="Address already in use"):
            server_snippet.open_listeners(["127.0.0.1", "::1"], port)
    # The 127.0.0.1 listener it opened first was closed: the port is free again.
    with socket.create_server(("127.0.0.1", port)):
        pass


def echo_of(client, port: int, host: str = "::1", message=b"next") -> float:
    """Seconds a well-behaved client waits for its echo (failing past 5 s)."""

    def exchange() -> None:
        assert client.echo(message, host, port)[1] == message

    return served_within(5, exchange)


@pytest.mark.hostile(SERVER, "oversize", limit="Message size")
def test_oversized_message_is_refused_and_the_server_goes_on(
    server, client, server_snippet, record_wait
):
    limit = server_snippet.MAX_MESSAGE_SIZE
    with pytest.raises(OSError, match=r"incomplete echo|reset by peer|Broken pipe"):
        client.echo(b"x" * (limit + 1), "::1", server.port)
    assert server.wait_for_line(f"Refused: message over {limit} bytes")
    record_wait(echo_of(client, server.port))


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_bytes_are_echoed_like_any_others(server, client, record_wait):
    garbage = bytes(range(256)) * 4
    assert client.echo(garbage, "::1", server.port) == ("AF_INET6", garbage)
    record_wait(echo_of(client, server.port, "127.0.0.1"))


@pytest.mark.hostile(SERVER, "reset")
def test_client_vanishing_mid_message_does_not_stop_the_server(
    server, client, record_wait
):
    sock = socket.create_connection(("::1", server.port), timeout=5)
    sock.sendall(b"half a mess")
    reset(sock)
    assert server.wait_for_line("Client went away: Connection reset by peer")
    record_wait(echo_of(client, server.port))


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_never_sends_is_timed_out(server, client, record_wait):
    with socket.create_connection(("::1", server.port), timeout=5) as silent:
        record_wait(echo_of(client, server.port, "127.0.0.1"))  # waits its turn
        assert closed_within(silent, 5) is not None
    assert server.wait_for_line(f"Timed out: no data for {IDLE} seconds")


@pytest.mark.hostile(SERVER, "silent", limit="Idle time")
def test_client_that_stops_half_way_is_timed_out(server, client, record_wait):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stalled:
        stalled.sendall(b"half a mess")
        record_wait(echo_of(client, server.port))  # waits its turn
        assert closed_within(stalled, 5) is not None
    assert server.wait_for_line(f"Timed out: no data for {IDLE} seconds")


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a message")
def test_a_slow_drip_is_cut_off_at_the_deadline(server, client, record_wait):
    dripper = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    outcome = {}

    def drip() -> None:
        with dripper:
            outcome["closed after"] = slow_drip(
                dripper, b"x" * 1000, every=IDLE / 3, for_at_most=10
            )

    thread = threading.Thread(target=drip)
    thread.start()
    try:
        record_wait(echo_of(client, server.port))
    finally:
        thread.join(15)
    assert outcome["closed after"] is not None, "the drip was never cut off"
    expected = f"Timed out: message not complete in {DEADLINE} seconds"
    assert server.wait_for_line("Timed out: message") == expected


@pytest.mark.hostile(SERVER, "non-reading", limit="Time to take the echo")
def test_a_client_that_does_not_read_its_echo_is_dropped(
    live_server, client, record_wait
):
    size = 8 * 1024 * 1024  # more than the kernels buffer between the two sides
    limits = ("--idle-timeout", str(IDLE), "--deadline", str(DEADLINE))
    with (
        live_server(SERVER, *limits, "--max-size", str(size)) as server,
        socket.socket(socket.AF_INET6) as greedy,
    ):
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.settimeout(5)
        greedy.connect(("::1", server.port))
        greedy.sendall(b"y" * size)
        greedy.shutdown(socket.SHUT_WR)
        record_wait(echo_of(client, server.port))
        assert 0 < len(read_until_closed(greedy, 5)) < size
        expected = f"Timed out: echo not taken in {DEADLINE} seconds"
        assert server.wait_for_line("Timed out: echo") == expected


@pytest.mark.hostile(SERVER, "flood", limit="Clients at once")
def test_two_hundred_clients_at_once_wait_their_turn(server, client, record_wait):
    count = 200
    hosts = ["::1", "127.0.0.1"]
    clients = [
        socket.create_connection((hosts[number % 2], server.port), timeout=5)
        for number in range(count)
    ]
    try:
        for number, sock in enumerate(clients):
            sock.sendall(f"client {number}".encode())
            sock.shutdown(socket.SHUT_WR)
        replies = [read_until_closed(sock, 10) for sock in clients]
    finally:
        for sock in clients:
            sock.close()
    assert replies == [f"client {number}".encode() for number in range(count)]
    record_wait(echo_of(client, server.port))


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", "127.0.0.1", "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start dual_stack_server.py"
    )


def test_client_program_tells_a_silent_server_from_no_server(
    run_example, silent_listener
):
    host, port = silent_listener
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", host, "--port", str(port), "--timeout", "0.1")
    assert exit_info.value.code == f"{host}:{port} did not answer within 0.1 s"


def test_client_program_reports_a_server_that_hangs_up(run_example, hang_up_listener):
    host, port = hang_up_listener
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", host, "--port", str(port))
    message = exit_info.value.code
    assert message.startswith(f"Echo from {host}:{port} failed: ")
    assert "\n" not in message


# --- Real peers ---------------------------------------------------------------


@pytest.mark.interop(SERVER, "ncat", "echo over IPv6 and IPv4, on one port")
def test_ncat_reaches_the_server_over_both_families(server):
    for host in ("::1", "127.0.0.1"):
        message = f"ncat over {host}\n".encode()
        assert tcp_exchange("ncat", host, server.port, message) == message
        assert server.wait_for_line(f"Echoed {len(message)} bytes to {host}")


@pytest.mark.interop(CLIENT, "socat", "socat on ::1 and 127.0.0.1, one port")
def test_client_against_socat_on_both_families(run_example, socat_tcp_echo):
    assert set(socat_tcp_echo.hosts) == {"::1", "127.0.0.1"}
    run_example(CLIENT, "--port", str(socat_tcp_echo.port))
