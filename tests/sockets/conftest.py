"""Fixtures of the sockets chapter: servers shared by a module, read as they log.

Starting a server costs a few tenths of a second, so the tests of one page
share one server (module scope) where they do not need a fresh one. A shared
server's log is read while it runs: a test waits for the line its own client
caused (an event, never a sleep), and then checks that a fresh client is
still served.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

LOG_WAIT = 10.0  # seconds: how long a test waits for a line it expects


class LiveServer:
    """A running server snippet whose log lines a test can wait for."""

    def __init__(self, server) -> None:
        self.host: str = server.host
        self.port: int = server.port
        self._lines: queue.Queue[str] = queue.Queue()
        self._unclaimed: list[str] = []  # read, and not yet waited for
        reader = threading.Thread(
            target=self._read, args=(server.process.stdout,), daemon=True
        )
        reader.start()

    def _read(self, stream) -> None:
        # start_server reads the rest when the server stops: either reader may
        # see the end of the stream first, which ends this thread quietly.
        try:
            for line in stream:
                self._lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass

    def wait_for_line(self, expected: str | tuple[str, ...]) -> str:
        """The first log line not yet waited for that contains `expected`
        (or one of them, given a tuple).

        Lines that other tests' clients caused stay available to those tests,
        whatever order the lines came in.
        """
        wanted = (expected,) if isinstance(expected, str) else expected
        deadline = time.monotonic() + LOG_WAIT
        while True:
            for index, line in enumerate(self._unclaimed):
                if any(text in line for text in wanted):
                    return self._unclaimed.pop(index)
            remaining = deadline - time.monotonic()
            try:
                self._unclaimed.append(self._lines.get(timeout=max(remaining, 0)))
            except queue.Empty:
                raise AssertionError(
                    f"the server did not log {expected!r} in {LOG_WAIT} s"
                ) from None

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """A client connection to this server, with a timeout on every call."""
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def log_lines(self, expected: str | tuple[str, ...], count: int) -> list[str]:
        """Wait for `count` log lines that contain `expected`."""
        return [self.wait_for_line(expected) for _ in range(count)]


StartServer = Callable[..., AbstractContextManager]


@pytest.fixture(scope="session")
def live_server(start_server: StartServer):
    """`with live_server(path, *args) as server:` a LiveServer for that block."""

    @contextmanager
    def start(relative_path: str, *args: str, **options) -> Iterator[LiveServer]:
        with start_server(relative_path, *args, **options) as server:
            live = LiveServer(server)
            live.process = server.process
            yield live

    return start


def _vanish(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture(scope="session")
def vanish() -> Callable[[socket.socket], None]:
    """Close a socket as a crashed client's kernel does: with a reset."""
    return _vanish


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture(scope="session")
def closed_by_peer() -> Callable[[socket.socket], bool]:
    """True when the peer closed (b"") or reset the connection; waits for it."""
    return _closed_by_peer


@pytest.fixture
def silent_listener() -> Iterator[tuple[str, int]]:
    """A loopback address that accepts connections and never answers.

    The kernel completes the handshake for a listening socket even if the
    program never calls accept(): the client connects, then waits.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[:2]


@pytest.fixture
def hang_up_listener() -> Iterator[tuple[str, int]]:
    """A loopback server that accepts each connection and closes it at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)  # paces the check of `stop`
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
