"""A framed echo server that serves many clients in one thread, with selectors.

It speaks the protocol of framed_echo_server.py (a 4-byte big-endian length,
then the message), so framed_echo_client.py talks to it unchanged:

    python3 selectors_echo_server.py
    python3 framed_echo_client.py --port 8771
"""

import argparse
import errno
import selectors
import signal
import socket
import struct
import time
from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8771
MAX_FRAME_SIZE = 64 * 1024  # refuse frames over 64 KiB
# Past this many reply bytes the client has not taken, stop reading from it
# (backpressure): what one client makes us hold stays bounded.
MAX_UNSENT = 64 * 1024
IDLE_TIMEOUT = 5.0  # seconds a client may stay silent before we hang up
DEADLINE = 10.0  # seconds to send a whole frame, and to take its echo
MAX_CLIENTS = 256  # connections at once; past this, newcomers are refused
ACCEPT_PAUSE = 1.0  # out of file descriptors: seconds before trying again
BACKLOG = 256  # connections that may wait in the kernel's queue
READ_SIZE = 64 * 1024  # the most one recv() takes
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length
# accept() errors that say the system is out of something, for a while.
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server: the page's limits table."""

    frame_size: int = MAX_FRAME_SIZE
    unsent: int = MAX_UNSENT
    idle_timeout: float = IDLE_TIMEOUT
    deadline: float = DEADLINE
    max_clients: int = MAX_CLIENTS
    accept_pause: float = ACCEPT_PAUSE


class FrameTooLarge(Exception):
    """The client announced a frame over the server's limit."""


class ClosedMidFrame(ConnectionError):
    """The client closed the connection in the middle of a frame."""


# --8<-- [start:connection]
class Connection:
    """One client's state between events.

    Nothing may block, so bytes wait here; and each clock that runs on the
    client (idle time, deadlines) is a time kept here.
    """

    def __init__(self, sock: socket.socket, limits: Limits) -> None:
        self.sock = sock
        self.limits = limits
        self.received = bytearray()  # bytes of a frame not yet complete
        self.unsent = bytearray()  # replies the client has not taken yet
        now = time.monotonic()
        self.last_active = now  # the last byte in or out
        self.frame_started = now  # when the frame in `received` began
        self.behind_since = now  # when the oldest reply in `unsent` came
        self.echoed = 0
        self.client_done = False  # it closed its side: finish, then close

    def read(self) -> None:
        """Take what has arrived: the socket is ready, so recv() won't wait."""
        data = self.sock.recv(READ_SIZE)
        if not data:
            if self.received:
                cut = f"closed with {len(self.received)} bytes of a frame"
                raise ClosedMidFrame(cut)
            self.client_done = True
            return
        self.last_active = now = time.monotonic()
        if not self.received:
            self.frame_started = now  # the first bytes of a new frame
        self.received += data
        if self.take_frames():
            self.frame_started = now  # what is left began a new frame

    def take_frames(self) -> int:
        """Move every complete frame from `received` to `unsent`: the echo."""
        taken = 0
        while len(self.received) >= HEADER.size:
            (length,) = HEADER.unpack_from(self.received)
            if length > self.limits.frame_size:
                limit = self.limits.frame_size
                raise FrameTooLarge(
                    f"frame of {length} bytes is over the {limit}-byte limit",
                )
            end = HEADER.size + length
            if len(self.received) < end:
                break  # the rest of this frame has not arrived yet
            if not self.unsent:
                self.behind_since = time.monotonic()
            self.unsent += self.received[:end]  # the reply is the same frame
            del self.received[:end]
            taken += 1
        self.echoed += taken
        return taken

    def write(self) -> None:
        """Send what fits now: send() may take only part of it."""
        sent = self.sock.send(self.unsent)
        del self.unsent[:sent]
        self.last_active = time.monotonic()

    def wanted_events(self) -> int:
        """What to wait for next: more bytes, room to send, or both."""
        events = 0
        # Read only while the client takes its replies: one that sends and
        # never reads would otherwise make us store its echoes without end.
        if not self.client_done and len(self.unsent) < self.limits.unsent:
            events |= selectors.EVENT_READ
        if self.unsent:
            events |= selectors.EVENT_WRITE
        return events

    # --8<-- [end:connection]
    # --8<-- [start:clocks]
    def time_is_up(self) -> tuple[float, str]:
        """When this client's first running clock runs out, and which."""
        limits = self.limits
        clocks = []
        if self.wanted_events() & selectors.EVENT_READ:  # waiting for bytes
            clocks.append((self.last_active + limits.idle_timeout, "idle"))
            if self.received:  # a frame has begun: all of it has `deadline`
                clocks.append((self.frame_started + limits.deadline, "frame"))
        if self.unsent:  # a client that falls behind for too long is dropped
            clocks.append((self.behind_since + limits.deadline, "echo"))
        return min(clocks)

    def why_late(self, clock: str) -> str:
        """What the log says when `clock` runs out."""
        if clock == "idle":
            return f"no data for {self.limits.idle_timeout} seconds"
        if clock == "frame":
            return f"frame not complete in {self.limits.deadline} seconds"
        return f"echo not taken in {self.limits.deadline} seconds"

    # --8<-- [end:clocks]


