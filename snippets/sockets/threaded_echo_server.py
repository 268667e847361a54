"""A framed echo server that serves many clients at once, one thread each.

It speaks the protocol of framed_echo_server.py (a 4-byte big-endian length,
then the message), so framed_echo_client.py talks to it unchanged:

    python3 threaded_echo_server.py
    python3 framed_echo_client.py --port 8770
"""

import argparse
import errno
import logging
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8770
MAX_FRAME_SIZE = 64 * 1024  # a thread holds one frame: keep it small
IDLE_TIMEOUT = 5.0  # seconds a client may stay silent before we hang up
DEADLINE = 10.0  # seconds to send a whole frame, and to take its echo
MAX_CLIENTS = 256  # one thread each; past this, newcomers are refused
ACCEPT_PAUSE = 1.0  # out of file descriptors: seconds before trying again
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length

# Threads share stdout: logging writes each line whole, print() may not.
log = logging.getLogger("threaded_echo_server")


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server: the page's limits table."""

    frame_size: int = MAX_FRAME_SIZE
    idle_timeout: float = IDLE_TIMEOUT
    deadline: float = DEADLINE
    max_clients: int = MAX_CLIENTS


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


def receive_frame(conn: socket.socket, limits: Limits) -> bytes | None:
    """Read one frame's payload; None when the client closed between frames."""
    # Silence until the frame's first byte is idle time; from then on, the
    # whole frame has `deadline` seconds, however slowly it trickles in.
    conn.settimeout(limits.idle_timeout)
    if not conn.recv(1, socket.MSG_PEEK):
        return None
    ends_at = time.monotonic() + limits.deadline
    header = receive_exactly(conn, HEADER.size, limits, ends_at)
    (length,) = HEADER.unpack(header)
    if length > limits.frame_size:
        limit = limits.frame_size
        raise FrameTooLarge(
            f"frame of {length} bytes is over the {limit}-byte limit",
        )
    return receive_exactly(conn, length, limits, ends_at)


def send_frame(conn: socket.socket, payload: bytes, limits: Limits) -> None:
    conn.settimeout(limits.deadline)  # sendall(): a deadline for the call
    try:
        conn.sendall(HEADER.pack(len(payload)) + payload)
    except TimeoutError:
        late = f"echo not taken in {limits.deadline} seconds"
        raise OutOfTime(late) from None


# --8<-- [start:handler]
class FramedEchoHandler(socketserver.BaseRequestHandler):
    """Runs in its own thread, once per connection.

    A slow client slows only itself, and its deadlines free its thread.
    """

    def handle(self) -> None:
        conn: socket.socket = self.request
        limits: Limits = self.server.limits
        echoed = 0
        try:
            while (payload := receive_frame(conn, limits)) is not None:
                send_frame(conn, payload, limits)
                echoed += 1
        except FrameTooLarge as error:
            log.info("Refused: %s", error)
        except OutOfTime as error:
            log.info("Timed out: %s", error)
        except TimeoutError:
            log.info("Timed out: no data for %s seconds", limits.idle_timeout)
        except ConnectionError as error:  # reset, broken pipe, mid-frame
            log.info("Client went away: %s", error.strerror or error)
        except OSError as error:  # its socket closed under it, by Ctrl+C
            log.info("Connection failed: %s", error.strerror)
        else:
            log.info("Echoed %d frames", echoed)


# --8<-- [end:handler]
# --8<-- [start:server]
class ThreadedEchoServer(socketserver.ThreadingTCPServer):
    # SO_REUSEADDR: a restarted server can bind its port at once. Not on
    # Windows, where it would let another program bind the port too (and
    # where a port in TIME_WAIT can be bound anyway).
    allow_reuse_address = os.name != "nt"
    request_queue_size = 256  # the default, 5, drops connections in a burst
    daemon_threads = True  # Ctrl+C stops the server without waiting for them
    block_on_close = False

    def __init__(self, address: tuple[str, int], limits: Limits) -> None:
        # The family comes from the address: AF_INET6 for "::1". The class
        # default, AF_INET, cannot bind an IPv6 address.
        found = socket.getaddrinfo(*address, type=socket.SOCK_STREAM)
        self.address_family = found[0][0]
        super().__init__(address, FramedEchoHandler)
        self.limits = limits
        # A thread per client costs memory: cap them.
        self.slots = threading.BoundedSemaphore(limits.max_clients)
        self.client_left = threading.Event()

    def verify_request(self, request, client_address) -> bool:
        # Called after accept(): take a slot, or refuse this client at once.
        # False makes socketserver close the connection: the client learns
        # now, instead of waiting in a queue that may never move.
        if self.slots.acquire(blocking=False):
            return True
        log.info("Refused: %d clients already", self.limits.max_clients)
        return False

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()
            self.client_left.set()

    def get_request(self):
        self.client_left.clear()
        try:
            return super().get_request()  # accept()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE):
                # Out of file descriptors. The listening socket stays ready,
                # so trying again at once would spin: wait until a client
                # leaves (or ACCEPT_PAUSE). Newcomers wait in the queue.
                log.info("Accepting paused: %s", error.strerror)
                self.client_left.wait(ACCEPT_PAUSE)
            raise  # socketserver drops this accept() and goes on


# --8<-- [end:server]
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
    parser.add_argument("--max-clients", type=int, default=MAX_CLIENTS)
    args = parser.parse_args()
    limits = Limits(
        args.max_size,
        args.idle_timeout,
        args.deadline,
        args.max_clients,
    )
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(message)s",
    )

    with ThreadedEchoServer((args.host, args.port), limits) as server:
        host, port = server.server_address[:2]
        log.info("Listening on %s:%d", shown(host), port)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("Server stopped")


if __name__ == "__main__":
    main()
