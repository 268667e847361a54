"""A small JSON API with aiohttp.web, the server the HTTP pages' clients talk to.

    python api_server.py

Then, in another terminal, any client of the HTTP pages. With a certificate
(see make_local_ca.py) it serves HTTPS instead:

    python api_server.py --cert certs/server.pem --key certs/server-key.pem
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import logging
import socket
import ssl
import sys
from collections import OrderedDict

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8080
MAX_BODY_SIZE = 1024 * 1024  # JSON and form bodies over 1 MiB get 413
MAX_UPLOAD_SIZE = 16 * 1024 * 1024  # uploads are streamed, so they may be larger
MAX_DOWNLOAD_SIZE = 100 * 1024 * 1024
MAX_DELAY = 10.0  # seconds /delay may be asked to wait
BODY_TIMEOUT = 10.0  # seconds a client may take to send its body
IDLE_TIMEOUT = 15.0  # seconds a connection may stay silent between requests
MAX_NOTE_LENGTH = 1000
MAX_TRACKED_KEYS = 1000  # /flaky forgets the oldest keys beyond this

NOTES = web.AppKey("notes", dict)
NEXT_NOTE_ID = web.AppKey("next_note_id", itertools.count)
ATTEMPTS = web.AppKey("attempts", OrderedDict)
BODY_TIMEOUT_KEY = web.AppKey("body_timeout", float)


# --8<-- [start:errors]
@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Answer every error as JSON, {"error": "..."}, whoever raised it.

    Handlers raise web.HTTPNotFound(text="...") and the like; aiohttp raises
    them too (404 for an unknown path, 413 for a body over client_max_size).
    """
    try:
        return await handler(request)
    except web.HTTPError as error:  # 4xx and 5xx; redirects pass through
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else {}
        return web.json_response(
            {"error": error.text}, status=error.status, headers=headers
        )


# --8<-- [end:errors]
def query_number(request: web.Request, name: str, default: float, maximum: float):
    """A number from the query string, or 400 if it is not one or out of range."""
    try:
        value = float(request.query.get(name, default))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None
    if not 0 <= value <= maximum:
        raise web.HTTPBadRequest(text=f"{name} must be between 0 and {maximum}")
    return value


# --8<-- [start:read_json]
async def read_json(request: web.Request) -> object:
    """The request's JSON body; 400 if it is not JSON, 408 if it is too slow.

    request.json() reads at most client_max_size bytes (413 beyond), and
    the timeout stops a client that sends half a body and then nothing.
    """
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        return await asyncio.wait_for(request.json(), request.app[BODY_TIMEOUT_KEY])
    except json.JSONDecodeError as error:
        raise web.HTTPBadRequest(text=f"body is not valid JSON: {error}") from None
    except asyncio.TimeoutError:
        raise web.HTTPRequestTimeout(text="body not received in time") from None


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
        form = await asyncio.wait_for(request.post(), request.app[BODY_TIMEOUT_KEY])
        reply["form"] = dict(form)
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
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise web.HTTPUnprocessableEntity(text="tags: a list of strings")
    return {"text": text, "tags": tags}


async def create_note(request: web.Request) -> web.Response:
    note = note_from(await read_json(request))
    note["id"] = next(request.app[NEXT_NOTE_ID])
    request.app[NOTES][note["id"]] = note
    # 201 Created, and where the new note lives.
    location = request.app.router["note"].url_for(note_id=str(note["id"]))
    return web.json_response(note, status=201, headers={"Location": str(location)})


async def list_notes(request: web.Request) -> web.Response:
    notes = request.app[NOTES].values()
    if tag := request.query.get("tag"):
        notes = [note for note in notes if tag in note["tags"]]
    return web.json_response(list(notes))


async def get_note(request: web.Request) -> web.Response:
    note_id = int(request.match_info["note_id"])  # the route admits digits only
    if note_id not in request.app[NOTES]:
        raise web.HTTPNotFound(text=f"no note {note_id}")
    return web.json_response(request.app[NOTES][note_id])


