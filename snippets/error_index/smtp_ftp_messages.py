"""What smtplib and ftplib raise when a server refuses, each on loopback.

    python3 -m pip install "aiosmtpd==1.4.6" "pyftpdlib==2.2.0"
    python3 -m pip install "trustme==1.2.1"
    python3 smtp_ftp_messages.py

An SMTP server (aiosmtpd, with STARTTLS from a local CA made by trustme) and
an FTP server (pyftpdlib, in a thread) run on free ports of 127.0.0.1.
"""

import asyncio
import ftplib
import hmac
import io
import logging
import smtplib
import ssl
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import trustme
from aiosmtpd.smtp import SMTP, AuthResult

with warnings.catch_warnings():
    # pyftpdlib 2.2 imports asyncore and asynchat, which Python 3.10 and
    # 3.11 deprecate: a warning about pyftpdlib's code, not ours.
    warnings.filterwarnings(
        "ignore", r"The (asyncore|asynchat) module", DeprecationWarning
    )
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

from message_text import last_line

USER, PASSWORD = "ada", "correct horse battery staple"
TIMEOUT = 5.0  # seconds for each connection and reply


class RelaysNothing:
    """aiosmtpd handler: refuses every recipient, as a server does for the
    domains it does not deliver to, to a client that has not logged in."""

    async def handle_RCPT(self, server, session, envelope, address, options):
        return "550 5.7.1 Relay access denied"


def check_password(server, session, envelope, mechanism, auth_data):
    right = auth_data.login == USER.encode() and hmac.compare_digest(
        auth_data.password, PASSWORD.encode()
    )
    return AuthResult(success=right, handled=False)  # aiosmtpd replies


# --8<-- [start:smtp]
def smtp_refusals(port: int, ca: trustme.CA) -> Iterator[str]:
    context = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as smtp:
        try:  # before STARTTLS, the server offers no login
            smtp.login(USER, PASSWORD)
        except smtplib.SMTPNotSupportedError as error:
            yield last_line(error)
        smtp.starttls(context=context)
        try:
            smtp.login(USER, "a wrong password")
        except smtplib.SMTPAuthenticationError as error:
            yield last_line(error)
        try:  # a recipient the server does not deliver to
            to = ["carol@elsewhere.test"]
            smtp.sendmail("ada@example.org", to, "Subject: Hi\n\nHello")
        except smtplib.SMTPRecipientsRefused as error:
            yield last_line(error)


# --8<-- [end:smtp]
async def with_smtp_server() -> list[str]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    loop = asyncio.get_running_loop()

    def new_connection() -> SMTP:
        return SMTP(
            RelaysNothing(),
            hostname="localhost",  # the name in its greeting: no DNS lookup
            tls_context=context,
            authenticator=check_password,
            loop=loop,
        )

    server = await loop.create_server(new_connection, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        # smtplib blocks: it runs in a thread, while the loop serves.
        return await asyncio.to_thread(list, smtp_refusals(port, ca))


# --8<-- [start:ftp]
def ftp_refusals(port: int) -> Iterator[str]:
    # Plain FTP, on loopback: the FTP page adds TLS, and the replies to
    # these mistakes are the same.
    with ftplib.FTP(timeout=TIMEOUT) as ftp:  # noqa: S321
        ftp.connect("127.0.0.1", port)
        try:
            ftp.login(USER, "a wrong password")
        except ftplib.error_perm as error:
            yield last_line(error)
        ftp.login(USER, PASSWORD)
        try:  # a file that is not there
            ftp.retrbinary("RETR missing.txt", print)
        except ftplib.error_perm as error:
            yield last_line(error)
        try:  # an upload, for a user who may only read
            ftp.storbinary("STOR notes.txt", io.BytesIO(b"Hello"))
        except ftplib.error_perm as error:
            yield last_line(error)


# --8<-- [end:ftp]
@contextmanager
def ftp_server(folder: str) -> Iterator[int]:
    """pyftpdlib in a thread: one user, who may list and read `folder`."""
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, folder, perm="elr")  # read only
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    handler.auth_failed_timeout = 0  # no pause after a wrong password
    server = FTPServer(("127.0.0.1", 0), handler)
    # A handler of our own, which discards: pyftpdlib would print its log.
    logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():  # one turn of its loop at a time
            server.serve_forever(timeout=0.01, blocking=False)
        server.close_all()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield server.address[1]
    finally:
        stop.set()
        thread.join()


def main() -> None:
    for message in asyncio.run(with_smtp_server()):
        print(message)
    with tempfile.TemporaryDirectory() as folder, ftp_server(folder) as port:
        for message in ftp_refusals(port):
            print(message)


if __name__ == "__main__":
    main()
