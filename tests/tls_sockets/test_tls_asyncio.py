"""Tests of the page "TLS in asyncio" (docs/tls/asyncio.md)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

from .tls_helpers import WAIT, check_embedded_size

ASYNC_CLIENT = "tls_sockets/tls_async_client.py"
STARTTLS = "tls_sockets/smtp_starttls.py"
SMTP_SERVER = "protocols/smtp_server.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tls"


def exit_message(run_example, snippet: str, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_example(snippet, *args)
    return exit_info.value.code


# --- open_connection(ssl=...) -------------------------------------------------


def test_async_client_echoes_over_tls(run_example, tls_server, local_certificates):
    mark = tls_server.mark()
    run_example(
        ASYNC_CLIENT, "--port", str(tls_server.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    tls_server.wait_for(r": lines echoed: 2$", after=mark)


def test_async_client_over_ipv6(run_example, tls_server_ipv6, local_certificates):
    mark = tls_server_ipv6.mark()
    run_example(
        ASYNC_CLIENT, "--host", "::1", "--port", str(tls_server_ipv6.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    [line] = tls_server_ipv6.wait_for(r": lines echoed: 2$", after=mark)
    assert line.startswith("[::1]:")


def test_async_client_names_an_untrusted_certificate(
    run_example, tls_server, client_certificates
):
    said = exit_message(
        run_example, ASYNC_CLIENT, "--port", str(tls_server.port),
        "--ca-file", str(client_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {tls_server.port}: certificate not trusted: "
        "unable to get local issuer certificate"
    )


def test_async_client_names_tls_to_a_plain_port(
    run_example, nginx_static, local_certificates
):
    port = nginx_static.port  # nginx's plain HTTP port
    said = exit_message(
        run_example, ASYNC_CLIENT, "--port", str(port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {port}: TLS failed: [SSL: WRONG_VERSION_NUMBER] "
        "wrong version number"
    )


def test_async_client_says_connection_refused_and_timeout(
    run_example, free_port, local_certificates
):
    ca = str(local_certificates.ca_file)
    said = exit_message(
        run_example, ASYNC_CLIENT, "--port", str(free_port), "--ca-file", ca
    )
    assert said == (
        f"127.0.0.1 port {free_port}: connection refused: "
        "is tls_echo_server.py running?"
    )
    with socket.create_server(("127.0.0.1", 0)) as silent:  # never accepts
        port = silent.getsockname()[1]
        said = exit_message(
            run_example, ASYNC_CLIENT, "--port", str(port), "--ca-file", ca,
            "--timeout", "0.2",
        )  # fmt: skip
    assert said == f"127.0.0.1 port {port}: no answer in 0.2 s"


def test_async_client_names_other_errors_and_a_missing_file(
    run_example, import_snippet, tmp_path
):
    client = import_snippet(ASYNC_CLIENT)
    error = OSError(113, "No route to host")
    assert client.failure(error, 1.0) == "OSError: [Errno 113] No route to host"
    missing = tmp_path / "ca.pem"
    said = exit_message(run_example, ASYNC_CLIENT, "--ca-file", str(missing))
    assert said == (
        f"No file {missing}: make it with python3 make_local_ca.py --folder certs"
    )


@pytest.mark.interop(ASYNC_CLIENT, "openssl", "two lines echoed by s_server -rev")
def test_async_client_against_openssl_s_server(
    import_snippet, openssl_s_server, local_certificates, tmp_path
):
    client = import_snippet(ASYNC_CLIENT)
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with openssl_s_server(
        tmp_path, "-cert", local_certificates.cert_file,
        "-key", local_certificates.key_file, "-rev",
    ) as daemon:  # fmt: skip
        version, replies = asyncio.run(
            client.echo_lines(["abc", "Hello"], daemon.host, daemon.port, context, WAIT)
        )
    assert version == "TLSv1.3"
    assert replies == ["cba", "olleH"]


# --- STARTTLS, by hand -----------------------------------------------------


@pytest.fixture(scope="module")
def smtp_server(start_server, local_certificates, tmp_path_factory):
    """The site's SMTP server (protocols/smtp_server.py), as the SMTP page runs it."""
    mailbox = tmp_path_factory.mktemp("mailbox")
    with start_server(
        SMTP_SERVER, "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file), "--mailbox", str(mailbox),
    ) as server:  # fmt: skip
        yield server


