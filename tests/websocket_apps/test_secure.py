"""Tests of the page "Secure WebSockets" (docs/websockets/secure.md).

The first test runs the server program as a reader does. The others serve the
same handler and TLS context in the test's own event loop, which starts in
milliseconds.
"""

import asyncio
import functools
import gc
import ssl
import sys
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidMessage

# Python 3.10's asyncio warns when it frees a TLS transport that the peer's
# close had already ended, but nobody closed again (its new TLS code in 3.11
# no longer does): websockets 16 clients on 3.10 trigger it. Not our code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:unclosed transport <asyncio.sslproto._SSLProtocolTransport:ResourceWarning"
)

SERVER = "websocket_apps/secure_echo_server.py"
CLIENT = "websocket_apps/secure_echo_client.py"
MAKE_CA = "http_examples/make_local_ca.py"  # the site's one local CA program
PAGE = Path(__file__).resolve().parents[2] / "docs" / "websockets" / "secure.md"
# What the page shows of the error (the source line of _ssl.c after it varies).
TIMEOUT = 5.0
UNTRUSTED = (
    "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] "
    "certificate verify failed: unable to get local issuer certificate"
)


@pytest.fixture(autouse=True)
def free_transports_here():
    """Free this test's transports while the filter above applies."""
    yield
    gc.collect()


@pytest_asyncio.fixture
async def secure_uri(import_snippet, local_certificates):
    """The secure echo server's handler and TLS context, in this event loop."""
    server = import_snippet(SERVER)
    context = server.tls_context(
        local_certificates.cert_file, local_certificates.key_file
    )
    async with serve(
        functools.partial(server.echo, send_timeout=TIMEOUT),
        "127.0.0.1",
        0,
        ssl=context,
    ) as running:
        yield f"wss://127.0.0.1:{running.sockets[0].getsockname()[1]}/"


@pytest.fixture
def trusting(import_snippet, local_certificates) -> ssl.SSLContext:
    """A client context that trusts the test run's local CA."""
    return import_snippet(CLIENT).tls_context(str(local_certificates.ca_file))


def test_programs_with_the_right_ca_and_with_another(
    start_server, local_certificates, run_example, tmp_path
):
    certificates = local_certificates
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    with start_server(
        SERVER,
        "--cert",
        str(certificates.cert_file),
        "--key",
        str(certificates.key_file),
    ) as server:
        port = str(server.port)
        run_example(CLIENT, "--port", port, "--ca-file", str(certificates.ca_file))
        with pytest.raises(SystemExit) as exit_info:
            run_example(CLIENT, "--port", port, "--ca-file", str(other_ca))
    assert exit_info.value.code == (
        "Untrusted server certificate (unable to get local issuer certificate): "
        f"is {other_ca} the CA that signed it?"
    )
    assert server.output.endswith("Server stopped\n")


@pytest.mark.asyncio
async def test_the_system_trust_store_does_not_trust_a_local_ca(
    secure_uri, import_snippet
):
    client = import_snippet(CLIENT)
    context = ssl.create_default_context()  # the system's CAs
    with pytest.raises(ssl.SSLCertVerificationError) as error:
        await client.echo_securely("hi", secure_uri, context)
    assert f"ssl.SSLCertVerificationError: {error.value}".startswith(UNTRUSTED)
    assert UNTRUSTED in PAGE.read_text("utf-8")


@pytest.mark.asyncio
async def test_the_name_in_the_certificate_is_checked(secure_uri, trusting):
    # The right CA, but the client expects another name than the certificate's.
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        async with connect(secure_uri, ssl=trusting, server_hostname="example.com"):
            pass


@pytest.mark.asyncio
async def test_plain_ws_to_a_tls_server_fails_and_the_server_goes_on(
    secure_uri, trusting, import_snippet
):
    client = import_snippet(CLIENT)
    with pytest.raises(InvalidMessage):
        await connect(secure_uri.replace("wss:", "ws:"), open_timeout=5)
    assert await client.echo_securely("still up", secure_uri, trusting) == "still up"


