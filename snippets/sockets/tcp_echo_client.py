"""A TCP client: sends one message to the echo server and prints the reply.

Start tcp_echo_server.py first, then:

    python tcp_echo_client.py
"""

import argparse
import socket
import sys

HOST = "127.0.0.1"
PORT = 8765
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


def receive_until_closed(sock: socket.socket) -> bytes:
    """Read until the server closes its side of the connection."""
    chunks = []
    while chunk := sock.recv(64 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


# --8<-- [start:echo]
def echo(message: bytes, host: str = HOST, port: int = PORT) -> bytes:
    """Send `message` to the echo server and return its reply."""
    # The timeout applies to connecting and to every send and receive after it.
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(message)
        # Tell the server the whole message is sent: it then reads b"".
        sock.shutdown(socket.SHUT_WR)
        reply = receive_until_closed(sock)
    # A server that gives up closes the connection too: only the length tells
    # a cut-off reply from a whole one.
    if len(reply) != len(message):
        raise ConnectionError(f"incomplete echo: {len(reply)} of {len(message)} bytes")
    return reply


# --8<-- [end:echo]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    try:
        reply = echo("Hello, TCP! 👋".encode(), args.host, args.port)
    except ConnectionRefusedError:
        sys.exit(f"No server at {args.host}:{args.port}: start tcp_echo_server.py")
    print(reply.decode())
    #> Hello, TCP! 👋


if __name__ == "__main__":
    main()
