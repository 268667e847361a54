"""A UDP client: sends a datagram to the echo server, retries if no reply.

Start udp_echo_server.py first, then:

    python3 udp_echo_client.py
    python3 udp_echo_client.py --host ::1    # over IPv6
"""

import argparse
import socket
import sys

HOST = "127.0.0.1"
PORT = 8766
TIMEOUT = 0.5  # seconds to wait for the first reply; doubled at each retry
ATTEMPTS = 3  # UDP loses datagrams: try this many times before giving up
MAX_DATAGRAM_SIZE = 4096


class NoReply(TimeoutError):
    """Every attempt timed out: no server, or every datagram was lost."""


# --8<-- [start:echo]
def echo(
    message: bytes,
    host: str = HOST,
    port: int = PORT,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
) -> bytes:
    """Send `message` in one datagram; return the reply. Retry on silence."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, peer = found[0]  # AF_INET6 for "::1"
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        # connect() on UDP sends nothing: it fixes the peer, so send() needs
        # no address, and the kernel drops datagrams from anyone else.
        sock.connect(peer)
        for _attempt in range(attempts):
            sock.settimeout(timeout)
            sock.send(message)
            try:
                return sock.recv(MAX_DATAGRAM_SIZE)
            except TimeoutError:
                timeout *= 2  # back off: a busy server or network needs room
    where = address(host, port)
    raise NoReply(f"no reply from {where} after {attempts} attempts")


# --8<-- [end:echo]
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets: [::1]:8766."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    parser.add_argument("--attempts", type=int, default=ATTEMPTS)
    args = parser.parse_args()

    message = "Hello, UDP! 👋".encode()
    host, port = args.host, args.port
    where = address(host, port)
    # --8<-- [start:report]
    try:
        reply = echo(message, host, port, args.timeout, args.attempts)
    # On a connected UDP socket, the "port unreachable" answer of the peer's
    # machine is raised by the next recv(); across networks it is often lost.
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start udp_echo_server.py")
    except NoReply as error:
        sys.exit(f"{error}: is udp_echo_server.py running?")
    except OSError as error:  # an unknown name, a datagram too large...
        sys.exit(f"Echo from {where} failed: {error.strerror or error}")
    print(reply.decode())
    #> Hello, UDP! 👋
    # --8<-- [end:report]


if __name__ == "__main__":
    main()
