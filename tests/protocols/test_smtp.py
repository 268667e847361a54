"""Tests of the page "SMTP" (docs/protocols/smtp.md)."""

import email
import email.policy
import getpass
import os
import smtplib
import socket
import ssl
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER = "protocols/smtp_server.py"
CLIENT = "protocols/smtp_send.py"
FAILURES = "protocols/smtp_failures.py"
MAX_SIZE = 200_000  # the test server's limit, in bytes, well under the default


@dataclass
class MailServer:
    host: str
    port: int
    mailbox: Path
    password: str

    def messages(self) -> set[Path]:
        return set(self.mailbox.glob("*.eml"))


@pytest.fixture(scope="module")
def smtp_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once, idle_client
) -> Iterator[MailServer]:
    """One server for the whole module: no test here needs a fresh one."""
    mailbox = tmp_path_factory.mktemp("mailbox")
    arguments = [
        "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file),
        "--mailbox", str(mailbox),
        "--max-size", str(MAX_SIZE),
    ]  # fmt: skip
    password = import_snippet_once(SERVER).ACCOUNTS["ada"]
    with idle_client() as connect_idle, start_server(SERVER, *arguments) as server:
        connect_idle(server.host, server.port)
        yield MailServer(server.host, server.port, mailbox, password)


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


@pytest.fixture
def send(client, smtp_server, local_certificates):
    """Send a message as the reader's program does, to the test server."""

    def send(message, password=smtp_server.password, cafile=local_certificates.ca_file):
        client.send(
            message, "ada", password, cafile, smtp_server.host, smtp_server.port
        )

    return send


def a_message(client, data: bytes = b"day,orders\r\nMonday,12\r\n", **headers):
    fields = {"subject": "Weekly report", "filename": "orders.csv", **headers}
    return client.build_message(
        "ada@example.com", "bob@example.org", fields["subject"],
        "Hello Bob,\n\nThis week's orders are attached.\n", fields["filename"], data,
    )  # fmt: skip


def received_after(smtp_server: MailServer, action) -> list[bytes]:
    """Run `action`; return the messages the server saved meanwhile."""
    before = smtp_server.messages()
    action()
    return [path.read_bytes() for path in smtp_server.messages() - before]


