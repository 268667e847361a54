"""A JSON API with aiohttp.web: the server of every HTTP client on this site.

    python api_server.py

Then, in another terminal, any client of the HTTP or aiohttp pages; /ws is
a WebSocket echo. With a certificate (see make_local_ca.py) it serves HTTPS
instead:

    python api_server.py --port 8443 \\
        --cert certs/server.pem --key certs/server-key.pem

Every limit in Limits is an option too: --idle-timeout 5, --max-notes 100...
"""

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import hashlib
import itertools
import json
import logging
import signal
import socket
import ssl
import struct
import sys
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

try:
    from asyncio import timeout  # Python 3.11 and later
except ImportError:  # pragma: no cover (Python 3.10, where aiohttp needs it)
    from async_timeout import timeout

try:
    import resource  # Unix: how many files this process may open
except ImportError:  # pragma: no cover (Windows has no such limit)
    resource = None

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8080
# The names a request's Host header may give (see check_host).
SERVED_NAMES = ("127.0.0.1", "localhost", "::1")
MAX_DELAY = 10.0  # seconds /delay may be asked to wait
MAX_DOWNLOAD_SIZE = 100 * 1024 * 1024  # bytes /download may be asked for
MAX_NOTE_LENGTH = 1000  # characters in a note's text
MAX_NESTING = 64  # levels of lists and objects in a JSON body
MAX_TRACKED_KEYS = 1000  # /flaky forgets the oldest keys beyond this
SPARE_FILES = 32  # file descriptors kept for all but connections
GOODBYE_TIMEOUT = 1.0  # s for WebSocket clients to answer, on shutdown
NO_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets

log = logging.getLogger("api_server")
T = TypeVar("T")


# --8<-- [start:limits]
@dataclasses.dataclass(frozen=True)
class Limits:
    """What one client may ask of the server; each is an option of main()."""

    idle_timeout: float = 10.0  # s to send a request's header, all of it
    body_timeout: float = 10.0  # s to send a body, once the header is in
    send_timeout: float = 60.0  # s to read an answer, all of it
    max_body_size: int = 1024 * 1024  # bytes of JSON or form: 413 beyond
    max_upload_size: int = 16 * 1024 * 1024  # bytes of an uploaded file
    max_connections: int = 512  # open at once: 503 beyond
    max_notes: int = 1000  # notes stored: 507 beyond
    max_notes_size: int = 1024 * 1024  # bytes of notes stored, as JSON
    ws_message_timeout: float = 60.0  # s to send a WebSocket message
    ws_max_message_size: int = 64 * 1024  # bytes in a message: 1009 at it
    ws_heartbeat: float = 20.0  # s between pings; a pong due in half that


# --8<-- [end:limits]
LIMITS = web.AppKey("limits", Limits)
SERVED = web.AppKey("served", frozenset)
ORIGINS = web.AppKey("origins", frozenset)
ATTEMPTS = web.AppKey("attempts", OrderedDict)


# --8<-- [start:errors]
@web.middleware
async def errors_as_json(request: web.Request, handler) -> web.StreamResponse:
    """Answer every error as JSON, {"error": "..."}, whoever raised it.

    Handlers raise web.HTTPNotFound(text="...") and the like; aiohttp raises
    them too (404 for an unknown path, 413 for a body over client_max_size).
    Any other exception is a bug: logged in full, and a bare 500 for the
    client, as a traceback would tell an attacker about the code.
    """
    try:
        return await handler(request)
    except web.HTTPError as error:  # 4xx and 5xx
        allow = error.headers.get("Allow")  # a 405 says which methods to use
        return web.json_response(
            {"error": error.text},
            status=error.status,
            headers={"Allow": allow} if allow else None,
        )
    except (web.HTTPException, ConnectionError):
        raise  # a redirect goes as it is; a client gone needs no answer
    except Exception:
        log.exception("Bug in %s %s", request.method, request.path)
        error = {"error": "Internal Server Error"}
        return web.json_response(error, status=500)


# --8<-- [end:errors]
# --8<-- [start:check_host]
@web.middleware
async def check_host(request: web.Request, handler) -> web.StreamResponse:
    """Answer only requests for a name this server serves.

    A web page on evil.example can make a browser send requests to this
    server, by pointing evil.example at 127.0.0.1 (DNS rebinding). The
    browser then says Host: evil.example, and gets nothing here.
    """
    host = request.headers.get(hdrs.HOST, "")
    if name_in(host) not in request.app[SERVED]:
        raise web.HTTPMisdirectedRequest(text=f"{host!r} is not served here")
    return await handler(request)


