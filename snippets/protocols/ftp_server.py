"""An FTP server that requires TLS, to try FTP clients on: one user, a folder.

    python3 make_local_ca.py        # once: the certificates, in certs/
    python3 ftp_server.py

It serves the folder ftp-root/ (--root) to the user "ada".
"""

import argparse
import logging
import sys
import warnings
from pathlib import Path

from OpenSSL import SSL

with warnings.catch_warnings():
    # pyftpdlib 2.2 is built on asyncore and asynchat, which Python 3.10 and
    # 3.11 deprecate when they are imported (3.12 removed them, and pyftpdlib
    # then installs the pyasyncore and pyasynchat packages instead). The
    # warning is about pyftpdlib's code, not ours: silence it there only.
    warnings.filterwarnings(
        "ignore",
        r"The (asyncore|asynchat) module is deprecated",
        DeprecationWarning,
    )
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
    from pyftpdlib.log import logger
    from pyftpdlib.servers import FTPServer

try:
    import resource  # file descriptor limits: Unix only
except ImportError:  # pragma: no cover (Windows)
    resource = None

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8021  # the standard port, 21, needs root
ROOT = Path("ftp-root")
# What make_local_ca.py makes: --cert and --key name others.
CERT_FILE, KEY_FILE = Path("certs/server.pem"), Path("certs/server-key.pem")
# The one account of this test server. DummyAuthorizer keeps passwords in
# memory as given: a real server checks salted hashes instead.
USER, PASSWORD = "ada", "correct horse battery staple"
# Limits, each in the table on the FTP page. Options change them.
COMMAND_TIMEOUT = 60.0  # seconds to send a whole command line
DATA_TIMEOUT = 60.0  # seconds a data connection may move no byte
MAX_CONNECTIONS = 100  # control and data connections, all clients together
MAX_LOGIN_ATTEMPTS = 3  # wrong passwords before we hang up
BACKLOG = 1024  # connections waiting to be accepted (pyftpdlib's: 100)
FAILED_LOGIN_DELAY = 3.0  # seconds before saying "wrong password"
FDS_PER_CLIENT = 3  # control connection, data connection, open file
FDS_IN_RESERVE = 16  # standard streams, the listening socket, the loop


# --8<-- [start:data]
def tls_context(cert_file: Path, key_file: Path, newest: int) -> SSL.Context:
    """A server's TLS settings, from TLS 1.2 up to `newest`."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_max_proto_version(newest)
    context.set_options(SSL.OP_NO_COMPRESSION)  # compression leaks (CRIME)
    context.use_certificate_chain_file(str(cert_file))
    context.use_privatekey_file(str(key_file))
    return context


class DataConnection(TLS_DTPHandler):
    """A data connection: TLS 1.2, and an upload must end with close_notify."""

    def secure_connection(self, ssl_context: SSL.Context) -> None:
        # TLS 1.3 sends session tickets *after* the handshake. A client that
        # only uploads never reads them; when it closes a socket with unread
        # bytes, its kernel sends a reset and throws away what it had not
        # sent yet: lftp's uploads arrived cut short (pyftpdlib issue 602).
        # TLS 1.2 sends its ticket inside the handshake, which is read.
        super().secure_connection(self.cmd_channel.data_tls_context)

    def close(self) -> None:
        # An upload ends when the client closes the connection, so a reset
        # looks like the end of the file. A client that sent it all says so
        # first, with TLS's close_notify: without it, the file is not whole.
        if self.receive and not self._closed and self.cut_short():
            self.transfer_finished = False
            # pyftpdlib 2.2 keeps the reply it will send in _resp.
            self._resp = ("426 Upload cut short: file deleted.", logger.info)
        super().close()

    def cut_short(self) -> bool:
        """True if TLS ended without the client's close_notify."""
        if not self._ssl_established:
            return False  # the handshake failed: pyftpdlib answers 522
        return not self.socket.get_shutdown() & SSL.RECEIVED_SHUTDOWN


