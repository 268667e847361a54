"""A file-drop server: clients store, list and fetch files over DROP.

    python drop_server.py                     # DROP on 127.0.0.1:8790
    python drop_server.py --ws-port 8791      # and a page for the browser

It keeps the files in --folder (./drop by default), and each limit is an
option (see --help). Ctrl+C or SIGTERM drains it: it stops accepting,
finishes the requests it has started (each within --deadline seconds),
then exits. It needs drop_protocol.py beside it, and drop.html and drop.js
for the browser page.
"""

import argparse
import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import signal
import ssl
import tempfile
from dataclasses import dataclass, fields
from http import HTTPStatus
from pathlib import Path

from drop_protocol import (
    FILE,
    GET,
    HEADER,
    HEADER_SIZE,
    LIST,
    MAGIC,
    NAME,
    PUT,
    VERSION,
    Code,
    ProtocolError,
    check_name,
    error_reply,
    names_reply,
    parse_header,
    stored_reply,
)
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.http11 import Request

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8790
HERE = Path(__file__).resolve().parent
CHUNK = 64 * 1024  # bytes read or written at a time: what a client may cost
SPARE_FILES = 16  # descriptors kept for the listeners, the loop, stdout...
BACKLOG = 512  # connections the kernel may queue before we accept them
MAX_NAME_BYTES = 100