def name_in(host_header: str) -> str:
    """The name in a Host header: "[::1]:8080" gives "::1"."""
    if host_header.startswith("["):  # an IPv6 address, in brackets
        return host_header[1:].partition("]")[0].lower()
    return host_header.partition(":")[0].lower()


# --8<-- [end:check_host]
# --8<-- [start:deadlines]
async def receive(request: web.Request, reading: Awaitable[T]) -> T:
    """Wait for the body, body_timeout seconds in all, then answer 408.

    One deadline for the whole body: with a timeout for each read only, a
    client that sends a byte now and then could hold on for ever.
    """
    seconds = request.app[LIMITS].body_timeout
    try:
        return await asyncio.wait_for(reading, seconds)
    except asyncio.TimeoutError:
        message = f"body not received within {seconds} s"
        raise web.HTTPRequestTimeout(text=message) from None


async def send_or_drop(request: web.Request, sending: Awaitable) -> None:
    """Send an answer within send_timeout seconds, or drop the client."""
    seconds = request.app[LIMITS].send_timeout
    try:
        await asyncio.wait_for(sending, seconds)
    except asyncio.TimeoutError:
        # It stopped reading: drop it, with what is queued for it. close()
        # would wait until that is read, for ever; abort() drops asyncio's
        # queue, and a zero linger time the kernel's (a reset is sent).
        sock = request.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, NO_LINGER)
        request.transport.abort()
        message = f"answer not read within {seconds} s"
        raise ConnectionResetError(message) from None


@web.middleware
async def answer_in_time(request: web.Request, handler) -> web.StreamResponse:
    """Send each answer here, within send_timeout (aiohttp would wait)."""
    response = await handler(request)
    if not response.prepared:  # a streamed answer was sent by its handler
        await send_or_drop(request, send(request, response))
    return response


async def send(request: web.Request, response: web.StreamResponse) -> None:
    await response.prepare(request)
    await response.write_eof()


# --8<-- [end:deadlines]
def query_number(
    request: web.Request, name: str, default: float, maximum: float
) -> float:
    """A number from the query string; 400 if not a number, or too large."""
    try:
        value = float(request.query.get(name, default))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None
    if not 0 <= value <= maximum:
        message = f"{name} must be between 0 and {maximum}"
        raise web.HTTPBadRequest(text=message)
    return value


# --8<-- [start:read_json]
async def read_json(request: web.Request) -> object:
    """The request's JSON body, or a 4xx that says what is wrong with it.

    request.json() would do, but a client's mistakes come out of it as
    exceptions that look like bugs: UnicodeDecodeError, LookupError (an
    unknown charset), RecursionError (deep nesting), ValueError (a number
    of more than 4,300 digits). Each step here names its own failure.
    """
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    body = await receive(request, request.read())  # 413 over client_max_size
    try:
        document = json.loads(body.decode(request.charset or "utf-8"))
    except LookupError:
        message = f"unknown charset {request.charset}"
        raise web.HTTPUnsupportedMediaType(text=message) from None
    except UnicodeDecodeError as error:
        message = f"body is not valid {error.encoding}"
        raise web.HTTPBadRequest(text=message) from None
    except json.JSONDecodeError as error:
        message = f"body is not valid JSON: {error.msg}"
        raise web.HTTPBadRequest(text=message) from None
    except RecursionError:
        raise web.HTTPBadRequest(text="JSON nested too deeply") from None
    except ValueError:  # an integer of over 4,300 digits (Python's limit)
        message = "a number in the JSON is too long"
        raise web.HTTPBadRequest(text=message) from None
    # json.loads() takes up to about 980 levels, but json.dumps() may run
    # out of stack sooner: a reply could fail like a bug. Stop well before.
    if nesting(document) > MAX_NESTING:
        raise web.HTTPBadRequest(text="JSON nested too deeply")
    return document


def nesting(document: object) -> int:
    """How deep lists and objects nest in a document.

    It keeps a list of what is left to look at: a recursive function would
    need the very stack that deep nesting exhausts.
    """
    deepest, to_see = 0, [(document, 0)]
    while to_see:
        value, depth = to_see.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth + 1)
            to_see.extend((item, depth + 1) for item in value)
    return deepest


