"""Tests of the page "Client certificates and certificate errors"
(docs/tls/certificates.md)."""

from __future__ import annotations

import datetime
import re
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
import trustme
from peers.daemons import run_client
from peers.programs import require
from sequence_figures import Actor, check_figure, sequence_svg

from .tls_helpers import (
    WAIT,
    check_embedded_size,
    converse,
    handshake_steps,
    record_messages,
)

MAKER = "tls_sockets/make_client_certificate.py"
ERRORS = "tls_sockets/certificate_errors.py"
CLIENT = "tls_sockets/tls_echo_client.py"
SERVER = "tls_sockets/tls_echo_server.py"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "tls" / "certificates.md"


def exit_message(run_example, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, *args)
    return exit_info.value.code


# --- Making a client certificate ------------------------------------------


@pytest.mark.interop(MAKER, "openssl", "openssl verify accepts what it writes")
def test_the_maker_writes_a_ca_a_certificate_and_a_private_key(
    run_example, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    run_example(MAKER, "--folder", "certs", "--name", "ada")
    certs = tmp_path / "certs"
    assert stat.S_IMODE((certs / "client-key.pem").stat().st_mode) == 0o600
    openssl = require("openssl")
    verified = run_client(
        [openssl, "verify", "-CAfile", certs / "client-ca.pem", certs / "client.pem"]
    )
    assert verified.stdout == f"{certs / 'client.pem'}: OK\n", verified.stderr
    subject = run_client(
        [openssl, "x509", "-in", certs / "client.pem", "-noout", "-subject"]
    )
    assert subject.stdout.rstrip().endswith("CN = ada")


# --- Mutual TLS: the echo server asks for a certificate -------------------


def client_arguments(server, local_certificates, *more: str) -> list[str]:
    return [
        "--port", str(server.port), "--ca-file", str(local_certificates.ca_file),
        *more,
    ]  # fmt: skip


def test_a_client_with_a_certificate_is_served_and_named(
    run_example, mtls_server, local_certificates, client_certificates
):
    mark = mtls_server.mark()
    run_example(
        CLIENT, *client_arguments(
            mtls_server, local_certificates,
            "--cert", str(client_certificates.cert_file),
            "--key", str(client_certificates.key_file),
        ),
    )  # fmt: skip
    [line] = mtls_server.wait_for(r": TLSv1\.3, client ", after=mark)
    assert line.endswith(": TLSv1.3, client ada")


def test_a_client_without_a_certificate_is_refused(
    run_example, mtls_server, local_certificates
):
    mark = mtls_server.mark()
    said = exit_message(run_example, *client_arguments(mtls_server, local_certificates))
    assert said == (
        f"127.0.0.1 port {mtls_server.port}: TLS failed: "
        "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
    )
    [line] = mtls_server.wait_for(r": handshake failed: ", after=mark)
    assert line.endswith(
        "[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate"
    )


def test_a_client_certificate_from_another_ca_is_refused(
    run_example, mtls_server, local_certificates, client_certificates
):
    mark = mtls_server.mark()
    said = exit_message(
        run_example, *client_arguments(
            mtls_server, local_certificates,
            "--cert", str(client_certificates.stranger_cert_file),
            "--key", str(client_certificates.stranger_key_file),
        ),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {mtls_server.port}: TLS failed: "
        "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"
    )
    [line] = mtls_server.wait_for(r": handshake failed: ", after=mark)
    assert line.endswith(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "unable to get local issuer certificate"
    )


def test_the_client_says_how_to_make_a_missing_certificate(
    run_example, local_certificates, tmp_path
):
    missing = tmp_path / "client.pem"
    said = exit_message(
        run_example, "--ca-file", str(local_certificates.ca_file),
        "--cert", str(missing), "--key", str(missing),
    )  # fmt: skip
    assert said == (
        f"No file {missing}: make it with python3 make_client_certificate.py"
        " --folder certs"
    )


def test_the_mutual_tls_figure_is_drawn_from_a_real_connection(
    import_snippet, mtls_server, local_certificates, client_certificates, request
):
    client = import_snippet(CLIENT)
    context = client.client_context(
        str(local_certificates.ca_file),
        str(client_certificates.cert_file),
        str(client_certificates.key_file),
    )
    events = record_messages(context)
    _, reply = client.echo("Hello, TLS!", *mtls_server.address, context, timeout=WAIT)
    svg = sequence_svg(
        "mutual-tls",
        "Mutual TLS: the server asks for the client's certificate",
        "As in a TLS 1.3 handshake, but the server's encrypted flight also "
        "holds a CertificateRequest. The client answers with its own "
        "Certificate and a CertificateVerify signed with its private key, "
        "before its Finished. The server checks them, then echoes the line.",
        [Actor("Client", "tls_echo_client.py"), Actor("Server", "--client-ca")],
        handshake_steps(events, "Hello, TLS!", reply),
    )
    check_figure(request, PAGE.parent / "mutual-tls.svg", svg)
    check_embedded_size(PAGE, svg, "mutual-tls.svg")


@pytest.mark.interop(SERVER, "openssl", "mutual TLS: s_client with -cert and -key")
def test_openssl_s_client_presents_a_certificate(
    mtls_server, local_certificates, client_certificates
):
    openssl = require("openssl")
    said = converse(
        [openssl, "s_client", "-connect", f"127.0.0.1:{mtls_server.port}",
         "-CAfile", local_certificates.ca_file, "-verify_return_error",
         "-cert", client_certificates.cert_file,
         "-key", client_certificates.key_file, "-quiet", "-no_ign_eof"],
        "Hello from s_client\n",
    )  # fmt: skip
    assert said.answer == "Hello from s_client\n"
    assert said.returncode == 0, said.stderr


@pytest.mark.interop(SERVER, "openssl", "mutual TLS: s_client without -cert refused")
def test_openssl_s_client_without_a_certificate_is_refused(
    mtls_server, local_certificates
):
    openssl = require("openssl")
    said = converse(
        [openssl, "s_client", "-connect", f"127.0.0.1:{mtls_server.port}",
         "-CAfile", local_certificates.ca_file, "-quiet", "-no_ign_eof"],
        "Hello from s_client\n",
    )  # fmt: skip
    assert said.answer == ""  # no echo: the server hung up
    assert "tlsv13 alert certificate required" in said.stderr


@pytest.mark.interop(SERVER, "curl", "mutual TLS: what curl says without --cert")
def test_curl_without_a_certificate_is_refused(mtls_server, local_certificates):
    curl = require("curl")
    result = run_client(
        [curl, "--silent", "--show-error", "--cacert", local_certificates.ca_file,
         f"https://127.0.0.1:{mtls_server.port}/"],
        timeout=WAIT,
    )  # fmt: skip
    assert result.returncode == 56  # "failure in receiving network data"
    assert "tlsv13 alert certificate required" in result.stderr


@pytest.mark.interop(SERVER, "curl", "mutual TLS: curl --cert, its request echoed")
def test_curl_with_a_certificate_gets_its_request_back(
    mtls_server, local_certificates, client_certificates
):
    curl = require("curl")
    # The server is no HTTP server: it sends curl's request back, line by
    # line, which --http0.9 lets curl print as a body. The handshake, with
    # curl's certificate, is what this proves.
    result = run_client(
        [curl, "--silent", "--show-error", "--http0.9", "--max-time", str(WAIT),
         "--cacert", local_certificates.ca_file,
         "--cert", client_certificates.cert_file,
         "--key", client_certificates.key_file,
         f"https://127.0.0.1:{mtls_server.port}/"],
        timeout=2 * WAIT,
    )  # fmt: skip
    assert result.stdout.startswith("GET / HTTP/1.1\n"), result.stderr


# --- Each certificate error, from both ends -------------------------------


def test_each_error_is_shown_from_both_ends(run_example):
    run_example(ERRORS)


def full_messages(errors_module, monkeypatch) -> list[str]:
    """Each error of certificate_errors.py as a traceback's last line shows it."""
    seen = []
    real_words = errors_module.words

    def words(error: ssl.SSLError) -> str:
        seen.append(f"ssl.{type(error).__name__}: {error}")
        return real_words(error)

    monkeypatch.setattr(errors_module, "words", words)
    for case in errors_module.cases():
        errors_module.handshake(case)
    return seen


def test_the_page_quotes_each_message_as_python_prints_it(import_snippet, monkeypatch):
    seen = full_messages(import_snippet(ERRORS), monkeypatch)
    # The number in "(_ssl.c:1006)" is a line of Python's C source: it
    # changes from one version to the next, and the page says so.
    source_line = re.compile(r"_ssl\.c:\d+")
    quoted = {
        source_line.sub("_ssl.c:N", line.strip())
        for line in PAGE.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith("ssl.SSL")
    }
    printed = {source_line.sub("_ssl.c:N", message.strip()) for message in seen}
    assert quoted == printed


@pytest.fixture(scope="module")
def bad_certificates(tmp_path_factory):
    """An expired certificate for openssl s_server, and the CA that signed it."""
    folder = tmp_path_factory.mktemp("bad-certs")
    ca = trustme.CA()
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )  # fmt: skip
    files = {
        "ca": folder / "ca.pem", "expired": folder / "expired.pem",
        "expired-key": folder / "expired-key.pem",
    }  # fmt: skip
    ca.cert_pem.write_to_path(files["ca"])
    expired.cert_chain_pems[0].write_to_path(files["expired"])
    expired.private_key_pem.write_to_path(files["expired-key"])
    return files