# --8<-- [start:limits]
@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server; each is a command-line option."""

    max_size: int = 4 * 2**20  # bytes in one frame's payload
    deadline: float = 30.0  # seconds for a whole request and its reply
    max_connections: int = 64  # at once, DROP and WebSocket together
    max_files: int = 1000  # files stored
    max_bytes: int = 256 * 2**20  # bytes stored, all files together


# --8<-- [end:limits]
# --8<-- [start:store]
class Store:
    """The files, in one folder. A file appears whole, or not at all."""

    def __init__(self, folder: Path, limits: Limits) -> None:
        self.folder = folder
        self.limits = limits
        # Uploads are written here, then renamed into the folder: a reader
        # never sees half a file, and a crash leaves only this folder to
        # empty. Its name starts with a dot, which no DROP name may.
        self.incoming = folder / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        for leftover in self.incoming.iterdir():
            leftover.unlink()
        self.sizes = {
            path.name: path.stat().st_size
            for path in folder.iterdir()
            if servable(path)
        }
        self.reserved_bytes = 0  # promised to uploads in progress
        self.reserved_files = 0

    def names(self) -> list[str]:
        return sorted(self.sizes)

    def path_of(self, name: str) -> Path:
        if name not in self.sizes:
            raise ProtocolError(Code.NOT_FOUND, f"no file named {name}")
        return self.folder / name

    @contextlib.contextmanager
    def upload(self, name: str, size: int):
        """A temporary file for `size` bytes, renamed to `name` if all goes
        well; FULL, before a byte is read, if they would not fit."""
        new_file = name not in self.sizes
        files = len(self.sizes) + self.reserved_files + new_file
        stored = sum(self.sizes.values()) - self.sizes.get(name, 0)
        if files > self.limits.max_files:
            raise ProtocolError(Code.FULL, f"{self.limits.max_files} files")
        if stored + self.reserved_bytes + size > self.limits.max_bytes:
            raise ProtocolError(Code.FULL, f"{self.limits.max_bytes} bytes")
        self.reserved_bytes += size
        self.reserved_files += new_file
        temporary = tempfile.NamedTemporaryFile(  # noqa: SIM115
            dir=self.incoming, delete=False
        )
        try:
            with temporary:
                yield temporary
            os.replace(temporary.name, self.folder / name)
            self.sizes[name] = size
        finally:
            self.reserved_bytes -= size
            self.reserved_files -= new_file
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary.name)  # still there: the upload failed


def servable(path: Path) -> bool:
    """A regular file with a valid name: never a symlink that could lead
    out of the folder, never a dotfile."""
    regular = path.is_file() and not path.is_symlink()
    return regular and NAME.fullmatch(path.name) is not None


# --8<-- [end:store]
# --8<-- [start:answer]
async def answer(reader: asyncio.StreamReader, store: Store, max_size: int):
    """Read one request; yield its reply, in chunks of at most CHUNK bytes.

    The caller turns a ProtocolError (raised before the first chunk) into
    an ERROR reply.
    """
    header = parse_header(await reader.readexactly(HEADER_SIZE), max_size)
    if header.kind == PUT:
        yield await receive_file(reader, header.length, store)
    elif header.kind == GET:
        if not 0 < header.length <= MAX_NAME_BYTES:
            raise ProtocolError(Code.BAD_NAME, "a name is 1 to 100 bytes")
        name = check_name(await reader.readexactly(header.length))
        # Never the whole file in memory: a client that reads slowly holds
        # one chunk here, and the rest waits on disk.
        with store.path_of(name).open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            yield HEADER.pack(MAGIC, VERSION, FILE, size)
            while chunk := file.read(CHUNK):
                yield chunk
        print(f"GET {name}: sent {size} bytes", flush=True)
    elif header.kind == LIST:
        if header.length:
            raise ProtocolError(Code.BAD_FRAME, "LIST has no payload")
        yield names_reply(store.names())
    else:
        raise ProtocolError(Code.UNKNOWN_TYPE, f"type {header.kind!r}")


async def receive_file(reader, length: int, store: Store) -> bytes:
    """PUT: stream the upload to disk, CHUNK bytes at a time; reply STORED."""
    name_length = (await reader.readexactly(1))[0] if length else 0
    if not 0 < name_length < length:
        raise ProtocolError(Code.BAD_FRAME, "PUT needs a name and content")
    name = check_name(await reader.readexactly(name_length))
    size = length - 1 - name_length
    digest = hashlib.sha256()
    with store.upload(name, size) as file:
        print(f"PUT {name}: receiving {size} bytes", flush=True)
        remaining = size
        while remaining:
            chunk = await reader.readexactly(min(CHUNK, remaining))
            file.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    print(f"PUT {name}: stored {size} bytes", flush=True)
    return stored_reply(digest.digest())


# --8<-- [end:answer]
# --8<-- [start:exchange]
class Exchange:
    """One DROP connection: one request, one reply, then the server closes."""

    def __init__(self, reader, writer, store: Store, max_size: int) -> None:
        self.reader, self.writer = reader, writer
        self.store, self.max_size = store, max_size
        self.replied = False  # has a byte of the reply been written?

    async def run(self) -> None:
        try:
            # aclosing(): if the deadline cancels us mid-reply, the file
            # that answer() opened is closed now, not whenever.
            chunks = answer(self.reader, self.store, self.max_size)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    await self.send(chunk)
        except ProtocolError as error:
            print(f"Refused: {error}", flush=True)
            await self.send(error_reply(error.code, error.text))
            await self.drain_input()

    async def send(self, data: bytes) -> None:
        self.replied = True
        self.writer.write(data)
        # drain() waits while the client reads slower than we write, so
        # that a client that stops reading cannot fill our memory.
        await self.writer.drain()

    async def drain_input(self) -> None:
        """Read and drop what the client still sends, until it closes.

        Closing a socket with unread bytes in it sends a reset, which can
        destroy the ERROR reply before the client reads it: a client that
        sends 5 MB past a 4 MB limit would see "connection reset", not why.
        """
        if self.writer.can_write_eof():  # TLS cannot half-close
            self.writer.write_eof()
        while await self.reader.read(CHUNK):
            pass


# --8<-- [end:exchange]
# --8<-- [start:connections]
class Connections:
    """The open connections: how many there may be, and their tasks."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.tasks: set[asyncio.Task] = set()
        self.idle_websockets: set[ServerConnection] = set()
        self.draining = False

    def full(self) -> bool:
        return len(self.tasks) >= self.cap

    @contextlib.contextmanager
    def slot(self):
        """Count the current task as an open connection while it runs."""
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            yield
        finally:
            self.tasks.discard(task)


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if this process may not open that many files.

    A connection may hold two descriptors: its socket and a file.
    """
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover (Windows)
        return wanted
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(wanted, (soft_limit - SPARE_FILES) // 2))


class AcceptErrors:
    """asyncio's exception handler, quieter when accept() runs out of
    descriptors: asyncio then stops accepting for a second, and tries
    again. One line says so, rather than a traceback for each connection
    it could not accept."""

    def __init__(self) -> None:
        self.retry_at = 0.0  # when asyncio will try accept() again

    def __call__(self, loop, context) -> None:
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in OUT_OF_FILES:
            if loop.time() > self.retry_at:  # once a pause, not a socket
                print("Out of file descriptors: accept() paused", flush=True)
            self.retry_at = loop.time() + ACCEPT_RETRY_DELAY
        else:  # pragma: no cover (anything else: asyncio's own report)
            loop.default_exception_handler(context)


OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)
ACCEPT_RETRY_DELAY = 1.1  # asyncio's second, and a little more


# --8<-- [end:connections]
# --8<-- [start:handle]
async def handle_drop(reader, writer, store, limits, connections) -> None:
    """Serve one DROP connection within the deadline; never raise."""
    if connections.full():
        # Refused at once, with a reason: no slot, nothing read.
        print("Busy: a connection refused", flush=True)
        writer.write(error_reply(Code.BUSY, "too many connections"))
        writer.close()
        return
    exchange = Exchange(reader, writer, store, limits.max_size)
    with connections.slot():
        try:
            # One deadline for everything: reading the request (a client
            # that sends a byte a second gets no more time than a silent
            # one), writing the reply, and draining what is left.
            await asyncio.wait_for(exchange.run(), limits.deadline)
        except asyncio.TimeoutError:  # TimeoutError on Python 3.11+
            print(f"Too slow: over {limits.deadline} s", flush=True)
            if not exchange.replied:
                writer.write(error_reply(Code.TOO_SLOW, "deadline passed"))
            writer.transport.abort()  # and drop what it did not read
        except asyncio.IncompleteReadError:
            print("Client closed mid-request", flush=True)
        except OSError as error:  # reset, or gone before we half-closed
            print(f"Client went away: {error.strerror}", flush=True)
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # reset: nothing to flush
                await writer.wait_closed()


# --8<-- [end:handle]
# --8<-- [start:websocket]
async def handle_websocket(websocket, store, limits, connections) -> None:
    """The same requests and replies, one frame per WebSocket message.

    Website.route() refused the handshake if the server was full.
    """
    deadline = limits.deadline
    with connections.slot():
        while not connections.draining:
            connections.idle_websockets.add(websocket)
            try:
                # The same deadline: a request that trickles in, or an idle
                # connection, is closed after it.
                message = await asyncio.wait_for(websocket.recv(), deadline)
            except asyncio.TimeoutError:
                await websocket.close(1008, "too slow")
                return
            except ConnectionClosed:
                return
            finally:
                connections.idle_websockets.discard(websocket)
            reply = answer_message(message, store, limits.max_size)
            async with contextlib.aclosing(reply):
                try:
                    await asyncio.wait_for(websocket.send(reply), deadline)
                except asyncio.TimeoutError:
                    print("Too slow: a WebSocket reply", flush=True)
                    websocket.transport.abort()
                    return
                except ConnectionClosed:
                    print("Client went away: a WebSocket reply", flush=True)
                    return
        await websocket.close(1001, "server restarting")


async def answer_message(message, store: Store, max_size: int):
    """A WebSocket message's reply, in chunks: each one a fragment."""
    if isinstance(message, str):
        yield error_reply(Code.BAD_FRAME, "DROP frames are binary")
        return
    reader = asyncio.StreamReader()
    reader.feed_data(message)  # the same reading code as over TCP
    reader.feed_eof()
    try:
        chunks = answer(reader, store, max_size)
        async with contextlib.aclosing(chunks):
            first = await chunks.__anext__()
            if not reader.at_eof():
                raise ProtocolError(Code.BAD_FRAME, "bytes after the frame")
            yield first
            async for chunk in chunks:
                yield chunk
    except ProtocolError as error:
        print(f"Refused: {error}", flush=True)
        yield error_reply(error.code, error.text)
    except asyncio.IncompleteReadError:
        yield error_reply(Code.BAD_FRAME, "a frame cut short")


