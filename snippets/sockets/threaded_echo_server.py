"""A framed echo server that serves many clients at once, one thread each.

It speaks the protocol of framed_echo_server.py (a 4-byte big-endian length,
then the message), so framed_echo_client.py talks to it unchanged:

    python threaded_echo_server.py
"""

import argparse
import logging
import socket
import socketserver
import struct
import sys
import threading

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8767
MAX_FRAME_SIZE = 1024 * 1024  # refuse frames over 1 MiB
CLIENT_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up
MAX_CLIENTS = 256  # one thread each: past this, newcomers wait to be accepted
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length

# Threads share stdout: logging writes each line whole, print() may not.
log = logging.getLogger("threaded_echo_server")


class FrameTooLarge(Exception):
    """The client announced a frame over the server's limit."""


class ClosedMidFrame(ConnectionError):
    """The client closed the connection in the middle of a frame."""


def receive_exactly(conn: socket.socket, size: int) -> bytes:
    """Read exactly `size` bytes; b"" if the client closed before the first one."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = conn.recv(min(size - len(buffer), 64 * 1024))
        if not chunk:
            if buffer:
                raise ClosedMidFrame(f"closed after {len(buffer)} of {size} bytes")
            return b""
        buffer += chunk
    return bytes(buffer)


def receive_frame(conn: socket.socket, limit: int) -> bytes | None:
    """Read one frame's payload; None when the client closed between frames."""
    header = receive_exactly(conn, HEADER.size)
    if not header:
        return None
    (length,) = HEADER.unpack(header)
    if length > limit:
        raise FrameTooLarge(f"frame of {length} bytes is over the {limit}-byte limit")
    payload = receive_exactly(conn, length)
    if len(payload) < length:
        raise ClosedMidFrame(f"closed after the header of a {length}-byte frame")
    return payload


# --8<-- [start:handler]
class FramedEchoHandler(socketserver.BaseRequestHandler):
    """Runs in its own thread, once per connection: a slow client slows only itself."""

    def handle(self) -> None:
        conn: socket.socket = self.request
        timeout = self.server.client_timeout
        conn.settimeout(timeout)
        echoed = 0
        try:
            while (payload := receive_frame(conn, MAX_FRAME_SIZE)) is not None:
                conn.sendall(HEADER.pack(len(payload)) + payload)
                echoed += 1
        except FrameTooLarge as error:
            log.info("Refused: %s", error)
        except TimeoutError:
            log.info("Timed out: no data for %s seconds", timeout)
        except ConnectionError as error:  # reset, broken pipe, closed mid-frame
            log.info("Client went away: %s", error.strerror or error)
        else:
            log.info("Echoed %d frames", echoed)


# --8<-- [end:handler]
# --8<-- [start:server]
class ThreadedEchoServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restarted server can bind its port at once
    request_queue_size = 128  # the default, 5, refuses connections in a burst
    daemon_threads = True  # Ctrl+C stops the server without waiting for clients
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], client_timeout: float, max_clients: int
    ):
        super().__init__(address, FramedEchoHandler)
        self.client_timeout = client_timeout
        # A thread per client costs memory: cap them. At the cap, the accept
        # loop waits for a free slot and newcomers wait in the listen queue.
        self.slots = threading.BoundedSemaphore(max_clients)

    def process_request(self, request, client_address) -> None:
        self.slots.acquire()
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


# --8<-- [end:server]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT)
    parser.add_argument("--max-clients", type=int, default=MAX_CLIENTS)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")

    address = (args.host, args.port)
    with ThreadedEchoServer(address, args.client_timeout, args.max_clients) as server:
        host, port = server.server_address[:2]
        log.info("Listening on %s:%d", host, port)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("Server stopped")


if __name__ == "__main__":
    main()
