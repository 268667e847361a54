"""Connect to the dual-stack echo server over IPv6 and over IPv4.

Start dual_stack_server.py first, then:

    python dual_stack_client.py
"""

import argparse
import socket
import sys

HOSTS = ["::1", "127.0.0.1"]  # the loopback address of each family
PORT = 8768
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:echo]
def echo(message: bytes, host: str, port: int = PORT) -> tuple[str, bytes]:
    """Send `message`; return the address family used and the reply."""
    # create_connection() looks the host up with getaddrinfo(): "::1" gives an
    # AF_INET6 socket, "127.0.0.1" an AF_INET one. The code is the same.
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        family = sock.family.name
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(64 * 1024):
            chunks.append(chunk)
    reply = b"".join(chunks)
    if len(reply) != len(message):
        raise ConnectionError(f"incomplete echo: {len(reply)} of {len(message)} bytes")
    return family, reply


# --8<-- [end:echo]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="repeat for more addresses")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    for host in args.host or HOSTS:
        try:
            family, reply = echo("Hello, IPv6 👋".encode(), host, args.port)
        except ConnectionRefusedError:
            sys.exit(
                f"No server at {host} port {args.port}: start dual_stack_server.py"
            )
        print(f"{host:>9} over {family}: {reply.decode()}")
        #>       ::1 over AF_INET6: Hello, IPv6 👋
        #> 127.0.0.1 over AF_INET: Hello, IPv6 👋


if __name__ == "__main__":
    main()
