"""A WebSocket server that greets each client by name: the old tutorial, done right.

Run it, then run greeting_client.py in another terminal:

    python greeting_server.py
"""

import argparse
import asyncio
import contextlib

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
NAME_TIMEOUT = 10.0  # seconds a client has to send its name
MAX_NAME_SIZE = 1024  # bytes: a name is short, refuse anything bigger (1009)


# --8<-- [start:greet]
async def greet(websocket: ServerConnection) -> None:
    """Receive a name and send a greeting back."""
    try:
        # A client that connects and never sends must not hold a connection.
        name = await asyncio.wait_for(websocket.recv(), NAME_TIMEOUT)
    except asyncio.TimeoutError:
        await websocket.close(CloseCode.POLICY_VIOLATION, "no name received")
        return
    except ConnectionClosed:
        return  # the client left without a name (or sent too much)
    if not isinstance(name, str):
        await websocket.close(CloseCode.UNSUPPORTED_DATA, "send your name as text")
        return
    # repr(): a name from the network may hold terminal control characters.
    print(f"< {name!r}")
    greeting = f"Hello {name}!"
    try:
        await websocket.send(greeting)
    except ConnectionClosed:
        return  # the client did not wait for its greeting
    print(f"> {greeting!r}")


# --8<-- [end:greet]
# --8<-- [start:serve]
async def serve_greetings(host: str = HOST, port: int = PORT) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    server = await serve(greet, host, port, max_size=MAX_NAME_SIZE)
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
        asyncio.run(serve_greetings(args.host, args.port))


if __name__ == "__main__":
    main()
