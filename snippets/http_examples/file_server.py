"""Serve the files of a folder over HTTP with the standard library's http.server.

    python file_server.py --directory public

For sharing files on your own machine while you develop, never on a network:
http.server has no TLS, no access control, and only basic security checks.
"""

import argparse
import functools
import http.server
import sys
from pathlib import Path

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8000
CLIENT_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up


# --8<-- [start:handler]
class QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files; logs to stdout, one line per request."""

    # Applied to each connection: a client that connects and never sends a
    # request is dropped after this long, and its thread is freed.
    timeout = CLIENT_TIMEOUT
    # HTTP/1.1: keep-alive, and every answer carries its Content-Length.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        # The default writes to stderr, with the client's address and the time.
        print(format % args, flush=True)


# --8<-- [end:handler]
# --8<-- [start:server]
class FileServer(http.server.ThreadingHTTPServer):
    """One thread per connection, so a slow client does not hold up the others."""

    def handle_error(self, request, client_address) -> None:
        # Called while the exception is being handled. The default prints its
        # traceback to stderr, even for a client that reset the connection:
        # that is the client's doing, and one line is enough. Anything else
        # is a bug in the server, and keeps its traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            print(f"Client went away: {type(error).__name__}", flush=True)
        else:
            super().handle_error(request, client_address)  # pragma: no cover (a bug)


# --8<-- [end:server]
# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--directory", type=Path, default=Path.cwd())
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT)
    args = parser.parse_args()

    # The handler serves this folder, never the whole disk: it refuses paths
    # that climb out of it, such as /../secret.
    handler = functools.partial(QuietFileHandler, directory=args.directory)
    QuietFileHandler.timeout = args.client_timeout  # read by every connection
    with FileServer((args.host, args.port), handler) as server:
        host, port = server.server_address[:2]
        print(f"Listening on {host}:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Server stopped")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
