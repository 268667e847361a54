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

    def wait_for_line(self, expected: str) -> str:
        """The first log line not yet waited for that contains `expected`.

        Lines that other tests' clients caused stay available to those tests,
        whatever order the lines came in.
        """
        deadline = time.monotonic() + LOG_WAIT
        while True:
            for index, line in enumerate(self._unclaimed):
                if expected in line:
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


StartServer = Callable[..., AbstractContextManager]


@pytest.fixture(scope="session")
def live_server(start_server: StartServer):
    """`with live_server(path, *args) as server:` a LiveServer for that block."""

    @contextmanager
    def start(relative_path: str, *args: str) -> Iterator[LiveServer]:
        with start_server(relative_path, *args) as server:
            yield LiveServer(server)

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


@pytest.fixture(scope="session")
def ipv6_loopback() -> None:
    """Skip, saying why, on a machine without an IPv6 loopback (::1)."""
    if not socket.has_ipv6:
        pytest.skip("this Python was built without IPv6 support")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        pytest.skip(f"no IPv6 loopback on this machine: binding ::1 failed ({error})")
