"""Helpers of the TLS chapter's tests: a server whose log a test follows as it
runs, well-behaved clients, and a ClientHello to drip."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVER = "tls_sockets/tls_echo_server.py"
# The shared server's limits: small, so that each attack ends quickly.
HANDSHAKE_TIMEOUT = 0.3  # seconds
LINE_TIMEOUT = 0.3  # seconds
MAX_LINE = 4096  # bytes
MAX_CLIENTS = 8
WAIT = 5.0  # seconds a test waits for anything before it fails


@dataclass
class LiveServer:
    """A running server snippet whose log lines a test can wait for."""

    host: str
    port: int
    pid: int
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False  # its output is closed: it has stopped

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def follow(self, stream) -> None:
        """Collect the server's lines as it prints them (runs in a thread)."""
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(
        self, pattern: str, count: int = 1, after: int = 0, timeout: float = WAIT
    ) -> list[str]:
        """The first `count` log lines (from index `after`) matching `pattern`.

        Fails if they have not all been printed within `timeout` seconds.
        """
        regex = re.compile(pattern)

        def found() -> list[str]:
            return [line for line in self.lines[after:] if regex.search(line)]

        with self.changed:
            self.changed.wait_for(lambda: len(found()) >= count or self.ended, timeout)
            if len(found()) < count:
                pytest.fail(f"no {count} log lines like {pattern!r}:\n{self.log}")
            return found()[:count]

    def mark(self) -> int:
        """Where the log is now: pass it as `after` to wait for newer lines."""
        with self.changed:
            return len(self.lines)

    @property
    def log(self) -> str:
        with self.changed:
            return "\n".join(self.lines)


LISTENING = re.compile(r"^Listening on \[?(?P<host>[^\]\s]+?)\]?:(?P<port>\d+)$")
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
STOP_TIMEOUT = 10.0  # seconds for a server to exit after Ctrl+C


@contextmanager
def running(path: str, *args: str, preexec_fn=None) -> Iterator[LiveServer]:
    """Start a server snippet on a free port, follow its log, stop it with Ctrl+C.

    Like the shared `start_server`, but the log can be read while the server
    runs: one thread reads its stdout, and a test waits for a line.
    """
    command = [sys.executable, "-W", "error", str(SNIPPETS / path), "--port", "0"]
    process = subprocess.Popen(  # noqa: S603 (runs our own snippet)
        [*command, *args], cwd=SNIPPETS / Path(path).parent, text=True,
        encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
        preexec_fn=preexec_fn,
    )  # fmt: skip
    live = LiveServer("", 0, process.pid)
    errors: list[str] = []
    threads = [
        threading.Thread(target=live.follow, args=(process.stdout,)),
        threading.Thread(target=lambda: errors.append(process.stderr.read())),
    ]
    for thread in threads:
        thread.start()
    try:
        with live.changed:
            live.changed.wait_for(lambda: live.lines or live.ended, WAIT)
            match = LISTENING.match(live.lines[0] if live.lines else "")
        if not match:
            process.kill()
            threads[1].join()
            pytest.fail(f"{path} did not start:\n{live.log}\n{''.join(errors)}")
        live.host, live.port = match["host"], int(match["port"])
        yield live
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl+C does
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for thread in threads:
            thread.join()
        process.stdout.close()
        process.stderr.close()
    assert errors == [""], f"{path} wrote to stderr:\n{errors[0]}"
    assert process.returncode == 0, f"{path} exited with {process.returncode}"
    assert live.lines[-1] == "Server stopped"


def certificate_arguments(certificates) -> list[str]:
    return ["--cert", str(certificates.cert_file), "--key", str(certificates.key_file)]


SMALL_LIMITS = [
    "--handshake-timeout", str(HANDSHAKE_TIMEOUT),
    "--line-timeout", str(LINE_TIMEOUT),
    "--max-line", str(MAX_LINE),
    "--max-clients", str(MAX_CLIENTS),
]  # fmt: skip


def client_hello(ca_file: Path, server_name: str = "127.0.0.1") -> bytes:
    """The first bytes a real TLS client sends: its ClientHello record."""
    context = ssl.create_default_context(cafile=ca_file)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()  # it waits for the server's answer
    return outgoing.read()


