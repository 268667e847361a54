"""A terminal chat client: each line you type goes to the room.

Start chat_server.py first, then run one client per person:

    python chat_client.py --name Ada

Leave with Ctrl+D (Ctrl+Z then Enter on Windows).
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
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

HOST = "127.0.0.1"
PORT = 8765
TIMEOUT = 5.0  # seconds to connect, and to close


# --8<-- [start:keyboard]
def read_keyboard(lines: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> None:
    """In a thread: read lines from stdin and hand them to the event loop."""
    # Reading stdin blocks, so it must not happen in the event loop's thread.
    # The queue is not thread-safe: call_soon_threadsafe() has the loop put.
    # It raises RuntimeError once the loop is closed: the chat is over then.
    with contextlib.suppress(RuntimeError):
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)  # end of input


# --8<-- [end:keyboard]
def show(event: dict) -> None:
    if event["type"] == "message":
        print(f"{event['name']}: {event['text']}", flush=True)
    else:
        verb = {"join": "joined", "leave": "left"}[event["type"]]
        print(f"* {event['name']} {verb} ({event['online']} online)", flush=True)


# --8<-- [start:chat]
async def receive(websocket: ClientConnection) -> None:
    async for message in websocket:  # ends when the connection closes
        show(json.loads(message))


async def send(websocket: ClientConnection, lines: asyncio.Queue) -> None:
    # Once the connection is closed, send() raises: receive() reports why.
    with contextlib.suppress(ConnectionClosed):
        while (line := await lines.get()) is not None:  # None: end of input
            await websocket.send(line)


async def chat(name: str, uri: str, lines: asyncio.Queue) -> None:
    """Send the lines from the queue, print what the room says, until either ends."""
    url = f"{uri}?{urlencode({'name': name})}"
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as websocket:
        receiving = asyncio.create_task(receive(websocket))
        sending = asyncio.create_task(send(websocket, lines))
        try:
            await asyncio.wait([receiving, sending], return_when=FIRST_COMPLETED)
        finally:  # the end of input, the server leaving, or an error
            sending.cancel()  # stop waiting for the keyboard
            await websocket.close()  # leave with 1000 (OK), if not closed yet
        await receiving  # print what arrived before the close; raise if it broke
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
    threading.Thread(target=read_keyboard, args=(lines, loop), daemon=True).start()
    await chat(name, uri, lines)


# --8<-- [end:ctrl-c]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()

    uri = f"ws://{args.host}:{args.port}/chat"
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C on Windows
            asyncio.run(chat_from_keyboard(args.name, uri))
    except OSError:  # ConnectionRefusedError and the like
        sys.exit(f"No server at {uri}: start chat_server.py")
    except ConnectionClosedError as error:
        sys.exit(f"Connection lost: {error}")


if __name__ == "__main__":
    main()
