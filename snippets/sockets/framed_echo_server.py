"""A TCP echo server for length-prefixed frames: many messages per connection.

Each frame is a 4-byte big-endian length, then that many bytes. Run it, then
run framed_echo_client.py in another terminal:

    python3 framed_echo_server.py
    python3 framed_echo_server.py --host ::1    # IPv6 loopback

It serves one connection at a time: while one client sends, the next waits,
for as long as the limits below allow. See "Serving many clients" for
servers that serve many at once.
"""

import argparse
import socket
import struct
import time
from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8767
MAX_FRAME_SIZE = 1024 * 1024  # refuse frames over 1 MiB
IDLE_TIMEOUT = 5.0  # seconds a client may stay silent before we hang up
DEADLINE = 10.0  # seconds to send a whole frame, and to take its echo
CONNECTION_TIME = 60.0  # seconds one client may keep the server to itself
BACKLOG = 256  # connections that may wait their turn in the kernel's queue
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server: the page's limits table."""

    frame_size: int = MAX_FRAME_SIZE
    idle_timeout: float = IDLE_TIMEOUT
    deadline: float = DEADLINE
    connection_time: float = CONNECTION_TIME


class FrameTooLarge(Exception):
    """The client announced a frame over the server's limit."""


class ClosedMidFrame(ConnectionError):
    """The client closed the connection in the middle of a frame."""


class OutOfTime(Exception):
    """The client took longer than a deadline; the message says for what."""


def recv_before(conn: socket.socket, size: int, limits: Limits, ends_at):
    """One recv(): it waits `idle_timeout` at most, never past `ends_at`."""
    left = ends_at - time.monotonic()
    if left > 0:
        conn.settimeout(min(limits.idle_timeout, left))
        try:
            return conn.recv(size)
        except TimeoutError:
            if time.monotonic() < ends_at:
                raise  # silent for idle_timeout: the caller says so
    raise OutOfTime(f"frame not complete in {limits.deadline} seconds")


def receive_exactly(
    conn: socket.socket, size: int, limits: Limits, ends_at: float
) -> bytes:
    """Read exactly `size` bytes of a frame, before `ends_at`."""
    buffer = bytearray()
    while len(buffer) < size:
        wanted = min(size - len(buffer), 64 * 1024)
        chunk = recv_before(conn, wanted, limits, ends_at)
        if not chunk:
            raise ClosedMidFrame(f"closed after {len(buffer)} of {size} bytes")
        buffer += chunk
    return bytes(buffer)


# --8<-- [start:receive_frame]
def receive_frame(conn: socket.socket, limits: Limits) -> bytes | None:
    """Read one frame's payload; None when the client closed between frames."""
    # Wait for the frame's first byte without taking it: silence until then
    # is idle time; from then on, the whole frame has `deadline` seconds.
    conn.settimeout(limits.idle_timeout)
    if not conn.recv(1, socket.MSG_PEEK):
        return None  # a clean end: the client has no more messages
    ends_at = time.monotonic() + limits.deadline
    header = receive_exactly(conn, HEADER.size, limits, ends_at)
    (length,) = HEADER.unpack(header)
    if length > limits.frame_size:
        # Refuse before reading a byte of it: the length alone is the attack.
        limit = limits.frame_size
        raise FrameTooLarge(
            f"frame of {length} bytes is over the {limit}-byte limit",
        )
    return receive_exactly(conn, length, limits, ends_at)


# --8<-- [end:receive_frame]
# --8<-- [start:handle]
def send_frame(conn: socket.socket, payload: bytes, limits: Limits) -> None:
    # sendall()'s timeout bounds the whole call, however slowly the client
    # reads: a deadline, not an idle timeout.
    conn.settimeout(limits.deadline)
    try:
        conn.sendall(HEADER.pack(len(payload)) + payload)
    except TimeoutError:
        late = f"echo not taken in {limits.deadline} seconds"
        raise OutOfTime(late) from None


def echo_frames(conn: socket.socket, limits: Limits) -> int:
    """Echo frames until the client is done, or its time is up."""
    # One connection at a time: however well a client behaves, it must
    # leave room for the next one.
    leave_at = time.monotonic() + limits.connection_time
    echoed = 0
    while (payload := receive_frame(conn, limits)) is not None:
        send_frame(conn, payload, limits)
        echoed += 1
        if time.monotonic() >= leave_at:
            late = f"connection open for {limits.connection_time} seconds"
            raise OutOfTime(late)
    return echoed


def handle_client(conn: socket.socket, limits: Limits) -> None:
    """Serve one connection; log why it ended. One client never stops us."""
    try:
        echoed = echo_frames(conn, limits)
    except FrameTooLarge as error:
        print(f"Refused: {error}")
    except OutOfTime as error:
        print(f"Timed out: {error}")
    except TimeoutError:
        print(f"Timed out: no data for {limits.idle_timeout} seconds")
    except ConnectionError as error:  # reset, broken pipe, closed mid-frame
        print(f"Client went away: {error.strerror or error}")
    else:
        print(f"Echoed {echoed} frames")


# --8<-- [end:handle]
def open_listener(host: str, port: int) -> socket.socket:
    """Listen on `host`: an IPv4 or IPv6 address, or a name."""
    # getaddrinfo() gives the family: AF_INET6 for "::1", AF_INET for
    # "127.0.0.1". create_server() alone assumes IPv4, and "::1" fails.
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def serve(server: socket.socket, limits: Limits) -> None:
    """Accept connections one after another, forever."""
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
    parser.add_argument("--max-size", type=int, default=MAX_FRAME_SIZE)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    parser.add_argument(
        "--connection-time",
        type=float,
        default=CONNECTION_TIME,
    )
    args = parser.parse_args()
    limits = Limits(
        args.max_size,
        args.idle_timeout,
        args.deadline,
        args.connection_time,
    )

    with open_listener(args.host, args.port) as server:
        host, port = server.getsockname()[:2]
        print(f"Listening on {shown(host)}:{port}", flush=True)
        try:
            serve(server, limits)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