def peer_name(address: tuple) -> str:
    """host:port as the server logs a client's address."""
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextmanager
def tls_connection(server: LiveServer, ca_file: Path) -> Iterator[ssl.SSLSocket]:
    """A client connection to `server`, handshake done."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(server.address, WAIT) as raw,
        context.wrap_socket(raw, server_hostname=server.host) as tls,
    ):
        yield tls


def served(server: LiveServer, ca_file: Path):
    """A well-behaved client: one line echoed, and the server done with it.

    It waits for the server's last log line about it, so that its slot is
    free again when the next test begins.
    """

    def client() -> None:
        mark = server.mark()
        with tls_connection(server, ca_file) as tls:
            peer = peer_name(tls.getsockname())
            tls.sendall(b"ping\n")
            assert tls.recv(64) == b"ping\n"
        server.wait_for(rf"^{re.escape(peer)}: lines echoed: 1$", after=mark)

    return client


@dataclass
class Conversation:
    answer: str  # the first line the program printed
    returncode: int
    stderr: str


def converse(argv: list, line: str, timeout: float = WAIT) -> Conversation:
    """Run a peer client, type `line`, read the line it prints, end its input.

    A client such as `openssl s_client` sends what it reads on its input and
    prints what the server answers; closing its input ends it, but only once
    the answer is in: no timeout to wait for.
    """
    process = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
        [str(part) for part in argv], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        process.stdin.write(line.encode())
        process.stdin.flush()
        answer = read_line(process.stdout.fileno(), timeout)
        process.stdin.close()
        process.wait(timeout)
        return Conversation(answer, process.returncode, process.stderr.read().decode())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def read_line(fd: int, timeout: float) -> str:
    """A line from a pipe, or what came before it closed; bounded in time."""
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"nothing after {line!r} in {timeout} s"
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line.decode("utf-8", "replace")


def load_snippet(relative_path: str):
    """Import a snippet as a module, for fixtures that outlive a test."""
    import importlib.util

    path = SNIPPETS / relative_path
    spec = importlib.util.spec_from_file_location(f"{path.stem}_for_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- A TLS connection as a sequence figure ---------------------------------
# Python calls an SSLContext's _msg_callback (a debugging hook of the ssl
# module) for every TLS message and record header it sends or receives: the
# messages of the handshake, by name, as the real programs exchange them.

HEADER, INNER_TYPE = 256, 257  # ssl._TLSContentType: record header, inner type
HANDSHAKE, APPLICATION_DATA = 22, 23
MESSAGE_NAMES = {  # TLS 1.3's names for its handshake messages (RFC 8446)
    1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
    8: "EncryptedExtensions", 11: "Certificate", 13: "CertificateRequest",
    15: "CertificateVerify", 20: "Finished",
}  # fmt: skip


def record_messages(context: ssl.SSLContext) -> list[tuple[str, int, int]]:
    """The (direction, content type, message type) of each TLS message that
    a connection made with `context` sends ("write") or receives ("read")."""
    events: list[tuple[str, int, int]] = []

    def callback(conn, direction, version, content_type, msg_type, data):
        events.append((direction, int(content_type), int(msg_type)))

    context._msg_callback = callback
    return events


def handshake_steps(events: list, sent: str, received: str) -> list:
    """The figure's steps: messages grouped by sender, and where encryption
    begins (the first handshake message in a record of type 23)."""
    from sequence_figures import Message, Note

    steps: list = []
    record_type = {"read": 0, "write": 0}
    encrypted = False
    for direction, content_type, msg_type in events:
        if content_type == HEADER:
            record_type[direction] = msg_type
            continue
        if content_type == HANDSHAKE:
            label = MESSAGE_NAMES[msg_type]
        elif content_type == INNER_TYPE and msg_type == APPLICATION_DATA:
            text = sent if direction == "write" else received
            label = f'data: "{text}"'
        else:
            continue  # alerts, ChangeCipherSpec for old middleboxes, inner types
        if record_type[direction] == APPLICATION_DATA and not encrypted:
            encrypted = True
            steps.append(Note("Encrypted from here on"))
        sender = 0 if direction == "write" else 1
        last = steps[-1] if steps else None
        if isinstance(last, Message) and last.sender == sender:
            steps[-1] = Message(sender, 1 - sender, [*last.lines, label])
        else:
            steps.append(Message(sender, 1 - sender, [label]))
    return steps


def check_embedded_size(page: Path, svg: str, name: str) -> None:
    """The page shows the figure at its own size: the <img> width and height
    are the SVG's, so that the page does not jump as it loads."""
    view_box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    size = f'width="{view_box[1]}" height="{view_box[2]}"'
    embedded = re.search(rf"\({re.escape(name)}\){{ ([^}}]*) }}", page.read_text())
    assert embedded, f"{page.name} does not show {name}"
    assert embedded[1].startswith(size), f"{page.name}: {name} is {size}"
