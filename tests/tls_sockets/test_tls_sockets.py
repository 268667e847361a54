"""Tests of the page "TLS on a socket" (docs/tls/sockets.md)."""

from __future__ import annotations

import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile import attacks
from peers.daemons import run_client
from peers.programs import require
from sequence_figures import Actor, check_figure, sequence_svg

from .tls_helpers import (
    HANDSHAKE_TIMEOUT,
    LINE_TIMEOUT,
    MAX_CLIENTS,
    MAX_LINE,
    SMALL_LIMITS,
    WAIT,
    certificate_arguments,
    check_embedded_size,
    client_hello,
    converse,
    handshake_steps,
    peer_name,
    record_messages,
    served,
    tls_connection,
)

CLIENT = "tls_sockets/tls_echo_client.py"
SERVER = "tls_sockets/tls_echo_server.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tls"


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def exit_message(run_example, *args: str) -> str:
    """What the client program says when it gives up (its one line)."""
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, *args)
    return exit_info.value.code


# --- The client and the server, together ---------------------------------


def test_client_prints_what_was_negotiated_and_the_echo(
    run_example, tls_server, local_certificates
):
    mark = tls_server.mark()
    run_example(
        CLIENT, "--port", str(tls_server.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    [line] = tls_server.wait_for(r": lines echoed: 1$", after=mark)
    peer = line.split(": ")[0]
    assert f"{peer}: TLSv1.3, no client certificate" in tls_server.lines[mark:]


def test_client_and_server_over_ipv6(run_example, tls_server_ipv6, local_certificates):
    mark = tls_server_ipv6.mark()
    run_example(
        CLIENT, "--host", "::1", "--port", str(tls_server_ipv6.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    [line] = tls_server_ipv6.wait_for(r": lines echoed: 1$", after=mark)
    assert line.startswith("[::1]:")


def test_the_handshake_figure_is_drawn_from_a_real_connection(
    client, tls_server, local_certificates, request
):
    context = client.client_context(str(local_certificates.ca_file))
    events = record_messages(context)
    _, reply = client.echo("Hello, TLS!", *tls_server.address, context, timeout=WAIT)
    svg = sequence_svg(
        "tls-handshake",
        "A TLS 1.3 connection, message by message",
        "The client sends ClientHello. The server answers with ServerHello; "
        "from then on everything is encrypted: its EncryptedExtensions, its "
        "Certificate, a CertificateVerify signed with its private key, and "
        "Finished. The client checks them and sends its own Finished, then "
        "its line. The server sends session tickets, then the echo.",
        [Actor("Client", "tls_echo_client.py"), Actor("Server", "tls_echo_server.py")],
        handshake_steps(events, "Hello, TLS!", reply),
    )
    check_figure(request, DOCS / "tls-handshake.svg", svg)
    check_embedded_size(DOCS / "sockets.md", svg, "tls-handshake.svg")


def test_the_server_accepts_a_line_of_exactly_the_limit(tls_server, local_certificates):
    line = b"x" * (MAX_LINE - 1) + b"\n"  # the newline counts
    with tls_connection(tls_server, local_certificates.ca_file) as tls:
        tls.sendall(line)
        echoed = b""
        while len(echoed) < len(line):
            echoed += tls.recv(MAX_LINE)
    assert echoed == line


# --- The client says what went wrong, in one line --------------------------


def test_client_names_an_untrusted_certificate(
    run_example, tls_server, client_certificates
):
    # A CA that did not sign the server's certificate.
    said = exit_message(
        run_example, "--port", str(tls_server.port),
        "--ca-file", str(client_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {tls_server.port}: certificate not trusted: "
        "unable to get local issuer certificate"
    )


def test_client_names_a_certificate_for_another_name(
    run_example, tls_server, local_certificates
):
    said = exit_message(
        run_example, "--port", str(tls_server.port),
        "--ca-file", str(local_certificates.ca_file),
        "--server-name", "example.org",
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {tls_server.port}: certificate not trusted: Hostname "
        "mismatch, certificate is not valid for 'example.org'."
    )


def test_client_says_which_file_is_missing_and_how_to_make_it(run_example, tmp_path):
    missing = tmp_path / "ca.pem"
    said = exit_message(run_example, "--ca-file", str(missing))
    assert said == (
        f"No file {missing}: make it with python3 make_local_ca.py --folder certs"
    )


def test_client_says_connection_refused(run_example, free_port, local_certificates):
    said = exit_message(
        run_example, "--port", str(free_port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {free_port}: connection refused: "
        "is tls_echo_server.py running?"
    )


@contextmanager
def one_connection(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server of one connection that does `answer(conn)`; yields its port."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(WAIT)
                answer(conn)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            thread.join(WAIT)


def never_answers(conn: socket.socket) -> None:
    conn.recv(4096)  # the ClientHello; then nothing until the client leaves
    conn.recv(4096)


def closes_after_the_hello(conn: socket.socket) -> None:
    conn.recv(4096)  # read all it sent: the close is a FIN, not a reset


def resets_after_the_hello(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def speaks_smtp(conn: socket.socket) -> None:
    conn.sendall(b"220 mail.example ESMTP\r\n")
    conn.recv(4096)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (never_answers, "no answer in 0.2 s"),
        (closes_after_the_hello,
         "the server closed the connection in the middle of TLS"),
        (resets_after_the_hello,
         "connection reset: the server may have too many clients"),
        (speaks_smtp, "the server does not speak TLS on that port"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)  # fmt: skip
def test_client_tells_each_server_failure_apart(
    run_example, local_certificates, answer, expected
):
    with one_connection(answer) as port:
        said = exit_message(
            run_example, "--port", str(port), "--timeout", "0.2",
            "--ca-file", str(local_certificates.ca_file),
        )  # fmt: skip
    assert said == f"127.0.0.1 port {port}: {expected}"


def test_client_takes_a_reply_cut_short(client, local_certificates):
    # A TLS server that answers without a newline, and closes.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(local_certificates.cert_file, local_certificates.key_file)

    def answer(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"no newline")

    with one_connection(answer) as port:
        trusting = client.client_context(str(local_certificates.ca_file))
        _, reply = client.echo("Hello", "127.0.0.1", port, trusting, timeout=WAIT)
    assert reply == "no newline"


def test_the_server_counts_time_left_to_a_deadline(import_snippet):
    server = import_snippet(SERVER)
    assert 0 < server.time_left(time.monotonic() + 1.0) <= 1.0
    with pytest.raises(TimeoutError):
        server.time_left(time.monotonic())  # 0 s left: not a timeout of 0


def test_client_names_an_unknown_host_and_other_errors(client):
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert client.failure(unknown) == "unknown host name: Name or service not known"
    other = OSError(113, "No route to host")
    assert client.failure(other) == "OSError: [Errno 113] No route to host"


# --- The server survives bad clients --------------------------------------


@pytest.mark.hostile(SERVER, "silent", limit="Handshake time")
@pytest.mark.hostile(SERVER, "slow drip", limit="Handshake time")
def test_clients_that_hold_a_handshake_open_are_dropped_at_its_deadline(
    tls_server, local_certificates, record_wait
):
    """One never says hello; one sends a real ClientHello a byte at a time,
    each byte in time for any per-read timeout, the whole never."""
    hello = client_hello(local_certificates.ca_file)
    mark = tls_server.mark()
    dripped = {}
    with (
        attacks.connect(*tls_server.address) as silent,
        attacks.connect(*tls_server.address) as dripper,
    ):
        peers = [peer_name(sock.getsockname()) for sock in (silent, dripper)]

        def drip() -> None:
            dripped["closed after"] = attacks.slow_drip(
                dripper, hello, every=0.05, for_at_most=WAIT
            )

        thread = threading.Thread(target=drip)
        thread.start()
        # Meanwhile the others are served: each handshake is in its thread.
        record_wait(
            attacks.served_within(WAIT, served(tls_server, local_certificates.ca_file))
        )
        thread.join(WAIT)
        assert attacks.closed_within(silent, WAIT) is not None
    assert dripped["closed after"] < HANDSHAKE_TIMEOUT + 1.0
    for peer in peers:
        tls_server.wait_for(
            rf"^{re.escape(peer)}: no handshake in {HANDSHAKE_TIMEOUT} s$", after=mark
        )


@pytest.mark.hostile(SERVER, "garbage", limit="Protocol")
@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
         "[SSL: HTTP_REQUEST] http request"),
        (b"\x16\x03\x01\x00\x05hello", "[SSL: "),
        (bytes(range(256)), "[SSL: "),
    ],
    ids=["http", "bad handshake", "bytes"],
)  # fmt: skip
def test_garbage_instead_of_tls_ends_that_connection_only(
    tls_server, local_certificates, garbage, reason
):
    mark = tls_server.mark()
    with attacks.connect(*tls_server.address) as sock:
        peer = peer_name(sock.getsockname())
        sock.sendall(garbage)
        # An alert maybe, then the end: the server does not wait for more.
        assert attacks.closed_within(sock, WAIT) is not None
    [line] = tls_server.wait_for(rf"^{re.escape(peer)}: handshake failed: ", after=mark)
    assert reason in line
    served(tls_server, local_certificates.ca_file)()


@pytest.mark.hostile(SERVER, "reset")
def test_a_reset_in_the_middle_of_the_handshake(tls_server, local_certificates):
    hello = client_hello(local_certificates.ca_file)
    mark = tls_server.mark()
    sock = attacks.connect(*tls_server.address)
    peer = peer_name(sock.getsockname())
    sock.sendall(hello)
    assert sock.recv(4096)  # the ServerHello: the server is in its handshake
    attacks.reset(sock)  # and the client vanishes before its Finished
    tls_server.wait_for(
        rf"^{re.escape(peer)}: left during the handshake: "
        r"\[Errno 104\] Connection reset by peer$",
        after=mark,
    )
    served(tls_server, local_certificates.ca_file)()


@pytest.mark.hostile(SERVER, "reset")
def test_a_reset_right_after_connecting(tls_server, local_certificates):
    mark = tls_server.mark()
    sock = attacks.connect(*tls_server.address)
    peer = peer_name(sock.getsockname())
    sock.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello
    attacks.reset(sock)
    [line] = tls_server.wait_for(rf"^{re.escape(peer)}: ", after=mark)
    # Two wordings, depending on whether the reset came before the server
    # took the connection over (Python's ssl refuses it then) or after.
    assert line in (
        f"{peer}: left during the handshake: [Errno 104] Connection reset by peer",
        f"{peer}: handshake failed: Closed before TLS handshake with data in recv"
        " buffer.",
    )
    served(tls_server, local_certificates.ca_file)()


@pytest.mark.hostile(SERVER, "reset")
def test_a_reset_in_the_middle_of_a_line(tls_server, local_certificates):
    mark = tls_server.mark()
    with tls_connection(tls_server, local_certificates.ca_file) as tls:
        peer = peer_name(tls.getsockname())
        tls.sendall(b"half a li")
        attacks.reset(tls)
    # A reset may destroy what was in flight: the server sees a line cut
    # short, or, if the half line never reached it, an end between lines.
    ending = rf"^{re.escape(peer)}: (went away: .*|lines echoed: 0)$"
    tls_server.wait_for(ending, after=mark)
    served(tls_server, local_certificates.ca_file)()


@pytest.mark.hostile(SERVER, "reset")
def test_a_client_that_leaves_in_the_middle_of_a_line(tls_server, local_certificates):
    mark = tls_server.mark()
    with tls_connection(tls_server, local_certificates.ca_file) as tls:
        peer = peer_name(tls.getsockname())
        tls.sendall(b"half a li")
    # An orderly close (a FIN), after the bytes: they arrive first.
    tls_server.wait_for(
        rf"^{re.escape(peer)}: went away: closed in the middle of a line$", after=mark
    )


@pytest.mark.hostile(SERVER, "oversize", limit="Line length")
def test_a_line_over_the_limit_gets_an_error_then_the_end(
    tls_server, local_certificates
):
    mark = tls_server.mark()
    with tls_connection(tls_server, local_certificates.ca_file) as tls:
        peer = peer_name(tls.getsockname())
        # Three times the limit, and no newline: the server reads the limit,
        # answers, and drops the rest until this client closes.
        tls.sendall(b"x" * (3 * MAX_LINE))
        said = attacks.read_until_closed(tls, WAIT)
    assert said == b"error: line too long\n"
    tls_server.wait_for(
        rf"^{re.escape(peer)}: refused: no newline in {MAX_LINE} bytes$", after=mark
    )
    served(tls_server, local_certificates.ca_file)()


def send_without_reading(tls: ssl.SSLSocket, line: bytes, rounds: int) -> int:
    """Send `line` up to `rounds` times, never reading; how many went out.

    Like attacks.fill_without_reading, over TLS: a server that hangs up
    shows as an SSL error too.
    """
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tls.settimeout(1.0)
    for sent in range(rounds):
        try:
            tls.sendall(line)
        except OSError:  # timed out, reset, or an SSL error: it stopped
            return sent
    return rounds


@pytest.mark.hostile(SERVER, "slow drip", limit="Time for a line and its echo")
@pytest.mark.hostile(SERVER, "non-reading", limit="Time for a line and its echo")
def test_clients_that_hold_a_line_open_are_cut_at_its_deadline(
    tls_server, local_certificates, record_wait
):
    """One sends a line a byte at a time; one sends lines and never reads
    their echoes (40 MB, if the server kept reading)."""
    before = attacks.memory_of(tls_server.pid)
    mark = tls_server.mark()
    dripped = {}
    with (
        tls_connection(tls_server, local_certificates.ca_file) as dripper,
        tls_connection(tls_server, local_certificates.ca_file) as hoarder,
    ):
        peers = [peer_name(tls.getsockname()) for tls in (dripper, hoarder)]

        def drip() -> None:
            line = b"a line that takes for ever\n"
            dripped["closed after"] = attacks.slow_drip(
                dripper, line, every=0.05, for_at_most=WAIT
            )

        thread = threading.Thread(target=drip)
        thread.start()
        line = b"x" * (MAX_LINE - 1) + b"\n"
        assert send_without_reading(hoarder, line, rounds=10_000) < 10_000
        record_wait(
            attacks.served_within(WAIT, served(tls_server, local_certificates.ca_file))
        )
        thread.join(WAIT)
    assert dripped["closed after"] < LINE_TIMEOUT + 1.0
    for peer in peers:
        tls_server.wait_for(
            rf"^{re.escape(peer)}: line not done in {LINE_TIMEOUT} s$", after=mark
        )
    after = attacks.memory_of(tls_server.pid)
    # What the server holds for a client is one line: its growth is small.
    assert after["VmHWM"] - before["VmRSS"] < 5_000_000


FLOOD_HANDSHAKE_TIMEOUT = 0.6  # seconds: a flood takes time to open


def flood_ends(server, count: int, cap: int, mark: int) -> tuple[int, int]:
    """Wait until each of a flood's `count` connections has ended: refused at
    the cap, or dropped at the handshake deadline. How many of each."""
    endings = server.wait_for(
        rf": (refused, {cap} clients already|no handshake in "
        rf"{FLOOD_HANDSHAKE_TIMEOUT} s)$",
        count=count, after=mark, timeout=4 * WAIT,
    )  # fmt: skip
    refused = sum("refused" in line for line in endings)
    return refused, count - refused


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
@pytest.mark.hostile(SERVER, "fd exhaustion", limit="Connections at once")
def test_a_flood_meets_a_cap_that_few_file_descriptors_lower(
    live_server, local_certificates, record_wait
):
    arguments = [
        *certificate_arguments(local_certificates), *SMALL_LIMITS,
        "--handshake-timeout", str(FLOOD_HANDSHAKE_TIMEOUT), "--max-clients", "100",
    ]  # fmt: skip
    low = attacks.low_file_limit(32)
    with live_server(SERVER, *arguments, preexec_fn=low) as server:
        # 32 descriptors, 16 kept in reserve: 16 clients at most, not 100.
        server.wait_for(r"^At most 16 clients at once$")
        mark = server.mark()
        with attacks.flood(*server.address, 200) as sockets:
            assert len(sockets) == 200
            # Sixteen at a time wait in a slot for a hello that never
            # comes; the others are refused at once, whatever the pace.
            refused, dropped = flood_ends(server, 200, 16, mark)
            assert refused > 0
            assert dropped >= 16
            # Their slots are free: the next client is served.
            record_wait(
                attacks.served_within(WAIT, served(server, local_certificates.ca_file))
            )
        assert attacks.memory_of(server.pid)["VmHWM"] < 60_000_000


# --- Real clients drive the server ----------------------------------------


@pytest.mark.interop(SERVER, "openssl", "echo over IPv6, certificate and IP checked")
def test_openssl_s_client_talks_to_the_server_over_ipv6(
    tls_server_ipv6, local_certificates
):
    openssl = require("openssl")
    said = converse(
        [openssl, "s_client", "-connect", f"[::1]:{tls_server_ipv6.port}",
         "-CAfile", local_certificates.ca_file, "-verify_ip", "::1",
         "-verify_return_error", "-quiet", "-no_ign_eof"],
        "Hello from s_client\n",
    )  # fmt: skip
    assert said.answer == "Hello from s_client\n"
    assert said.returncode == 0, said.stderr


@pytest.mark.interop(SERVER, "openssl", "a TLS 1.1 client is refused")
@pytest.mark.hostile(SERVER, "garbage", limit="Protocol")
def test_a_tls_1_1_client_is_refused(tls_server, local_certificates):
    openssl = require("openssl")
    mark = tls_server.mark()
    result = run_client(
        [openssl, "s_client", "-connect", f"127.0.0.1:{tls_server.port}",
         "-CAfile", local_certificates.ca_file, "-tls1_1",
         "-cipher", "DEFAULT:@SECLEVEL=0"],
        input="", timeout=WAIT,
    )  # fmt: skip
    assert result.returncode == 1
    assert "tlsv1 alert protocol version" in result.stderr
    [line] = tls_server.wait_for(r": handshake failed: ", after=mark)
    assert line.endswith("[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol")


@pytest.mark.interop(SERVER, "socat", "an echo through socat's OPENSSL address")
def test_socat_talks_to_the_server(tls_server, local_certificates):
    socat = require("socat")
    address = (
        f"OPENSSL:127.0.0.1:{tls_server.port},"
        f"cafile={local_certificates.ca_file},verify=1"
    )
    said = converse([socat, "-", address], "Hi, socat\n")
    assert said.answer == "Hi, socat\n"
    assert said.returncode == 0, said.stderr


@pytest.mark.interop(SERVER, "ncat", "an echo through ncat --ssl, verified")
def test_ncat_talks_to_the_server(tls_server, local_certificates):
    ncat = require("ncat")
    said = converse(
        [ncat, "--ssl", "--ssl-verify", "--ssl-trustfile",
         # ncat checks a host name against the certificate, not an IP.
         local_certificates.ca_file, "localhost", str(tls_server.port)],
        "Hi, ncat\n",
    )  # fmt: skip
    assert said.answer == "Hi, ncat\n"
    assert said.returncode == 0, said.stderr


# --- The client against real servers --------------------------------------


@pytest.mark.interop(CLIENT, "nginx", "TLS verified; nginx answers 400 to a line")
def test_client_against_nginx(client, nginx_static, local_certificates):
    context = client.client_context(str(local_certificates.ca_file))
    port = int(nginx_static.values["tls_port"])
    details, reply = client.echo("Hello, TLS!", "::1", port, context, timeout=WAIT)
    # nginx 1.22's defaults: TLS 1.2, an ECDHE cipher suite.
    assert details["TLS version"] == "TLSv1.2"
    assert details["Cipher"].startswith("ECDHE-")
    assert details["Certificate for"] == "127.0.0.1, 0:0:0:0:0:0:0:1, localhost"
    # The TLS part worked; what is inside is HTTP, not an echo.
    assert reply == "HTTP/1.1 400 Bad Request"


@pytest.mark.interop(CLIENT, "nginx", "TLS to a plain HTTP port is named as such")
def test_client_against_nginx_plain_port(run_example, nginx_static, local_certificates):
    port = nginx_static.port
    said = exit_message(
        run_example, "--port", str(port), "--ca-file", str(local_certificates.ca_file)
    )
    assert said == f"127.0.0.1 port {port}: the server does not speak TLS on that port"


@pytest.mark.interop(CLIENT, "openssl", "against openssl s_server -rev")
def test_client_against_openssl_s_server(
    client, openssl_s_server, local_certificates, tmp_path
):
    with openssl_s_server(
        tmp_path, "-cert", local_certificates.cert_file,
        "-key", local_certificates.key_file, "-rev",
    ) as daemon:  # fmt: skip
        context = client.client_context(str(local_certificates.ca_file))
        details, reply = client.echo(
            "Hello, TLS!", daemon.host, daemon.port, context, timeout=WAIT
        )
    assert details["Cipher"] == "TLS_AES_256_GCM_SHA384"
    assert reply == "!SLT ,olleH"  # s_server -rev sends each line reversed


def test_ctrl_c_the_moment_it_has_started(live_server, local_certificates):
    # Leaving the block sends Ctrl+C as soon as "Listening on" is out;
    # tls_helpers.running then checks the last line and an empty stderr.
    with live_server(SERVER, *certificate_arguments(local_certificates)):
        pass


def test_the_server_says_it_stopped(tls_server):
    # Its last line is checked when it stops (see tls_helpers.running).
    tls_server.wait_for(rf"^At most {MAX_CLIENTS} clients at once$")
    assert tls_server.lines[:2] == [
        f"Listening on 127.0.0.1:{tls_server.port}",
        f"At most {MAX_CLIENTS} clients at once",
    ]
