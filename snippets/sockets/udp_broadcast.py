"""UDP broadcast on loopback: one datagram, a copy for each listener.

    python3 udp_broadcast.py

Everything stays on this machine: the datagram goes to 127.255.255.255, the
broadcast address of the loopback network (127.0.0.0/8), and the receivers
are sockets of this program. This is Linux's behaviour; other systems treat
broadcast on loopback differently, or not at all.
"""

import errno
import socket

BROADCAST = "127.255.255.255"  # every address of 127.0.0.0/8
TIMEOUT = 0.2  # seconds to wait for a datagram that may never come


# --8<-- [start:receiver]
def receiver(address: str, port: int) -> socket.socket:
    """A UDP socket bound to `address` and `port`, sharing them if need be."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # SO_REUSEADDR: several sockets may bind one broadcast address and
    # port, and each receives its own copy of a broadcast datagram.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.settimeout(TIMEOUT)
    return sock


# --8<-- [end:receiver]
# --8<-- [start:broadcast]
def broadcast(message: bytes, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Without SO_BROADCAST, sendto() a broadcast address is refused:
        # a program must say that it means to reach every host.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.sendto(message, (BROADCAST, port))


# --8<-- [end:broadcast]
def received(sock: socket.socket) -> str:
    try:
        return repr(sock.recv(1024))
    except TimeoutError:
        return f"nothing in {TIMEOUT} s"


def main() -> None:
    # --8<-- [start:main]
    first = receiver(BROADCAST, 0)  # port 0: the system picks a free port
    port = first.getsockname()[1]
    second = receiver(BROADCAST, port)  # the same address and port
    unicast = receiver("127.0.0.1", port)  # one address of the network
    with first, second, unicast:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
            try:
                plain.sendto(b"Hello?", (BROADCAST, port))
            except PermissionError as error:
                print("Without SO_BROADCAST:", errno.errorcode[error.errno])
                #> Without SO_BROADCAST: EACCES
            else:  # pragma: no cover (not Linux)
                print("Without SO_BROADCAST: sent all the same")
        broadcast(b"Hello, everyone", port)
        print(f"bound to {BROADCAST}:", received(first))
        #> bound to 127.255.255.255: b'Hello, everyone'
        print(f"also bound to {BROADCAST}:", received(second))
        #> also bound to 127.255.255.255: b'Hello, everyone'
        print("bound to 127.0.0.1:", received(unicast))
        #> bound to 127.0.0.1: nothing in 0.2 s
    # --8<-- [end:main]


if __name__ == "__main__":
    main()