async def read_form(request: web.Request) -> dict:
    """The fields of a form (application/x-www-form-urlencoded)."""
    try:
        return dict(await receive(request, request.post()))
    except LookupError:
        message = f"unknown charset {request.charset}"
        raise web.HTTPUnsupportedMediaType(text=message) from None
    except UnicodeDecodeError as error:
        message = f"form is not valid {error.encoding}"
        raise web.HTTPBadRequest(text=message) from None


# --8<-- [end:read_json]
async def hello(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello, HTTP!"})


# --8<-- [start:echo]
async def echo(request: web.Request) -> web.Response:
    """Send back what arrived: method, query, headers and body, decoded."""
    reply = {
        "method": request.method,
        "args": dict(request.query),
        "headers": dict(request.headers),
    }
    if request.content_type == "application/x-www-form-urlencoded":
        reply["form"] = await read_form(request)
    elif request.content_type == "application/json":
        reply["json"] = await read_json(request)
    return web.json_response(reply)


# --8<-- [end:echo]
# --8<-- [start:notes]
def note_from(data: object) -> dict:
    """Check a new note sent by a client: 422 says what is wrong with it."""
    if not isinstance(data, dict):
        raise web.HTTPUnprocessableEntity(text="send a JSON object")
    text, tags = data.get("text"), data.get("tags", [])
    if not isinstance(text, str) or not 0 < len(text) <= MAX_NOTE_LENGTH:
        raise web.HTTPUnprocessableEntity(
            text=f"text: a string of 1 to {MAX_NOTE_LENGTH} characters"
        )
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise web.HTTPUnprocessableEntity(text="tags: a list of strings")
    return {"text": text, "tags": tags}


class NoteStore:
    """The notes, in memory, up to a number of notes and of bytes."""

    def __init__(self, max_notes: int, max_size: int) -> None:
        self.max_notes, self.max_size = max_notes, max_size
        self.notes: dict[int, dict] = {}
        self.size = 0  # bytes, counted as JSON
        self.ids = itertools.count(1)

    def add(self, note: dict) -> dict:
        """Store a note and give it an id; 507 when the store is full."""
        size = len(json.dumps(note).encode())
        too_many = len(self.notes) >= self.max_notes
        if too_many or self.size + size > self.max_size:
            raise web.HTTPInsufficientStorage(
                text=f"the store is full: {self.max_notes} notes"
                f" or {self.max_size} bytes at most"
            )
        note["id"] = next(self.ids)
        self.notes[note["id"]] = note
        self.size += size
        return note


NOTES = web.AppKey("notes", NoteStore)


async def create_note(request: web.Request) -> web.Response:
    note = request.app[NOTES].add(note_from(await read_json(request)))
    # 201 Created, and where the new note lives.
    url = request.app.router["note"].url_for(note_id=str(note["id"]))
    headers = {"Location": str(url)}
    return web.json_response(note, status=201, headers=headers)


async def list_notes(request: web.Request) -> web.Response:
    notes = request.app[NOTES].notes.values()
    if tag := request.query.get("tag"):
        notes = [note for note in notes if tag in note["tags"]]
    return web.json_response(list(notes))


async def get_note(request: web.Request) -> web.Response:
    note_id = int(request.match_info["note_id"])  # the route admits digits
    notes = request.app[NOTES].notes
    if note_id not in notes:
        raise web.HTTPNotFound(text=f"no note {note_id}")
    return web.json_response(notes[note_id])


# --8<-- [end:notes]
# --8<-- [start:flaky]
async def flaky(request: web.Request) -> web.Response:
    """Fail the first `failures` attempts of each `key` with 503, then succeed.

    It counts attempts, so a client can see that it retried.
    """
    key = request.query.get("key", "")
    failures = query_number(request, "failures", default=2, maximum=10)
    attempts = request.app[ATTEMPTS]
    attempts[key] = attempts.get(key, 0) + 1
    attempts.move_to_end(key)
    if len(attempts) > MAX_TRACKED_KEYS:
        attempts.popitem(last=False)
    if attempts[key] <= failures:
        raise web.HTTPServiceUnavailable(text=f"attempt {attempts[key]} fails")
    return web.json_response({"attempts": attempts[key]})


# --8<-- [end:flaky]
async def delay(request: web.Request) -> web.Response:
    """Answer after `seconds` seconds: a slow endpoint, for read timeouts."""
    seconds = query_number(request, "seconds", default=1, maximum=MAX_DELAY)
    await asyncio.sleep(seconds)
    return web.json_response({"delayed": seconds})


# --8<-- [start:download]
async def download(request: web.Request) -> web.StreamResponse:
    """Stream `size` bytes, 64 KiB at a time: memory stays flat at any size."""
    size = query_number(request, "size", 1024, maximum=MAX_DOWNLOAD_SIZE)
    response = web.StreamResponse(
        headers={"Content-Disposition": 'attachment; filename="download.bin"'}
    )
    response.content_type = "application/octet-stream"
    response.content_length = int(size)  # so a client can tell a cut-off
    await send_or_drop(request, stream(request, response))
    return response


async def stream(request: web.Request, response: web.StreamResponse) -> None:
    await response.prepare(request)
    block = bytes(range(256)) * 256
    for start in range(0, response.content_length, len(block)):
        # write() waits while the client's connection is full: a slow
        # reader slows this loop down, and never costs more than a block.
        await response.write(block[: response.content_length - start])
    await response.write_eof()


# --8<-- [end:download]
# --8<-- [start:upload]
async def upload(request: web.Request) -> web.Response:
    """Receive a file sent as multipart/form-data, field "file"; hash it.

    The file is read in chunks and hashed as it arrives, never held whole,
    with its own limit: client_max_size only applies to request.read().
    """
    if request.content_type != "multipart/form-data":
        raise web.HTTPBadRequest(text="send the file as multipart/form-data")
    limit = request.app[LIMITS].max_upload_size
    if (request.content_length or 0) > limit:
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit, actual_size=request.content_length
        )
    reply = await receive(request, hash_file(request, limit))
    return web.json_response(reply, status=201)


