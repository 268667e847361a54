"""A wss:// client that verifies the server's certificate against a local CA.

Start secure_echo_server.py first, then:

    python secure_echo_client.py
"""

import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.client import connect

HOST = "127.0.0.1"
PORT = 8765
CA_FILE = "certs/ca.pem"  # written by make_local_ca.py
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:tls]
def tls_context(ca_file: str) -> ssl.SSLContext:
    """Trust the certificates that the CA in `ca_file` signed, and no others."""
    # create_default_context() checks the certificate chain and that the
    # certificate names the host we connect to; with cafile, the only CA
    # it trusts is ours. Verification stays on.
    return ssl.create_default_context(cafile=ca_file)


async def echo_securely(message: str, uri: str, context: ssl.SSLContext) -> str:
    async with connect(uri, ssl=context, open_timeout=TIMEOUT) as websocket:
        await websocket.send(message)
        return await asyncio.wait_for(websocket.recv(), TIMEOUT)


# --8<-- [end:tls]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust (PEM)")
    args = parser.parse_args()

    uri = f"wss://{args.host}:{args.port}/"
    context = tls_context(args.ca_file)
    try:
        reply = asyncio.run(echo_securely("Hello over TLS! 🔒", uri, context))
    except ssl.SSLCertVerificationError as error:
        sys.exit(
            f"Untrusted server certificate ({error.verify_message}): is "
            f"{args.ca_file} the CA that signed it?"
        )
    except OSError:  # ConnectionRefusedError and the like
        sys.exit(f"No server at {uri}: start secure_echo_server.py")
    print(reply)
    #> Hello over TLS! 🔒


if __name__ == "__main__":
    main()
