"""A terminal chat client: each line you type goes to the room.

Start chat_server.py first, then run one client per person:

    python chat_client.py --name Ada

Leave with Ctrl+D (Ctrl+Z then Enter on Windows). Another server: --host and
--port, or --url (ws://[::1]:8782/chat for IPv6).
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from asyncio import FIRST_COMPLETED
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    InvalidMessage,
    InvalidStatus,
    WebSocketException,
)

HOST = "127.0.0.1"
PORT = 8782
PATH = "/chat"
TIMEOUT = 5.0  # seconds to connect, to close, and for the room's echo


# --8<-- [start:keyboard]
def read_keyboard(lines: asyncio.Queue, loop: asyncio.AbstractEventLoop):
    """In a thread: read lines from stdin and hand them to the event loop."""
    # Reading stdin blocks, so it must not happen in the event loop's thread.
    # The queue is not thread-safe: call_soon_threadsafe() has the loop put.
    # It raises RuntimeError once the loop is closed: the chat is over then.
    with contextlib.suppress(RuntimeError):
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)  # end of input


# --8<-- [end:keyboard]
# --8<-- [start:show]
def visible(text: str) -> str:
    """`text` with its control characters shown as escapes, not obeyed."""
    # Other people's text may hold escape sequences that a terminal obeys
    # (clear the screen, rewrite a line, set the title): repr() shows them.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(event: dict) -> str:
    """The line that shows an event from the room."""
    name = visible(event["name"])
    if event["type"] == "message":
        return f"{name}: {visible(event['text'])}"
    verb = {"join": "joined", "leave": "left"}[event["type"]]
    return f"* {name} {verb} ({event['online']:d} online)"


class NotAChatServer(Exception):
    """The server sent something that is not a chat event."""


def parse_event(message: str | bytes) -> dict:
    try:
        event = json.loads(message)
        shown(event)  # an event we cannot show is not one of ours
    except (ValueError, TypeError, KeyError) as error:
        raise NotAChatServer(message) from error
    return event


# --8<-- [end:show]
# --8<-- [start:chat]
async def receive(
    websocket: ClientConnection, me: str, unanswered: asyncio.Queue
) -> None:
    async for message in websocket:  # ends when the connection closes
        event = parse_event(message)
        print(shown(event), flush=True)
        mine = event["type"] == "message" and event["name"] == me
        if mine and not unanswered.empty():
            unanswered.get_nowait()
            unanswered.task_done()


async def send(
    websocket: ClientConnection,
    lines: asyncio.Queue,
    unanswered: asyncio.Queue,
) -> None:
    # Once the connection is closed, send() raises: receive() reports why.
    with contextlib.suppress(ConnectionClosed):
        while (typed := await lines.get()) is not None:  # None: end of input
            if typed.strip():  # the room ignores blank lines
                unanswered.put_nowait(typed)
                await websocket.send(typed)
    # The room sends every message back to its sender too. Wait for ours:
    # once we close, the server sends us nothing more, and a message still
    # on its way back would be lost.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(unanswered.join(), TIMEOUT)


async def chat(name: str, uri: str, lines: asyncio.Queue) -> None:
    """Send the lines from the queue, print what the room says, until either
    ends."""
    url = f"{uri}?{urlencode({'name': name})}"
    unanswered: asyncio.Queue = asyncio.Queue()  # our messages, not yet back
    connection = connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT)
    async with connection as websocket:
        me = name.strip()  # as the server names us
        receiving = asyncio.create_task(receive(websocket, me, unanswered))
        sending = asyncio.create_task(send(websocket, lines, unanswered))
        try:
            both = {receiving, sending}
            await asyncio.wait(both, return_when=FIRST_COMPLETED)
        finally:  # the end of input, the server leaving, or an error
            sending.cancel()  # stop waiting for the keyboard
            await websocket.close()  # leave with 1000 (OK), if not closed yet
        await receiving  # what arrived before the close; raise if it broke
    reason = f": {websocket.close_reason}" if websocket.close_reason else ""
    print(f"Disconnected (close code {websocket.close_code}{reason})")


# --8<-- [end:chat]
# --8<-- [start:ctrl-c]
async def chat_from_keyboard(name: str, uri: str) -> None:
    lines: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    # Ctrl+C leaves the chat as the end of input does. (Windows has no such
    # signal handlers: there, Ctrl+C raises KeyboardInterrupt.)
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, lines.put_nowait, None)
    # A daemon thread does not keep the program alive once the chat is over.
    keyboard = threading.Thread(target=read_keyboard, args=(lines, loop))
    keyboard.daemon = True
    keyboard.start()
    await chat(name, uri, lines)


# --8<-- [end:ctrl-c]
def websocket_url(host: str, port: int, path: str = "/") -> str:
    """ws://host:port/path, with an IPv6 address in brackets."""
    if ":" in host:  # ::1 -> [::1], or the port would be ambiguous
        host = f"[{host}]"
    return f"ws://{host}:{port}{path}"


def explain(error: Exception, uri: str) -> str:
    """One line that names the real cause of a failure."""
    if isinstance(error, NotAChatServer):
        return f"{uri} is not a chat server: it sent {error.args[0]!r:.60}"
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
        return f"No server at {uri}: start chat_server.py"
    # no such host, no route... (some errors have no message: then their name)
    return f"Cannot reach {uri}: {error or type(error).__name__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the chat's URL, instead of the above")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()

    uri = args.url or websocket_url(args.host, args.port, PATH)
    failures = (OSError, asyncio.TimeoutError, WebSocketException)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C on Windows
            asyncio.run(chat_from_keyboard(args.name, uri))
    except (*failures, NotAChatServer) as error:
        sys.exit(explain(error, uri))


if __name__ == "__main__":
    main()
