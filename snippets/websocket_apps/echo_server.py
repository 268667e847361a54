"""A WebSocket echo server: sends every message back to the client that sent it.

Run it, then run echo_client.py in another terminal:

    python echo_server.py
"""

import argparse
import asyncio
import contextlib
import logging

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
)

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
MAX_MESSAGE_SIZE = 1024 * 1024  # bytes; a larger message closes the connection (1009)


# --8<-- [start:echo]
async def echo(websocket: ServerConnection) -> None:
    """Send each message back, text as text and binary as binary."""
    try:
        # The loop ends when the client closes the connection normally.
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosedOK:
        # The client closed while we were replying: nothing went wrong.
        pass
    except ConnectionClosedError as error:
        # A protocol error or a vanished client: log it, the server goes on.
        print(f"Connection failed: {error}")


# --8<-- [end:echo]
# --8<-- [start:serve]
async def serve_echo(host: str = HOST, port: int = PORT) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    # websockets 16 logs each failed opening handshake (a browser, a port
    # scanner) as an error with a traceback; websockets 17 only at the debug
    # level. A client's mistake is not the server's error: leave it out.
    logging.getLogger("websockets.server").addFilter(
        lambda record: (
            not isinstance(record.exc_info and record.exc_info[1], InvalidHandshake)
        )
    )
    server = await serve(echo, host, port, max_size=MAX_MESSAGE_SIZE)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    try:
        await server.serve_forever()
    finally:  # cancelled by Ctrl+C, once every connection is closed
        print("Server stopped")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    args = parser.parse_args()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops the server
        asyncio.run(serve_echo(args.host, args.port))


if __name__ == "__main__":
    main()
