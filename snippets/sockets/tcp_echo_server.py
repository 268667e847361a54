"""A TCP echo server that survives misbehaving clients.

Run it, then run tcp_echo_client.py in another terminal:

    python3 tcp_echo_server.py
    python3 tcp_echo_server.py --host ::1    # IPv6 loopback

It serves one client at a time: while one client sends, the next waits, for
as long as the limits below allow. See "Serving many clients" for servers
that serve many at once.
"""

import argparse
import socket
import time
from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
MAX_MESSAGE_SIZE = 1024 * 1024  # refuse messages over 1 MiB
IDLE_TIMEOUT = 5.0  # seconds a client may stay silent before we hang up
DEADLINE = 10.0  # seconds to send a whole message, and to take its echo
BACKLOG = 256  # connections that may wait their turn in the kernel's queue


# --8<-- [start:limits]
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


# --8<-- [end:limits]
# --8<-- [start:receive]
def recv_before(conn: socket.socket, limits: Limits, ends_at: float) -> bytes:
    """One recv(): it waits `idle_timeout` at most, and never past `ends_at`.

    An idle timeout alone restarts with each byte, so a client that sends a
    byte every few seconds would hold the server for ever: the deadline is
    what bounds the whole message.
    """
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
    # Wait for the first byte (or the end) without taking it: the message's
    # deadline starts when the client starts sending.
    conn.settimeout(limits.idle_timeout)
    if not conn.recv(1, socket.MSG_PEEK):
        return b""  # the client closed at once: an empty message
    ends_at = time.monotonic() + limits.deadline
    chunks = []
    received = 0
    # One recv() returns whatever has arrived so far, which can be any part
    # of the message: keep reading until the client signals the end (b"").
    while chunk := recv_before(conn, limits, ends_at):
        received += len(chunk)
        if received > limits.message_size:
            raise MessageTooLarge(f"message over {limits.message_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --8<-- [end:receive]
# --8<-- [start:handle]
def send_echo(conn: socket.socket, message: bytes, limits: Limits) -> None:
    # sendall()'s timeout is a deadline for the whole call (since Python
    # 3.5), not a limit on each send: a client that reads a byte now and
    # then cannot stretch it.
    conn.settimeout(limits.deadline)
    try:
        conn.sendall(message)  # send() may send only part: sendall() loops
    except TimeoutError:
        late = f"echo not taken in {limits.deadline} seconds"
        raise OutOfTime(late) from None


def handle_client(conn: socket.socket, limits: Limits) -> None:
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
    except ConnectionError as error:  # reset, broken pipe: it went away
        print(f"Client went away: {error.strerror}")
    else:
        print(f"Echoed {len(message)} bytes")


# --8<-- [end:handle]
# --8<-- [start:listen]
def open_listener(host: str, port: int) -> socket.socket:
    """Listen on `host`: an IPv4 or IPv6 address, or a name."""
    # getaddrinfo() gives the family: AF_INET6 for "::1", AF_INET for
    # "127.0.0.1". create_server() alone assumes IPv4, and "::1" fails.
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


# --8<-- [end:listen]
def serve(server: socket.socket, limits: Limits) -> None:
    """Accept clients one after another, forever."""
    while True:
        conn, _address = server.accept()
        with conn:  # closed whatever happens in handle_client
            handle_client(conn, limits)


def shown(host: str) -> str:
    """An IPv6 address goes in brackets, so its port stays apart."""
    return f"[{host}]" if ":" in host else host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-size", type=int, default=MAX_MESSAGE_SIZE)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    args = parser.parse_args()
    limits = Limits(args.max_size, args.idle_timeout, args.deadline)

    with open_listener(args.host, args.port) as server:
        host, port = server.getsockname()[:2]
        print(f"Listening on {shown(host)}:{port}", flush=True)
        try:
            serve(server, limits)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
