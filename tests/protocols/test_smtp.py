"""Tests of the page "SMTP" (docs/protocols/smtp.md)."""

import base64
import email
import email.policy
import getpass
import mailbox
import os
import re
import signal
import smtplib
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.smtp import LoginPassword
from hostile import attacks
from peers.daemons import run_client
from peers.exim import deliver
from peers.programs import require
from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

SERVER = "protocols/smtp_server.py"
CLIENT = "protocols/smtp_send.py"
FAILURES = "protocols/smtp_failures.py"
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
MAX_SIZE = 200_000  # the test server's limit, in bytes, well under the default
# The strict server's limits: small, so that each attack ends quickly.
TIMEOUT = 0.5  # seconds for each command, or a message after DATA
MAX_CONNECTIONS = 20
WAIT = 5.0  # seconds a test waits for anything before it fails


@dataclass
class MailServer:
    host: str
    port: int
    mailbox: Path
    password: str
    pid: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def messages(self) -> set[Path]:
        return set(self.mailbox.glob("*.eml"))


def server_arguments(certificates, mailbox: Path, *limits: str) -> list[str]:
    return [
        "--cert", str(certificates.cert_file),
        "--key", str(certificates.key_file),
        "--mailbox", str(mailbox),
        "--max-size", str(MAX_SIZE),
        *limits,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def smtp_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once, idle_client
) -> Iterator[MailServer]:
    """One server for the whole module: no test here needs a fresh one."""
    mailbox = tmp_path_factory.mktemp("mailbox")
    arguments = server_arguments(local_certificates, mailbox)
    password = import_snippet_once(SERVER).ACCOUNTS["ada"]
    with idle_client() as connect_idle, start_server(SERVER, *arguments) as server:
        connect_idle(server.host, server.port)
        yield MailServer(
            server.host, server.port, mailbox, password, server.process.pid
        )


@contextmanager
def a_strict_server(start_server, certificates, mailbox: Path, password: str):
    arguments = server_arguments(
        certificates, mailbox, "--timeout", str(TIMEOUT),
        "--max-connections", str(MAX_CONNECTIONS),
    )  # fmt: skip
    with start_server(SERVER, *arguments) as server:
        yield MailServer(
            server.host, server.port, mailbox, password, server.process.pid
        )


@pytest.fixture(scope="module")
def strict_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once
) -> Iterator[MailServer]:
    """A server with small limits, for attacks that hold one client each."""
    mailbox = tmp_path_factory.mktemp("mailbox-strict")
    password = import_snippet_once(SERVER).ACCOUNTS["ada"]
    with a_strict_server(start_server, local_certificates, mailbox, password) as server:
        yield server


@pytest.fixture
def own_strict_server(
    start_server, local_certificates, tmp_path, import_snippet_once
) -> Iterator[MailServer]:
    """A server with small limits for one attack that fills all of it."""
    password = import_snippet_once(SERVER).ACCOUNTS["ada"]
    with a_strict_server(
        start_server, local_certificates, tmp_path, password
    ) as server:
        yield server


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


@pytest.fixture
def send(client, smtp_server, local_certificates):
    """Send a message as the reader's program does, to the test server."""

    def send(message, password=smtp_server.password, cafile=local_certificates.ca_file):
        client.send(message, "ada", password, cafile, *smtp_server.address)

    return send


def a_message(client, data: bytes = b"day,orders\r\nMonday,12\r\n", **headers):
    fields = {"subject": "Weekly report", "filename": "orders.csv", **headers}
    return client.build_message(
        "ada@example.com", "bob@example.org", fields["subject"],
        "Hello Bob,\n\nThis week's orders are attached.\n", fields["filename"], data,
    )  # fmt: skip


def received_after(server: MailServer, action) -> list[bytes]:
    """Run `action`; return the messages the server saved meanwhile."""
    before = server.messages()
    action()
    return [path.read_bytes() for path in server.messages() - before]


def as_sent(message) -> bytes:
    """The bytes smtplib puts on the wire for `message` (lines end in CRLF)."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def a_message_goes_through(server: MailServer, ca_file: Path) -> bool:
    """What follows every bad input: the server still takes a message."""
    context = ssl.create_default_context(cafile=ca_file)
    saved = received_after(server, lambda: _send_one(server, context))
    return len(saved) == 1


def _send_one(server: MailServer, context: ssl.SSLContext) -> None:
    with smtplib.SMTP(*server.address, timeout=WAIT) as smtp:
        smtp.starttls(context=context)
        smtp.login("ada", server.password)
        smtp.sendmail(
            "ada@example.com", ["bob@example.org"], b"Subject: hi\r\n\r\nhi\r\n"
        )


LAST_LINE = re.compile(rb"(?:^|\r\n)\d{3} [^\r\n]*\r\n$")  # "250 OK", not "250-"


def read_reply(sock: socket.socket) -> bytes:
    """One whole reply: its lines, up to the one with a space after the code."""
    reply = b""
    while not LAST_LINE.search(reply):
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        reply += chunk
    return reply


def greeted(sock: socket.socket) -> bytes:
    """The server's first line, or b"" if it closed or reset first."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1024)
    except ConnectionResetError:
        return b""


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


