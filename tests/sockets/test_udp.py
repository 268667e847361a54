"""Tests of the page "UDP" (docs/sockets/udp.md)."""

import socket
import threading

import pytest

SERVER = "sockets/udp_echo_server.py"
CLIENT = "sockets/udp_echo_client.py"
TIMEOUT = 5.0  # seconds for the test's own sockets


@pytest.fixture(scope="module")
def server(live_server):
    with live_server(SERVER) as running:
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(TIMEOUT)
    return sock


@pytest.fixture
def silent_peer():
    """A bound UDP socket that reads nothing and answers nothing."""
    with udp_socket() as peer:
        peer.bind(("127.0.0.1", 0))
        yield peer


def test_client_prints_the_echoed_greeting(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert server.wait_for_line(f"Echoed {len('Hello, UDP! 👋'.encode())} bytes")


def test_datagrams_keep_their_boundaries(server):
    with udp_socket() as sock:
        address = (server.host, server.port)
        sock.sendto(b"one", address)
        sock.sendto(b"two", address)
        # Two datagrams in, two datagrams back: never b"onetwo".
        assert sock.recvfrom(4096) == (b"one", address)
        assert sock.recvfrom(4096) == (b"two", address)


def test_garbage_bytes_are_echoed_like_any_others(server, client):
    garbage = bytes(range(256)) * 4
    assert client.echo(garbage, server.host, server.port) == garbage
    assert client.echo(b"fresh", server.host, server.port) == b"fresh"


@pytest.mark.parametrize("extra", [1, 60_000], ids=["just-over", "far-over"])
def test_oversized_datagram_is_refused_and_the_next_one_served(
    server, extra, import_snippet
):
    limit = import_snippet(SERVER).MAX_DATAGRAM_SIZE
    with udp_socket() as sock:
        sock.connect((server.host, server.port))
        sock.send(b"x" * (limit + extra))
        assert server.wait_for_line(f"Refused: datagram over {limit} bytes")
        sock.send(b"next")
        # The first reply is to "next": the oversized datagram got none.
        assert sock.recv(65_535) == b"next"


def test_sender_gone_before_the_reply_does_not_stop_the_server(server, client):
    message = b"goodbye, I will not wait"
    with udp_socket() as sock:
        sock.sendto(message, (server.host, server.port))
    # The reply goes to a closed port; the server does not care.
    assert server.wait_for_line(f"Echoed {len(message)} bytes")
    assert client.echo(b"fresh", server.host, server.port) == b"fresh"


def test_nobody_answering_gives_a_clear_timeout_after_retries(client, silent_peer):
    host, port = silent_peer.getsockname()
    with pytest.raises(TimeoutError) as error_info:
        client.echo(b"anyone?", host, port, timeout=0.02, attempts=3)
    assert str(error_info.value) == f"no reply from {host}:{port} after 3 attempts"
    # The silent peer did receive all three attempts.
    silent_peer.setblocking(False)
    received = []
    while True:
        try:
            received.append(silent_peer.recv(4096))
        except BlockingIOError:
            break
    assert received == [b"anyone?"] * 3


def test_a_lost_datagram_is_sent_again(client, silent_peer):
    def drop_the_first_answer_the_second():
        silent_peer.recvfrom(4096)  # "lost": no reply
        data, sender = silent_peer.recvfrom(4096)
        silent_peer.sendto(data, sender)

    peer = threading.Thread(target=drop_the_first_answer_the_second)
    peer.start()
    host, port = silent_peer.getsockname()
    try:
        assert client.echo(b"again", host, port, timeout=0.05, attempts=3) == b"again"
    finally:
        peer.join(TIMEOUT)


def test_client_program_says_what_to_do_when_nobody_answers(run_example, silent_peer):
    port = silent_peer.getsockname()[1]
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port), "--timeout", "0.02")
    assert exit_info.value.code == (
        f"no reply from 127.0.0.1:{port} after 3 attempts:"
        " is udp_echo_server.py running?"
    )


def test_client_program_reports_a_port_where_nothing_listens(run_example):
    # Nothing is bound there once the socket is closed: the kernel answers
    # "port unreachable", which the connected client sees as refused.
    with udp_socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{port}: start udp_echo_server.py"
    )


def test_udp_limits_are_what_the_page_says(run_example):
    run_example("sockets/udp_limits.py")
