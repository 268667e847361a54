"""A WebSocket echo server over TLS (wss://), with a certificate from a local CA.

Make the certificates first with make_local_ca.py (from the HTTPS page):

    python make_local_ca.py --folder certs
    python secure_echo_server.py
"""

import argparse
import asyncio
import contextlib
import ssl

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
CERT_FILE = "certs/server.pem"  # written by make_local_ca.py
KEY_FILE = "certs/server-key.pem"


async def echo(websocket: ServerConnection) -> None:
    try:
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosedOK:
        pass
    except ConnectionClosedError as error:
        print(f"Connection failed: {error}")


# --8<-- [start:tls]
def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """What the server needs for TLS: its certificate chain and private key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # nothing older
    context.load_cert_chain(cert_file, key_file)
    return context


async def serve_echo(host: str, port: int, context: ssl.SSLContext) -> None:
    # With ssl=..., every connection starts with a TLS handshake: wss://.
    server = await serve(echo, host, port, ssl=context)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    try:
        await server.serve_forever()
    finally:  # cancelled by Ctrl+C, once every connection is closed
        print("Server stopped")


# --8<-- [end:tls]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--cert", default=CERT_FILE, help="certificate chain (PEM)")
    parser.add_argument("--key", default=KEY_FILE, help="private key (PEM)")
    args = parser.parse_args()

    context = tls_context(args.cert, args.key)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops the server
        asyncio.run(serve_echo(args.host, args.port, context))


if __name__ == "__main__":
    main()