@pytest.mark.parametrize("leaves", ["politely", "breaking-the-protocol"])
@pytest.mark.asyncio
async def test_server_survives_clients_that_leave_early(
    secure_uri, trusting, raw_websocket, import_snippet, capsys, leaves
):
    client = import_snippet(CLIENT)
    host, port = secure_uri[len("wss://") : -1].split(":")

    def leave() -> int:
        with raw_websocket(host, int(port), tls=trusting) as websocket:
            if leaves == "politely":  # before its echo comes back
                websocket.send_then_close("bye")
            else:  # with a text message that is not UTF-8
                websocket.send_frame(0x1, b"caf\xe9")
            return websocket.read_close()[0]

    code = await asyncio.to_thread(leave)  # a blocking client, off the event loop
    assert code == (1000 if leaves == "politely" else 1007)
    assert await client.echo_securely("next", secure_uri, trusting) == "next"
    logged = capsys.readouterr().out
    assert logged.startswith("Connection failed: ") == (leaves != "politely")


def test_the_client_without_its_ca_file_says_how_to_make_it(run_example):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--ca-file", "certs/nowhere.pem")
    assert exit_info.value.code == (
        "No CA file certs/nowhere.pem: make it with "
        "python make_local_ca.py --folder certs"
    )


def test_a_ca_file_that_is_no_certificate(run_example, tmp_path):
    not_a_certificate = tmp_path / "ca.pem"
    not_a_certificate.write_text("hello\n")
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--ca-file", str(not_a_certificate))
    assert exit_info.value.code.startswith(
        f"{not_a_certificate} is no CA certificate: "
    )


@pytest.mark.parametrize(
    ("peer", "failure"),
    [
        ("not_http", "No TLS at {url} ("),  # TLS fails: wrong version...
        ("echo", "{url} hung up on TLS: is it a wss:// server?"),  # ws://
    ],
)
def test_wss_to_a_server_without_tls(
    peer, failure, import_snippet, monkeypatch, peers, local_certificates
):
    client = import_snippet(CLIENT)
    ca_file = str(local_certificates.ca_file)
    with getattr(peers, peer)() as plain:
        argv = [CLIENT, "--port", str(plain.port), "--ca-file", ca_file]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exit_info:
            client.main()
    url = f"wss://127.0.0.1:{plain.port}/"
    assert exit_info.value.code.startswith(failure.format(url=url))
    assert exit_info.value.code.endswith("is it a wss:// server?")


def test_a_ws_url_is_refused_by_the_secure_client(run_example, local_certificates):
    ca_file = str(local_certificates.ca_file)
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--url", "ws://127.0.0.1:8783/", "--ca-file", ca_file)
    assert exit_info.value.code == (
        "ws://127.0.0.1:8783/: ssl argument is incompatible with a ws:// URI"
    )


@pytest.mark.parametrize("missing", ["--cert", "--key"])
def test_the_server_without_its_certificate_says_how_to_make_it(
    missing, local_certificates, run_example
):
    files = {
        "--cert": local_certificates.cert_file,
        "--key": local_certificates.key_file,
    }
    files[missing] = "certs/nowhere.pem"
    arguments = [str(item) for option in files.items() for item in option]
    with pytest.raises(SystemExit) as exit_info:
        run_example(SERVER, *arguments)
    assert exit_info.value.code == (
        "No file certs/nowhere.pem: make it with python make_local_ca.py --folder certs"
    )


def test_the_server_with_a_key_that_is_no_key(
    local_certificates, run_example, tmp_path
):
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("hello\n")
    cert = str(local_certificates.cert_file)
    with pytest.raises(SystemExit) as exit_info:
        run_example(SERVER, "--cert", cert, "--key", str(not_a_key))
    assert exit_info.value.code.startswith(f"Cannot use {cert} and {not_a_key}: ")


@pytest.mark.asyncio
async def test_made_certificates_work_for_a_reader(import_snippet, tmp_path):
    # What a reader does: make the files (`make_local_ca.py --folder certs`),
    # start the server with its defaults, connect with the client's.
    ca_file, cert_file, key_file = import_snippet(MAKE_CA).make_certificates(
        tmp_path / "certs"
    )
    server = import_snippet(SERVER)
    client = import_snippet(CLIENT)
    # The programs' default paths are the files that make_local_ca.py writes.
    written = [str(path.relative_to(tmp_path)) for path in (cert_file, key_file)]
    assert written == [server.CERT_FILE, server.KEY_FILE]
    assert str(ca_file.relative_to(tmp_path)) == client.CA_FILE
    context = server.tls_context(cert_file, key_file)
    async with serve(
        functools.partial(server.echo, send_timeout=TIMEOUT),
        "127.0.0.1",
        0,
        ssl=context,
    ) as running:
        port = running.sockets[0].getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            reply = await client.echo_securely(
                "Hello", f"wss://{host}:{port}/", client.tls_context(ca_file)
            )
            assert reply == "Hello"