# --8<-- [end:websocket]
# --8<-- [start:pages]
PAGES = {
    "/": ("drop.html", "text/html"),
    "/drop.js": ("drop.js", "text/javascript"),
}
# The page runs its own script, talks to its own server, and nothing else.
CSP = "default-src 'self'; img-src data:"


class Website:
    """The browser's side: two files, and who may open the WebSocket."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections
        self.hosts: set[str] = set()  # the Host headers it answers
        self.origins: set[str] = set()  # the pages that may connect

    def answer_to(self, hosts: set[str]) -> None:
        self.hosts = hosts
        self.origins = {f"{s}://{host}" for host in hosts for s in SCHEMES}

    def route(self, connection: ServerConnection, request: Request):
        # Against DNS rebinding: another site's name, pointed at 127.0.0.1,
        # arrives in Host. Answer only the names this server goes by.
        if not one_of(request.headers.get_all("Host"), self.hosts):
            return connection.respond(HTTPStatus.FORBIDDEN, "Unknown host\n")
        if request.path in PAGES:
            return page(connection, *PAGES[request.path])
        if request.path != "/drop":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        # A page of another site, open in the same browser, must not use
        # this server in the reader's name. Programs send no Origin.
        origins = request.headers.get_all("Origin")
        if origins and not one_of(origins, self.origins):
            return connection.respond(HTTPStatus.FORBIDDEN, "Bad origin\n")
        if self.connections.full() or self.connections.draining:
            busy = HTTPStatus.SERVICE_UNAVAILABLE
            return connection.respond(busy, "Busy, try again\n")
        return None  # go on with the WebSocket handshake


SCHEMES = ("http", "https")  # https: behind a proxy that adds TLS


def one_of(values: list[str], allowed: set[str]) -> bool:
    """One header, and an allowed value: two Host headers are refused."""
    return len(values) == 1 and values[0] in allowed


def page(connection: ServerConnection, filename: str, content_type: str):
    response = connection.respond(HTTPStatus.OK, (HERE / filename).read_text())
    del response.headers["Content-Type"]  # respond() made it text/plain
    response.headers["Content-Type"] = f"{content_type}; charset=utf-8"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --8<-- [end:pages]
# --8<-- [start:serve]
async def serve_drop(args: argparse.Namespace, limits: Limits) -> None:
    """Serve until Ctrl+C or SIGTERM, then drain and return."""
    store = Store(args.folder, limits)
    connections = Connections(connection_cap(limits.max_connections))
    context = tls_context(args.cert, args.key) if args.cert else None
    stop = asyncio.Event()
    stop_on_signals(stop)
    accept_errors = AcceptErrors()
    asyncio.get_running_loop().set_exception_handler(accept_errors)
    logging.getLogger("websockets.server").addFilter(not_a_bad_handshake)
    drop_server = await asyncio.start_server(
        lambda r, w: handle_drop(r, w, store, limits, connections),
        args.host,
        args.port,
        # A burst of connections waits in the kernel's queue, rather than
        # overflow it and try again a second later.
        backlog=BACKLOG,
        ssl=context,
        # A TLS handshake that never ends is as slow as a silent client.
        ssl_handshake_timeout=limits.deadline if context else None,
    )
    print(f"Listening on {address(drop_server)}", flush=True)
    ws_server = None
    if args.ws_port is not None:
        website = Website(connections)
        ws_server = await serve(
            lambda ws: handle_websocket(ws, store, limits, connections),
            args.host,
            args.ws_port,
            ssl=context,
            process_request=website.route,
            max_size=HEADER_SIZE + limits.max_size,
            max_queue=2,  # frames read ahead of the handler, at most
            open_timeout=limits.deadline,  # for the whole handshake
            close_timeout=limits.deadline,
        )
        here = address(ws_server)
        port = here.rpartition(":")[2]
        website.answer_to({here, f"localhost:{port}", *args.allow_host})
        scheme = "https" if context else "http"
        print(f"Browser page on {scheme}://{here}/", flush=True)
    print(f"At most {connections.cap} connections at once", flush=True)
    await stop.wait()
    await drain(drop_server, ws_server, connections, accept_errors)


def address(server) -> str:
    """host:port of a listening server, an IPv6 address in brackets."""
    host, port = server.sockets[0].getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def not_a_bad_handshake(record: logging.LogRecord) -> bool:
    """websockets 16 (the last for Python 3.10) logs a failed handshake (a
    port scanner, an HTTP/1.0 client) as an error, with a traceback; 17
    at the debug level. A client's mistake is not the server's error."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, InvalidHandshake)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on Ctrl+C (SIGINT) and on SIGTERM."""
    # SIGTERM is how systemd, Docker or `kill` ask a server to stop. On
    # Windows there are no such handlers: Ctrl+C raises KeyboardInterrupt.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)


