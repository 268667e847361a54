"""Serve the files of a folder over HTTP, built on the standard http.server.

    python3 file_server.py --directory public

For sharing files on your own machine while you develop, never on a network:
it has no TLS and no access control. Its limits are on the page.
"""

import argparse
import contextlib
import functools
import html
import http.server
import io
import math
import os
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

try:
    import resource  # Unix only: the limit on open files
except ImportError:  # pragma: no cover (Windows)
    resource = None

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8081
REQUEST_TIMEOUT = 10.0  # seconds to send a whole request line and header
RESPONSE_TIMEOUT = 60.0  # seconds to take a whole response
MAX_REQUEST_HEAD = 64 * 1024  # bytes of request line and header together
MAX_CONNECTIONS = 256
LISTEN_BACKLOG = 1024  # connections the kernel queues before we accept them
CHUNK_SIZE = 64 * 1024
INDEX_PAGES = ("index.html", "index.htm")  # what http.server shows a folder
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


# --8<-- [start:deadline]
class RequestTooLarge(Exception):
    """The request line and header went over MAX_REQUEST_HEAD bytes."""


class TimedStream(io.RawIOBase):
    """A connection whose reads and writes share one deadline.

    A socket timeout bounds one call: a client that sends a byte every
    second would never meet it. Here every call gets only what is left of
    the time given to the whole request (or the whole response), and reads
    stop at a byte budget, so that a header cannot grow without end.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.limit(REQUEST_TIMEOUT, MAX_REQUEST_HEAD)

    def limit(self, seconds: float, max_bytes: int) -> None:
        """From now on: `seconds` in all, and at most `max_bytes` read."""
        self.deadline = time.monotonic() + seconds
        self.budget = max_bytes

    def time_left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.budget <= 0:
            raise RequestTooLarge
        self.sock.settimeout(self.time_left())
        count = self.sock.recv_into(buffer, min(len(buffer), self.budget))
        self.budget -= count
        return count

    def write(self, data) -> int:
        self.sock.settimeout(self.time_left())
        self.sock.sendall(data)
        return len(data)


# --8<-- [end:deadline]
# --8<-- [start:range]
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def requested_part(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte that a Range header asks for, in the file.

    None when there is no single byte range to serve (several ranges,
    another unit, nonsense): then the whole file is sent, as HTTP allows.
    ValueError when the range starts past the end: that is a 416.
    """
    match = RANGE.fullmatch(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # bytes=-N: the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError("no bytes asked for")
        return max(size - int(last), 0), size - 1
    first = int(first)
    if last and int(last) < first:
        return None  # bytes=9-3 is no range: ignored
    if first >= size:
        raise ValueError("starts past the end")
    return first, (min(int(last), size - 1) if last else size - 1)


# --8<-- [end:range]
# --8<-- [start:handler]
class FileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the files of one folder; logs to stdout, one line a request."""

    # HTTP/1.1: keep-alive, and every answer carries its Content-Length.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # In place of the socket's own files, one stream with deadlines.
        self.connection = self.request
        self.stream = TimedStream(self.request)
        self.rfile = io.BufferedReader(self.stream)
        self.wfile = self.stream

    def handle_one_request(self) -> None:
        # The clock starts when we wait for a request, so a keep-alive
        # connection left silent is closed after REQUEST_TIMEOUT too.
        self.stream.limit(self.server.request_timeout, MAX_REQUEST_HEAD)
        try:
            super().handle_one_request()
        except RequestTooLarge:
            # As http.server does for a request line too long to read.
            self.requestline = self.request_version = self.command = ""
            self.send_error(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"Request line and header over {MAX_REQUEST_HEAD} bytes",
            )

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False  # it has answered with an error already
        # A browser sends the name it looked up: a page from any web site
        # can point a name of its own at 127.0.0.1 (DNS rebinding).
        if self.headers.get("Host", "").lower() not in self.server.hosts:
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "Unknown host")
            return False
        # The request is in: now the response has its own time.
        self.stream.limit(self.server.response_timeout, 0)
        return True

    def log_message(self, format: str, *args) -> None:
        # The default writes to stderr, with the client's address and time.
        print(format % args, flush=True)

    # --8<-- [end:handler]
    # --8<-- [start:confine]
    def is_shared(self, path: str) -> bool:
        """True if `path` leads inside the folder, and to no hidden name."""
        if os.path.isdir(path):  # a folder shows its index page, if any
            pages = [os.path.join(path, name) for name in INDEX_PAGES]
            path = next((page for page in pages if os.path.isfile(page)), path)
        root = os.path.realpath(self.directory)
        try:
            real = os.path.realpath(path)  # where its symlinks lead
            inside = os.path.commonpath([root, real]) == root
        except ValueError:  # a name the file system cannot hold
            return False
        named = Path(os.path.relpath(path, self.directory)).parts
        reached = Path(os.path.relpath(real, root)).parts
        hidden = any(name.startswith(".") for name in named + reached)
        return inside and (self.server.dotfiles or not hidden)

    def list_directory(self, path: str) -> io.BytesIO | None:
        """The folder's listing, without what is_shared() refuses."""
        try:
            names = sorted(os.listdir(path))
        except OSError:  # pragma: no cover (the tests run as root)
            self.send_error(HTTPStatus.NOT_FOUND, "No permission to list")
            return None
        items = []
        for name in names:
            full = os.path.join(path, name)
            if self.is_shared(full):
                # A folder's link ends with "/": its links are relative to it.
                link = quote(name) + ("/" if os.path.isdir(full) else "")
                items.append(f'<li><a href="{link}">{html.escape(name)}</a>\n')

        page = f"<!DOCTYPE html>\n<ul>\n{''.join(items)}</ul>\n".encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        return io.BytesIO(page)

    # --8<-- [end:confine]
    # --8<-- [start:send_head]
    def send_head(self):
        """Answer GET and HEAD: a 404 for what is not shared, a part of a
        file for a Range request, else what http.server answers."""
        self.part_length = math.inf  # all of the file, unless a Range says
        path = self.translate_path(self.path)
        if not self.is_shared(path):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if self.wants_part(path):
            return self.send_part(path)
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")  # we answer Range
        super().end_headers()

    def wants_part(self, path: str) -> bool:
        """A Range for a file, which has not changed if If-Range says when."""
        if "Range" not in self.headers or not os.path.isfile(path):
            return False
        modified = self.date_time_string(os.stat(path).st_mtime)
        # A download resumed after the file changed must start over.
        return self.headers.get("If-Range", modified) == modified

    def send_part(self, path: str):
        """206 with the bytes of a single range, 416 if it asks for none."""
        file = open(path, "rb")  # noqa: SIM115 (do_GET closes it)
        size = os.fstat(file.fileno()).st_size
        try:
            part = requested_part(self.headers["Range"], size)
        except ValueError:
            file.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if part is None:  # several ranges, or nonsense: the whole file
            file.close()
            return super().send_head()
        first, last = part
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        file.seek(first)
        self.part_length = last - first + 1
        return file

    def copyfile(self, source, outputfile) -> None:
        # A Range answer sends only its part: stop after part_length bytes.
        left = self.part_length
        while left > 0 and (chunk := source.read(min(CHUNK_SIZE, left))):
            outputfile.write(chunk)
            left -= len(chunk)


# --8<-- [end:send_head]
# --8<-- [start:server]
class FileServer(http.server.ThreadingHTTPServer):
    """A thread per connection, up to a cap; refused beyond it with a 503."""

    request_queue_size = LISTEN_BACKLOG  # socketserver's default is 5

    def __init__(self, address, handler, *, names, max_connections, dotfiles,
                 request_timeout, response_timeout):  # fmt: skip
        # IPv4 or IPv6, as the address given: "::1" needs an IPv6 socket.
        self.address_family = socket.getaddrinfo(*address)[0][0]
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)
        # What the handlers read, as self.server.<name>:
        port = self.server_address[1]
        self.hosts = {f"{name.lower()}:{port}" for name in names}
        self.dotfiles = dotfiles
        self.request_timeout = request_timeout
        self.response_timeout = response_timeout

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            # At the cap: a short answer now, rather than a client that
            # waits for a thread that may be busy for a long time.
            with contextlib.suppress(OSError):  # unless it is gone already
                request.setblocking(False)
                request.send(BUSY)  # a few bytes: the send buffer takes them
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        # Called while the exception is being handled. The default prints its
        # traceback to stderr, even for a client that reset the connection:
        # that is the client's doing, and one line is enough. Anything else
        # is a bug in the server, and keeps its traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            print(f"Client went away: {type(error).__name__}", flush=True)
        else:  # pragma: no cover (a bug in the server)
            super().handle_error(request, client_address)


