"""A chat bot that prints what is said in the room, and reconnects whenever it has to.

Start chat_server.py first, then:

    python chat_watcher.py

Stop and restart the server: the watcher waits, retries, and comes back.
"""

import argparse
import asyncio
import json
import logging
import sys
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"
PORT = 8765
TIMEOUT = 5.0  # seconds for each connection attempt
# Close codes after which a new connection may well succeed: the server went
# away or restarts (1001, 1012), the connection broke (1006), the server
# failed (1011) or is too busy (1013).
RECONNECT_AFTER = {1001, 1006, 1011, 1012, 1013}


# --8<-- [start:watch]
async def watch(uri: str, name: str = "Watcher") -> tuple[int | None, str | None]:
    """Print the room's messages, reconnecting after every disconnection that
    another attempt may cure; return the close code and reason that stopped it."""
    url = f"{uri}?{urlencode({'name': name})}"
    # Iterating over connect() opens a new connection each time the loop body
    # ends. A failed attempt (no server, an HTTP 5xx answer) is retried after
    # a growing delay: a random one of up to 5 s at first, then longer ones.
    async for websocket in connect(url, open_timeout=TIMEOUT):
        print(f"Connected to {uri}", flush=True)
        try:
            async for message in websocket:
                event = json.loads(message)
                if event["type"] == "message":
                    print(f"{event['name']}: {event['text']}", flush=True)
        except ConnectionClosed:
            pass  # a broken connection: the code below says what to do
        await websocket.wait_closed()
        code, reason = websocket.close_code, websocket.close_reason
        if code not in RECONNECT_AFTER:
            # The server refused us (a bad name, too big a message): trying
            # again at once would only repeat that, as fast as it can.
            return code, reason
        print(f"Disconnected (close code {code}), reconnecting", flush=True)


# --8<-- [end:watch]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--name", default="Watcher")
    args = parser.parse_args()

    # websockets logs each failed attempt at level INFO: show those lines.
    logging.basicConfig(format="%(message)s")
    logging.getLogger("websockets.client").setLevel(logging.INFO)
    uri = f"ws://{args.host}:{args.port}/chat"
    try:
        code, reason = asyncio.run(watch(uri, args.name))
    except KeyboardInterrupt:
        return  # Ctrl+C: the usual way out
    sys.exit(f"The server closed the connection: code {code} {reason}")


if __name__ == "__main__":
    main()
