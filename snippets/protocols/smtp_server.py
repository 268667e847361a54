"""An SMTP server to send test mail to: STARTTLS, login, and each message kept.

It takes mail only from clients that switch to TLS and log in, and delivers
none: it saves each message, byte for byte as received, in a folder.

    python3 make_local_ca.py        # once: the certificates, in certs/
    python3 smtp_server.py
"""

import argparse
import asyncio
import hashlib
import hmac
import logging
import secrets
import ssl
import sys
import uuid
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8025  # the standard ports (25, 587) need root: 8025 stands in
MAILBOX = Path("mailbox")
# What make_local_ca.py makes: --cert and --key name others.
CERT_FILE, KEY_FILE = Path("certs/server.pem"), Path("certs/server-key.pem")
# The one account of this test server. A real server keeps salted hashes
# (hashlib.scrypt), never the passwords themselves.
ACCOUNTS = {"ada": "correct horse battery staple"}
# What an unknown user's password is compared with: a refusal then takes as
# long for a name that does not exist as for a wrong password.
NOBODY_PASSWORD = secrets.token_hex(32)
# Limits, each in the table on the SMTP page. Options change them.
MAX_MESSAGE_SIZE = 10 * 1024 * 1024  # bytes; bigger is refused (552)
COMMAND_TIMEOUT = 60.0  # seconds to send each command, or a whole message
MAX_CONNECTIONS = 100  # clients at once
MAX_LOGIN_ATTEMPTS = 3  # AUTH commands per connection
MAX_COMMANDS = 50  # of each kind (NOOP, MAIL...) per connection
BACKLOG = 1024  # connections waiting to be accepted (asyncio's: 100)
FDS_IN_RESERVE = 16  # standard streams, the listening socket, the loop
LAST_REPORTED: dict[str, float] = {}  # when each loop error was printed


# --8<-- [start:password]
def passwords_match(given: bytes, expected: str) -> bool:
    """Compare in a time that says nothing about where they differ."""
    # compare_digest takes as long for a wrong first letter as for a wrong
    # last one; comparing digests, of one length, hides the length too.
    return hmac.compare_digest(
        hashlib.sha256(given).digest(),
        hashlib.sha256(expected.encode()).digest(),
    )


def check_password(
    server: SMTP,
    session: Session,
    envelope: Envelope,
    mechanism: str,  # LOGIN or PLAIN: both give a user name and a password
    auth_data: LoginPassword,
) -> AuthResult:
    """aiosmtpd authenticator: accept a known user with the right password."""
    user = auth_data.login.decode("utf-8", "replace")
    # The same work whether the user exists or not: an unknown name is
    # compared with a password nobody has, rather than refused at once.
    expected = ACCOUNTS.get(user, NOBODY_PASSWORD)
    matches = passwords_match(auth_data.password, expected)
    valid = matches and user in ACCOUNTS
    shown = "accepted" if valid else "refused"
    print(f"Login {shown} for {user!r}", flush=True)
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
        """Log a failed session in one line, not aiosmtpd's traceback."""
        cause = error.__cause__ or error  # a failed TLS handshake: wrapped
        print(f"Session failed: {type(cause).__name__}: {cause}", flush=True)
        return "451 4.3.0 Error in processing, try again later"


# --8<-- [end:handler]
def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """What the server needs for STARTTLS: its certificate and private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


# --8<-- [start:limits]
class TooBusy(asyncio.Protocol):
    """What a client beyond the connection limit gets: one line, goodbye."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"421 4.3.2 Too many connections, try later\r\n")
        transport.close()


class CountedSMTP(SMTP):
    """aiosmtpd's SMTP protocol, in a set of open connections while open."""

    def __init__(self, connections: set, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connections = connections
        connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.connections.discard(self)
        super().connection_lost(error)


# --8<-- [end:limits]


def client_capacity(wanted: int) -> int:
    """How many connections this process has file descriptors for."""
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover (Windows)
        return wanted
    available, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # One socket per client, and a file while a message is saved.
    return max(1, min(wanted, (available - FDS_IN_RESERVE) // 2))


def report_loop_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """One line for an error no session catches, not a traceback."""
    # Out of file descriptors, asyncio reports each accept() that fails,
    # up to one per waiting client: once a second is enough.
    message = context["message"]
    if loop.time() - LAST_REPORTED.get(message, -1.0) >= 1.0:
        LAST_REPORTED[message] = loop.time()
        print(f"{message}: {context.get('exception')!r}", flush=True)


# --8<-- [start:serve]
async def serve(
    host: str,
    port: int,
    context: ssl.SSLContext,
    mailbox: Path,
    limits: argparse.Namespace,
) -> None:
    loop = asyncio.get_running_loop()
    # Out of file descriptors, asyncio stops accepting for a second and
    # logs a traceback: one line is enough.
    loop.set_exception_handler(report_loop_error)
    handler = SaveToFolder(mailbox)
    connections: set[CountedSMTP] = set()
    capacity = client_capacity(limits.max_connections)

    def new_connection() -> asyncio.Protocol:  # one protocol per connection
        if len(connections) >= capacity:
            return TooBusy()
        return CountedSMTP(
            connections,
            handler,
            hostname="localhost",  # the name in the greeting; no DNS lookup
            tls_context=context,
            require_starttls=True,  # nothing but EHLO and STARTTLS before TLS
            auth_required=True,  # no mail without a login
            auth_require_tls=True,  # and no password over a clear connection
            authenticator=check_password,
            data_size_limit=limits.max_size,
            # aiosmtpd restarts this clock on each command it recognises,
            # not on each byte: it bounds a whole line, or a whole message
            # after DATA, not only a silence.
            timeout=limits.timeout,
            command_call_limit={
                "AUTH": MAX_LOGIN_ATTEMPTS,
                "*": MAX_COMMANDS,
            },
            loop=loop,
        )

    # backlog: connections the kernel completes before we accept them; a
    # burst of clients waits there rather than being turned away.
    server = await loop.create_server(
        new_connection,
        host,
        port,
        backlog=BACKLOG,
    )
    host, port = server.sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Listening on {shown}:{port}", flush=True)
    print(f"At most {capacity} connections at once", flush=True)
    try:
        # Not server.serve_forever(): on Ctrl+C it would wait for every
        # client to leave (Python 3.12 and later), an idle one included.
        await loop.create_future()  # never done
    finally:  # Ctrl+C: stop listening, then hang up on connected clients
        server.close()
        for connection in list(connections):
            if connection.transport is not None:
                connection.transport.close()
        await server.wait_closed()


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument(
        "--port",
        type=int,
        default=PORT,
        help="0 picks a free port",
    )
    parser.add_argument("--cert", type=Path, default=CERT_FILE)
    parser.add_argument("--key", type=Path, default=KEY_FILE)
    parser.add_argument("--mailbox", type=Path, default=MAILBOX)
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-size", type=int, default=MAX_MESSAGE_SIZE)
    limits.add_argument("--timeout", type=float, default=COMMAND_TIMEOUT)
    limits.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    args = parser.parse_args()
    for path in (args.cert, args.key):
        if not path.is_file():
            sys.exit(f"No {path}: python3 make_local_ca.py makes it")

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
        asyncio.run(serve(args.host, args.port, context, args.mailbox, args))
    except KeyboardInterrupt:
        print("Server stopped")


if __name__ == "__main__":
    main()
