"""Fixtures of the "Build an application" chapter: the file-drop server.

Tests run drop_server.py with small limits (a deadline of half a second, a
64 KiB payload, 8 connections), so that each fault ends within a second.
A server's log is read while it runs (`DropServer.wait_for`), so a test
waits for the line its own client caused: an event, never a sleep.
"""

from __future__ import annotations

import queue
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets" / "building_an_app"
SERVER = "building_an_app/drop_server.py"
DEADLINE = 0.5  # seconds: --deadline in the tests
MAX_SIZE = 64 * 1024  # bytes: --max-size in the tests
MAX_CONNECTIONS = 8
SMALL_LIMITS = (
    "--deadline", str(DEADLINE), "--max-size", str(MAX_SIZE),
    "--max-connections", str(MAX_CONNECTIONS),
    "--max-files", "50", "--max-bytes", str(4 * MAX_SIZE),
)  # fmt: skip
LOG_WAIT = 10.0  # seconds a test waits for a log line it expects
TIMEOUT = 5.0  # seconds for any socket operation of a test client

# The snippets import each other (drop_protocol), as they do beside each
# other in a reader's folder.
if str(SNIPPETS) not in sys.path:
    sys.path.insert(0, str(SNIPPETS))


@dataclass
class DropServer:
    """A running drop_server.py, its folder, and its log as it comes."""

    running: object  # conftest.RunningServer
    folder: Path
    ws_url: str | None = None
    cap: int = 0  # connections at once, as the server counted them
    lines: queue.Queue = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)  # every line read so far
    seen: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.running.host

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def ws_port(self) -> int:
        return int(self.ws_url.rstrip("/").rpartition(":")[2])

    @property
    def pid(self) -> int:
        return self.running.process.pid

    def read_log(self) -> None:
        # start_server reads the rest once the server stops: either reader
        # may meet the end of the stream first.
        try:
            for line in self.running.process.stdout:
                self.log.append(line.rstrip("\n"))
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass

    def wait_for(self, expected: str) -> str:
        """The first line not yet waited for that contains `expected`."""
        deadline = time.monotonic() + LOG_WAIT
        while True:
            for index, line in enumerate(self.seen):
                if expected in line:
                    return self.seen.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no log line with {expected!r}: {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue


@contextmanager
def drop_server_running(
    start_server, folder: Path, *args: str, preexec_fn=None, ws: bool = False
) -> Iterator[DropServer]:
    options = [*SMALL_LIMITS, "--folder", str(folder), *args]
    if ws:
        options += ["--ws-port", "0"]
    with start_server(SERVER, *options, preexec_fn=preexec_fn) as running:
        server = DropServer(running, folder)
        if ws:
            line = running.process.stdout.readline().strip()
            server.ws_url = line.rpartition(" ")[2].replace("http", "ws", 1)
        threading.Thread(target=server.read_log, daemon=True).start()
        server.cap = int(server.wait_for("At most").split()[2])
        yield server


@pytest.fixture
def drop_server(start_server, tmp_path) -> Iterator[DropServer]:
    """A fresh server of its own, for a test that changes or stops it."""
    with drop_server_running(start_server, tmp_path / "stored") as server:
        yield server


@pytest.fixture(scope="session")
def shared_drop(start_server, tmp_path_factory) -> Iterator[DropServer]:
    """One server for the tests that leave it as they found it (each uses
    names of its own): a start costs a few tenths of a second of CPU."""
    folder = tmp_path_factory.mktemp("stored")
    with drop_server_running(start_server, folder, ws=True) as server:
        yield server


@pytest.fixture(scope="session")
def tls_drop(
    start_server, tmp_path_factory, local_certificates
) -> Iterator[DropServer]:
    """The same, with TLS on both ports (the local CA's certificate)."""
    folder = tmp_path_factory.mktemp("tls")
    with drop_server_running(
        start_server, folder,
        "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file), ws=True,
    ) as server:  # fmt: skip
        yield server


LARGE = 8 * 2**20  # more than the kernel buffers of a connection hold


@pytest.fixture(scope="session")
def large_drop(start_server, tmp_path_factory) -> Iterator[DropServer]:
    """A server with one large file already stored: for clients that stop
    reading its reply, or vanish in the middle of it."""
    folder = tmp_path_factory.mktemp("large")
    (folder / "large.bin").write_bytes(b"L" * LARGE)
    with drop_server_running(
        start_server, folder, "--max-size", str(LARGE + 100),
        "--max-bytes", str(LARGE), ws=True,
    ) as server:  # fmt: skip
        yield server


# --- Clients that speak DROP byte by byte ----------------------------------


def connect(
    server: DropServer, *, buffer: int | None = None, port: int | None = None
) -> socket.socket:
    """A connection to the server's DROP port (or `port`), with a small
    receive buffer if asked (set before connect(): the window follows)."""
    sock = socket.socket(socket.AF_INET6 if ":" in server.host else socket.AF_INET)
    if buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect((server.host, port or server.port))
    except OSError:
        sock.close()
        raise
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset ends it too)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(64 * 1024)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(server: DropServer, request: bytes) -> bytes:
    """Send one request, shut our side, return the whole reply."""
    with connect(server) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def error_of(reply: bytes):
    """The ProtocolError that an ERROR reply carries."""
    from drop_protocol import ERROR, HEADER_SIZE, parse_error, parse_header

    header = parse_header(reply[:HEADER_SIZE], max_length=1024)
    assert header.kind == ERROR, reply[:64]
    return parse_error(reply[HEADER_SIZE : HEADER_SIZE + header.length])


# --- Servers that are not drop_server.py ---------------------------------------


@contextmanager
def canned_server(reply: bytes, *, then_reset: bool = False) -> Iterator[int]:
    """A server on a free port that reads one request, sends `reply`, and
    closes (or resets): what another server, or a broken one, might do."""
    listener = socket.create_server(("127.0.0.1", 0))

    listener.settimeout(TIMEOUT)

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            conn.recv(64 * 1024)
            conn.sendall(reply)
            if then_reset:
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )

    thread = threading.Thread(target=answer_once, daemon=True)
    with listener:
        thread.start()
        yield listener.getsockname()[1]
        thread.join(timeout=TIMEOUT)


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port where the kernel accepts connections and nobody ever answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]