def as_sent(message) -> bytes:
    """The bytes smtplib puts on the wire for `message` (lines end in CRLF)."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


# --- The message arrives, exactly -----------------------------------------


def test_send_program_prints_what_it_sent(
    run_example, smtp_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    arguments = [
        "--host", smtp_server.host, "--port", str(smtp_server.port),
        "--cafile", str(local_certificates.ca_file),
    ]  # fmt: skip
    [received] = received_after(smtp_server, lambda: run_example(CLIENT, *arguments))
    message = email.message_from_bytes(received, policy=email.policy.default)
    assert message["Subject"] == "Weekly report"
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "orders.csv"
    assert attachment.get_content_type() == "text/csv"


def test_server_receives_exactly_the_message_sent(client, send, smtp_server):
    data = os.urandom(50_000)  # every byte value: a binary file, not text
    message = a_message(client, data, subject="Grüße, 👋", filename="photo.jpg")
    # Flattening picks a random MIME boundary each time, unless one is set.
    message.set_boundary("boundary-of-this-test")
    [received] = received_after(smtp_server, lambda: send(message))
    assert received == as_sent(message)
    parsed = email.message_from_bytes(received, policy=email.policy.default)
    assert parsed["Subject"] == "Grüße, 👋"
    [attachment] = parsed.iter_attachments()
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_content() == data


# --- Bad input: each fails with a clear exception -------------------------


def test_failures_program_shows_each_exception(
    run_example, smtp_server, local_certificates
):
    run_example(
        FAILURES, "--host", smtp_server.host, "--port", str(smtp_server.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip


def test_wrong_password_is_refused_and_next_login_works(client, send, smtp_server):
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        send(a_message(client), password="wrong")  # noqa: S106 (on purpose)
    assert refused.value.smtp_code == 535
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


def test_send_program_says_when_login_is_refused(
    run_example, smtp_server, local_certificates, monkeypatch
):
    # No SMTP_PASSWORD: the program asks for the password; the "user" types a wrong one.
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ": "wrong")
    with pytest.raises(SystemExit) as exit_info:
        run_example(
            CLIENT, "--host", smtp_server.host, "--port", str(smtp_server.port),
            "--cafile", str(local_certificates.ca_file),
        )  # fmt: skip
    assert exit_info.value.code == "Login refused: wrong password for 'ada'?"


def test_unknown_certificate_authority_is_refused(client, send, smtp_server):
    # cafile=None: the system's authorities, which never signed the test server.
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        send(a_message(client), cafile=None)
    assert refused.value.verify_message == "unable to get local issuer certificate"
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


def test_no_server_gives_connection_refused(client, free_port):
    with pytest.raises(ConnectionRefusedError):
        client.send(a_message(client), "ada", "pw", None, "127.0.0.1", free_port)


def test_a_server_that_never_answers_times_out(client, silent_server, monkeypatch):
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    # smtplib turns the TimeoutError of its read into SMTPServerDisconnected.
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        client.send(a_message(client), "ada", "pw", None, *silent_server)


def test_send_program_says_what_to_do_when_no_server(
    run_example, free_port, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "unused")
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start smtp_server.py"
    )


def test_a_refused_recipient_is_not_missed(client, send, smtp_server):
    message = a_message(client)
    message.replace_header("To", "bob@example.org, nobody@mail.invalid")
    message.set_boundary("boundary-of-this-test")

    def send_to_both():
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(message)
        assert list(refused.value.recipients) == ["nobody@mail.invalid"]

    # The server took the message for Bob: one recipient only was refused.
    [received] = received_after(smtp_server, send_to_both)
    assert received == as_sent(message)


def test_oversized_message_is_refused_and_next_works(client, send, smtp_server):
    huge = a_message(client, b"x" * MAX_SIZE)
    # smtplib announces the size (MAIL FROM ... SIZE=), so the server refuses
    # the message before a byte of it is sent.
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(huge)
    assert refused.value.smtp_code == 552
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


# --- The server survives bad clients --------------------------------------


def read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        reply += chunk
    return reply


def test_garbage_gets_an_error_reply_and_the_server_goes_on(client, send, smtp_server):
    with socket.create_connection((smtp_server.host, smtp_server.port), 5) as sock:
        assert read_reply(sock).startswith(b"220 ")
        # Every byte value but CR and LF, as one line: a 5xx error reply.
        sock.sendall(bytes(set(range(256)) - set(b"\r\n")) + b"\r\n")
        assert read_reply(sock) == b"500 Error: strict ASCII mode\r\n"
        sock.sendall(b"X" * 100_000 + b"\r\n")  # a line 200 times too long
        assert read_reply(sock).startswith(b"500 ")
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


def test_client_that_vanishes_mid_message_leaves_nothing_behind(
    client, send, smtp_server, local_certificates
):
    def vanish_mid_message():
        context = ssl.create_default_context(cafile=local_certificates.ca_file)
        smtp = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5)
        smtp.starttls(context=context)
        smtp.login("ada", smtp_server.password)
        smtp.mail("ada@example.com")
        smtp.rcpt("bob@example.org")
        assert smtp.docmd("DATA")[0] == 354
        smtp.send(b"Subject: half a message\r\n\r\nand then\r\n")
        # Linger 0: close() sends a reset, as a crashed client's kernel does.
        smtp.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        smtp.sock.close()
        smtp.close()

    def vanish_then_send():
        vanish_mid_message()
        send(a_message(client, subject="After the vanished one"))

    # By the time the next message is saved, the half one would have been.
    [received] = received_after(smtp_server, vanish_then_send)
    assert b"Subject: After the vanished one\r\n" in received


def test_silent_client_does_not_hold_up_the_others(client, send, smtp_server):
    with socket.create_connection((smtp_server.host, smtp_server.port), 5) as silent:
        assert read_reply(silent).startswith(b"220 ")
        # It never says a word; meanwhile the others are served.
        assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1
