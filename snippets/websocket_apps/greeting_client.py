"""A WebSocket client that sends a name and prints the server's greeting.

Start greeting_server.py first, then:

    python greeting_client.py --name Ada

Another server: --host and --port, or --url (ws://[::1]:8781/ for IPv6).
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
PORT = 8781
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:hello]
async def hello(name: str, uri: str, timeout: float = TIMEOUT) -> str:
    """Send `name` to the greeting server and return its greeting."""
    connection = connect(uri, open_timeout=timeout, close_timeout=timeout)
    async with connection as websocket:
        await websocket.send(name)
        # recv() waits as long as it takes: give up on a silent server.
        return await asyncio.wait_for(websocket.recv(), timeout)


# --8<-- [end:hello]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """ws://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"ws://{host}:{port}{path}"


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
        return f"No server at {uri}: start greeting_server.py"
    # no such host, no route... (some errors have no message: then their name)
    return f"Cannot reach {uri}: {error or type(error).__name__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL, instead of the above")
    parser.add_argument("--name", default="Ada")
    args = parser.parse_args()

    uri = args.url or websocket_url(args.host, args.port)
    try:
        greeting = asyncio.run(hello(args.name, uri, TIMEOUT))
    except (OSError, asyncio.TimeoutError, WebSocketException) as error:
        sys.exit(explain(error, uri))
    # Another server may answer in bytes, or with control characters that
    # a terminal would obey: repr() shows those instead.
    printable = isinstance(greeting, str) and greeting.isprintable()
    print(greeting if printable else repr(greeting))
    #> Hello Ada!


if __name__ == "__main__":
    main()
