"""A WebSocket client: sends a text and a binary message to the echo server.

Start echo_server.py first, then:

    python echo_client.py
"""

import argparse
import asyncio
import sys

from websockets.asyncio.client import connect

HOST = "127.0.0.1"
PORT = 8765
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:echo]
async def echo_each(messages: list[str | bytes], uri: str) -> list[str | bytes]:
    """Send each message over one connection; return the replies in order."""
    # open_timeout bounds the TCP connection and the opening handshake;
    # close_timeout bounds the closing handshake when the block exits.
    async with connect(uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as websocket:
        replies = []
        for message in messages:
            await websocket.send(message)  # str: a text frame, bytes: binary
            # recv() waits as long as it takes: give up on a silent server.
            replies.append(await asyncio.wait_for(websocket.recv(), TIMEOUT))
        return replies


# --8<-- [end:echo]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    uri = f"ws://{args.host}:{args.port}/"
    try:
        replies = asyncio.run(echo_each(["Hello, WebSocket! 👋", b"\x00\x01\xff"], uri))
    except OSError:  # ConnectionRefusedError and the like
        sys.exit(f"No server at {uri}: start echo_server.py")
    for reply in replies:
        print(repr(reply))  # repr() shows text (str) from binary (bytes)
        #> 'Hello, WebSocket! 👋'
        #> b'\x00\x01\xff'


if __name__ == "__main__":
    main()
