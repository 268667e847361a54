"""A WebSocket server that greets each client by name: an old tutorial, redone.

Run it, then run greeting_client.py in another terminal:

    python greeting_server.py
"""

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8781
NAME_TIMEOUT = 10.0  # seconds a client has to send its name
MAX_NAME_SIZE = 1024  # bytes: a name is short, refuse anything bigger (1009)
OPEN_TIMEOUT = 10.0  # seconds to complete the opening handshake
MAX_CONNECTIONS = 256  # at once: more are refused with HTTP 503
SPARE_FILES = 16  # descriptors kept for the listening socket, the loop...
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)  # for a process, for the system


# --8<-- [start:greet]
async def greet(websocket: ServerConnection) -> None:
    """Receive a name and send a greeting back."""
    try:
        # A client that connects and never sends must not hold a connection.
        name = await asyncio.wait_for(websocket.recv(), NAME_TIMEOUT)
    except asyncio.TimeoutError:
        await websocket.close(CloseCode.POLICY_VIOLATION, "no name received")
        return
    except ConnectionClosed:
        return  # the client left without a name (or sent too much)
    if not isinstance(name, str):
        reason = "send your name as text"
        await websocket.close(CloseCode.UNSUPPORTED_DATA, reason)
        return
    # repr(): a name from the network may hold terminal control characters.
    print(f"< {name!r}")
    greeting = f"Hello {name}!"
    try:
        await websocket.send(greeting)
    except ConnectionClosed:
        return  # the client did not wait for its greeting
    print(f"> {greeting!r}")


# --8<-- [end:greet]
# --8<-- [start:cap]
def turn_away_when_full(max_connections: int):
    """A process_request hook: HTTP 503 (try again later) for a handshake
    that would open one connection too many."""

    def process_request(
        connection: ServerConnection, request: Request
    ) -> Response | None:
        if len(connection.server.connections) < max_connections:
            return None  # go on with the handshake
        busy = HTTPStatus.SERVICE_UNAVAILABLE
        return connection.respond(busy, "Too many connections, retry later\n")

    return process_request


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if this process may not open that many files."""
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover (Windows)
        return wanted
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY:  # pragma: no cover (rare)
        return wanted
    return max(1, min(wanted, soft_limit - SPARE_FILES))


def report_file_shortage(loop: asyncio.AbstractEventLoop) -> None:
    """Say in one line, once a second at most, when the process runs out of
    file descriptors, instead of a traceback for each accept() that fails.
    (A burst of connections can do that: asyncio then stops accepting for a
    second, and goes on.)"""
    quiet_until = 0.0

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        nonlocal quiet_until
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in OUT_OF_FILES):
            loop.default_exception_handler(context)
        elif loop.time() >= quiet_until:
            quiet_until = loop.time() + 1.0
            print(f"Not accepting for a second: {error.strerror}", flush=True)

    loop.set_exception_handler(handle)


# --8<-- [end:cap]
def cancel_on_ctrl_c(task: asyncio.Task) -> None:
    """Ctrl+C cancels `task` at the await where it waits, as Python 3.11's
    asyncio.run() does; 3.10's raises KeyboardInterrupt in whatever code
    runs at that moment, a connection's handler perhaps."""
    with contextlib.suppress(NotImplementedError):  # no such handler: Windows
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)


def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets as URLs need it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_handshake_error(record: logging.LogRecord) -> bool:
    return isinstance(record.exc_info and record.exc_info[1], InvalidHandshake)


# --8<-- [start:serve]
async def serve_greetings(
    host: str = HOST,
    port: int = PORT,
    max_connections: int = MAX_CONNECTIONS,
    open_timeout: float = OPEN_TIMEOUT,
) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    # websockets 16 logs each failed opening handshake (a port scanner, a
    # client gone early) as an error: a client's mistake, not the server's.
    logging.getLogger("websockets.server").addFilter(
        lambda record: not is_handshake_error(record)
    )
    report_file_shortage(asyncio.get_running_loop())
    server = await serve(
        greet,
        host,
        port,
        max_size=MAX_NAME_SIZE,
        open_timeout=open_timeout,  # for the whole opening handshake
        process_request=turn_away_when_full(connection_cap(max_connections)),
    )
    listening = address(*server.sockets[0].getsockname()[:2])
    print(f"Listening on {listening}", flush=True)
    cancel_on_ctrl_c(asyncio.current_task())
    try:
        await server.serve_forever()
    finally:  # cancelled by Ctrl+C, once every connection is closed
        print("Server stopped")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    parser.add_argument("--open-timeout", type=float, default=OPEN_TIMEOUT)
    args = parser.parse_args()

    greetings = serve_greetings(
        args.host, args.port, args.max_connections, args.open_timeout
    )
    # Ctrl+C stops the server: CancelledError, or on Windows KeyboardInterrupt
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(greetings)


if __name__ == "__main__":
    main()
