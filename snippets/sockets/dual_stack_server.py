"""A TCP echo server on IPv6 and IPv4: by default on both loopback addresses.

Run it, then connect over either family:

    python3 dual_stack_server.py
    python3 dual_stack_client.py
    python3 tcp_echo_client.py --host ::1 --port 8768

With --host ::, one dual-stack socket serves every interface in both families:
do that only for a server that other machines must reach.
"""

import argparse
import selectors
import socket
import time
from dataclasses import dataclass

HOSTS = ["127.0.0.1", "::1"]  # loopback, IPv4 and IPv6: this machine only
PORT = 8768
MAX_MESSAGE_SIZE = 1024 * 1024  # refuse messages over 1 MiB
IDLE_TIMEOUT = 5.0  # seconds a client may stay silent before we hang up
DEADLINE = 10.0  # seconds to send a whole message, and to take its echo
BACKLOG = 256  # connections that may wait their turn in the kernel's queue


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server: the page's limits table."""

    message_size: int = MAX_MESSAGE_SIZE
    idle_timeout: float = IDLE_TIMEOUT
    deadline: float = DEADLINE


class MessageTooLarge(Exception):
    """The client sent more than the server accepts."""


class OutOfTime(Exception):
    """The client took longer than the deadline; the message says for what."""


# --8<-- [start:listen]
def open_listener(host: str, port: int) -> socket.socket:
    """Listen on `host`, an IPv4 or IPv6 address."""
    if ":" not in host:
        return socket.create_server((host, port), backlog=BACKLOG)
    # An IPv6 socket. Dual stack (IPV6_V6ONLY off) lets it take IPv4 clients
    # too, seen as ::ffff:a.b.c.d, where its address covers them: "::" does,
    # "::1" does not (IPv4 clients of 127.0.0.1 never reach ::1).
    return socket.create_server(
        (host, port),
        family=socket.AF_INET6,
        backlog=BACKLOG,
        dualstack_ipv6=socket.has_dualstack_ipv6(),
    )


def open_listeners(hosts: list[str], port: int) -> list[socket.socket]:
    """One listening socket per address, all on one port (the first's)."""
    listeners: list[socket.socket] = []
    try:
        for host in hosts:
            listeners.append(open_listener(host, port))
            port = listeners[0].getsockname()[1]  # with port 0: the one got
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return listeners


# --8<-- [end:listen]
def recv_before(conn: socket.socket, limits: Limits, ends_at: float) -> bytes:
    """One recv(): it waits `idle_timeout` at most, never past `ends_at`."""
    left = ends_at - time.monotonic()
    if left > 0:
        conn.settimeout(min(limits.idle_timeout, left))
        try:
            return conn.recv(64 * 1024)
        except TimeoutError:
            if time.monotonic() < ends_at:
                raise  # silent for idle_timeout: the caller says so
    raise OutOfTime(f"message not complete in {limits.deadline} seconds")


def receive_message(conn: socket.socket, limits: Limits) -> bytes:
    """Read until the client shuts down its sending side, within the limits."""
    conn.settimeout(limits.idle_timeout)
    if not conn.recv(1, socket.MSG_PEEK):  # wait for the first byte
        return b""
    ends_at = time.monotonic() + limits.deadline  # the message's deadline
    chunks = []
    received = 0
    while chunk := recv_before(conn, limits, ends_at):
        received += len(chunk)
        if received > limits.message_size:
            raise MessageTooLarge(f"message over {limits.message_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def send_echo(conn: socket.socket, message: bytes, limits: Limits) -> None:
    conn.settimeout(limits.deadline)  # sendall(): a deadline for the call
    try:
        conn.sendall(message)
    except TimeoutError:
        late = f"echo not taken in {limits.deadline} seconds"
        raise OutOfTime(late) from None


def handle_client(conn: socket.socket, peer: str, limits: Limits) -> None:
    """Echo one message back, or log why not; one client never stops us."""
    try:
        message = receive_message(conn, limits)
        send_echo(conn, message, limits)
    except MessageTooLarge as error:
        print(f"Refused: {error}")
    except OutOfTime as error:
        print(f"Timed out: {error}")
    except TimeoutError:
        print(f"Timed out: no data for {limits.idle_timeout} seconds")
    except ConnectionError as error:
        print(f"Client went away: {error.strerror}")
    else:
        print(f"Echoed {len(message)} bytes to {peer}")


# --8<-- [start:serve]
def serve(listeners: list[socket.socket], limits: Limits) -> None:
    """Wait on every listening socket at once; serve clients one at a time."""
    with selectors.DefaultSelector() as selector:
        for listener in listeners:
            selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, _events in selector.select():
                conn, address = key.fileobj.accept()
                with conn:
                    # address[0]: "::1", "127.0.0.1", or "::ffff:127.0.0.1" for
                    # an IPv4 client of a dual-stack socket.
                    handle_client(conn, address[0], limits)


# --8<-- [end:serve]
def shown(host: str) -> str:
    """An IPv6 address goes in brackets, so its port stays apart."""
    return f"[{host}]" if ":" in host else host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="repeat: one each")
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-size", type=int, default=MAX_MESSAGE_SIZE)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    args = parser.parse_args()
    limits = Limits(args.max_size, args.idle_timeout, args.deadline)

    listeners = open_listeners(args.host or HOSTS, args.port)
    try:
        for listener in listeners:
            host, port = listener.getsockname()[:2]
            print(f"Listening on {shown(host)}:{port}", flush=True)
        serve(listeners, limits)
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        for listener in listeners:
            listener.close()


if __name__ == "__main__":
    main()