def test_send_program_takes_sender_and_recipient_from_options(
    client, smtp_server, local_certificates, monkeypatch, capsys
):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    monkeypatch.setattr(sys, "argv", [
        CLIENT, "--host", smtp_server.host, "--port", str(smtp_server.port),
        "--cafile", str(local_certificates.ca_file),
        "--from", "grace@example.net", "--to", "alan@example.org",
    ])  # fmt: skip
    [received] = received_after(smtp_server, client.main)
    message = email.message_from_bytes(received, policy=email.policy.default)
    assert (message["From"], message["To"]) == ("grace@example.net", "alan@example.org")
    assert capsys.readouterr().out == "Sent 'Weekly report' to alan@example.org\n"


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


# --- Passwords: the same work for a user who does not exist ---------------


def test_unknown_user_is_compared_like_a_known_one(import_snippet, monkeypatch):
    server = import_snippet(SERVER)
    compared = []
    real_compare = server.hmac.compare_digest

    def spy(given, expected):
        compared.append((len(given), len(expected)))
        return real_compare(given, expected)

    monkeypatch.setattr(server.hmac, "compare_digest", spy)

    def check(user: bytes, password: bytes) -> bool:
        credentials = LoginPassword(user, password)
        return server.check_password(None, None, None, "PLAIN", credentials).success

    assert check(b"ada", server.ACCOUNTS["ada"].encode())
    assert not check(b"ada", b"wrong")
    # An unknown user goes through the same comparison, of the same length,
    # even with the one password a known user has: no shortcut, no answer.
    assert not check(b"nobody", server.ACCOUNTS["ada"].encode())
    assert not check(b"nobody", server.NOBODY_PASSWORD.encode())
    assert compared == [(32, 32)] * 4


# --- Bad input: each fails with a clear exception or one clear line -------


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


def send_program(client, monkeypatch, *arguments: str) -> str | int | None:
    """Run smtp_send.py's main() with these arguments; its exit message."""
    monkeypatch.setattr(sys, "argv", [CLIENT, *arguments])
    with pytest.raises(SystemExit) as exit_info:
        client.main()
    return exit_info.value.code


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
    assert exit_info.value.code == (
        "Login refused for 'ada': 535 5.7.8 Authentication credentials invalid"
    )


def test_send_program_takes_the_user_from_the_environment(
    client, smtp_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("SMTP_USER", "mallory")
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    said = send_program(
        client, monkeypatch, "--host", smtp_server.host,
        "--port", str(smtp_server.port), "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip
    assert said == (
        "Login refused for 'mallory': 535 5.7.8 Authentication credentials invalid"
    )


def test_send_program_says_which_recipient_was_refused(
    client, smtp_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    said = send_program(
        client, monkeypatch, "--host", smtp_server.host,
        "--port", str(smtp_server.port), "--cafile", str(local_certificates.ca_file),
        "--to", "nobody@mail.invalid",
    )  # fmt: skip
    assert said == "Recipient refused: nobody@mail.invalid: 550 5.1.2 No such domain"


def test_unknown_certificate_authority_is_refused(client, send, smtp_server):
    # cafile=None: the system's authorities, which never signed the test server.
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        send(a_message(client), cafile=None)
    # This server sends its certificate without the CA's: a server that
    # sends the CA's too gets another message (see the Exim test below).
    assert refused.value.verify_message == "unable to get local issuer certificate"
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


def test_send_program_without_cafile_says_why_in_one_line(
    client, smtp_server, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    said = send_program(
        client, monkeypatch, "--host", smtp_server.host, "--port", str(smtp_server.port)
    )
    assert said == (
        f"Certificate of {smtp_server.host} not trusted (unable to get local"
        " issuer certificate): pass --cafile certs/ca.pem (python3"
        " make_local_ca.py makes it)"
    )


def test_server_without_its_certificates_says_how_to_make_them(
    import_snippet, tmp_path, monkeypatch
):
    server = import_snippet(SERVER)
    monkeypatch.chdir(tmp_path)  # no certs/ here
    monkeypatch.setattr(sys, "argv", [SERVER])
    with pytest.raises(SystemExit) as exit_info:
        server.main()
    assert exit_info.value.code == (
        "No certs/server.pem: python3 make_local_ca.py makes it"
    )


def test_send_program_with_a_missing_cafile_says_how_to_make_it(
    client, tmp_path, monkeypatch
):
    missing = tmp_path / "certs" / "ca.pem"
    said = send_program(client, monkeypatch, "--cafile", str(missing))
    assert said == f"No CA file {missing}: python3 make_local_ca.py makes it"


def test_no_server_gives_connection_refused(client, free_port):
    with pytest.raises(ConnectionRefusedError):
        client.send(a_message(client), "ada", "pw", None, "127.0.0.1", free_port)


def test_a_server_that_never_answers_times_out(client, silent_server, monkeypatch):
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    # smtplib turns the TimeoutError of its read into SMTPServerDisconnected.
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        client.send(a_message(client), "ada", "pw", None, *silent_server)


def test_send_program_tells_a_timeout_from_no_server(
    client, silent_server, monkeypatch
):
    host, port = silent_server
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    monkeypatch.setenv("SMTP_PASSWORD", "unused")
    said = send_program(client, monkeypatch, "--port", str(port))
    assert said == f"No answer from {host}:{port} within 0.05 s"


def test_send_program_says_what_to_do_when_no_server(
    run_example, free_port, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "unused")
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start smtp_server.py"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (smtplib.SMTPSenderRefused(552, b"5.3.4 Too big", "ada@example.com"),
         "The server refused: 552 5.3.4 Too big"),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
         "[::1]:25 cannot do this safely: STARTTLS extension not supported by server."),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
         "[::1]:25 closed the connection"),
        (TimeoutError("timed out"), "No answer from [::1]:25 within 10 s"),
        (OSError(113, "No route to host"),
         "Sending through [::1]:25 failed: [Errno 113] No route to host"),
    ],
)  # fmt: skip
def test_each_other_failure_is_one_line(client, error, expected):
    assert client.reason(error, "::1", 25, "ada") == expected


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


