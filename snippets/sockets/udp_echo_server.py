"""A UDP echo server: each datagram is answered on its own, to its sender.

Run it, then run udp_echo_client.py in another terminal:

    python3 udp_echo_server.py
    python3 udp_echo_server.py --host ::1    # IPv6 loopback
"""

import argparse
import socket

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8766
MAX_DATAGRAM_SIZE = 4096  # bytes; a bigger datagram is refused


# --8<-- [start:serve]
def serve(sock: socket.socket, limit: int = MAX_DATAGRAM_SIZE) -> None:
    """Answer datagrams forever. There is no connection: each stands alone."""
    while True:
        try:
            # One byte more than the limit: a datagram that fills the buffer
            # was too big (the kernel dropped the part that did not fit).
            data, sender = sock.recvfrom(limit + 1)
        except ConnectionResetError:
            # Windows only: an earlier reply met a closed port, and the
            # "port unreachable" answer surfaces here. Nothing to do.
            print("A reply was not delivered: port unreachable")
            continue
        if len(data) > limit:
            print(f"Refused: datagram over {limit} bytes")
            continue
        try:
            sock.sendto(data, sender)  # the reply goes to whoever sent it
        except OSError as error:  # pragma: no cover (the kernel refused it)
            print(f"No reply sent: {error.strerror}")
            continue
        print(f"Echoed {len(data)} bytes")


# --8<-- [end:serve]
def shown(host: str) -> str:
    """An IPv6 address goes in brackets, so its port stays apart."""
    return f"[{host}]" if ":" in host else host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-size", type=int, default=MAX_DATAGRAM_SIZE)
    args = parser.parse_args()

    # getaddrinfo() gives the family: AF_INET6 for "::1".
    family, _, _, _, address = socket.getaddrinfo(
        args.host, args.port, type=socket.SOCK_DGRAM
    )[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        host, port = sock.getsockname()[:2]
        print(f"Listening on {shown(host)}:{port}", flush=True)
        try:
            serve(sock, args.max_size)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
