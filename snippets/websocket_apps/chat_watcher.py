"""A chat bot that prints what the room says, and reconnects when it must.

Start chat_server.py first, then:

    python chat_watcher.py

Stop and restart the server: the watcher waits, retries, and comes back.
Another server: --host and --port, or --url (ws://[::1]:8782/chat for IPv6).
"""

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    InvalidStatus,
    WebSocketException,
)
from websockets.frames import CloseCode

HOST = "127.0.0.1"
PORT = 8782
PATH = "/chat"
TIMEOUT = 5.0  # seconds for each connection attempt
# Close codes after which a new connection may well succeed: the server went
# away or restarts (1001, 1012), the connection broke (1006), the server
# failed (1011) or is too busy (1013).
RECONNECT_AFTER = {1001, 1006, 1011, 1012, 1013}


class NotAChatServer(Exception):
    """The server sent something that is not a chat message."""


def visible(text: str) -> str:
    """`text` with its control characters shown as escapes, not obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def said(message: str | bytes) -> str | None:
    """The line that shows a chat message; None for other events."""
    try:
        event = json.loads(message)
        if event["type"] != "message":
            return None  # someone joined or left
        return f"{visible(event['name'])}: {visible(event['text'])}"
    except (ValueError, TypeError, KeyError) as error:
        raise NotAChatServer(message) from error


# --8<-- [start:watch]
async def watch(uri: str, name: str = "Watcher") -> tuple[int | None, str]:
    """Print the room's messages, reconnecting after every disconnection that
    another attempt may cure; return the close code and reason that stopped
    it."""
    url = f"{uri}?{urlencode({'name': name})}"
    # Iterating over connect() opens a new connection each time the loop body
    # ends. A failed attempt (no server, an HTTP 5xx answer) is retried after
    # a growing delay: a random one of up to 5 s at first, then longer ones.
    async for websocket in connect(url, open_timeout=TIMEOUT):
        print(f"Connected to {uri}", flush=True)
        try:
            async for message in websocket:
                if (line := said(message)) is not None:
                    print(line, flush=True)
        except ConnectionClosed:
            pass  # a broken connection: the code below says what to do
        except asyncio.CancelledError:  # Ctrl+C
            # Leave with 1001 (going away): connect() would close with 1011
            # (internal error) when an exception ends the loop's body.
            await websocket.close(CloseCode.GOING_AWAY)
            raise
        await websocket.wait_closed()
        code, reason = websocket.close_code, websocket.close_reason
        if code not in RECONNECT_AFTER:
            # The server refused us (a bad name, too big a message): trying
            # again at once would only repeat that, as fast as it can.
            return code, reason
        print(f"Disconnected (close code {code}), reconnecting", flush=True)


# --8<-- [end:watch]
# --8<-- [start:ctrl-c]
async def watch_until_ctrl_c(uri: str, name: str) -> tuple[int | None, str]:
    """watch(), until Ctrl+C cancels it: then (None, "")."""
    watching = asyncio.ensure_future(watch(uri, name))
    # Ctrl+C cancels the task at the await where it waits, so that watch()
    # can leave with 1001. (Windows has no such signal handlers: there,
    # Ctrl+C raises KeyboardInterrupt wherever the program is.)
    with contextlib.suppress(NotImplementedError):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, watching.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        return await watching
    return None, ""


# --8<-- [end:ctrl-c]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """ws://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"ws://{host}:{port}{path}"


def explain(error: Exception, uri: str) -> str:
    """One line that names the real cause of a failure that retrying would
    not cure (connect() retries after the others)."""
    if isinstance(error, NotAChatServer):
        return f"{uri} is not a chat server: it sent {error.args[0]!r:.60}"
    if isinstance(error, InvalidStatus):  # an HTTP server, say
        status = error.response.status_code
        return f"{uri} answered HTTP {status}: not a WebSocket endpoint"
    if isinstance(error, InvalidMessage):  # not even HTTP
        return f"{uri} did not answer in HTTP: not a WebSocket server"
    return f"Cannot watch {uri}: {error}"  # an invalid URL...


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the chat's URL, instead of the above")
    parser.add_argument("--name", default="Watcher")
    args = parser.parse_args()

    # websockets logs each failed attempt at level INFO: show those lines.
    logging.basicConfig(format="%(message)s")
    logging.getLogger("websockets.client").setLevel(logging.INFO)
    uri = args.url or websocket_url(args.host, args.port, PATH)
    try:
        code, reason = asyncio.run(watch_until_ctrl_c(uri, args.name))
    except KeyboardInterrupt:  # pragma: no cover (Ctrl+C on Windows)
        return
    except (WebSocketException, NotAChatServer) as error:
        sys.exit(explain(error, uri))
    if code is not None:  # None: Ctrl+C, the usual way out
        sys.exit(f"The server closed the connection: code {code} {reason}")


if __name__ == "__main__":
    main()