async def hash_file(request: web.Request, limit: int) -> dict:
    try:
        field = await (await request.multipart()).next()
    except ValueError as error:  # no boundary, or not multipart at all
        message = f"malformed multipart: {error}"
        raise web.HTTPBadRequest(text=message) from None
    if not isinstance(field, BodyPartReader) or field.name != "file":
        message = 'send the file in a form field named "file"'
        raise web.HTTPBadRequest(text=message)
    digest, size = hashlib.sha256(), 0
    while chunk := await field.read_chunk():
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(limit, actual_size=size)
        digest.update(chunk)
    sha256 = digest.hexdigest()
    return {"filename": field.filename, "size": size, "sha256": sha256}


# --8<-- [end:upload]
# --8<-- [start:websocket]
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet)


async def websocket_echo(request: web.Request) -> web.WebSocketResponse:
    """GET /ws: a WebSocket that sends every message back."""
    limits = request.app[LIMITS]
    websocket = web.WebSocketResponse(
        heartbeat=limits.ws_heartbeat,  # a ping; no pong in time: closed
        max_msg_size=limits.ws_max_message_size,  # 1009 at this size
    )
    if not websocket.can_prepare(request).ok:  # a plain GET, say
        raise web.HTTPUpgradeRequired(text="connect with a WebSocket client")
    check_origin(request)
    await websocket.prepare(request)  # 101 Switching Protocols
    request.app[WEBSOCKETS].add(websocket)  # to close it on shutdown
    # send_or_drop() resets a client that does not read its echoes.
    with contextlib.suppress(ConnectionResetError):
        await echo_messages(request, websocket, limits.ws_message_timeout)
    return websocket


# --8<-- [end:websocket]
# --8<-- [start:ws_echo]
async def echo_messages(
    request: web.Request, websocket: web.WebSocketResponse, seconds: float
) -> None:
    """Echo until the client closes, or sends nothing for `seconds`."""
    try:
        while True:
            # One deadline for a whole message, pings included: aiohttp's
            # receive_timeout starts again at each frame, a ping too.
            async with timeout(seconds):
                message = await websocket.receive()
            if message.type is WSMsgType.TEXT:
                await send_or_drop(request, websocket.send_str(message.data))
            elif message.type is WSMsgType.BINARY:
                data = message.data
                await send_or_drop(request, websocket.send_bytes(data))
            else:  # closed by the client, or on an error (1009, 1002...)
                return
    except asyncio.TimeoutError:
        reason = f"no message within {seconds} s"
        closing = websocket.close(
            code=WSCloseCode.POLICY_VIOLATION, message=reason.encode()
        )
        await send_or_drop(request, closing)