# --8<-- [end:serve]
# --8<-- [start:tls]
def tls_context(cert_file: str, key_file: str | None) -> ssl.SSLContext:
    """The server's side of TLS: its certificate chain and private key."""
    # Purpose.CLIENT_AUTH: a context for the server's end, with the
    # defaults of the ssl module (TLS 1.2 or later, no weak ciphers).
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError:  # it names no file: we do
        files = f"{cert_file} and {key_file}" if key_file else cert_file
        raise SystemExit(
            f"Cannot read {files}: make_local_ca.py --folder certs"
        ) from None
    return context


# --8<-- [end:tls]
# --8<-- [start:drain]
async def drain(drop_server, ws_server, connections, accept_errors) -> None:
    """Stop accepting, and let every open connection finish.

    Each connection ends within its deadline, so this ends within one
    deadline too: no request that started is cut.
    """
    connections.draining = True
    # After running out of descriptors, asyncio retries accept() a second
    # later even if the socket was closed meanwhile, and then fails with a
    # traceback: let a pending retry come first (usually there is none).
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, accept_errors.retry_at - loop.time()))
    drop_server.close()  # no new connections; the open ones go on
    # A connection accepted just before close() reaches handle_drop() a
    # few turns of the event loop later: let those turns happen, so that
    # it is counted below and served too.
    for _ in range(5):
        await asyncio.sleep(0)
    closing = []
    if ws_server is not None:
        ws_server.close(close_connections=False)
        # An idle WebSocket has no request to finish: close it now. A busy
        # one closes itself once its reply is sent.
        closing = [
            asyncio.create_task(websocket.close(1001, "server restarting"))
            for websocket in list(connections.idle_websockets)
        ]
    print(f"Draining {len(connections.tasks)} connections", flush=True)
    # Until none is left: a connection accepted just before close() may
    # start while the others finish, and is served too.
    while connections.tasks or closing:
        await asyncio.wait([*connections.tasks, *closing])
        closing = []
    if ws_server is not None:
        await ws_server.wait_closed()
    await drop_server.wait_closed()
    print("Drained", flush=True)


# --8<-- [end:drain]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--ws-port", type=int, help="the browser's port")
    parser.add_argument("--folder", type=Path, default=Path("drop"))
    parser.add_argument("--cert", help="TLS: the server's certificate (PEM)")
    parser.add_argument("--key", help="TLS: its private key (PEM)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also answer this Host, and pages from it (behind a proxy)",
    )
    for limit in fields(Limits):  # --max-size, --deadline...
        option = "--" + limit.name.replace("_", "-")
        parser.add_argument(option, type=limit.type, default=limit.default)
    args = parser.parse_args()

    limits = Limits(*(getattr(args, limit.name) for limit in fields(Limits)))
    try:
        asyncio.run(serve_drop(args, limits))
    except OSError as error:
        raise SystemExit(f"Cannot start: {error}") from None
    except KeyboardInterrupt:  # pragma: no cover (Windows: Ctrl+C)
        pass
    print("Server stopped")


if __name__ == "__main__":
    main()
