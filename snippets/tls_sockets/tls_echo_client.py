"""A TLS client: it checks the server, says what was negotiated, and echoes.

It needs the local CA's certificate, certs/ca.pem, and a running
tls_echo_server.py:

    python3 make_local_ca.py --folder certs
    python3 tls_echo_client.py --ca-file certs/ca.pem

For mutual TLS, add --cert and --key (see make_client_certificate.py).
"""

import argparse
import re
import socket
import ssl
import sys
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8794  # tls_echo_server.py's
CA_FILE = "certs/ca.pem"
TIMEOUT = 10.0  # seconds for the connection, the handshake, and each read
MAX_REPLY = 64 * 1024  # bytes: a reply longer than a line is not an echo


# --8<-- [start:context]
def client_context(
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """Verification on, host names checked: the default context's rules."""
    # With cafile, this CA and no other is trusted; without, the system's.
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file is not None:
        # Mutual TLS: the certificate we present, and the key that proves
        # it is ours.
        context.load_cert_chain(cert_file, key_file)
    return context


# --8<-- [end:context]
# --8<-- [start:negotiated]
def negotiated(tls: ssl.SSLSocket) -> dict[str, str]:
    """What the handshake agreed on, and whom the certificate names."""
    # The handshake has checked this certificate: it is the server's.
    certificate = tls.getpeercert()
    subject = dict(field for rdn in certificate["subject"] for field in rdn)
    # The names a certificate is valid for are in its subjectAltName
    # (SAN); the subject's commonName counts only if it has no SAN.
    names = [value for _kind, value in certificate["subjectAltName"]]
    cipher, _version, _bits = tls.cipher()
    return {
        "TLS version": tls.version(),
        "Cipher": cipher,
        "Subject": subject.get("commonName", "no common name"),
        "Certificate for": ", ".join(names),
    }


# --8<-- [end:negotiated]
def receive_line(tls: ssl.SSLSocket) -> str:
    """The first line the server sends (all it sent, if it closes first)."""
    reply = b""
    while b"\n" not in reply and len(reply) < MAX_REPLY:
        chunk = tls.recv(MAX_REPLY - len(reply))
        if not chunk:
            break
        reply += chunk
    line = reply.partition(b"\n")[0]
    return line.decode("utf-8", "replace").rstrip("\r")


# --8<-- [start:echo]
def echo(
    message: str,
    host: str,
    port: int,
    context: ssl.SSLContext,
    server_name: str | None = None,
    timeout: float = TIMEOUT,
) -> tuple[dict[str, str], str]:
    """Send one line over TLS; return what was negotiated, and the reply."""
    # server_hostname is the name the certificate must be valid for (and,
    # for a host name, the SNI that tells the server which certificate to
    # present). The handshake happens in wrap_socket().
    name = server_name or host
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        details = negotiated(tls)
        tls.sendall(message.encode() + b"\n")
        reply = receive_line(tls)
    return details, reply


# --8<-- [end:echo]
# --8<-- [start:failure]
SOURCE_LINE = re.compile(r" \(_ssl\.c:\d+\)$")
# What OpenSSL says when the first bytes back are not TLS (3.2 and later
# say "record layer failure"; before, "wrong version number").
NOT_TLS = ("wrong version number", "record layer failure")


def failure(error: OSError, timeout: float = TIMEOUT) -> str:
    """What went wrong, in one line that names the cause."""
    if isinstance(error, ssl.SSLCertVerificationError):
        # Unknown CA, wrong name, expired: OpenSSL's reason, in its words.
        return f"certificate not trusted: {error.verify_message}"
    if any(words in str(error) for words in NOT_TLS):
        return "the server does not speak TLS on that port"
    if isinstance(error, ssl.SSLEOFError):
        return "the server closed the connection in the middle of TLS"
    if isinstance(error, ssl.SSLError):  # e.g. an alert from the server
        return f"TLS failed: {SOURCE_LINE.sub('', str(error))}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: is tls_echo_server.py running?"
    if isinstance(error, ConnectionResetError):
        return "connection reset: the server may have too many clients"
    if isinstance(error, TimeoutError):
        return f"no answer in {timeout} s"
    if isinstance(error, socket.gaierror):
        return f"unknown host name: {error.strerror}"
    return f"{type(error).__name__}: {error}"


# --8<-- [end:failure]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust")
    parser.add_argument("--server-name", help="default: the --host")
    parser.add_argument("--cert", help="client certificate (mutual TLS)")
    parser.add_argument("--key", help="its private key")
    parser.add_argument("--message", default="Hello, TLS!")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    # A missing file: say which command makes it, not a traceback.
    makers = {
        args.ca_file: "make_local_ca.py --folder certs",
        args.cert: "make_client_certificate.py --folder certs",
        args.key: "make_client_certificate.py --folder certs",
    }
    for path, maker in makers.items():
        if path is not None and not Path(path).is_file():
            sys.exit(f"No file {path}: make it with python3 {maker}")
    context = client_context(args.ca_file, args.cert, args.key)
    try:
        details, reply = echo(
            args.message, args.host, args.port, context,
            args.server_name, args.timeout,
        )  # fmt: skip
    except OSError as error:
        reason = failure(error, args.timeout)
        sys.exit(f"{args.host} port {args.port}: {reason}")
    # --8<-- [start:output]
    for name, value in details.items():
        print(f"{name}: {value}")
        #> TLS version: TLSv1.3
        #> Cipher: TLS_AES_256_GCM_SHA384
        #> Subject: no common name
        #> Certificate for: 127.0.0.1, 0:0:0:0:0:0:0:1, localhost
    print(f"Echo: {reply}")
    #> Echo: Hello, TLS!

    # --8<-- [end:output]


if __name__ == "__main__":
    main()
