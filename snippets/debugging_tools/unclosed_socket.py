"""A client with a bug that Python's development mode reports: a leaked socket.

Start tcp_echo_server.py first, then:

    python3 -X dev unclosed_socket.py
    python3 -X dev -X tracemalloc=5 unclosed_socket.py   # where it was made

The fix is one line: `with socket.create_connection(...) as sock:`, as in
tcp_echo_client.py.
"""

import argparse
import socket
import sys

HOST = "127.0.0.1"
PORT = 8765  # tcp_echo_server.py's
TIMEOUT = 5.0  # seconds for the connection and each read


# --8<-- [start:leak]
def echo_once(message: bytes, host: str, port: int) -> bytes:
    """Send one message to the echo server and return its reply."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.sendall(message)
    sock.shutdown(socket.SHUT_WR)  # the whole message is sent
    chunks = []
    while chunk := sock.recv(64 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)  # the bug: the socket is never closed


# --8<-- [end:leak]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    where = f"{args.host}:{args.port}"
    try:
        reply = echo_once(b"Hello", args.host, args.port)
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start tcp_echo_server.py")
    except OSError as error:  # timed out, reset: say which
        sys.exit(f"No echo from {where}: {error}")
    print(reply.decode())


if __name__ == "__main__":
    main()
