"""What getaddrinfo() returns: the addresses a socket can connect to or bind.

    python3 address_lookup.py
    python3 address_lookup.py --host localhost

Numeric hosts such as 127.0.0.1 and ::1 are parsed, not looked up: no query
leaves the machine. A name such as localhost is looked up, and its answer
depends on the machine (/etc/hosts here).
"""

import argparse
import socket

HOSTS = ["127.0.0.1", "::1"]  # the loopback addresses of IPv4 and IPv6
PORT = 8765


# --8<-- [start:addresses]
def addresses(host: str, port: int) -> list[tuple]:
    """(family, type, address) for each way to reach `host` on `port`."""
    results = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    results += socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    return [(family, kind, address) for family, kind, _, _, address in results]


# --8<-- [end:addresses]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="repeat: one each")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    # --8<-- [start:print]
    for host in args.host or HOSTS:
        for family, kind, address in addresses(host, args.port):
            print(f"{family.name:8} {kind.name:11} {address}")
            #> AF_INET  SOCK_STREAM ('127.0.0.1', 8765)
            #> AF_INET  SOCK_DGRAM  ('127.0.0.1', 8765)
            #> AF_INET6 SOCK_STREAM ('::1', 8765, 0, 0)
            #> AF_INET6 SOCK_DGRAM  ('::1', 8765, 0, 0)

    # A new socket: TCP over IPv4 unless told otherwise, and no timeout, so
    # every call on it may wait forever until you set one.
    with socket.socket() as sock:
        print(sock.family.name, sock.type.name, sock.gettimeout())
        #> AF_INET SOCK_STREAM None
    # --8<-- [end:print]


if __name__ == "__main__":
    main()
