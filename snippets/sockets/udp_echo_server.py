"""A UDP echo server: each datagram is answered on its own, to its sender.

Run it, then run udp_echo_client.py in another terminal:

    python udp_echo_server.py
"""

import argparse
import socket

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8766
MAX_DATAGRAM_SIZE = 4096  # bytes; a bigger datagram is refused


# --8<-- [start:serve]
def serve(sock: socket.socket) -> None:
    """Answer datagrams forever. There is no connection: each one stands alone."""
    while True:
        # One byte more than the limit: a datagram that fills the buffer was
        # too big, and the kernel has already dropped the part that did not fit.
        data, sender = sock.recvfrom(MAX_DATAGRAM_SIZE + 1)
        if len(data) > MAX_DATAGRAM_SIZE:
            print(f"Refused: datagram over {MAX_DATAGRAM_SIZE} bytes")
            continue
        try:
            sock.sendto(data, sender)  # the reply goes to whoever sent it
        except OSError as error:  # pragma: no cover (the kernel could not send it)
            print(f"No reply sent: {error.strerror}")
            continue
        print(f"Echoed {len(data)} bytes")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    args = parser.parse_args()

    family, _, _, _, address = socket.getaddrinfo(
        args.host, args.port, type=socket.SOCK_DGRAM
    )[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        host, port = sock.getsockname()[:2]
        print(f"Listening on {host}:{port}", flush=True)
        try:
            serve(sock)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
