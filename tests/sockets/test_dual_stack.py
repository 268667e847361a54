"""Tests of the page "IPv6 and dual stack" (docs/sockets/ipv6.md).

Every test here needs the IPv6 loopback, ::1: on a machine without it, each
one is skipped and pytest -rs prints why.
"""

import socket

import pytest

SERVER = "sockets/dual_stack_server.py"
CLIENT = "sockets/dual_stack_client.py"

pytestmark = pytest.mark.usefixtures("ipv6_loopback")


@pytest.fixture(scope="module")
def server(live_server, ipv6_loopback):
    # Default addresses (127.0.0.1 and ::1); a client silent for 0.3 s is timed out.
    with live_server(SERVER, "--client-timeout", "0.3") as running:
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


def test_oversized_message_is_refused_and_the_server_goes_on(
    server, client, server_snippet
):
    limit = server_snippet.MAX_MESSAGE_SIZE
    with pytest.raises(OSError, match=r"incomplete echo|reset by peer|Broken pipe"):
        client.echo(b"x" * (limit + 1), "::1", server.port)
    assert server.wait_for_line(f"Refused: message over {limit} bytes")
    assert client.echo(b"next", "::1", server.port) == ("AF_INET6", b"next")


def test_garbage_bytes_are_echoed_like_any_others(server, client):
    garbage = bytes(range(256)) * 4
    assert client.echo(garbage, "::1", server.port) == ("AF_INET6", garbage)
    assert client.echo(b"fresh", "127.0.0.1", server.port) == ("AF_INET", b"fresh")


def test_client_vanishing_mid_message_does_not_stop_the_server(server, client, vanish):
    sock = socket.create_connection(("::1", server.port), timeout=5)
    sock.sendall(b"half a mess")
    vanish(sock)
    assert server.wait_for_line("Client went away: Connection reset by peer")
    assert client.echo(b"still there?", "::1", server.port)[1] == b"still there?"


def test_client_that_never_sends_is_timed_out(server, client):
    with socket.create_connection(("::1", server.port), timeout=5) as silent:
        assert silent.recv(1) == b""
    assert server.wait_for_line("Timed out: no data for 0.3 seconds")
    assert client.echo(b"my turn", "127.0.0.1", server.port)[1] == b"my turn"


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", "127.0.0.1", "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1 port {free_port}: start dual_stack_server.py"
    )
