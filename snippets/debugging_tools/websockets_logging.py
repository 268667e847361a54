"""Send one WebSocket message, with websockets' log of every frame.

Start echo_server.py (see "Server and client") first, then:

    python3 websockets_logging.py --url ws://127.0.0.1:8780/
"""

import argparse
import asyncio
import logging
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

URL = "ws://127.0.0.1:8780/"  # echo_server.py's
TIMEOUT = 10.0  # seconds for the handshake, and for the reply


async def echo(url: str, message: str) -> str:
    async with connect(url, open_timeout=TIMEOUT) as websocket:
        await websocket.send(message)
        return await asyncio.wait_for(websocket.recv(), TIMEOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()

    # --8<-- [start:logging]
    # "%(message)s" alone: websockets' lines start with what they show,
    # > for what is sent, < for what is received, = for a change of state.
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.DEBUG)
    # --8<-- [end:logging]
    try:
        reply = asyncio.run(echo(args.url, "Hello"))
    except InvalidHandshake as error:  # not a WebSocket server there
        sys.exit(f"{args.url} refused the handshake: {error}")
    # Before OSError, which TimeoutError is a kind of; Python 3.10's
    # asyncio.TimeoutError is not.
    except (TimeoutError, asyncio.TimeoutError):
        sys.exit(f"{args.url} did not answer within {TIMEOUT} s")
    except (OSError, WebSocketException) as error:
        sys.exit(f"WebSocket with {args.url} failed: {error}")
    print(reply)


if __name__ == "__main__":
    main()
