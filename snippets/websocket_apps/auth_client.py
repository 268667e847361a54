"""A WebSocket client that signs in with a token, then has a message echoed.

It reads the token from the environment variable WEBSOCKET_TOKEN, as
auth_server.py does: set it in this shell too, then

    python3 auth_client.py

Another server: --host and --port, or --url (ws://[::1]:8785/ for IPv6).
"""

import argparse
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosedError,
    InvalidMessage,
    InvalidStatus,
    WebSocketException,
)
from websockets.frames import CloseCode

HOST = "127.0.0.1"
PORT = 8785
VARIABLE = "WEBSOCKET_TOKEN"  # the environment variable with the token
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:sign-in]
async def echo_signed_in(
    token: str, message: str, uri: str, timeout: float = TIMEOUT
) -> str | bytes:
    """Sign in with `token`, send `message`, and return the echo."""
    connection = connect(uri, open_timeout=timeout, close_timeout=timeout)
    async with connection as websocket:
        # The token travels inside the connection, as its first message:
        # not in the URL, which servers and proxies write to their logs.
        await websocket.send(token)
        await websocket.send(message)
        # A wrong token: the server closes with 1008, and recv() raises.
        return await asyncio.wait_for(websocket.recv(), timeout)


# --8<-- [end:sign-in]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """ws://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"ws://{host}:{port}{path}"


# --8<-- [start:explain]
def explain(error: Exception, uri: str) -> str:
    """One line that names the real cause of a failure."""
    refused = getattr(error, "rcvd", None)  # the server's CLOSE frame
    if refused and refused.code == CloseCode.POLICY_VIOLATION:
        return (
            f"{uri} refused to sign us in ({refused.reason}): is "
            f"{VARIABLE} the server's token?"
        )
    if isinstance(error, InvalidStatus):  # an HTTP server, say
        status = error.response.status_code
        return f"{uri} answered HTTP {status}: not a WebSocket endpoint"
    if isinstance(error, InvalidMessage):  # not even HTTP
        return f"{uri} did not answer in HTTP: not a WebSocket server"
    if isinstance(error, ConnectionClosedError):
        return f"{uri} closed the connection: {error}"
    # A timeout first: TimeoutError is also an OSError, but not "no server".
    if isinstance(error, asyncio.TimeoutError):
        return f"{uri} did not answer in time"
    if isinstance(error, ConnectionRefusedError):
        return f"No server at {uri}: start auth_server.py"
    # no such host, no route... (some errors have no message: then their name)
    return f"Cannot reach {uri}: {error or type(error).__name__}"


# --8<-- [end:explain]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL, instead of the above")
    args = parser.parse_args()

    # Not an option: any user of the machine can read a command line (ps).
    token = os.environ.get(VARIABLE)
    if not token:
        sys.exit(f"{VARIABLE} is not set: give it the server's token")
    uri = args.url or websocket_url(args.host, args.port)
    message = "Hello, signed in! 🔑"
    try:
        echo = asyncio.run(echo_signed_in(token, message, uri, TIMEOUT))
    except (OSError, asyncio.TimeoutError, WebSocketException) as error:
        sys.exit(explain(error, uri))
    # Another server may answer in bytes, or with control characters that
    # a terminal would obey: repr() shows those instead.
    printable = isinstance(echo, str) and echo.isprintable()
    print(echo if printable else repr(echo))
    #> Hello, signed in! 🔑


if __name__ == "__main__":
    main()
