"""Clients that misbehave on purpose, and probes of the server they attack.

Every attack is bounded (a count, a deadline) and waits on events (a byte, a
close, a timeout on recv) rather than on sleeps: `recv` with a timeout is how
a drip paces itself and, at once, how it notices that the server hung up.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

CONNECT_TIMEOUT = 5.0


def connect(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes or resets `sock`, or None if it did not.

    Whatever the server sends before closing (an error line, a status) is
    read and dropped.
    """
    start = time.monotonic()
    deadline = start + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if sock.recv(64 * 1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


def read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes; fails if it does not in time."""
    chunks = []
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(64 * 1024)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    else:
        raise AssertionError(f"the server did not close within {seconds} s")
    return b"".join(chunks)


def reset(sock: socket.socket) -> None:
    """Close as a crashed client's kernel does: a TCP reset, no orderly end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def slow_drip(
    sock: socket.socket, data: bytes, *, every: float, for_at_most: float
) -> float | None:
    """Send `data` one byte at a time, one every `every` seconds.

    Returns the seconds until the server closed the connection, or None if it
    was still open after `for_at_most` seconds (or once `data` ran out). A
    server whose only limit is an idle timeout longer than `every` never
    closes: each byte resets its clock.
    """
    start = time.monotonic()
    for byte in data:
        if time.monotonic() - start > for_at_most:
            return None
        try:
            sock.sendall(bytes([byte]))
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        # Wait for the next byte's turn, unless the server hangs up first.
        if closed_within(sock, every) is not None:
            return time.monotonic() - start
    return None


@contextmanager
def flood(host: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections at once, all open until the block ends.

    A connection the server refuses or resets is still counted: the test
    decides what the server should have done with each.
    """
    with ExitStack() as stack:
        sockets = []
        for _ in range(count):
            try:
                sock = connect(host, port)
            except OSError:
                continue
            stack.enter_context(sock)
            sockets.append(sock)
        yield sockets


def fill_without_reading(sock: socket.socket, request: bytes, *, rounds: int) -> int:
    """Send `request` up to `rounds` times and never read a reply.

    The client's receive buffer is made small, so the server's writes back
    pile up on the server's side. Returns how many requests were sent before
    the server stopped reading or closed (a send that would block counts as
    the server having stopped reading).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(1.0)
    for sent in range(rounds):
        try:
            sock.sendall(request)
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            return sent
    return rounds


def memory_of(pid: int) -> dict[str, int]:
    """Resident memory of a process, in bytes: now (VmRSS) and at peak (VmHWM)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def served_within(seconds: float, client: Callable[[], object]) -> float:
    """Run a well-behaved client with `seconds` as its whole budget.

    The client must itself use timeouts no longer than `seconds`; this returns
    how long it took, for the report (timing is reported, never asserted:
    the client's own timeout is what fails a test).
    """
    start = time.monotonic()
    client()
    return time.monotonic() - start


def low_file_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn that gives a server process only `limit` file descriptors."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply
