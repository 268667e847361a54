"""The old tutorial's server with only its last three lines updated.

It starts, then fails on every connection: its handler still takes the
`path` argument that websockets no longer passes.

    python legacy_two_argument_handler.py
"""

import argparse
import asyncio
import contextlib

import websockets

HOST = "127.0.0.1"
PORT = 8784


async def hello(websocket, path):  # pragma: no cover (never runs: TypeError)
    name = await websocket.recv()
    print(f"< {name}")
    greeting = f"Hello {name}!"
    await websocket.send(greeting)
    print(f"> {greeting}")


async def main_async(host: str = HOST, port: int = PORT) -> None:
    async with websockets.serve(hello, host, port) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"Listening on {host}:{port}", flush=True)
        try:
            await asyncio.Future()  # run forever
        finally:  # cancelled by Ctrl+C
            print("Server stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    args = parser.parse_args()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops the server
        asyncio.run(main_async(args.host, args.port))


if __name__ == "__main__":
    main()
