"""Tests of the page "UDP" (docs/sockets/udp.md)."""

import socket
import threading

import pytest
from hostile.attacks import served_within
from peers.echo_peers import udp_exchange

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


def echo_of(client, server, message: bytes = b"well-behaved") -> float:
    """Seconds a well-behaved client (which retries) waits for its echo."""

    def exchange() -> None:
        assert client.echo(message, server.host, server.port) == message

    return served_within(5, exchange)


def test_client_prints_the_echoed_greeting(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert server.wait_for_line(f"Echoed {len('Hello, UDP! 👋'.encode())} bytes")


def test_server_and_client_work_over_ipv6(live_server, run_example, ipv6_loopback):
    with live_server(SERVER, "--host", "::1") as server:
        run_example(CLIENT, "--host", "::1", "--port", str(server.port))
        assert server.wait_for_line(f"Echoed {len('Hello, UDP! 👋'.encode())} bytes")


def test_datagrams_keep_their_boundaries(server):
    with udp_socket() as sock:
        address = (server.host, server.port)
        sock.sendto(b"one", address)
        sock.sendto(b"two", address)
        # Two datagrams in, two datagrams back: never b"onetwo".
        assert sock.recvfrom(4096) == (b"one", address)
        assert sock.recvfrom(4096) == (b"two", address)


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_bytes_are_echoed_like_any_others(server, client, record_wait):
    garbage = bytes(range(256)) * 4
    assert client.echo(garbage, server.host, server.port) == garbage
    record_wait(echo_of(client, server, b"fresh"))


@pytest.mark.hostile(SERVER, "oversize", limit="Datagram size")
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


@pytest.mark.hostile(SERVER, "reset")
def test_sender_gone_before_the_reply_does_not_stop_the_server(
    server, client, record_wait
):
    message = b"goodbye, I will not wait"
    with udp_socket() as sock:
        sock.sendto(message, (server.host, server.port))
    # The reply goes to a closed port; the server does not care.
    assert server.wait_for_line(f"Echoed {len(message)} bytes")
    record_wait(echo_of(client, server, b"fresh"))


class Stop(Exception):
    """Ends the fake socket's serve() loop."""


class WindowsLikeSocket:
    """What Windows does after a reply met a closed port: the next recvfrom()
    raises ConnectionResetError (WSAECONNRESET), then goes on as usual."""

    def __init__(self, datagram: bytes, sender: tuple[str, int]) -> None:
        self.results = [
            ConnectionResetError(10054, "forcibly closed"),
            (datagram, sender),
        ]
        self.sent = []

    def recvfrom(self, size: int):
        if not self.results:
            raise Stop
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def sendto(self, data: bytes, address) -> int:
        self.sent.append((data, address))
        return len(data)


@pytest.mark.hostile(SERVER, "reset")
def test_a_port_unreachable_report_on_windows_does_not_stop_the_server(
    import_snippet, capsys
):
    snippet = import_snippet(SERVER)
    fake = WindowsLikeSocket(b"after", ("127.0.0.1", 9))
    with pytest.raises(Stop):
        snippet.serve(fake)
    assert fake.sent == [(b"after", ("127.0.0.1", 9))]
    assert capsys.readouterr().out.splitlines() == [
        "A reply was not delivered: port unreachable",
        "Echoed 5 bytes",
    ]


@pytest.mark.hostile(SERVER, "flood")
def test_three_hundred_senders_at_once_and_a_client_is_still_served(
    server, client, record_wait
):
    # One datagram from each of 300 sockets, all at once: what the socket's
    # receive buffer cannot hold, the kernel drops; the server answers the
    # rest, and a client that retries is served.
    senders = [udp_socket() for _ in range(300)]
    try:
        for number, sock in enumerate(senders):
            sock.sendto(f"sender {number}".encode(), (server.host, server.port))
        record_wait(echo_of(client, server))
    finally:
        for sock in senders:
            sock.close()


@pytest.mark.hostile(SERVER, "non-reading")
def test_a_sender_that_never_reads_cannot_block_the_server(server, client, record_wait):
    # UDP has no flow control: replies to a full receive buffer are dropped by
    # the receiver's kernel, and the server's sendto() never waits.
    with udp_socket() as greedy:
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for _ in range(500):
            greedy.sendto(b"z" * 1000, (server.host, server.port))
        record_wait(echo_of(client, server))


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


def test_client_program_reports_a_name_it_cannot_resolve(run_example, monkeypatch):
    # No lookup leaves the machine: getaddrinfo() answers as a resolver does
    # for a name that does not exist.
    def no_such_name(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", "echo.invalid")
    assert exit_info.value.code == (
        "Echo from echo.invalid:8766 failed: Name or service not known"
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


# --- Broadcast ---------------------------------------------------------------

BROADCAST = "sockets/udp_broadcast.py"


def test_a_broadcast_reaches_each_listener_on_the_broadcast_address(run_example):
    # Linux: refused without SO_BROADCAST; a copy for each socket bound to
    # 127.255.255.255 and the port; nothing for one bound to 127.0.0.1.
    run_example(BROADCAST)


@pytest.mark.parametrize("address", ["255.255.255.255", "192.0.2.255"])
def test_a_broadcast_off_loopback_is_refused_before_it_is_sent(address):
    # The tests' guard refuses what would reach a LAN: the limited broadcast
    # address, and a subnet's (TEST-NET-1's here), even with SO_BROADCAST.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        with pytest.raises(RuntimeError, match="tests stay on loopback"):
            sock.sendto(b"hello, LAN?", (address, 9))


# --- Real peers ---------------------------------------------------------------


@pytest.mark.interop(SERVER, "ncat", "a datagram in, the same datagram back")
def test_ncat_gets_its_datagram_back(server):
    message = "ncat over UDP 👋".encode()
    assert udp_exchange("ncat", server.host, server.port, message) == message


@pytest.mark.interop(SERVER, "socat", "a datagram echoed over IPv6")
def test_socat_gets_its_datagram_back_over_ipv6(live_server, ipv6_loopback):
    message = b"socat over UDP and IPv6"
    with live_server(SERVER, "--host", "::1") as server:
        assert udp_exchange("socat", "::1", server.port, message) == message
        assert server.wait_for_line(f"Echoed {len(message)} bytes")


@pytest.mark.interop(CLIENT, "socat", "echo by socat, IPv4 and IPv6")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_client_against_socat(run_example, socat_udp_echo, host, ipv6_loopback):
    run_example(CLIENT, "--host", host, "--port", str(socat_udp_echo.port))