# --8<-- [end:ws_echo]
# --8<-- [start:origin]
def check_origin(request: web.Request) -> None:
    """Let only this server's own pages, and the --allow-origin ones, in.

    A browser says which page opened a WebSocket, and would send this
    server's cookies along: a page of another site must not get to use
    them (cross-site WebSocket hijacking). Programs send no Origin.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return
    host = request.headers.get(hdrs.HOST, "").lower()  # checked already
    ours = {f"http://{host}", f"https://{host}"} | request.app[ORIGINS]
    if origin.lower() not in ours:
        raise web.HTTPForbidden(text=f"origin {origin!r} may not connect")


# --8<-- [end:origin]
# --8<-- [start:ws_shutdown]
async def close_websockets(app: web.Application) -> None:
    """On shutdown: tell each WebSocket client, with 1001 Going Away.

    All at once, and for a second at most: close() waits for the client
    to answer, and for ever for a client that reads nothing.
    """
    closing = [
        websocket.close(code=WSCloseCode.GOING_AWAY, message=b"shutdown")
        for websocket in list(app[WEBSOCKETS])
    ]
    with contextlib.suppress(asyncio.TimeoutError):
        async with timeout(GOODBYE_TIMEOUT):
            await asyncio.gather(*closing)


# --8<-- [end:ws_shutdown]
# --8<-- [start:app]
def make_app(
    limits: Limits | None = None,
    served: Iterable[str] = SERVED_NAMES,
    origins: Iterable[str] = (),
) -> web.Application:
    limits = limits or Limits()
    # client_max_size: request.read(), .json() and .post() refuse a body
    # over this size with 413, instead of filling the server's memory.
    app = web.Application(
        client_max_size=limits.max_body_size,
        middlewares=[answer_in_time, errors_as_json, check_host],
    )
    app[LIMITS] = limits
    app[SERVED] = frozenset(name.lower() for name in served)
    app[ORIGINS] = frozenset(origin.lower() for origin in origins)
    app[WEBSOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_websockets)
    app[NOTES] = NoteStore(limits.max_notes, limits.max_notes_size)
    app[ATTEMPTS] = OrderedDict()
    app.add_routes(
        [
            web.get("/", hello),
            web.get("/echo", echo),
            web.post("/echo", echo),
            web.get("/notes", list_notes),
            web.post("/notes", create_note),
            web.get(r"/notes/{note_id:\d+}", get_note, name="note"),
            web.get("/flaky", flaky),
            web.post("/flaky", flaky),
            web.get("/delay", delay),
            web.get("/download", download),
            web.post("/upload", upload),
            web.get("/ws", websocket_echo),
        ]
    )
    return app


# --8<-- [end:app]
# --8<-- [start:connections]
FULL = b'{"error": "too many connections: try again later"}'
FULL_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(FULL), FULL)
)


class OneConnection(asyncio.Protocol):
    """A connection, handed to aiohttp, or refused if too many are open.

    aiohttp has no such limit. This protocol decides when the connection
    is made (after the TLS handshake, for HTTPS), then hands the transport
    over to aiohttp's protocol, which counts it among its connections.
    """

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server, self.limit = server, limit

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self.server.connections) >= self.limit:
            transport.write(FULL_ANSWER)  # before aiohttp, so by hand
            transport.close()
            return
        http = self.server()  # aiohttp's protocol for one connection
        transport.set_protocol(http)  # asyncio talks to it from now on
        http.connection_made(transport)


def connection_limit(wanted: int) -> int:
    """`wanted`, or fewer if this process may not open that many files."""
    if resource is None:  # pragma: no cover (Windows)
        return wanted
    files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if files == resource.RLIM_INFINITY:  # pragma: no cover (no limit set)
        return wanted
    return max(1, min(wanted, files - SPARE_FILES))


# --8<-- [end:connections]
def access_log() -> logging.Logger:
    """One line per request on stdout."""
    logger = logging.getLogger("api_server.access")
    logger.addHandler(logging.StreamHandler(sys.stdout))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


# --8<-- [start:client_faults]
def client_went_away(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return isinstance(error, ConnectionError)


def client_fault(record: logging.LogRecord) -> bool:
    """A malformed request, or a client gone: not the server's fault."""
    error = record.exc_info[1] if record.exc_info else None
    return isinstance(error, (HttpProcessingError, ConnectionError))


class OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1]
        return f"{record.getMessage()}: {type(error).__name__}: {error}"