# --8<-- [end:data]
# --8<-- [start:control]
class ControlConnection(TLS_FTPHandler):
    """A client's commands; its settings are this class's attributes."""

    dtp_handler = DataConnection
    # Refuse USER and PASS before AUTH TLS, and transfers before PROT P:
    # no password and no file crosses the network in clear text.
    tls_control_required = True
    tls_data_required = True
    banner = "Test FTP server ready"
    # The time allowed for each command line, counted from the previous
    # one (pyftpdlib restarts it on each complete line, not on each byte).
    timeout = COMMAND_TIMEOUT
    max_login_attempts = MAX_LOGIN_ATTEMPTS
    auth_failed_timeout = FAILED_LOGIN_DELAY
    data_tls_context: SSL.Context

    def on_incomplete_file_received(self, file: str) -> None:
        # No half file left behind that looks like a whole one.
        Path(file).unlink(missing_ok=True)


# --8<-- [end:control]
def client_capacity(wanted: int) -> int:
    """How many connections this process has file descriptors for."""
    if resource is None:  # pragma: no cover (Windows)
        return wanted
    available, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(wanted, (available - FDS_IN_RESERVE) // FDS_PER_CLIENT))


# --8<-- [start:server]
def make_server(
    host: str,
    port: int,
    root: Path,
    cert_file: Path,
    key_file: Path,
    limits: argparse.Namespace,
) -> FTPServer:
    authorizer = DummyAuthorizer()
    # e: change folder, l: list, r: download, w: upload; a, d, f, m: append,
    # delete, rename and make folders. No anonymous user. pyftpdlib refuses
    # any path outside `root`, `..` and symbolic links that lead out too.
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmw")

    class Handler(ControlConnection):  # a subclass: these settings are ours
        pass

    Handler.authorizer = authorizer
    control = tls_context(cert_file, key_file, newest=SSL.TLS1_3_VERSION)
    # Data connections: TLS 1.2 at most (DataConnection says why).
    data = tls_context(cert_file, key_file, newest=SSL.TLS1_2_VERSION)
    Handler.ssl_context, Handler.data_tls_context = control, data
    Handler.timeout = limits.command_timeout
    Handler.auth_failed_timeout = limits.failed_login_delay

    class Data(DataConnection):
        timeout = limits.data_timeout  # checked every that many seconds

    Handler.dtp_handler = Data
    # The kernel completes up to `backlog` connections before we accept
    # them: a burst of clients waits there rather than being turned away.
    server = FTPServer((host, port), Handler, backlog=BACKLOG)
    # Beyond this, a new client gets "421 Too many connections" at once.
    # pyftpdlib counts every socket, its listening one included.
    server.max_cons = 1 + client_capacity(limits.max_connections)
    return server


# --8<-- [end:server]
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
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the folder to serve",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--failed-login-delay",
        type=float,
        default=FAILED_LOGIN_DELAY,
    )
    limits.add_argument(
        "--command-timeout",
        type=float,
        default=COMMAND_TIMEOUT,
    )
    limits.add_argument("--data-timeout", type=float, default=DATA_TIMEOUT)
    limits.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    args = parser.parse_args()
    for path in (args.cert, args.key):
        if not path.is_file():
            sys.exit(f"No {path}: python3 make_local_ca.py makes it")

    # pyftpdlib logs each session and command: to stdout, with our lines.
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(message)s",
    )
    args.root.mkdir(parents=True, exist_ok=True)
    server = make_server(
        args.host,
        args.port,
        args.root,
        args.cert,
        args.key,
        limits=args,
    )
    host, port = server.socket.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Listening on {shown}:{port}", flush=True)
    print(f"At most {server.max_cons - 1} connections at once", flush=True)
    # Returns on Ctrl+C, once every connection is closed.
    server.serve_forever()
    print("Server stopped")


if __name__ == "__main__":
    main()