@pytest.mark.interop(ERRORS, "openssl", "the client's words against s_server")
def test_the_client_reads_the_same_words_from_openssl_s_server(
    import_snippet, openssl_s_server, local_certificates, bad_certificates,
    client_certificates, tmp_path,
):  # fmt: skip
    errors = import_snippet(ERRORS)
    trusting_the_bad_ca = ssl.create_default_context(cafile=bad_certificates["ca"])
    trusting_another_ca = ssl.create_default_context(cafile=client_certificates.ca_file)
    trusting_the_local_ca = ssl.create_default_context(
        cafile=local_certificates.ca_file
    )
    key = local_certificates.key_file
    servers = [
        (["-cert", bad_certificates["expired"],
          "-key", bad_certificates["expired-key"]],
         trusting_the_bad_ca, "certificate has expired"),
        (["-cert", local_certificates.cert_file, "-key", key,
          "-cert_chain", local_certificates.ca_file],
         trusting_another_ca, "self-signed certificate in certificate chain"),
        (["-cert", local_certificates.cert_file, "-key", key, "-Verify", "1",
          "-CAfile", client_certificates.ca_file, "-verify_return_error"],
         trusting_the_local_ca, "tlsv13 alert certificate required"),
    ]  # fmt: skip
    seen = []
    for number, (options, context, _) in enumerate(servers):
        with (
            openssl_s_server(tmp_path / str(number), *options) as daemon,
            socket.create_connection((daemon.host, daemon.port), WAIT) as sock,
        ):
            seen.append(errors.client_sees(context, sock, "127.0.0.1"))
    assert seen == [expected for _, _, expected in servers]


@pytest.mark.interop(ERRORS, "openssl", "the server's words against s_client")
def test_the_server_reads_the_same_words_from_openssl_s_client(
    import_snippet, local_certificates, client_certificates
):
    errors = import_snippet(ERRORS)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(local_certificates.cert_file, local_certificates.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_certificates.ca_file)
    openssl = require("openssl")
    seen = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            seen.append(errors.server_sees(context, conn))

        thread = threading.Thread(target=serve)
        thread.start()
        result = run_client(
            [openssl, "s_client", "-connect", f"127.0.0.1:{port}",
             "-CAfile", local_certificates.ca_file, "-quiet"],
            input="", timeout=WAIT,
        )  # fmt: skip
        thread.join(WAIT)
    assert seen == ["peer did not return a certificate"]
    assert "tlsv13 alert certificate required" in result.stderr
