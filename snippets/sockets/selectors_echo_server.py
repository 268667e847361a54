"""A framed echo server that serves many clients at once in one thread, with selectors.

It speaks the protocol of framed_echo_server.py (a 4-byte big-endian length,
then the message), so framed_echo_client.py talks to it unchanged:

    python selectors_echo_server.py
"""

import argparse
import selectors
import socket
import struct
import time

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8767
MAX_FRAME_SIZE = 1024 * 1024  # refuse frames over 1 MiB
# Past this many unsent reply bytes, stop reading from a client that does not
# read its replies (backpressure), rather than store its echoes without limit.
MAX_UNSENT = 4 * 1024 * 1024
CLIENT_TIMEOUT = 10.0  # seconds a client may make no progress before we hang up
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length


class FrameTooLarge(Exception):
    """The client announced a frame over the server's limit."""


class ClosedMidFrame(ConnectionError):
    """The client closed the connection in the middle of a frame."""


# --8<-- [start:connection]
class Connection:
    """One client's state between events: nothing may block, so bytes wait here."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = bytearray()  # bytes of frames not yet complete
        self.unsent = bytearray()  # replies the client has not taken yet
        self.last_progress = time.monotonic()
        self.echoed = 0
        self.client_done = False  # the client closed its side: finish, then close

    def read(self) -> None:
        """Take what has arrived: the socket is readable, so recv() returns at once."""
        data = self.sock.recv(64 * 1024)
        if not data:
            if self.received:
                raise ClosedMidFrame(
                    f"closed with {len(self.received)} bytes of a frame"
                )
            self.client_done = True
            return
        self.last_progress = time.monotonic()
        self.received += data
        self.take_frames()

    def take_frames(self) -> None:
        """Move every complete frame from `received` to `unsent`: the echo."""
        while len(self.received) >= HEADER.size:
            (length,) = HEADER.unpack_from(self.received)
            if length > MAX_FRAME_SIZE:
                raise FrameTooLarge(
                    f"frame of {length} bytes is over the {MAX_FRAME_SIZE}-byte limit"
                )
            end = HEADER.size + length
            if len(self.received) < end:
                return  # the rest of this frame has not arrived yet
            self.unsent += self.received[:end]  # the reply is the same frame
            del self.received[:end]
            self.echoed += 1

    def write(self) -> None:
        """Send what fits now: send() may take only part of it."""
        sent = self.sock.send(self.unsent)
        del self.unsent[:sent]
        self.last_progress = time.monotonic()

    def wanted_events(self) -> int:
        """What to wait for next: more bytes, room to send, or both."""
        events = 0
        if not self.client_done and len(self.unsent) < MAX_UNSENT:
            events |= selectors.EVENT_READ
        if self.unsent:
            events |= selectors.EVENT_WRITE
        return events


# --8<-- [end:connection]
# --8<-- [start:serve]
def serve(listener: socket.socket, client_timeout: float) -> None:
    """Serve every client from one thread: wait for whichever is ready."""
    listener.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ, data=None)
        try:
            while True:
                # Wake up for the next event, or when the next client's time is up.
                timeout = time_to_next_deadline(selector, client_timeout)
                for key, events in selector.select(timeout):
                    if key.data is None:
                        accept(selector, listener)
                    else:
                        service(selector, key.data, events)
                close_idle_clients(selector, client_timeout)
        finally:
            # Stopping (Ctrl+C): close every socket still watched, clients and listener.
            for key in list(selector.get_map().values()):
                key.fileobj.close()


def service(selector: selectors.BaseSelector, conn: Connection, events: int) -> None:
    """Do what is ready without waiting; an error closes this client only."""
    try:
        if events & selectors.EVENT_READ:
            conn.read()
        if events & selectors.EVENT_WRITE:
            conn.write()
    except FrameTooLarge as error:
        close(selector, conn, f"Refused: {error}")
    except ConnectionError as error:  # reset, broken pipe, closed mid-frame
        close(selector, conn, f"Client went away: {error.strerror or error}")
    else:
        if conn.client_done and not conn.unsent:
            close(selector, conn, f"Echoed {conn.echoed} frames")
        else:
            selector.modify(conn.sock, conn.wanted_events(), data=conn)


# --8<-- [end:serve]
def accept(selector: selectors.BaseSelector, listener: socket.socket) -> None:
    try:
        sock, _address = listener.accept()
    # The client reset its connection before we accepted it.
    except (BlockingIOError, ConnectionAbortedError):  # pragma: no cover (a race)
        return
    sock.setblocking(False)
    selector.register(sock, selectors.EVENT_READ, data=Connection(sock))


def clients(selector: selectors.BaseSelector) -> list[Connection]:
    return [key.data for key in selector.get_map().values() if key.data is not None]


# --8<-- [start:timeouts]
def time_to_next_deadline(
    selector: selectors.BaseSelector, client_timeout: float
) -> float | None:
    """Seconds until the least active client's time is up; None: no client."""
    progress = [conn.last_progress for conn in clients(selector)]
    if not progress:
        return None  # nothing to time out: sleep until the next connection
    return max(0.0, min(progress) + client_timeout - time.monotonic())


def close_idle_clients(selector: selectors.BaseSelector, client_timeout: float) -> None:
    now = time.monotonic()
    for conn in clients(selector):
        if now - conn.last_progress >= client_timeout:
            close(
                selector, conn, f"Timed out: no progress for {client_timeout} seconds"
            )


# --8<-- [end:timeouts]
def close(selector: selectors.BaseSelector, conn: Connection, reason: str = "") -> None:
    if reason:
        print(reason)
    selector.unregister(conn.sock)
    conn.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT)
    args = parser.parse_args()

    # A large backlog: a burst of clients waits to be accepted instead of refused.
    with socket.create_server((args.host, args.port), backlog=128) as listener:
        host, port = listener.getsockname()[:2]
        print(f"Listening on {host}:{port}", flush=True)
        try:
            serve(listener, args.client_timeout)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