def log_client_faults_briefly() -> None:
    """aiohttp logs a client's fault with a traceback on stderr, as if the
    server had failed. A malformed request has its line in the access log
    already, with its 400; a client gone mid-request gets one line here.
    Real errors, with their tracebacks, still go to stderr."""
    brief = logging.StreamHandler(sys.stdout)
    brief.addFilter(client_went_away)
    brief.setFormatter(OneLine())
    full = logging.StreamHandler()  # stderr
    full.addFilter(lambda record: not client_fault(record))
    logger = logging.getLogger("aiohttp.server")
    logger.addHandler(brief)
    logger.addHandler(full)
    logger.propagate = False


class OutOfFiles:
    """asyncio's loop exception handler, with one line for a full process.

    With no file descriptor left, accept() fails; asyncio tries again a
    second later, and reports each failure with a traceback. One line a
    second says enough.
    """

    def __init__(self) -> None:
        self.last_report = float("-inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict):
        error = context.get("exception")
        if getattr(error, "errno", None) not in (errno.EMFILE, errno.ENFILE):
            loop.default_exception_handler(context)  # pragma: no cover (bugs)
        elif time.monotonic() - self.last_report >= 1:
            self.last_report = time.monotonic()
            print(f"accept() failed: {error.strerror}; retrying", flush=True)


# --8<-- [end:client_faults]
# --8<-- [start:tls_context]
def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context with the certificate chain and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


# --8<-- [end:tls_context]
# --8<-- [start:serve]
async def serve(
    app: web.Application,
    listener: socket.socket,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve the app on a bound socket until Ctrl+C (SIGINT) or SIGTERM."""
    limits = app[LIMITS]
    runner = web.AppRunner(
        app,
        access_log=access_log(),
        access_log_format='"%r" %s',
        # aiohttp's name for the time a connection has to send a request's
        # whole header, from when it opens or gets its last answer. Bytes
        # that trickle in do not extend it. (aiohttp's default: an hour.)
        keepalive_timeout=limits.idle_timeout,
        # After an answer sent before the body was read (a 413, a 408),
        # read and drop what is left of the body, for this long at most.
        lingering_time=limits.body_timeout,
        # A client that goes away stops its handler: no work for nobody.
        handler_cancellation=True,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(OutOfFiles())
    limit = connection_limit(limits.max_connections)
    server = await loop.create_server(
        lambda: OneConnection(runner.server, limit),
        sock=listener,
        ssl=tls,
        # A TLS client has as long for its handshake as for its header.
        ssl_handshake_timeout=limits.idle_timeout if tls else None,
    )
    stop = stop_signal()
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if listener.family == socket.AF_INET6 else host
    print(f"Listening on {shown}:{port}", flush=True)  # ready, at last
    try:
        await stop.wait()
    finally:
        server.close()  # accept no more connections
        await runner.cleanup()  # finish what is in progress, close the rest


def stop_signal() -> asyncio.Event:
    """An event set by Ctrl+C (SIGINT) or SIGTERM (from service managers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Unix only: on Windows, Ctrl+C ends asyncio.run() with KeyboardInterrupt.
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
    return stop


# --8<-- [end:serve]
# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--cert", help="certificate chain (PEM): serve HTTPS")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--serve-name",
        action="append",
        default=[],
        help="a name to serve besides --host, 127.0.0.1, localhost and ::1",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        help="a page's origin that may open /ws: http://127.0.0.1:3000",
    )
    for limit in dataclasses.fields(Limits):  # --idle-timeout, --max-notes...
        option = "--" + limit.name.replace("_", "-")
        parser.add_argument(option, type=limit.type, default=limit.default)
    args = parser.parse_args()
    names = [limit.name for limit in dataclasses.fields(Limits)]
    limits = Limits(**{name: getattr(args, name) for name in names})

    logging.basicConfig(level=logging.WARNING)  # bugs, in full, on stderr
    log_client_faults_briefly()
    context = tls_context(args.cert, args.key) if args.cert else None
    served = [*SERVED_NAMES, args.host, *args.serve_name]
    app = make_app(limits, served, args.allow_origin)
    # Bind here: an IPv6 address (--host ::1) needs its family, and a port
    # in use deserves one line, not a traceback (--port 0 picks a free one).
    try:
        family = socket.getaddrinfo(args.host, args.port)[0][0]
        listener = socket.create_server((args.host, args.port), family=family)
    except OSError as error:  # a port in use, a name that does not resolve
        sys.exit(f"Cannot listen on {args.host}: {error.strerror}")
    with contextlib.suppress(KeyboardInterrupt):  # Windows: see stop_signal
        asyncio.run(serve(app, listener, context))
    print("Server stopped")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
