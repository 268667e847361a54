"""A WebSocket echo server for clients that send its token first.

The token is a secret shared with the clients, in the environment variable
WEBSOCKET_TOKEN. Make one, then start the server in the same shell:

    export WEBSOCKET_TOKEN=$(python3 auth_server.py --new-token)
    python3 auth_server.py
"""

import argparse
import asyncio
import contextlib
import errno
import functools
import hmac
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass, fields
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
)
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8785
VARIABLE = "WEBSOCKET_TOKEN"  # the environment variable with the token
MIN_TOKEN_LENGTH = 16  # characters: a shorter secret is easier to guess
MAKE_ONE = f"export {VARIABLE}=$(python3 auth_server.py --new-token)"
SPARE_FILES = 16  # descriptors kept for the listening socket, the loop...
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)  # for a process, for the system


# --8<-- [start:limits]
@dataclass
class Limits:
    """What one client may cost the server. Each is a command-line option:
    --auth-timeout, --max-size, --send-timeout, --max-connections..."""

    auth_timeout: float = 5.0  # seconds to send the token, once connected
    max_size: int = 4096  # bytes in a message; more: closed with 1009
    max_queue: int = 4  # frames received and not yet echoed
    send_timeout: float = 10.0  # seconds for an echo to leave; then dropped
    max_connections: int = 256  # at once, signed in or not; more: HTTP 503
    open_timeout: float = 10.0  # seconds to complete the opening handshake
    ping_interval: float = 20.0  # seconds between keepalive pings
    ping_timeout: float = 20.0  # seconds to answer a ping
    close_timeout: float = 10.0  # seconds to answer a CLOSE frame


# --8<-- [end:limits]
# --8<-- [start:authenticate]
async def authenticate(
    websocket: ServerConnection,
    token: str,
    timeout: float,
) -> bool:
    """Wait for the first message, which must be the token. Close with 1008
    (policy violation) if it comes late or is not the token."""
    try:
        # A deadline for the whole message: a client that sends it a byte
        # at a time is cut off at the same moment as a silent one.
        first = await asyncio.wait_for(websocket.recv(), timeout)
    except asyncio.TimeoutError:
        reason = "authentication timed out"
    else:
        # compare_digest() takes as long whichever character is wrong: how
        # fast a guess is refused says nothing about how close it came.
        text = isinstance(first, str)
        if text and hmac.compare_digest(first.encode(), token.encode()):
            return True
        reason = "authentication failed"  # the same for any wrong token
    await websocket.close(CloseCode.POLICY_VIOLATION, reason)
    print(f"{address(*websocket.remote_address[:2])} refused: {reason}")
    return False


# --8<-- [end:authenticate]
# --8<-- [start:echo]
async def echo_when_signed_in(
    websocket: ServerConnection, token: str, limits: Limits
) -> None:
    """Check the token, then send each message back."""
    try:
        if not await authenticate(websocket, token, limits.auth_timeout):
            return
        async for message in websocket:  # only from a client that is in
            send = websocket.send(message)
            await asyncio.wait_for(send, limits.send_timeout)
    except ConnectionClosedOK:
        pass  # the client left
    except ConnectionClosedError as error:
        print(f"Connection failed: {error}")
    except asyncio.TimeoutError:  # it stopped reading: see echo_server.py
        print(f"No echo sent in {limits.send_timeout} s: client dropped")
        websocket.transport.abort()
        await websocket.wait_closed()


# --8<-- [end:echo]
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


async def serve_signed_in(
    token: str,
    host: str = HOST,
    port: int = PORT,
    limits: Limits | None = None,
) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    limits = limits or Limits()
    # websockets 16 logs each failed opening handshake as an error with a
    # traceback: a client's mistake, not the server's. Leave it out.
    logging.getLogger("websockets.server").addFilter(
        lambda record: not is_handshake_error(record)
    )
    report_file_shortage(asyncio.get_running_loop())
    cap = connection_cap(limits.max_connections)
    server = await serve(
        functools.partial(echo_when_signed_in, token=token, limits=limits),
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


# --8<-- [start:token]
def token_from_environment() -> str:
    """The shared secret: from the environment, never from the command line
    (any user of the machine can read a command line, with `ps`)."""
    token = os.environ.get(VARIABLE, "")
    if len(token) < MIN_TOKEN_LENGTH:
        problem = "is too short" if token else "is not set"
        sys.exit(f"{VARIABLE} {problem}: make one with {MAKE_ONE}")
    return token


# --8<-- [end:token]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument(
        "--new-token", action="store_true", help="print a new token, exit"
    )
    for limit in fields(Limits):  # --auth-timeout, --max-size...
        option = "--" + limit.name.replace("_", "-")
        parser.add_argument(option, type=limit.type, default=limit.default)
    args = parser.parse_args()

    if args.new_token:  # 32 random bytes: no one guesses that
        print(secrets.token_urlsafe(32))
        return
    token = token_from_environment()
    limits = Limits(*(getattr(args, limit.name) for limit in fields(Limits)))
    echo = serve_signed_in(token, args.host, args.port, limits)
    # Ctrl+C stops the server: CancelledError, or on Windows KeyboardInterrupt
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(echo)


if __name__ == "__main__":
    main()