# --8<-- [start:serve]
class EchoServer:
    """The listening socket, its clients, and the one loop that serves all."""

    def __init__(self, listener: socket.socket, limits: Limits) -> None:
        self.listener = listener
        self.limits = limits
        self.selector = selectors.DefaultSelector()
        self.paused_until: float | None = None  # accept() ran out of fds
        self.waiting = False  # in select(): Ctrl+C may stop us at once
        self.stop_requested = False  # Ctrl+C came while a step was half done

    def serve_forever(self) -> None:
        """Wait for whichever socket is ready, or for the next clock."""
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        try:
            while True:
                ready = self.wait_for_events()
                for key, events in ready:
                    if key.fileobj is self.listener:
                        self.accept()
                    else:
                        self.service(key.data, events)
                self.close_late_clients()
        finally:  # stopping (Ctrl+C): close every client's socket
            for conn in self.clients():
                conn.sock.close()
            self.selector.close()

    def wait_for_events(self) -> list:
        """select(): the one place where Ctrl+C stops the loop."""
        self.waiting = True
        try:
            if self.stop_requested:
                raise KeyboardInterrupt
            return self.selector.select(self.time_to_next_clock())
        finally:
            self.waiting = False

    def on_ctrl_c(self, signum, frame) -> None:
        # Ctrl+C would raise KeyboardInterrupt at whatever line runs: between
        # accept() and register(), say, leaving that socket open. Stop now
        # only if waiting; otherwise once this turn of the loop is done.
        if self.waiting:
            raise KeyboardInterrupt
        self.stop_requested = True

    def service(self, conn: Connection, events: int) -> None:
        """Do what is ready without waiting; an error closes this client."""
        try:
            if events & selectors.EVENT_READ:
                conn.read()
            if events & selectors.EVENT_WRITE:
                conn.write()
        except FrameTooLarge as error:
            self.close(conn, f"Refused: {error}")
        except ConnectionError as error:  # reset, broken pipe, mid-frame
            self.close(conn, f"Client went away: {error.strerror or error}")
        else:
            if conn.client_done and not conn.unsent:
                self.close(conn, f"Echoed {conn.echoed} frames")
            else:
                self.selector.modify(conn.sock, conn.wanted_events(), conn)

    # --8<-- [end:serve]
    # --8<-- [start:accept]
    def accept(self) -> None:
        try:
            sock, _address = self.listener.accept()
        except OSError as error:
            # Out of descriptors (or memory), every accept() fails for a
            # while; any other error is one client's (it reset before we
            # accepted it), and skipping that client is all there is to do.
            if error.errno in OUT_OF_RESOURCES:
                self.pause_accepting(error)
            return
        if len(self.clients()) >= self.limits.max_clients:
            # Refuse at once: a prompt close tells the client to come back
            # later, where a queue that does not move would tell it nothing.
            print(f"Refused: {self.limits.max_clients} clients already")
            sock.close()
            return
        sock.setblocking(False)
        conn = Connection(sock, self.limits)
        self.selector.register(sock, selectors.EVENT_READ, conn)

    def pause_accepting(self, error: OSError) -> None:
        # The connection waits in the kernel's queue, so the listener stays
        # ready: select() would return at once, for ever, and the loop would
        # spin. Stop watching it until a client leaves, or for accept_pause.
        print(f"Accepting paused: {error.strerror}")
        self.selector.unregister(self.listener)
        self.paused_until = time.monotonic() + self.limits.accept_pause

    def resume_accepting(self) -> None:
        if self.paused_until is not None:
            self.paused_until = None
            self.selector.register(self.listener, selectors.EVENT_READ)

    # --8<-- [end:accept]
    # --8<-- [start:timeouts]
    def time_to_next_clock(self) -> float | None:
        """Seconds until a client's time is up, or accepting resumes."""
        times = [conn.time_is_up()[0] for conn in self.clients()]
        if self.paused_until is not None:
            times.append(self.paused_until)
        if not times:
            return None  # nothing to wait for but the next event
        return max(0.0, min(times) - time.monotonic())

    def close_late_clients(self) -> None:
        now = time.monotonic()
        for conn in self.clients():
            when, clock = conn.time_is_up()
            if when <= now:
                self.close(conn, f"Timed out: {conn.why_late(clock)}")
        if self.paused_until is not None and self.paused_until <= now:
            self.resume_accepting()

    # --8<-- [end:timeouts]
    def clients(self) -> list[Connection]:
        keys = self.selector.get_map().values()
        return [key.data for key in keys if key.data is not None]

    def close(self, conn: Connection, reason: str) -> None:
        print(reason)
        self.selector.unregister(conn.sock)
        conn.sock.close()
        self.resume_accepting()  # a file descriptor is free again


def open_listener(host: str, port: int) -> socket.socket:
    """Listen on `host`: an IPv4 or IPv6 address, or a name."""
    # getaddrinfo() gives the family: AF_INET6 for "::1", AF_INET for
    # "127.0.0.1". create_server() alone assumes IPv4, and "::1" fails.
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def shown(host: str) -> str:
    """An IPv6 address goes in brackets, so its port stays apart."""
    return f"[{host}]" if ":" in host else host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-size", type=int, default=MAX_FRAME_SIZE)
    parser.add_argument("--max-unsent", type=int, default=MAX_UNSENT)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    parser.add_argument("--max-clients", type=int, default=MAX_CLIENTS)
    parser.add_argument("--accept-pause", type=float, default=ACCEPT_PAUSE)
    args = parser.parse_args()
    limits = Limits(
        args.max_size,
        args.max_unsent,
        args.idle_timeout,
        args.deadline,
        args.max_clients,
        args.accept_pause,
    )

    with open_listener(args.host, args.port) as listener:
        host, port = listener.getsockname()[:2]
        print(f"Listening on {shown(host)}:{port}", flush=True)
        try:
            server = EchoServer(listener, limits)
            signal.signal(signal.SIGINT, server.on_ctrl_c)
            server.serve_forever()
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
