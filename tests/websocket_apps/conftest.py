"""Fixtures of the WebSockets chapter: a hand-written client, shared servers.

* `raw_websocket` opens connections byte by byte, to send what no library
  would: an invalid frame, a frame header that announces too much, a client
  that never answers a ping, never reads, or disappears without closing.
* `echo_server` is the echo server of "Server and client", for two pages.
* `SERVERS` describes the four server snippets for the fault matrix
  (test_limits.py): how to start each with short limits, and a well-behaved
  client that must still be served while a fault goes on.

The browser test of the chat uses the shared `chromium` (tests/conftest.py).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.sync.client import connect

TIMEOUT = 5.0  # seconds for any read from a server under test

TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9


def handshake(host: str, port: int, path: str = "/", **headers: str) -> bytes:
    """An opening handshake request, with extra or replaced headers."""
    fields = {
        "Host": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode("ascii"),
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawWebSocket:
    """A client-side WebSocket connection over a plain socket."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str = "/",
        tls: ssl.SSLContext | None = None,
        *,
        receive_buffer: int | None = None,
        expect: bytes | None = b"HTTP/1.1 101 Switching Protocols",
        **headers: str,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family)
        if receive_buffer is not None:  # before connecting: the TCP window
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(TIMEOUT)
        self.buffer = b""
        try:
            self.sock.connect((host, port))
            if tls is not None:
                self.sock = tls.wrap_socket(self.sock, server_hostname=host)
            self.sock.sendall(handshake(host, port, path, **headers))
            self.response = self._read_until(b"\r\n\r\n")
            self.status = self.response.split(b"\r\n")[0]
            assert expect in (None, self.status), self.response
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(64 * 1024)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_until(self, end: bytes) -> bytes:
        while end not in self.buffer:
            chunk = self.sock.recv(64 * 1024)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(end)
        return data

    def send_frame(
        self, opcode: int, payload: bytes, *, announced_length: int | None = None
    ) -> None:
        """Send one masked frame; `announced_length` makes its header lie."""
        self.sock.sendall(self.frame(opcode, payload, announced_length))

    def send_then_close(self, message: str) -> None:
        """A text message and a CLOSE frame, in one write: they arrive together."""
        close = self.frame(CLOSE, struct.pack("!H", 1000))
        self.sock.sendall(self.frame(TEXT, message.encode()) + close)

    @staticmethod
    def frame(
        opcode: int, payload: bytes, announced_length: int | None = None
    ) -> bytes:
        length = len(payload) if announced_length is None else announced_length
        header = bytes([0x80 | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 2**16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return header + mask + masked

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the server (which never masks): opcode, payload."""
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def read_close(self) -> tuple[int, str]:
        """Read past data and pings (never answering) to the close frame."""
        while True:
            opcode, payload = self.read_frame()
            if opcode == CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    def close(self) -> None:
        """The closing handshake: once the server has answered, it no longer
        counts this connection as open."""
        self.sock.sendall(self.frame(CLOSE, struct.pack("!H", 1000)))
        self.read_close()
        self.sock.close()

    def vanish(self) -> None:
        """Disappear as a crashed client does: a reset, no closing handshake."""
        # Linger 0: close() sends a TCP reset instead of an orderly end.
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.sock.close()


@pytest.fixture(scope="session")
def echo_server(start_server):
    """The echo server of "Server and client", shared by the tests of two pages."""
    with start_server("websocket_apps/echo_server.py") as server:
        yield server
    assert server.output.endswith("Server stopped\n")


@pytest.fixture
def raw_websocket() -> type[RawWebSocket]:
    """`with raw_websocket(host, port, path) as ws:` a hand-made connection."""
    return RawWebSocket


# --- The four servers, for the fault matrix --------------------------------

# Short limits, so that each fault is over in well under a second.
OPEN_TIMEOUT = 0.5  # seconds for the whole opening handshake
# TLS adds a handshake, slow on a busy machine: more time, not to drop the
# well-behaved client instead of the attacker.
TLS_OPEN_TIMEOUT = 1.5
KEEPALIVE = ["--ping-interval", "0.2", "--ping-timeout", "0.2"]
CLOSE_TIMEOUT = ["--close-timeout", "0.2"]
NO_KEEPALIVE = ("--ping-interval", "60")  # for a test that holds connections


@dataclass(frozen=True)
class ServerKind:
    """A server snippet, as the fault matrix starts and uses it."""

    snippet: str
    path: str = "/"  # where a client opens its WebSocket
    tls: bool = False
    options: tuple[str, ...] = ()  # its short limits
    message: str = "Hello"  # what a well-behaved client sends
    open_timeout: float = OPEN_TIMEOUT  # given in options below
    no_keepalive: tuple[str, ...] = ()  # options: no drops for missed pings
    expected: Callable[[str], bool] = field(default=lambda reply: True)

    @property
    def name(self) -> str:
        return self.snippet.rsplit("/", 1)[-1].removesuffix(".py")

    def url(self, host: str, port: int, path: str | None = None) -> str:
        scheme = "wss" if self.tls else "ws"
        where = f"[{host}]" if ":" in host else host
        return f"{scheme}://{where}:{port}{self.path if path is None else path}"


SHORT = ("--open-timeout", str(OPEN_TIMEOUT))
SERVERS = {
    kind.name: kind
    for kind in [
        ServerKind(
            "websocket_apps/echo_server.py",
            options=(*SHORT, "--send-timeout", "0.3", *KEEPALIVE, *CLOSE_TIMEOUT),
            expected=lambda reply: reply == "Hello",
            no_keepalive=NO_KEEPALIVE,
        ),
        ServerKind(
            "websocket_apps/greeting_server.py",
            options=SHORT,
            message="Ada",
            expected=lambda reply: reply == "Hello Ada!",
        ),
        ServerKind(
            "websocket_apps/chat_server.py",
            path="/chat?name=Polite",
            options=(*SHORT, *KEEPALIVE, *CLOSE_TIMEOUT),
            expected=lambda reply: '"name": "Polite"' in reply,
            no_keepalive=NO_KEEPALIVE,
        ),
        ServerKind(
            "websocket_apps/secure_echo_server.py",
            tls=True,
            open_timeout=TLS_OPEN_TIMEOUT,
            options=(
                "--open-timeout",
                str(TLS_OPEN_TIMEOUT),
                "--send-timeout",
                "0.3",
                *KEEPALIVE,
                *CLOSE_TIMEOUT,
            ),
            expected=lambda reply: reply == "Hello",
            no_keepalive=NO_KEEPALIVE,
        ),
    ]
}


@dataclass
class ServerUnderTest:
    """A server snippet running with short limits, and how to talk to it."""

    kind: ServerKind
    host: str
    port: int
    pid: int
    tls: ssl.SSLContext | None  # what a client trusts, for wss://
    running: Any  # tests/conftest.py's RunningServer

    @property
    def output(self) -> str:
        """What it printed, once it has stopped."""
        return self.running.output

    def url(self, path: str | None = None) -> str:
        return self.kind.url(self.host, self.port, path)

    def raw(self, path: str | None = None, **options) -> RawWebSocket:
        """A hand-made WebSocket connection to this server."""
        where = self.kind.path if path is None else path
        return RawWebSocket(self.host, self.port, where, self.tls, **options)

    def connect_tcp(self) -> socket.socket:
        """A connection that has done nothing yet (TLS done, for wss://)."""
        sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        if self.tls is None:
            return sock
        return self.tls.wrap_socket(sock, server_hostname=self.host)

    def serve_one(self) -> None:
        """A well-behaved client's whole visit; fails if it is not served."""
        with connect(
            self.url(), ssl=self.tls, open_timeout=TIMEOUT, close_timeout=TIMEOUT
        ) as websocket:
            websocket.send(self.kind.message)
            reply = websocket.recv(timeout=TIMEOUT)
        assert self.kind.expected(reply), reply


@contextmanager
def run_server(
    start_server,
    certificates,
    kind: ServerKind,
    *options: str,
    preexec_fn=None,
    host: str = "127.0.0.1",
) -> Iterator[ServerUnderTest]:
    """Start `kind` with its short limits, and `options` after them."""
    tls_options: tuple[str, ...] = ()
    context = None
    if kind.tls:
        tls_options = ("--cert", str(certificates.cert_file))
        tls_options += ("--key", str(certificates.key_file))
        context = ssl.create_default_context(cafile=certificates.ca_file)
    arguments = ("--host", host, *kind.options, *tls_options, *options)
    with start_server(kind.snippet, *arguments, preexec_fn=preexec_fn) as running:
        pid = running.process.pid
        yield ServerUnderTest(kind, running.host, running.port, pid, context, running)


@pytest.fixture
def server_under_test(start_server, local_certificates):
    """`with server_under_test(kind, *more_options) as server:`, short limits."""
    return functools.partial(run_server, start_server, local_certificates)


@pytest.fixture(scope="module")
def shared_server(start_server, local_certificates):
    """`shared_server(kind)`: one server of each kind for a whole module."""
    with ExitStack() as stack:
        started: dict[str, ServerUnderTest] = {}

        def get(kind: ServerKind) -> ServerUnderTest:
            if kind.name not in started:
                server = run_server(start_server, local_certificates, kind)
                started[kind.name] = stack.enter_context(server)
            return started[kind.name]

        yield get


# --- Other servers that a client may meet ------------------------------------
# Small stand-ins, in threads of the test process, for what a client pointed
# at the wrong place meets: each client must name the real cause in one line.
# (tests/peers/ runs real third-party servers; these reach every branch.)


@dataclass
class Peer:
    """A stand-in server: where it listens."""

    host: str
    port: int

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        where = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{where}:{self.port}{path}"


@contextmanager
def websocket_peer(
    handler, *, host: str = "127.0.0.1", tls=None, **options
) -> Iterator[Peer]:
    """websockets' threaded server, running `handler` for each connection."""
    import threading

    from websockets.sync.server import serve

    # websockets' threaded server binds IPv4 only, unless given a socket.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, 0), family=family)
    port = sock.getsockname()[1]  # before TLS wraps (and detaches) it
    with serve(handler, sock=sock, ssl=tls, **options) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield Peer(host, port)
        finally:
            server.shutdown()
            thread.join()


@contextmanager
def socket_peer(answer: bytes, *, tls=None) -> Iterator[Peer]:
    """A server that accepts one connection, sends `answer` and hangs up."""
    import threading

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)

        def answer_once() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                with tls.wrap_socket(conn, server_side=True) if tls else conn as c:
                    c.sendall(answer)

        thread = threading.Thread(target=answer_once)
        thread.start()
        try:
            yield Peer("127.0.0.1", listener.getsockname()[1])
        finally:
            thread.join()


@pytest.fixture
def peers(local_certificates):
    """Factories of stand-in servers, plain or over TLS with the local CA."""
    from types import SimpleNamespace

    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(
        local_certificates.cert_file, local_certificates.key_file
    )

    def tls(secure: bool):
        return server_tls if secure else None

    def http_200(secure: bool = False):
        # A web server: it answers the handshake with a page.
        return websocket_peer(
            lambda websocket: None,
            tls=tls(secure),
            process_request=lambda connection, request: connection.respond(
                200, "Hello, HTTP\n"
            ),
        )

    def closing_1011(secure: bool = False):
        def fail(websocket):
            websocket.close(1011, "something broke")

        return websocket_peer(fail, tls=tls(secure))

    def echo(secure: bool = False, host: str = "127.0.0.1", reply=None):
        def answer(websocket):
            for message in websocket:
                websocket.send(message if reply is None else reply)

        return websocket_peer(answer, tls=tls(secure), host=host)

    def not_http(secure: bool = False):
        return socket_peer(b"SSH-2.0-OpenSSH_9.2\r\n", tls=tls(secure))

    return SimpleNamespace(
        http_200=http_200, closing_1011=closing_1011, echo=echo, not_http=not_http
    )


@pytest.fixture
def silent_listener() -> Iterator[Peer]:
    """A port that accepts TCP connections (the kernel does) and never
    answers: a server that is slow, stuck, or not what the client expects."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield Peer("127.0.0.1", listener.getsockname()[1])