# --8<-- [end:server]
# --8<-- [start:main]
def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if the limit on open files cannot hold that many.

    Each connection holds two descriptors (its socket and the file it
    sends); a server out of descriptors cannot even accept to say 503.
    """
    if resource is None:  # pragma: no cover (Windows)
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    spare = 16  # standard streams, the listening socket, the selector...
    if soft != resource.RLIM_INFINITY:
        wanted = min(wanted, (soft - spare) // 2)
    return max(wanted, 1)


def main() -> None:
    doc = (__doc__ or "Serve the files of a folder over HTTP.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--directory", type=Path, default=Path.cwd())
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="another name clients may use in Host (127.0.0.1, localhost "
        "and ::1 always work)",
    )  # fmt: skip
    parser.add_argument(
        "--dotfiles", action="store_true", help="list and serve .hidden files"
    )
    for option, default in [
        ("--request-timeout", REQUEST_TIMEOUT),
        ("--response-timeout", RESPONSE_TIMEOUT),
        ("--max-connections", MAX_CONNECTIONS),
    ]:
        parser.add_argument(option, type=type(default), default=default)
    args = parser.parse_args()

    # Without this check, a mistyped folder is served as an empty one.
    if not args.directory.is_dir():
        folder = args.directory
        sys.exit(f"No folder {folder}: give --directory an existing one")
    # The names a Host header may give (with our port), IPv6 in brackets.
    bound = f"[{args.host}]" if ":" in args.host else args.host
    names = ["127.0.0.1", "localhost", "[::1]", bound, *args.allow_host]
    handler = functools.partial(FileHandler, directory=args.directory)
    cap = connection_cap(args.max_connections)
    with FileServer(
        (args.host, args.port), handler, names=names, max_connections=cap,
        dotfiles=args.dotfiles, request_timeout=args.request_timeout,
        response_timeout=args.response_timeout,
    ) as server:  # fmt: skip
        host, port = server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"Listening on {shown}:{port}", flush=True)
        print(f"At most {cap} connections at once", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Server stopped")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
