"""A wss:// client that verifies the server's certificate against a local CA.

It needs the CA's certificate, certs/ca.pem, which make_local_ca.py makes
(python make_local_ca.py --folder certs). Start secure_echo_server.py, then:

    python secure_echo_client.py

Another server: --host and --port, or --url (wss://[::1]:8783/ for IPv6).
"""

import argparse
import asyncio
import ssl
import sys
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosedError,
    InvalidMessage,
    InvalidStatus,
    WebSocketException,
)

HOST = "127.0.0.1"
PORT = 8783
CA_FILE = "certs/ca.pem"  # written by make_local_ca.py
MAKE_IT = "python make_local_ca.py --folder certs"
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:tls]
def tls_context(ca_file: str) -> ssl.SSLContext:
    """Trust the certificates that the CA in `ca_file` signed, no others."""
    # create_default_context() checks the certificate chain and that the
    # certificate names the host we connect to; with cafile, the only CA
    # it trusts is ours. Verification stays on.
    return ssl.create_default_context(cafile=ca_file)


async def echo_securely(
    message: str, uri: str, context: ssl.SSLContext, timeout: float = TIMEOUT
) -> str:
    async with connect(
        uri, ssl=context, open_timeout=timeout, close_timeout=timeout
    ) as websocket:
        await websocket.send(message)
        return await asyncio.wait_for(websocket.recv(), timeout)


# --8<-- [end:tls]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """wss://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"wss://{host}:{port}{path}"


# --8<-- [start:explain]
def explain(error: Exception, uri: str, ca_file: str) -> str:
    """One line that names the real cause of a failure."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"Untrusted server certificate ({error.verify_message}): is "
            f"{ca_file} the CA that signed it?"
        )
    if isinstance(error, ssl.SSLError):  # TLS failed before any certificate
        return f"No TLS at {uri} ({error.reason}): is it a wss:// server?"
    if isinstance(error, ConnectionResetError):  # as a ws:// server does
        return f"{uri} hung up on TLS: is it a wss:// server?"
    if isinstance(error, InvalidStatus):  # an HTTPS server, say
        status = error.response.status_code
        return f"{uri} answered HTTP {status}: not a WebSocket endpoint"
    if isinstance(error, InvalidMessage):  # not even HTTP
        return f"{uri} did not answer in HTTP: not a WebSocket server"
    if isinstance(error, ConnectionClosedError):
        return f"{uri} closed the connection: {error}"
    # A timeout first: TimeoutError is also an OSError, but not "no server".
    if isinstance(error, asyncio.TimeoutError):
        return f"{uri} did not answer in time"
    if isinstance(error, ConnectionRefusedError):
        return f"No server at {uri}: start secure_echo_server.py"
    # no such host, no route... (some errors have no message: then their name)
    return f"Cannot reach {uri}: {error or type(error).__name__}"


# --8<-- [end:explain]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL, instead of the above")
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust")
    args = parser.parse_args()

    if not Path(args.ca_file).is_file():
        sys.exit(f"No CA file {args.ca_file}: make it with {MAKE_IT}")
    try:
        context = tls_context(args.ca_file)
    except ssl.SSLError as error:  # a file that is not a certificate
        sys.exit(f"{args.ca_file} is no CA certificate: {error.reason}")
    uri = args.url or websocket_url(args.host, args.port)
    message = "Hello over TLS! 🔒"
    try:
        reply = asyncio.run(echo_securely(message, uri, context, TIMEOUT))
    except (OSError, asyncio.TimeoutError, WebSocketException) as error:
        sys.exit(explain(error, uri, args.ca_file))
    except ValueError as error:  # a ws:// URL: no TLS to verify
        sys.exit(f"{uri}: {error}")
    # Another server may answer in bytes, or with control characters that
    # a terminal would obey: repr() shows those instead.
    printable = isinstance(reply, str) and reply.isprintable()
    print(reply if printable else repr(reply))
    #> Hello over TLS! 🔒


if __name__ == "__main__":
    main()
