"""What the websockets library raises, each case made on purpose on loopback.

    python3 -m pip install "websockets==17.4"
    python3 websocket_messages.py

A WebSocket server on a free port of 127.0.0.1 behaves differently for
each path that a client asks for.
"""

import asyncio
import http
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from message_text import last_line
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    InvalidStatus,
)

MAX_SIZE = 1024  # bytes: the largest message the server accepts


async def handler(websocket: ServerConnection) -> None:
    path = websocket.request.path
    if path == "/vanish":  # as a server that crashes, or is killed
        websocket.transport.abort()
    elif path == "/once":  # answers one message, then closes normally
        await websocket.send(await websocket.recv())
    else:  # reads nothing: websockets enforces max_size all the same
        await websocket.wait_closed()


def not_a_websocket(connection: ServerConnection, request):
    """Answer some paths with plain HTTP, as a web server or a proxy would."""
    if request.path == "/private":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
    if request.path == "/page":
        return connection.respond(http.HTTPStatus.OK, "<h1>A page</h1>\n")
    return None  # a WebSocket handshake, as usual


@asynccontextmanager
async def websocket_server() -> AsyncIterator[str]:
    async with serve(
        handler, "127.0.0.1", 0,
        max_size=MAX_SIZE, process_request=not_a_websocket,
    ) as server:  # fmt: skip
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"


# --8<-- [start:closed]
async def connection_closed() -> list[str]:
    messages = []
    async with websocket_server() as url:
        for path, message in [
            ("/vanish", "Hello"),  # no closing handshake: code 1006
            ("/", "x" * (MAX_SIZE + 1)),  # over the server's max_size: 1009
            ("/once", "Hello"),  # a normal close, code 1000, then a recv()
        ]:
            async with connect(url + path) as websocket:
                try:
                    await websocket.send(message)
                    await websocket.recv()
                    await websocket.recv()  # the server has closed by now
                except ConnectionClosed as error:
                    messages.append(last_line(error))
    return messages


# --8<-- [end:closed]
# --8<-- [start:refused]
async def handshake_refused() -> list[str]:
    messages = []
    async with websocket_server() as url:
        for path in ("/private", "/page"):
            try:
                async with connect(url + path):
                    pass  # pragma: no cover (the handshake fails first)
            except InvalidStatus as error:
                messages.append(last_line(error))
    return messages


async def not_http(reader, writer) -> None:
    writer.write(b"220 localhost ESMTP ready\r\n")  # a mail server, say
    writer.close()


async def not_a_web_server() -> list[str]:
    async with await asyncio.start_server(not_http, "127.0.0.1", 0) as other:
        port = other.sockets[0].getsockname()[1]
        try:
            async with connect(f"ws://127.0.0.1:{port}/"):
                pass  # pragma: no cover (the handshake fails first)
        except InvalidMessage as error:
            return [last_line(error)]


# --8<-- [end:refused]
# --8<-- [start:no_loop]
def serve_outside_a_loop() -> Iterator[str]:
    try:  # as older tutorials do, before the event loop runs
        serve(handler, "127.0.0.1", 0)
    except RuntimeError as error:
        yield last_line(error)


# --8<-- [end:no_loop]
def main() -> None:
    for scenario in (connection_closed, handshake_refused, not_a_web_server):
        for message in asyncio.run(scenario()):
            print(message)
    for message in serve_outside_a_loop():
        print(message)


if __name__ == "__main__":
    main()