@pytest.fixture
def starttls(import_snippet):
    return import_snippet(STARTTLS)


def test_starttls_shows_what_changes_with_tls(
    run_example, smtp_server, local_certificates
):
    run_example(
        STARTTLS, "--port", str(smtp_server.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip


def test_the_starttls_figure_is_drawn_from_a_real_dialogue(
    starttls, smtp_server, local_certificates, monkeypatch, request
):
    """Record every command and reply of smtp_starttls.py, and draw them."""
    steps = []
    real_reply, real_start_tls = starttls.reply, starttls.start_tls

    async def recorded_reply(reader):
        code, lines = await real_reply(reader)
        last = len(lines) - 1
        wire = [f"{code}{'-' if i < last else ' '}{t}" for i, t in enumerate(lines)]
        steps.append(Message(1, 0, wire))
        return code, lines

    async def recorded_command(reader, writer, text):
        steps.append(Message(0, 1, [text]))
        writer.write(text.encode("ascii") + b"\r\n")
        await writer.drain()
        return await recorded_reply(reader)

    async def recorded_start_tls(*args):
        writer = await real_start_tls(*args)
        version = writer.get_extra_info("ssl_object").version()
        steps.append(Note(f"TLS handshake ({version}): all that follows is encrypted"))
        return writer

    monkeypatch.setattr(starttls, "reply", recorded_reply)
    monkeypatch.setattr(starttls, "command", recorded_command)
    monkeypatch.setattr(starttls, "start_tls", recorded_start_tls)
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    asyncio.run(starttls.compare(smtp_server.host, smtp_server.port, context))
    svg = sequence_svg(
        "starttls",
        "STARTTLS: an SMTP dialogue that turns into TLS",
        "The client says EHLO; the server lists what it offers, STARTTLS among "
        "them and no login. The client sends STARTTLS, the server answers 220, "
        "and both run a TLS handshake on the same connection. The client says "
        "EHLO again, over TLS, and the server now offers AUTH LOGIN PLAIN.",
        [Actor("Client", "smtp_starttls.py"), Actor("Server", "smtp_server.py")],
        steps,
    )
    check_figure(request, DOCS / "starttls.svg", svg)
    check_embedded_size(DOCS / "asyncio.md", svg, "starttls.svg")


@pytest.mark.interop(STARTTLS, "exim4", "EHLO before and after STARTTLS with Exim")
def test_starttls_against_exim(starttls, exim_server, local_certificates):
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    before, after, version = asyncio.run(
        starttls.compare("::1", exim_server.port, context)
    )
    assert "STARTTLS" in before
    assert "STARTTLS" not in after  # it is done: Exim does not offer it twice
    # Exim offers a login over TLS only, as its configuration says.
    assert not any(line.startswith("AUTH") for line in before)
    assert "AUTH PLAIN LOGIN" in after
    assert version == "TLSv1.3"


@pytest.mark.interop(STARTTLS, "exim4", "the words of an untrusted chain with the CA")
def test_an_untrusted_exim_reads_otherwise(
    starttls, exim_server, smtp_server, client_certificates
):
    # A CA that signed neither server's certificate. Exim sends the CA's
    # certificate after its own; smtp_server.py sends its own only.
    wrong = ssl.create_default_context(cafile=client_certificates.ca_file)
    words = {}
    for name, server in [("Exim", exim_server), ("smtp_server", smtp_server)]:
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            asyncio.run(starttls.compare("127.0.0.1", server.port, wrong))
        words[name] = refused.value.verify_message
    assert words == {
        "Exim": "self-signed certificate in certificate chain",
        "smtp_server": "unable to get local issuer certificate",
    }


def test_starttls_program_names_an_untrusted_certificate(
    run_example, smtp_server, client_certificates
):
    said = exit_message(
        run_example, STARTTLS, "--port", str(smtp_server.port),
        "--ca-file", str(client_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        f"127.0.0.1 port {smtp_server.port}: certificate not trusted: "
        "unable to get local issuer certificate"
    )


@pytest.fixture
def the_python_3_10_way(starttls, monkeypatch):
    """smtp_starttls.py upgrading as it does on Python 3.10, whatever the Python."""
    kept = []

    async def by_hand(writer, reader, context, server_name):
        # Keep the writer of the plain connection: from Python 3.13 on, a
        # StreamWriter dropped while its connection is open warns, and
        # closes the connection that TLS now runs over.
        kept.append(writer)
        return await starttls.start_tls_before_3_11(
            writer, reader, context, server_name
        )

    monkeypatch.setattr(starttls, "start_tls", by_hand)
    return starttls


def test_the_python_3_10_way_upgrades_too(
    the_python_3_10_way, smtp_server, local_certificates
):
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    before, after, version = asyncio.run(
        the_python_3_10_way.compare(smtp_server.host, smtp_server.port, context)
    )
    assert "AUTH LOGIN PLAIN" in after
    assert "AUTH LOGIN PLAIN" not in before
    assert version == "TLSv1.3"


def test_the_python_3_10_way_fails_as_promptly(
    the_python_3_10_way, smtp_server, client_certificates
):
    wrong = ssl.create_default_context(cafile=client_certificates.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(
            the_python_3_10_way.compare(smtp_server.host, smtp_server.port, wrong)
        )


@contextmanager
def scripted_smtp(*replies: bytes) -> Iterator[int]:
    """A fake SMTP server: sends each reply after reading one line (the
    first at once), then hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as lines:
                conn.settimeout(WAIT)
                for number, reply in enumerate(replies):
                    if number:
                        lines.readline()
                    conn.sendall(reply)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            thread.join(WAIT)


GREETING = b"220 mail.example ESMTP\r\n"


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ((b"554 go away\r\n",), "SMTPError: no greeting: 554 go away"),
        ((GREETING, b"502 not here\r\n"), "SMTPError: EHLO refused: 502 not here"),
        ((GREETING, b"250-mail.example\r\n250 SIZE 1000\r\n"),
         "SMTPError: the server does not offer STARTTLS"),
        ((GREETING, b"250-mail.example\r\n250 STARTTLS\r\n", b"454 TLS not now\r\n"),
         "SMTPError: STARTTLS refused: 454 TLS not now"),
        ((b"220-mail.example\r\n",),
         "ConnectionError: the server closed the connection"),
    ],
    ids=["greeting", "ehlo", "no starttls", "refused", "closed"],
)  # fmt: skip
def test_starttls_says_what_the_server_did_not_do(
    run_example, local_certificates, replies, expected
):
    with scripted_smtp(*replies) as port:
        said = exit_message(
            run_example, STARTTLS, "--port", str(port),
            "--ca-file", str(local_certificates.ca_file),
        )  # fmt: skip
    assert said == f"127.0.0.1 port {port}: {expected}"


def test_starttls_names_connection_failures(
    run_example, starttls, free_port, local_certificates, tmp_path, monkeypatch
):
    ca = str(local_certificates.ca_file)
    said = exit_message(
        run_example, STARTTLS, "--port", str(free_port), "--ca-file", ca
    )
    assert said == (
        f"127.0.0.1 port {free_port}: connection refused: is smtp_server.py running?"
    )
    monkeypatch.setattr(starttls, "TIMEOUT", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            asyncio.run(
                starttls.compare("127.0.0.1", port, ssl.create_default_context())
            )
    assert starttls.failure(TimeoutError()) == "no answer in 0.2 s"
    missing = tmp_path / "ca.pem"
    said = exit_message(run_example, STARTTLS, "--ca-file", str(missing))
    assert said == (
        f"No file {missing}: make it with python3 make_local_ca.py --folder certs"
    )
