"""A WebSocket echo server: sends each message back to the client that sent it.

Run it, then run echo_client.py in another terminal:

    python echo_server.py
"""

import argparse
import asyncio
import contextlib
import errno
import functools
import logging
import signal
from dataclasses import dataclass, fields
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
)
from websockets.http11 import Request, Response

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8780
SPARE_FILES = 16  # descriptors kept for the listening socket, the loop...
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)  # for a process, for the system


# --8<-- [start:limits]
@dataclass
class Limits:
    """What one client may cost the server. Each is a command-line option:
    --max-size, --max-queue, --send-timeout, --max-connections..."""

    max_size: int = 64 * 1024  # bytes in a message; more: closed with 1009
    max_queue: int = 4  # messages received and not yet echoed
    send_timeout: float = 10.0  # seconds for an echo to leave; then dropped
    max_connections: int = 256  # at once; more: HTTP 503
    open_timeout: float = 10.0  # seconds to complete the opening handshake
    ping_interval: float = 20.0  # seconds between keepalive pings
    ping_timeout: float = 20.0  # seconds to answer a ping
    close_timeout: float = 10.0  # seconds to answer a CLOSE frame


# --8<-- [end:limits]
# --8<-- [start:echo]
async def echo(websocket: ServerConnection, send_timeout: float) -> None:
    """Send each message back, text as text and binary as binary."""
    try:
        # The loop ends when the client closes the connection normally.
        async for message in websocket:
            # send() waits while the echo cannot leave, as when the client
            # stopped reading. Without a deadline, it would wait for ever,
            # and its keepalive pings with it.
            await asyncio.wait_for(websocket.send(message), send_timeout)
    except ConnectionClosedOK:
        # The client closed while we were replying: nothing went wrong.
        pass
    except ConnectionClosedError as error:
        # A protocol error or a vanished client: log it, the server goes on.
        print(f"Connection failed: {error}")
    except asyncio.TimeoutError:
        print(f"No echo sent in {send_timeout} s: client dropped")
        # A reset: a CLOSE frame would wait behind the unread echoes.
        websocket.transport.abort()
        await websocket.wait_closed()


# --8<-- [end:echo]
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
async def serve_echo(
    host: str = HOST, port: int = PORT, limits: Limits | None = None
) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    limits = limits or Limits()
    # websockets 16 logs each failed opening handshake (a browser, a port
    # scanner) as an error with a traceback; websockets 17 only at the debug
    # level. A client's mistake is not the server's error: leave it out.
    logging.getLogger("websockets.server").addFilter(
        lambda record: not is_handshake_error(record)
    )
    report_file_shortage(asyncio.get_running_loop())
    cap = connection_cap(limits.max_connections)
    server = await serve(
        functools.partial(echo, send_timeout=limits.send_timeout),
        host,
        port,
        process_request=turn_away_when_full(cap),
        open_timeout=limits.open_timeout,  # for the whole handshake
        max_size=limits.max_size,
        max_queue=limits.max_queue,
        ping_interval=limits.ping_interval,
        ping_timeout=limits.ping_timeout,
        close_timeout=limits.close_timeout,
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
    for limit in fields(Limits):  # --max-size, --send-timeout...
        option = "--" + limit.name.replace("_", "-")
        parser.add_argument(option, type=limit.type, default=limit.default)
    args = parser.parse_args()

    limits = Limits(*(getattr(args, limit.name) for limit in fields(Limits)))
    # Ctrl+C stops the server: CancelledError, or on Windows KeyboardInterrupt
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(serve_echo(args.host, args.port, limits))


if __name__ == "__main__":
    main()
