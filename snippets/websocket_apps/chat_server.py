"""A chat server: each message goes to everyone in the room, browsers included.

Run it, then open http://127.0.0.1:8765/ in a browser, or run chat_client.py:

    python chat_server.py
"""

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosedError, InvalidHandshake
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
CHAT_PATH = "/chat"  # where clients open the WebSocket: /chat?name=Ada
MAX_NAME_LENGTH = 32  # characters
MAX_MESSAGE_SIZE = 4096  # bytes: a larger message closes its connection (1009)
PING_INTERVAL = 20.0  # seconds between keepalive pings to each client
PING_TIMEOUT = 20.0  # seconds a client has to answer before it is dropped
CLOSE_TIMEOUT = 10.0  # seconds to wait for a client's side of the close
# The browser client: these two files and nothing else are served over HTTP.
PAGES = {
    "/": ("chat.html", "text/html; charset=utf-8"),
    "/chat.js": ("chat.js", "text/javascript; charset=utf-8"),
}
HERE = Path(__file__).resolve().parent


# --8<-- [start:room]
class ChatRoom:
    """The connected clients, and what happens when one joins, talks or leaves."""

    def __init__(self) -> None:
        self.members: set[ServerConnection] = set()

    def announce(self, event: dict) -> None:
        # broadcast() writes to every open connection without waiting for any:
        # one slow client does not hold up the others.
        broadcast(self.members, json.dumps(event))

    async def handle(self, websocket: ServerConnection) -> None:
        """One client's whole visit: join, talk, leave."""
        name = name_in(websocket.request.path)
        if name is None:
            reason = f"a name of 1 to {MAX_NAME_LENGTH} characters is needed"
            await websocket.close(CloseCode.POLICY_VIOLATION, reason)
            return
        self.members.add(websocket)
        print(f"{name!r} joined ({len(self.members)} online)")
        self.announce({"type": "join", "name": name, "online": len(self.members)})
        try:
            await self.relay_messages(websocket, name)
        except ConnectionClosedError as error:
            # Too big a message, a vanished client, a missed ping: log it.
            print(f"{name!r} dropped: {error}")
        finally:  # however the visit ends, the room forgets the connection
            self.members.discard(websocket)
            print(f"{name!r} left ({len(self.members)} online)")
            self.announce({"type": "leave", "name": name, "online": len(self.members)})

    async def relay_messages(self, websocket: ServerConnection, name: str) -> None:
        async for message in websocket:
            if not isinstance(message, str):
                await websocket.close(CloseCode.UNSUPPORTED_DATA, "text only")
                return
            if message.strip():  # blank lines are not worth a broadcast
                self.announce({"type": "message", "name": name, "text": message})


# --8<-- [end:room]
def name_in(path: str) -> str | None:
    """The name in a path such as /chat?name=Ada, if it is acceptable."""
    names = parse_qs(urlsplit(path).query).get("name", [""])
    name = names[0].strip()
    if 0 < len(name) <= MAX_NAME_LENGTH and name.isprintable():
        return name
    return None


# --8<-- [start:http]
def route(connection: ServerConnection, request: Request) -> Response | None:
    """Answer plain HTTP requests; let WebSocket handshakes for CHAT_PATH through."""
    # websockets 17 passes requests of any method here; 16 only GET requests.
    if getattr(request, "method", "GET") != "GET":
        return connection.respond(HTTPStatus.METHOD_NOT_ALLOWED, "Use GET\n")
    path = urlsplit(request.path).path
    if not is_websocket_handshake(request):
        if path in PAGES:
            return page(connection, *PAGES[path])
        return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
    if path != CHAT_PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
    # A browser says which page opened the connection. Accept only our own
    # page, so that another site open in the same browser cannot join the
    # chat in the user's name (cross-site WebSocket hijacking). Programs
    # such as chat_client.py send no Origin.
    origins = request.headers.get_all("Origin")
    own_origin = [f"http://{host}" for host in request.headers.get_all("Host")]
    if origins and origins != own_origin:
        return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden origin\n")
    return None  # go on with the WebSocket handshake


def is_websocket_handshake(request: Request) -> bool:
    upgrades = request.headers.get_all("Upgrade")
    return [upgrade.lower() for upgrade in upgrades] == ["websocket"]


def page(connection: ServerConnection, filename: str, content_type: str) -> Response:
    response = connection.respond(HTTPStatus.OK, (HERE / filename).read_text("utf-8"))
    del response.headers["Content-Type"]  # respond() made it text/plain
    response.headers["Content-Type"] = content_type
    # The page runs only its own script and talks only to its own server
    # (and its icon is an empty data: URL, so it asks for no favicon).
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src data:"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --8<-- [end:http]
# --8<-- [start:signals]
def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on Ctrl+C (SIGINT) and on SIGTERM."""
    # SIGTERM is how `kill`, systemd or Docker ask a server to stop. Windows
    # has no such signal handlers: there, Ctrl+C raises KeyboardInterrupt.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)


# --8<-- [end:signals]
# --8<-- [start:serve]
async def serve_chat(
    host: str = HOST,
    port: int = PORT,
    max_size: int = MAX_MESSAGE_SIZE,
    ping_interval: float = PING_INTERVAL,
    ping_timeout: float = PING_TIMEOUT,
    close_timeout: float = CLOSE_TIMEOUT,
) -> None:
    """Serve until Ctrl+C or SIGTERM, then close every connection with 1001."""
    # websockets 16 logs each failed opening handshake (a browser, a port
    # scanner) as an error with a traceback; websockets 17 only at the debug
    # level. A client's mistake is not the server's error: leave it out.
    logging.getLogger("websockets.server").addFilter(
        lambda record: (
            not isinstance(record.exc_info and record.exc_info[1], InvalidHandshake)
        )
    )
    stop = asyncio.Event()
    stop_on_signals(stop)
    room = ChatRoom()
    try:
        async with serve(
            room.handle,
            host,
            port,
            process_request=route,
            max_size=max_size,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
        ) as server:
            host, port = server.sockets[0].getsockname()[:2]
            print(f"Listening on {host}:{port}", flush=True)
            print(f"Open http://{host}:{port}/ in a browser to chat", flush=True)
            await stop.wait()
        # Leaving the block closed every connection with code 1001 (going
        # away), and waited until each handler had returned.
    finally:
        print("Server stopped")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--max-size", type=int, default=MAX_MESSAGE_SIZE)
    parser.add_argument("--ping-interval", type=float, default=PING_INTERVAL)
    parser.add_argument("--ping-timeout", type=float, default=PING_TIMEOUT)
    parser.add_argument("--close-timeout", type=float, default=CLOSE_TIMEOUT)
    args = parser.parse_args()

    chat = serve_chat(
        args.host,
        args.port,
        args.max_size,
        args.ping_interval,
        args.ping_timeout,
        args.close_timeout,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C on Windows
        asyncio.run(chat)


if __name__ == "__main__":
    main()
