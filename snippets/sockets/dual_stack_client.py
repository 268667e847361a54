"""Connect to the dual-stack echo server over IPv6 and over IPv4.

Start dual_stack_server.py first, then:

    python3 dual_stack_client.py
"""

import argparse
import socket
import sys

HOSTS = ["::1", "127.0.0.1"]  # the loopback address of each family
PORT = 8768
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:echo]
def echo(
    message: bytes,
    host: str,
    port: int = PORT,
    timeout: float = TIMEOUT,
) -> tuple[str, bytes]:
    """Send `message`; return the address family used and the reply."""
    # create_connection() looks the host up with getaddrinfo(): "::1" gives
    # an AF_INET6 socket, "127.0.0.1" an AF_INET one. The code is the same.
    with socket.create_connection((host, port), timeout=timeout) as sock:
        family = sock.family.name
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(64 * 1024):
            chunks.append(chunk)
    reply = b"".join(chunks)
    if len(reply) != len(message):
        cut = f"incomplete echo: {len(reply)} of {len(message)} bytes"
        raise ConnectionError(cut)
    return family, reply


# --8<-- [end:echo]
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets: [::1]:8768."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="repeat: one each")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    for host in args.host or HOSTS:
        where = address(host, args.port)
        try:
            greeting = "Hello, IPv6 👋".encode()
            family, reply = echo(greeting, host, args.port, args.timeout)
        except ConnectionRefusedError:
            sys.exit(f"No server at {where}: start dual_stack_server.py")
        except TimeoutError:  # it listens, but did not answer in time
            sys.exit(f"{where} did not answer within {args.timeout} s")
        except OSError as error:  # a reset, a cut-off echo, a bad address
            sys.exit(f"Echo from {where} failed: {error.strerror or error}")
        # --8<-- [start:print]
        print(f"{host:>9} over {family}: {reply.decode()}")
        #>       ::1 over AF_INET6: Hello, IPv6 👋
        #> 127.0.0.1 over AF_INET: Hello, IPv6 👋
        # --8<-- [end:print]


if __name__ == "__main__":
    main()
