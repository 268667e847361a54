"""An SMTP server to send test mail to: STARTTLS, login, and each message kept.

It takes mail only from clients that switch to TLS and log in, and delivers
none: it saves each message, byte for byte as received, in a folder.

    python make_local_ca.py        # once: the certificates, in certs/
    python smtp_server.py --cert certs/server.pem --key certs/server-key.pem
"""

import argparse
import asyncio
import hmac
import logging
import ssl
import sys
import uuid
import weakref
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8025  # the standard ports (25, 587) need root: 8025 is the usual stand-in
MAILBOX = Path("mailbox")
# The one account of this test server. A real server keeps salted hashes
# (hashlib.scrypt), never the passwords themselves.
ACCOUNTS = {"ada": "correct horse battery staple"}
MAX_MESSAGE_SIZE = 10 * 1024 * 1024  # bytes; a bigger message is refused (552)
CLIENT_TIMEOUT = 60.0  # seconds a client may stay silent before we hang up


# --8<-- [start:password]
def check_password(
    server: SMTP,
    session: Session,
    envelope: Envelope,
    mechanism: str,  # LOGIN or PLAIN: both give a user name and a password
    auth_data: LoginPassword,
) -> AuthResult:
    """aiosmtpd authenticator: accept a known user with the right password."""
    user = auth_data.login.decode("utf-8", "replace")
    expected = ACCOUNTS.get(user, "").encode()
    # compare_digest takes as long for a wrong first letter as for a wrong
    # last one: the time of a refusal tells an attacker nothing.
    valid = bool(expected) and hmac.compare_digest(auth_data.password, expected)
    print(f"Login {'accepted' if valid else 'refused'} for {user!r}", flush=True)
    return AuthResult(success=valid, handled=False)


# --8<-- [end:password]
# --8<-- [start:handler]
class SaveToFolder:
    """aiosmtpd handler: save each message in a folder, exactly as received."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        # A real server refuses what it cannot deliver. Here: the reserved
        # top-level domain .invalid (RFC 2606), which no address can exist in.
        if address.lower().endswith(".invalid"):
            return "550 5.1.2 No such domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        path = self.folder / f"{uuid.uuid4()}.eml"
        path.write_bytes(envelope.original_content)
        recipients = ", ".join(envelope.rcpt_tos)
        print(
            f"Saved {path.name}: {len(envelope.original_content)} bytes"
            f" from {envelope.mail_from} to {recipients}",
            flush=True,
        )
        return "250 Message accepted for delivery"

    async def handle_exception(self, error: Exception) -> str:
        """Log a failed session in one line, where aiosmtpd logs a traceback."""
        cause = error.__cause__ or error  # a failed TLS handshake comes wrapped
        print(f"Session failed: {type(cause).__name__}: {cause}", flush=True)
        return "451 4.3.0 Error in processing, try again later"


# --8<-- [end:handler]
def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """What the server needs for STARTTLS: its certificate and private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


# --8<-- [start:serve]
async def serve(
    host: str, port: int, context: ssl.SSLContext, mailbox: Path, max_size: int
) -> None:
    loop = asyncio.get_running_loop()
    handler = SaveToFolder(mailbox)
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()  # the open connections

    def new_session() -> SMTP:  # one SMTP protocol object per connection
        session = SMTP(
            handler,
            hostname="localhost",  # the name in the greeting; no DNS lookup
            tls_context=context,
            require_starttls=True,  # no command but EHLO and STARTTLS before TLS
            auth_required=True,  # no mail without a login
            auth_require_tls=True,  # and no password over a clear connection
            authenticator=check_password,
            data_size_limit=max_size,
            timeout=CLIENT_TIMEOUT,
            loop=loop,
        )
        sessions.add(session)
        return session

    server = await loop.create_server(new_session, host, port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    try:
        # Not server.serve_forever(): on Ctrl+C it would wait for every
        # client to leave (Python 3.12 and later), an idle one included.
        await loop.create_future()  # never done
    finally:  # Ctrl+C: stop listening, then hang up on connected clients
        server.close()
        for session in list(sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument(
        "--cert", type=Path, required=True, help="e.g. certs/server.pem"
    )
    parser.add_argument(
        "--key", type=Path, required=True, help="e.g. certs/server-key.pem"
    )
    parser.add_argument("--mailbox", type=Path, default=MAILBOX)
    parser.add_argument("--max-size", type=int, default=MAX_MESSAGE_SIZE)
    args = parser.parse_args()

    # aiosmtpd logs a client's errors with `logging`: to stdout, with ours.
    logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")
    # aiosmtpd 1.4 warns on every login that one of its own attributes is
    # deprecated: nothing a user of the library can fix, so not worth a line.
    logging.getLogger("mail.log").addFilter(
        lambda record: "login_data is deprecated" not in record.getMessage()
    )
    args.mailbox.mkdir(parents=True, exist_ok=True)
    context = tls_context(args.cert, args.key)
    try:
        asyncio.run(serve(args.host, args.port, context, args.mailbox, args.max_size))
    except KeyboardInterrupt:
        print("Server stopped")


if __name__ == "__main__":
    main()