# --8<-- [end:notes]
# --8<-- [start:flaky]
async def flaky(request: web.Request) -> web.Response:
    """Fail the first `failures` attempts for each `key` with 503, then succeed.

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
    """Answer after `seconds` seconds: a slow endpoint, to meet a read timeout."""
    seconds = query_number(request, "seconds", default=1, maximum=MAX_DELAY)
    await asyncio.sleep(seconds)
    return web.json_response({"delayed": seconds})


# --8<-- [start:download]
async def download(request: web.Request) -> web.StreamResponse:
    """Stream `size` bytes, 64 KiB at a time: memory use stays flat at any size."""
    size = int(query_number(request, "size", default=1024, maximum=MAX_DOWNLOAD_SIZE))
    response = web.StreamResponse(
        headers={"Content-Disposition": 'attachment; filename="download.bin"'}
    )
    response.content_type = "application/octet-stream"
    response.content_length = size  # the client can tell a cut-off download
    await response.prepare(request)
    block = bytes(range(256)) * 256
    for start in range(0, size, len(block)):
        await response.write(block[: size - start])
    await response.write_eof()
    return response


# --8<-- [end:download]
# --8<-- [start:upload]
async def upload(request: web.Request) -> web.Response:
    """Receive a file sent as multipart/form-data, field "file"; reply with its hash.

    The file is read in chunks and hashed as it arrives, never held whole,
    with its own limit: client_max_size only applies to request.read().
    """
    if request.content_type != "multipart/form-data":
        raise web.HTTPBadRequest(text="send the file as multipart/form-data")
    if (request.content_length or 0) > MAX_UPLOAD_SIZE:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_UPLOAD_SIZE, actual_size=request.content_length
        )
    body_timeout = request.app[BODY_TIMEOUT_KEY]
    reader = await request.multipart()
    field = await asyncio.wait_for(reader.next(), body_timeout)
    if not isinstance(field, BodyPartReader) or field.name != "file":
        raise web.HTTPBadRequest(text='send the file in a form field named "file"')
    digest, size = hashlib.sha256(), 0
    while chunk := await asyncio.wait_for(field.read_chunk(), body_timeout):
        size += len(chunk)
        if size > MAX_UPLOAD_SIZE:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_UPLOAD_SIZE, actual_size=size
            )
        digest.update(chunk)
    reply = {"filename": field.filename, "size": size, "sha256": digest.hexdigest()}
    return web.json_response(reply, status=201)


# --8<-- [end:upload]
# --8<-- [start:app]
def make_app(body_timeout: float = BODY_TIMEOUT) -> web.Application:
    # client_max_size: request.read(), .json() and .post() refuse a body over
    # this size with 413, instead of filling the server's memory.
    app = web.Application(client_max_size=MAX_BODY_SIZE, middlewares=[json_errors])
    app[NOTES] = {}
    app[NEXT_NOTE_ID] = itertools.count(1)
    app[ATTEMPTS] = OrderedDict()
    app[BODY_TIMEOUT_KEY] = body_timeout
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
        ]
    )
    return app


# --8<-- [end:app]
def access_log() -> logging.Logger:
    """One line per request on stdout."""
    logger = logging.getLogger("api_server.access")
    logger.addHandler(logging.StreamHandler(sys.stdout))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


# --8<-- [start:client_faults]
def is_client_fault(record: logging.LogRecord) -> bool:
    """A malformed request, or a client gone mid-request: not the server's fault."""
    error = record.exc_info[1] if record.exc_info else None
    return isinstance(error, (HttpProcessingError, ConnectionResetError))


class OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        return f"{record.getMessage()}: {type(error).__name__}"


def log_client_faults_briefly() -> None:
    """aiohttp logs each client's fault with a traceback on stderr, as if the
    server had failed. Log those in one line on stdout; real errors, with their
    tracebacks, still go to stderr."""
    brief = logging.StreamHandler(sys.stdout)
    brief.addFilter(is_client_fault)
    brief.setFormatter(OneLine())
    full = logging.StreamHandler()  # stderr
    full.addFilter(lambda record: not is_client_fault(record))
    logger = logging.getLogger("aiohttp.server")
    logger.addHandler(brief)
    logger.addHandler(full)
    logger.propagate = False


# --8<-- [end:client_faults]
# --8<-- [start:tls_context]
def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context with the certificate chain and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


# --8<-- [end:tls_context]
# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--body-timeout", type=float, default=BODY_TIMEOUT)
    parser.add_argument("--cert", help="certificate chain (PEM): serve HTTPS")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    args = parser.parse_args()

    log_client_faults_briefly()
    context = tls_context(args.cert, args.key) if args.cert else None
    # Bind the socket ourselves to print the port really bound (--port 0).
    listener = socket.create_server((args.host, args.port))
    host, port = listener.getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    web.run_app(
        make_app(args.body_timeout),
        sock=listener,
        ssl_context=context,
        print=None,  # we said where we listen
        access_log=access_log(),
        access_log_format='"%r" %s',
        # A connection silent for this long is closed, even before its first
        # request: a client that connects and never sends costs little.
        keepalive_timeout=args.idle_timeout,
        # A client that goes away stops its handler (no work for nobody).
        handler_cancellation=True,
        shutdown_timeout=5.0,
    )
    print("Server stopped")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
