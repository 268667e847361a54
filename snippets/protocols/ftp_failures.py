"""What goes wrong with FTP, and the exception each failure raises.

Start ftp_server.py first, then:

    python3 ftp_failures.py --cafile certs/ca.pem

Against another server, name its user with --user (or FTP_USER). What each
line says after the exception's name is the server's own words.
"""

import argparse
import ftplib
import os
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8021
TIMEOUT = 10.0
USER = "ada"
MAKE_CA = "python3 make_local_ca.py"  # makes certs/ca.pem


def log_in(
    host: str,
    port: int,
    user: str,
    password: str,
    context: ssl.SSLContext | None,
) -> None:
    """Log in over TLS, or in clear text if `context` is None."""
    if context is None:
        ftp = ftplib.FTP(timeout=TIMEOUT)  # noqa: S321 (shows the refusal)
    else:
        ftp = ftplib.FTP_TLS(context=context, timeout=TIMEOUT)  # noqa: S321
    with ftp:
        ftp.connect(host, port)
        ftp.login(user, password)


@contextmanager
def port_without_server(host: str) -> Iterator[int]:
    """A port where no server listens, as after a server has stopped."""
    family = socket.getaddrinfo(host, None)[0][0]
    # Bound, so no other program takes it, but not listening: a connection
    # to it is refused, exactly as it is when the server has gone.
    with socket.socket(family) as placeholder:
        placeholder.bind((host, 0))
        yield placeholder.getsockname()[1]


def describe(error: Exception) -> str:
    """The part of an error that tells a person what happened."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return error.verify_message  # why the certificate was not trusted
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)  # for ftplib's errors: the server's reply


def failure(attempt: Callable[..., object], *args: object) -> str:
    """Run `attempt(*args)`, and say which exception it raised, and why."""
    try:
        attempt(*args)
    except ftplib.all_errors as error:  # network, TLS and FTP errors
        return f"{type(error).__name__}: {describe(error)}"
    return "no error"  # pragma: no cover (each attempt on this page fails)


# --8<-- [start:failures]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cafile", type=Path, help="e.g. certs/ca.pem")
    parser.add_argument("--user", default=os.environ.get("FTP_USER", USER))
    args = parser.parse_args()
    if args.cafile and not args.cafile.is_file():
        sys.exit(f"No CA file {args.cafile}: {MAKE_CA} makes it")
    host, port, user = args.host, args.port, args.user
    ours = ssl.create_default_context(cafile=args.cafile)  # our local CA
    system = ssl.create_default_context()  # the public authorities only

    # A wrong password: the server refuses it, with a reply code.
    print(failure(log_in, host, port, user, "guess", ours))
    #> error_perm: 530 Authentication failed.

    # Plain FTP, without TLS: this server refuses to take a password in clear.
    print(failure(log_in, host, port, user, "guess", None))
    #> error_perm: 550 SSL/TLS required on the control channel.

    # A certificate signed by an authority the client does not trust. The
    # words depend on the server: one that sends its authority's own
    # certificate too says "self-signed certificate in certificate chain".
    print(failure(log_in, host, port, user, "guess", system))
    #> SSLCertVerificationError: unable to get local issuer certificate

    # No server any more.
    with port_without_server(host) as closed_port:
        print(failure(log_in, host, closed_port, user, "guess", ours))
        #> ConnectionRefusedError: Connection refused


# --8<-- [end:failures]
if __name__ == "__main__":
    main()
