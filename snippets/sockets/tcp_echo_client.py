"""A TCP client: sends one message to the echo server and prints the reply.

Start tcp_echo_server.py first, then:

    python3 tcp_echo_client.py
    python3 tcp_echo_client.py --host ::1 --port 8765    # over IPv6
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
def echo(
    message: bytes,
    host: str = HOST,
    port: int = PORT,
    timeout: float = TIMEOUT,
) -> bytes:
    """Send `message` to the echo server and return its reply."""
    # The timeout applies to connecting, and to each send and receive after.
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(message)
        # Tell the server the whole message is sent: it then reads b"".
        sock.shutdown(socket.SHUT_WR)
        reply = receive_until_closed(sock)
    # A server that gives up closes the connection too: only the length tells
    # a cut-off reply from a whole one.
    if len(reply) != len(message):
        cut = f"incomplete echo: {len(reply)} of {len(message)} bytes"
        raise ConnectionError(cut)
    return reply


# --8<-- [end:echo]
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets: [::1]:8765."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    # --8<-- [start:errors]
    where = address(args.host, args.port)
    try:
        greeting = "Hello, TCP! 👋".encode()
        reply = echo(greeting, args.host, args.port, args.timeout)
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start tcp_echo_server.py")
    except TimeoutError:  # it listens, but did not answer in time
        sys.exit(f"{where} did not answer within {args.timeout} s")
    except OSError as error:  # a reset, a cut-off echo, an unknown name
        sys.exit(f"Echo from {where} failed: {error.strerror or error}")
    print(reply.decode())
    #> Hello, TCP! 👋
    # --8<-- [end:errors]


if __name__ == "__main__":
    main()
