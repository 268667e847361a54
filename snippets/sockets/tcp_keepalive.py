"""TCP keepalive: the kernel checks that an idle connection's peer is there.

    python3 tcp_keepalive.py

It turns keepalive on for one end of a connection on loopback, with times
of its own, and prints what the system's defaults would have been.
"""

import socket

IDLE = 60  # seconds of silence before the first probe
INTERVAL = 10  # seconds between two unanswered probes
COUNT = 5  # unanswered probes, and the connection is declared dead

# Each option is set where the system has it: Linux has all three; macOS
# names the first TCP_KEEPALIVE; Windows 10 has them from version 1709.
KEEPALIVE_OPTIONS = {
    "idle": getattr(socket, "TCP_KEEPIDLE", None)
    or getattr(socket, "TCP_KEEPALIVE", None),
    "interval": getattr(socket, "TCP_KEEPINTVL", None),
    "count": getattr(socket, "TCP_KEEPCNT", None),
}


# --8<-- [start:enable]
def enable_keepalive(
    sock: socket.socket,
    idle: int = IDLE,
    interval: int = INTERVAL,
    count: int = COUNT,
) -> None:
    """Probe the peer after `idle` s of silence; give up after `count`."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    wanted = {"idle": idle, "interval": interval, "count": count}
    for name, option in KEEPALIVE_OPTIONS.items():
        if option is not None:  # else the system's default stays
            sock.setsockopt(socket.IPPROTO_TCP, option, wanted[name])


# --8<-- [end:enable]
def keepalive_settings(sock: socket.socket) -> str:
    """What the socket will do, as the system reports it."""
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE):
        return "keepalive off"
    values = {
        name: sock.getsockopt(socket.IPPROTO_TCP, option)
        for name, option in KEEPALIVE_OPTIONS.items()
        if option is not None
    }
    if len(values) < len(KEEPALIVE_OPTIONS):  # pragma: no cover (not Linux)
        return "keepalive on, with some of the system's times"
    idle, interval, count = values["idle"], values["interval"], values["count"]
    dead_after = idle + interval * count
    return (
        f"{idle} s idle, then {count} probes {interval} s apart: "
        f"dead after {dead_after} s"
    )


def main() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        with socket.create_connection(address, timeout=5.0) as sock:
            # --8<-- [start:main]
            print(keepalive_settings(sock))  # a new socket
            #> keepalive off
            # On, with the system's times (Linux: net.ipv4.tcp_keepalive_*)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            print(keepalive_settings(sock))
            #> 7200 s idle, then 9 probes 75 s apart: dead after 7875 s
            enable_keepalive(sock)  # on, with times of our own
            print(keepalive_settings(sock))
            #> 60 s idle, then 5 probes 10 s apart: dead after 110 s
            # --8<-- [end:main]


if __name__ == "__main__":
    main()
