"""A WebSocket client: sends a text and a binary message to an echo server.

Start echo_server.py first, then:

    python echo_client.py

Another server: --host and --port, or --url (ws://[::1]:8780/ for IPv6).
"""

import argparse
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosedError,
    InvalidMessage,
    InvalidStatus,
    WebSocketException,
)

HOST = "127.0.0.1"
PORT = 8780
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server
MESSAGES = ["Hello, WebSocket! 👋", b"\x00\x01\xff"]


# --8<-- [start:echo]
async def echo_each(
    messages: list[str | bytes], uri: str, timeout: float = TIMEOUT
) -> list[str | bytes]:
    """Send each message over one connection; return the replies in order."""
    # open_timeout bounds the TCP connection and the opening handshake;
    # close_timeout bounds the closing handshake when the block exits.
    connection = connect(uri, open_timeout=timeout, close_timeout=timeout)
    async with connection as websocket:
        replies = []
        for message in messages:
            await websocket.send(message)  # str: a text frame, bytes: binary
            # recv() waits as long as it takes: give up on a silent server.
            reply = await asyncio.wait_for(websocket.recv(), timeout)
            replies.append(reply)
        return replies


# --8<-- [end:echo]
# --8<-- [start:url]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """ws://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"ws://{host}:{port}{path}"


# --8<-- [end:url]
# --8<-- [start:explain]
def explain(error: Exception, uri: str) -> str:
    """One line that names the real cause of a failure."""
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
        return f"No server at {uri}: start echo_server.py"
    # no such host, no route... (some errors have no message: then their name)
    return f"Cannot reach {uri}: {error or type(error).__name__}"


# --8<-- [end:explain]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL, instead of the above")
    args = parser.parse_args()

    uri = args.url or websocket_url(args.host, args.port)
    try:
        replies = asyncio.run(echo_each(MESSAGES, uri, TIMEOUT))
    except (OSError, asyncio.TimeoutError, WebSocketException) as error:
        sys.exit(explain(error, uri))
    for reply in replies:
        print(repr(reply))  # repr() shows text (str) from binary (bytes)
        #> 'Hello, WebSocket! 👋'
        #> b'\x00\x01\xff'


if __name__ == "__main__":
    main()