# --- IPv6 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_server_ipv6(
    start_server, local_certificates, tmp_path_factory, import_snippet_once
) -> Iterator[MailServer]:
    mailbox = tmp_path_factory.mktemp("mailbox-ipv6")
    arguments = server_arguments(local_certificates, mailbox, "--host", "::1")
    password = import_snippet_once(SERVER).ACCOUNTS["ada"]
    with start_server(SERVER, *arguments) as server:
        yield MailServer(
            server.host, server.port, mailbox, password, server.process.pid
        )


def test_failures_program_over_ipv6(run_example, smtp_server_ipv6, local_certificates):
    run_example(
        FAILURES, "--host", "::1", "--port", str(smtp_server_ipv6.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip


def test_failures_program_with_a_missing_cafile_says_how_to_make_it(
    run_example, tmp_path
):
    missing = tmp_path / "ca.pem"
    with pytest.raises(SystemExit) as exit_info:
        run_example(FAILURES, "--cafile", str(missing))
    assert exit_info.value.code == (
        f"No CA file {missing}: python3 make_local_ca.py makes it"
    )


def test_server_and_client_work_over_ipv6(
    run_example, smtp_server_ipv6, local_certificates, monkeypatch
):
    assert smtp_server_ipv6.host == "::1"
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server_ipv6.password)
    arguments = [
        "--host", "::1", "--port", str(smtp_server_ipv6.port),
        "--cafile", str(local_certificates.ca_file),
    ]  # fmt: skip
    saved = received_after(smtp_server_ipv6, lambda: run_example(CLIENT, *arguments))
    assert len(saved) == 1


# --- The server survives bad clients --------------------------------------


@pytest.mark.hostile(SERVER, "oversize", limit="Message size")
def test_oversized_message_is_refused_and_next_works(client, send, smtp_server):
    huge = a_message(client, b"x" * MAX_SIZE)
    # smtplib announces the size (MAIL FROM ... SIZE=), so the server refuses
    # the message before a byte of it is sent.
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(huge)
    assert refused.value.smtp_code == 552
    assert len(received_after(smtp_server, lambda: send(a_message(client)))) == 1


@pytest.mark.hostile(SERVER, "oversize", limit="Message size")
def test_oversized_message_sent_unannounced_is_refused_after_it(
    smtp_server, local_certificates
):
    before = attacks.memory_of(smtp_server.pid)
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with smtplib.SMTP(*smtp_server.address, timeout=WAIT) as smtp:
        smtp.starttls(context=context)
        smtp.login("ada", smtp_server.password)
        smtp.mail("ada@example.com")  # no SIZE=: the server learns it late
        smtp.rcpt("bob@example.org")
        line = b"x" * 998 + b"\r\n"
        body = line * (50 * MAX_SIZE // len(line))  # 10 MB, 50 times the limit
        assert smtp.data(body) == (552, b"Error: Too much mail data")
    after = attacks.memory_of(smtp_server.pid)
    # aiosmtpd drops what is over the limit as it reads: the server's memory
    # grows by a small part of the message at most.
    assert after["VmHWM"] - before["VmRSS"] < len(body) // 4
    assert a_message_goes_through(smtp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_gets_an_error_reply_and_the_server_goes_on(
    smtp_server, local_certificates
):
    with socket.create_connection(smtp_server.address, WAIT) as sock:
        assert read_reply(sock).startswith(b"220 ")
        # Every byte value but CR and LF, as one line: invalid UTF-8.
        sock.sendall(bytes(set(range(256)) - set(b"\r\n")) + b"\r\n")
        assert read_reply(sock) == b"500 Error: strict ASCII mode\r\n"
    assert a_message_goes_through(smtp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "oversize", limit="Command line length")
def test_a_command_line_too_long_gets_500_and_the_connection_goes_on(
    smtp_server, local_certificates
):
    with socket.create_connection(smtp_server.address, WAIT) as sock:
        assert read_reply(sock).startswith(b"220 ")
        sock.sendall(b"X" * 100_000 + b"\r\n")  # a line 200 times too long
        assert read_reply(sock) == b"500 Command line too long\r\n"
        sock.sendall(b"NOOP\r\n")
        assert read_reply(sock).startswith(b"250 ")
    assert a_message_goes_through(smtp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_instead_of_a_tls_handshake_ends_that_connection_only(
    smtp_server, local_certificates
):
    with socket.create_connection(smtp_server.address, WAIT) as sock:
        assert read_reply(sock).startswith(b"220 ")
        sock.sendall(b"EHLO test\r\n")
        assert read_reply(sock).startswith(b"250")
        sock.sendall(b"STARTTLS\r\n")
        assert read_reply(sock).startswith(b"220 ")
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(200))
        assert attacks.closed_within(sock, WAIT) is not None
    assert a_message_goes_through(smtp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "reset")
def test_client_that_vanishes_mid_message_leaves_nothing_behind(
    smtp_server, local_certificates
):
    def vanish_mid_message():
        context = ssl.create_default_context(cafile=local_certificates.ca_file)
        smtp = smtplib.SMTP(*smtp_server.address, timeout=5)
        smtp.starttls(context=context)
        smtp.login("ada", smtp_server.password)
        smtp.mail("ada@example.com")
        smtp.rcpt("bob@example.org")
        assert smtp.docmd("DATA")[0] == 354
        smtp.send(b"Subject: half a message\r\n\r\nand then\r\n")
        attacks.reset(smtp.sock)  # as a crashed client's kernel does
        smtp.close()

    def vanish_then_send():
        vanish_mid_message()
        assert a_message_goes_through(smtp_server, local_certificates.ca_file)

    # By the time the next message is saved, the half one would have been.
    [received] = received_after(smtp_server, vanish_then_send)
    assert received == b"Subject: hi\r\n\r\nhi\r\n"


@pytest.mark.hostile(SERVER, "reset")
def test_client_that_vanishes_mid_command_does_not_stop_the_server(
    smtp_server, local_certificates
):
    sock = socket.create_connection(smtp_server.address, WAIT)
    assert read_reply(sock).startswith(b"220 ")
    sock.sendall(b"EHLO half-a-na")
    attacks.reset(sock)
    assert a_message_goes_through(smtp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "silent", limit="Time to send a command")
def test_silent_client_is_dropped_and_others_are_served(
    strict_server, local_certificates, record_wait
):
    with socket.create_connection(strict_server.address, WAIT) as silent:
        assert read_reply(silent).startswith(b"220 ")
        # It never says a word; meanwhile the others are served.
        record_wait(
            attacks.served_within(
                WAIT,
                lambda: a_message_goes_through(
                    strict_server, local_certificates.ca_file
                ),
            )
        )
        assert attacks.closed_within(silent, WAIT) is not None


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a command")
def test_slow_drip_command_is_dropped_at_the_deadline(
    strict_server, local_certificates, record_wait
):
    with socket.create_connection(strict_server.address, WAIT) as dripper:
        assert read_reply(dripper).startswith(b"220 ")
        line = b"EHLO " + b"x" * 100 + b"\r\n"
        closed_after = attacks.slow_drip(dripper, line, every=0.1, for_at_most=WAIT)
    assert closed_after is not None
    assert closed_after < TIMEOUT + 1.0
    record_wait(
        attacks.served_within(
            WAIT,
            lambda: a_message_goes_through(strict_server, local_certificates.ca_file),
        )
    )


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a message")
def test_slow_drip_message_is_dropped_at_the_deadline(
    strict_server, local_certificates, record_wait
):
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    closed_after = None

    def drip_a_message():
        nonlocal closed_after
        smtp = smtplib.SMTP(*strict_server.address, timeout=WAIT)
        smtp.starttls(context=context)
        smtp.login("ada", strict_server.password)
        smtp.mail("ada@example.com")
        smtp.rcpt("bob@example.org")
        assert smtp.docmd("DATA")[0] == 354
        # The message, a byte every 0.1 s: each byte comes in time, the
        # whole message never does.
        dripped = b"Subject: slow\r\n\r\n" + b"x" * 100 + b"\r\n.\r\n"
        closed_after = attacks.slow_drip(
            smtp.sock, dripped, every=0.1, for_at_most=WAIT
        )
        smtp.close()

    assert received_after(strict_server, drip_a_message) == []  # nothing saved
    assert closed_after is not None
    assert closed_after < TIMEOUT + 1.0
    record_wait(
        attacks.served_within(
            WAIT,
            lambda: a_message_goes_through(strict_server, local_certificates.ca_file),
        )
    )


@pytest.mark.hostile(SERVER, "garbage", limit="Login attempts")
def test_fourth_login_attempt_ends_the_connection(strict_server, local_certificates):
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with smtplib.SMTP(*strict_server.address, timeout=WAIT) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo()
        replies = [
            smtp.docmd("AUTH", "PLAIN AGFkYQBndWVzcw==")[0]  # "ada", "guess"
            for _ in range(4)
        ]
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    assert replies == [535, 535, 535, 421]
    assert a_message_goes_through(strict_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "non-reading", limit="Commands per connection")
def test_a_client_that_never_reads_its_replies_is_cut_off(
    strict_server, local_certificates, record_wait
):
    before = attacks.memory_of(strict_server.pid)
    with socket.create_connection(strict_server.address, WAIT) as flooder:
        # NOOPs, pipelined, and not one reply read: the server answers 50,
        # then hangs up, so what it holds for this client stays small.
        noops = b"NOOP\r\n" * 10_000
        sent = attacks.fill_without_reading(flooder, noops, rounds=1000)
        assert sent < 1000  # 60 MB would not fit in the buffers: it stopped
        record_wait(
            attacks.served_within(
                WAIT,
                lambda: a_message_goes_through(
                    strict_server, local_certificates.ca_file
                ),
            )
        )
        # Closed (or reset: then the last replies never arrive here).
        said = attacks.read_until_closed(flooder, WAIT)
    assert said.count(b"250 OK\r\n") <= 50
    after = attacks.memory_of(strict_server.pid)
    assert after["VmHWM"] - before["VmRSS"] < 10_000_000


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_flood_of_connections_is_bounded_and_the_server_recovers(
    own_strict_server, local_certificates, record_wait
):
    strict_server = own_strict_server
    with attacks.flood(*strict_server.address, 300) as sockets:
        replies = [greeted(sock) for sock in sockets]
        admitted = [
            s for s, r in zip(sockets, replies, strict=True) if r.startswith(b"220")
        ]
        turned_away = {r for r in replies if not r.startswith(b"220")}
        assert len(sockets) == 300
        assert len(admitted) == MAX_CONNECTIONS
        assert turned_away <= {b"421 4.3.2 Too many connections, try later\r\n"}
        # The admitted ones say nothing: each is dropped at its deadline, and
        # then the next client is served.
        start = time.monotonic()
        for sock in admitted:
            assert attacks.closed_within(sock, WAIT) is not None
        assert a_message_goes_through(strict_server, local_certificates.ca_file)
        record_wait(time.monotonic() - start)


@pytest.mark.hostile(SERVER, "fd exhaustion", limit="Connections at once")
def test_few_file_descriptors_cap_the_connections(
    start_server, local_certificates, tmp_path, import_snippet_once, record_wait
):
    snippet = import_snippet_once(SERVER)
    # One socket per client and a file while a message is saved, and some
    # descriptors in reserve: 24 clients with 64 descriptors.
    capacity = (64 - snippet.FDS_IN_RESERVE) // 2
    arguments = server_arguments(local_certificates, tmp_path, "--timeout", "10")
    low = attacks.low_file_limit(64)
    with start_server(SERVER, *arguments, preexec_fn=low) as running:
        server = MailServer(
            running.host, running.port, tmp_path, snippet.ACCOUNTS["ada"]
        )
        # More than its free descriptors: asyncio's accept() fails once.
        # Stopped, the server accepts nothing: the 80 connections wait in
        # the kernel's queue, and reach it at once when it goes on.
        os.kill(running.process.pid, signal.SIGSTOP)
        try:
            with attacks.flood(*server.address, 80) as sockets:
                os.kill(running.process.pid, signal.SIGCONT)
                # asyncio accepts all it can at once: it runs out of
                # descriptors, stops accepting for a second, then turns the
                # rest away.
                replies = [greeted(sock) for sock in sockets]
                admitted = [
                    s
                    for s, r in zip(sockets, replies, strict=True)
                    if r.startswith(b"220")
                ]
                assert len(admitted) == capacity
                start = time.monotonic()
                for sock in admitted:  # they leave: the server has room again
                    sock.sendall(b"QUIT\r\n")
                    assert b"221 Bye" in attacks.read_until_closed(sock, WAIT)
                assert a_message_goes_through(server, local_certificates.ca_file)
                record_wait(time.monotonic() - start)
        finally:
            os.kill(running.process.pid, signal.SIGCONT)
    assert "socket.accept() out of system resource: OSError(24," in running.output
    assert "Traceback" not in running.output


# --- Real clients drive the server: swaks and curl ------------------------


def swaks_arguments(
    server: MailServer, ca_file: Path, *more: str, password: str | None = None
) -> list[str]:
    """swaks: STARTTLS required, the certificate checked, then a login."""
    return [
        "--server", server.host, "--port", str(server.port),
        "--tls", "--tls-verify", "--tls-ca-path", str(ca_file),
        "--auth-user", "ada", "--auth-password", password or server.password,
        "--from", "ada@example.com", "--to", "bob@example.org",
        "--timeout", "10", *more,
    ]  # fmt: skip


@pytest.mark.interop(SERVER, "swaks", "STARTTLS, AUTH LOGIN and PLAIN, message saved")
@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_swaks_sends_through_the_server(
    mechanism, swaks, smtp_server, local_certificates
):
    arguments = swaks_arguments(
        smtp_server, local_certificates.ca_file, "--auth", mechanism,
        "--header", f"Subject: from swaks, {mechanism}",
    )  # fmt: skip
    result = None

    def run():
        nonlocal result
        result = run_client([swaks, *arguments])

    [saved] = received_after(smtp_server, run)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Subject: from swaks, {mechanism}".encode() in saved


@pytest.mark.interop(SERVER, "swaks", "a wrong password refused with 535")
def test_swaks_with_a_wrong_password_is_refused(swaks, smtp_server, local_certificates):
    arguments = swaks_arguments(
        smtp_server, local_certificates.ca_file, "--auth", "LOGIN",
        password="wrong",  # noqa: S106 (on purpose)
    )  # fmt: skip
    result = None

    def run():
        nonlocal result
        result = run_client([swaks, *arguments])

    saved = received_after(smtp_server, run)
    assert saved == []
    assert result.returncode != 0
    assert "535 5.7.8 Authentication credentials invalid" in result.stdout


@pytest.mark.interop(SERVER, "curl", "SMTP with --ssl-reqd and a login, IPv4 and IPv6")
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_curl_sends_through_the_server(
    family, smtp_server, smtp_server_ipv6, local_certificates, tmp_path
):
    server = smtp_server if family == "ipv4" else smtp_server_ipv6
    host = f"[{server.host}]" if ":" in server.host else server.host
    message = tmp_path / "message.txt"
    message.write_bytes(
        b"From: ada@example.com\r\nTo: bob@example.org\r\n"
        b"Subject: from curl\r\n\r\nHello from curl.\r\n"
    )
    command = [
        require("curl"), "--silent", "--show-error", "--ssl-reqd",
        "--cacert", str(local_certificates.ca_file),
        "--user", f"ada:{server.password}",
        "--mail-from", "ada@example.com", "--mail-rcpt", "bob@example.org",
        "--upload-file", str(message), f"smtp://{host}:{server.port}",
    ]  # fmt: skip
    [saved] = received_after(server, lambda: run_client(command))
    assert saved.endswith(b"Subject: from curl\r\n\r\nHello from curl.\r\n")


# --- The client snippets against another server: Exim --------------------


def exim_arguments(daemon, ca_file: Path | None, host: str = "127.0.0.1"):
    arguments = ["--host", host, "--port", str(daemon.port)]
    return arguments + (["--cafile", str(ca_file)] if ca_file else [])


def delivered(daemon) -> list[mailbox.mboxMessage]:
    """The messages in Exim's mailbox file, once its queue has run."""
    deliver(daemon)
    if not Path(daemon.values["mailbox"]).exists():  # nothing delivered yet
        return []
    # create=False: a file made here would be root's, and Exim's user could
    # not write to it.
    box = mailbox.mbox(daemon.values["mailbox"], create=False)
    try:
        return list(box)
    finally:
        box.close()


@pytest.mark.interop(CLIENT, "exim4", "STARTTLS, login, delivered with its attachment")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_send_program_delivers_through_exim(
    run_program, host, exim_server, local_certificates
):
    before = len(delivered(exim_server))
    result = run_program(
        CLIENT, *exim_arguments(exim_server, local_certificates.ca_file, host),
        env={"SMTP_USER": exim_server.values["user"],
             "SMTP_PASSWORD": exim_server.values["password"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Sent 'Weekly report' to bob@example.org\n"
    messages = delivered(exim_server)
    assert len(messages) == before + 1
    message = email.message_from_bytes(
        messages[-1].as_bytes(), policy=email.policy.default
    )
    assert message["Subject"] == "Weekly report"
    [attachment] = message.iter_attachments()
    assert attachment.get_payload(decode=True) == (
        b"day,orders\r\nMonday,12\r\nTuesday,17\r\n"
    )


@pytest.mark.interop(CLIENT, "exim4", "a refused recipient (relay), in one line")
def test_send_program_says_exim_refused_the_recipient(
    run_program, exim_server, local_certificates
):
    result = run_program(
        CLIENT, *exim_arguments(exim_server, local_certificates.ca_file),
        "--to", "carol@elsewhere.test",
        env={"SMTP_PASSWORD": exim_server.values["password"]},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "Recipient refused: carol@elsewhere.test: 550 Relay access denied\n"
    )


@pytest.mark.interop(
    CLIENT, "exim4", "a wrong password and an untrusted CA, in one line"
)
def test_send_program_failures_against_exim_are_one_line(
    run_program, exim_server, local_certificates
):
    refused = run_program(
        CLIENT, *exim_arguments(exim_server, local_certificates.ca_file),
        env={"SMTP_PASSWORD": "guess"},
    )  # fmt: skip
    assert (
        refused.stderr == "Login refused for 'ada': 535 Incorrect authentication data\n"
    )
    untrusted = run_program(
        CLIENT, *exim_arguments(exim_server, None),
        env={"SMTP_PASSWORD": exim_server.values["password"]},
    )  # fmt: skip
    # Exim sends the CA's certificate too: another verify message.
    assert untrusted.stderr == (
        "Certificate of 127.0.0.1 not trusted (self-signed certificate in"
        " certificate chain): pass --cafile certs/ca.pem (python3"
        " make_local_ca.py makes it)\n"
    )


@pytest.mark.interop(FAILURES, "exim4", "each failure named, in the server's words")
def test_failures_program_against_exim(run_program, exim_server, local_certificates):
    result = run_program(
        FAILURES, *exim_arguments(exim_server, local_certificates.ca_file)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "SMTPAuthenticationError: 535 Incorrect authentication data",
        "SMTPNotSupportedError: SMTP AUTH extension not supported by server.",
        "SSLCertVerificationError: self-signed certificate in certificate chain",
        "ConnectionRefusedError: Connection refused",
    ]


# --- The figure on the page: the dialogue, as the client recorded it -------

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIGURE = DOCS / "protocols/smtp-dialogue.svg"
COLUMNS = 35  # characters on a line of a message that spans the figure
DATE = re.compile(r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} [\d:]{8} [+-]\d{4}")
REPORT = b"day,orders\r\nMonday,12\r\nTuesday,17\r\n"  # what smtp_send.py attaches


def recording_smtp(transcript: list) -> type[smtplib.SMTP]:
    """smtplib.SMTP, noting each line it sends and each reply it reads.

    The notes are taken inside the client, so what crosses the network
    encrypted after STARTTLS is recorded as the client wrote and read it.
    """

    class RecordingSMTP(smtplib.SMTP):
        def send(self, s):
            transcript.append(("client", s if isinstance(s, bytes) else s.encode()))
            super().send(s)

        def getreply(self):
            code, text = super().getreply()
            transcript.append(("server", code, text.decode()))
            return code, text

        def starttls(self, *args, **kwargs):
            reply = super().starttls(*args, **kwargs)
            transcript.append(("tls", self.sock.version(), self.local_hostname))
            return reply

    return RecordingSMTP


def fold(line: str, columns: int = COLUMNS) -> list[str]:
    """A line cut at spaces to fit `columns`; what follows is indented."""
    lines, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > columns:
            lines.append(current)
            current = "  " + word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current]


def reply_lines(code: int, text: str) -> list[str]:
    """A reply as it was on the wire: `250-` on every line but the last."""
    lines = text.split("\n")
    return [f"{code}-{line}" for line in lines[:-1]] + [f"{code} {lines[-1]}"]


def as_before(lines: list[str], earlier: set[str]) -> list[str]:
    """Runs of three lines or more already seen, each as one line."""

    def shown(run: list[str]) -> list[str]:
        return run if len(run) < 3 else [f"{{{len(run)} lines as before}}"]

    result, run = [], []
    for line in lines[:-1]:  # the last line, `250 ...`, ends the reply
        if line in earlier:
            run.append(line)
        else:
            result += [*shown(run), line]
            run = []
    return [*result, *shown(run), lines[-1]]


def message_lines(data: bytes) -> list[str]:
    """The message after DATA: its first headers, the rest summed up, the dot."""
    lines = data.decode().split("\r\n")
    assert lines[-2:] == [".", ""], "the message ends with a line with a dot"
    headers = lines[:5]
    names = [header.partition(":")[0] for header in headers]
    assert names == ["From", "To", "Subject", "Date", "Message-ID"]
    assert base64.b64encode(REPORT).decode() in lines  # the file, encoded
    changing = {"Date": "{date}", "Message-ID": "{unique id}"}
    return [
        f"{name}: {changing[name]}" if name in changing else header
        for name, header in zip(names, headers, strict=True)
    ] + [
        f"{{{len(lines) - 7} more lines: MIME headers,}}",
        "{the text, orders.csv in base64}",
        ".",
    ]


def dialogue_steps(transcript: list, user: str, password: str) -> list:
    """The recorded dialogue as steps of a figure. What changes from run to
    run (dates, sizes, ids) and the credentials are replaced by {names}."""
    _, tls_version, client_name = next(e for e in transcript if e[0] == "tls")
    login = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    steps, seen, after_data = [], set(), False
    for event in transcript:
        if event[0] == "tls":
            steps.append(
                Note(
                    f"TLS handshake ({tls_version}). From here on the"
                    " connection is encrypted: the client recorded what"
                    " follows before encrypting it."
                )
            )
        elif event[0] == "server":
            _, code, text = event
            # Exim: "Hello <the name the client gave> [<its address>]"
            text = DATE.sub("{date}", text).replace(client_name, "{host name}", 1)
            text = re.sub(r"\bid=\S+", "id={queue id}", text)
            lines = reply_lines(code, text)
            steps.append(Message(1, 0, as_before(lines, seen)))
            seen.update(lines)
        elif after_data:
            steps.append(Message(0, 1, message_lines(event[1])))
            after_data = False
        else:
            command = event[1].decode().removesuffix("\r\n")
            assert "\r\n" not in command, "one command at a time"
            if command.startswith("AUTH PLAIN "):
                assert command == f"AUTH PLAIN {login}"
                command = "AUTH PLAIN {user and password, base64}"
            command = re.sub(r" size=\d+$", " size={bytes}", command)
            # smtplib writes "mail from:" on Python 3.13, "mail FROM:" before
            # (SMTP reads both alike): the figure shows one, on every Python.
            command = re.sub(r"^mail from:", "mail FROM:", command)
            command = re.sub(r"^rcpt to:", "rcpt TO:", command)
            after_data = command == "data"
            command = command.replace(client_name, "{host name}")
            steps.append(Message(0, 1, [command]))
    return steps


def folded(steps: list) -> list:
    return [
        Message(step.sender, step.receiver, [p for s in step.lines for p in fold(s)])
        if isinstance(step, Message)
        else step
        for step in steps
    ]


def alt_text(page: Path, figure: Path) -> str:
    """What a screen reader reads for `figure` on `page`.

    The page gives the figure's size too, so the browser keeps its place
    before loading it: the height must be the figure's own."""
    markdown = page.read_text(encoding="utf-8")
    image = re.search(
        rf"!\[(?P<alt>[^\]]+)\]\({re.escape(figure.name)}\)"
        r'\{ width="400" height="(?P<height>\d+)" loading=lazy \}',
        markdown,
    )
    assert image, f"{page.name} does not show {figure.name}"
    svg = figure.read_text(encoding="utf-8")
    assert f'viewBox="0 0 400 {image["height"]}"' in svg, "the height on the page"
    return " ".join(image["alt"].split())


def test_the_dialogue_figure_is_what_the_client_says_to_exim(
    run_program, exim_server, local_certificates, monkeypatch, request
):
    transcript = []
    monkeypatch.setattr(smtplib, "SMTP", recording_smtp(transcript))
    user, password = exim_server.values["user"], exim_server.values["password"]
    result = run_program(
        CLIENT, *exim_arguments(exim_server, local_certificates.ca_file),
        env={"SMTP_USER": user, "SMTP_PASSWORD": password},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = dialogue_steps(transcript, user, password)
    exim = re.search(r"Exim [\d.]+", steps[0].lines[0])[0]  # "Exim 4.96"
    said = [
        f"{'The client' if step.sender == 0 else exim}: {' '.join(step.lines)}."
        if isinstance(step, Message)
        else step.text
        for step in steps
    ]
    svg = sequence_svg(
        "smtp-dialogue",
        f"smtp_send.py sends a message through {exim}",
        "Each command and each reply, in order. " + " ".join(said),
        actors=[Actor("Client", "smtp_send.py"), Actor("Server", exim)],
        steps=folded(steps),
    )
    check_figure(request, FIGURE, svg)
    # The page describes the figure in words, each reply code included.
    described = alt_text(DOCS / "protocols/smtp.md", FIGURE)
    codes = {str(code) for kind, code, *_ in transcript if kind == "server"}
    assert {code for code in codes if code not in described} == set()
