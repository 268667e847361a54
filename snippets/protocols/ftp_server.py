"""An FTP server that requires TLS, to try FTP clients on: one account, one folder.

    python make_local_ca.py        # once: the certificates, in certs/
    python ftp_server.py --cert certs/server.pem --key certs/server-key.pem

It serves the folder ftp-root/ (--root) to the user "ada".
"""

import argparse
import logging
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # pyftpdlib 2.2 is built on asyncore and asynchat, which Python 3.10 and
    # 3.11 deprecate when they are imported (3.12 removed them, and pyftpdlib
    # then installs the pyasyncore and pyasynchat packages instead). The
    # warning is about pyftpdlib's code, not ours: silence it there only.
    warnings.filterwarnings(
        "ignore", r"The (asyncore|asynchat) module is deprecated", DeprecationWarning
    )
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8021  # the standard port, 21, needs root
ROOT = Path("ftp-root")
# The one account of this test server. DummyAuthorizer keeps passwords in
# memory as given: a real server checks salted hashes instead.
USER, PASSWORD = "ada", "correct horse battery staple"
CLIENT_TIMEOUT = 60  # seconds a client may stay idle before we hang up
FAILED_LOGIN_DELAY = 3.0  # seconds before saying "wrong password": slows guessing


# --8<-- [start:server]
def make_server(
    host: str,
    port: int,
    root: Path,
    cert_file: Path,
    key_file: Path,
    failed_login_delay: float = FAILED_LOGIN_DELAY,
) -> FTPServer:
    authorizer = DummyAuthorizer()
    # e: change folder, l: list, r: download, w: upload; a, d, f, m: append,
    # delete, rename and make folders. No anonymous user.
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmw")

    class Handler(TLS_FTPHandler):  # a subclass: its settings are ours alone
        pass

    Handler.authorizer = authorizer
    Handler.certfile, Handler.keyfile = str(cert_file), str(key_file)
    # Refuse USER and PASS before AUTH TLS, and file transfers before PROT P:
    # no password and no file crosses the network in clear text.
    Handler.tls_control_required = True
    Handler.tls_data_required = True
    Handler.timeout = CLIENT_TIMEOUT
    Handler.auth_failed_timeout = failed_login_delay
    Handler.banner = "Test FTP server ready"
    return FTPServer((host, port), Handler)


# --8<-- [end:server]
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
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder to serve")
    parser.add_argument("--failed-login-delay", type=float, default=FAILED_LOGIN_DELAY)
    args = parser.parse_args()

    # pyftpdlib logs each session and command: to stdout, with our lines.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    args.root.mkdir(parents=True, exist_ok=True)
    server = make_server(
        args.host, args.port, args.root, args.cert, args.key, args.failed_login_delay
    )
    host, port = server.socket.getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    # Returns on Ctrl+C, once every connection is closed.
    server.serve_forever()
    print("Server stopped")


if __name__ == "__main__":
    main()
