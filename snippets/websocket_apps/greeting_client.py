"""A WebSocket client that sends a name and prints the server's greeting.

Start greeting_server.py first, then:

    python greeting_client.py --name Ada
"""

import argparse
import asyncio
import sys

from websockets.asyncio.client import connect

HOST = "127.0.0.1"
PORT = 8765
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server


# --8<-- [start:hello]
async def hello(name: str, uri: str) -> str:
    """Send `name` to the greeting server and return its greeting."""
    async with connect(uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as websocket:
        await websocket.send(name)
        # recv() waits as long as it takes: give up on a silent server.
        return await asyncio.wait_for(websocket.recv(), TIMEOUT)


# --8<-- [end:hello]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--name", default="Ada")
    args = parser.parse_args()

    uri = f"ws://{args.host}:{args.port}/"
    try:
        greeting = asyncio.run(hello(args.name, uri))
    except OSError:  # ConnectionRefusedError and the like
        sys.exit(f"No server at {uri}: start greeting_server.py")
    print(greeting)
    #> Hello Ada!


if __name__ == "__main__":
    main()
