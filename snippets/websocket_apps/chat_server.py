"""A chat server: each message goes to everyone in the room, browsers included.

Run it, then open http://127.0.0.1:8782/ in a browser, or run chat_client.py:

    python chat_server.py
"""

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import signal
import sys
from dataclasses import dataclass, fields
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosedError, InvalidHandshake
from websockets.frames import CloseCode
from websockets.http11 import Request

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8782
CHAT_PATH = "/chat"  # where clients open the WebSocket: /chat?name=Ada
MAX_NAME_LENGTH = 32  # characters
# The names under which a browser on this machine reaches the server; pages
# from other addresses are refused unless given with --allow-host.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SPARE_FILES = 16  # descriptors kept for the listening socket, the loop...
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)  # for a process, for the system
# The browser client: these two files and nothing else are served over HTTP.
PAGES = {
    "/": ("chat.html", "text/html; charset=utf-8"),
    "/chat.js": ("chat.js", "text/javascript; charset=utf-8"),
}
CSP = "default-src 'self'; img-src data:"
HERE = Path(__file__).resolve().parent


# --8<-- [start:limits]
@dataclass
class Limits:
    """What one client may cost the server. Each is a command-line option:
    --max-size, --max-buffer, --max-connections, --open-timeout..."""

    max_size: int = 4096  # bytes in a message; more: closed with 1009
    max_buffer: int = 256 * 1024  # bytes it has not read; more: dropped
    max_connections: int = 256  # at once; more: HTTP 503
    open_timeout: float = 10.0  # seconds to complete the opening handshake
    ping_interval: float = 20.0  # seconds between keepalive pings
    ping_timeout: float = 20.0  # seconds to answer a ping
    close_timeout: float = 10.0  # seconds to answer a CLOSE frame


# --8<-- [end:limits]
# --8<-- [start:room]
class ChatRoom:
    """The clients in the room, and what happens as they join, talk, leave."""

    def __init__(self, max_buffer: int) -> None:
        self.members: dict[ServerConnection, str] = {}  # connection: name
        self.max_buffer = max_buffer

    def announce(self, event: dict) -> None:
        # broadcast() writes to every open connection without waiting for
        # any: one slow client does not hold up the others. (It skips those
        # closing, but not one whose TCP connection just broke.)
        alive = [m for m in self.members if not m.transport.is_closing()]
        broadcast(alive, json.dumps(event))
        # What a client does not read waits in the server's memory. Drop a
        # client that has fallen this far behind, rather than hold more.
        for member, name in list(self.members.items()):
            if member.transport.get_write_buffer_size() > self.max_buffer:
                print(f"{name!r} stopped reading: dropped")
                del self.members[member]
                # A reset: a CLOSE frame would wait behind the unread data.
                member.transport.abort()

    async def handle(self, websocket: ServerConnection) -> None:
        """One client's whole visit: join, talk, leave."""
        name = name_in(websocket.request.path)
        if name is None:
            reason = f"a name of 1 to {MAX_NAME_LENGTH} characters is needed"
            await websocket.close(CloseCode.POLICY_VIOLATION, reason)
            return
        self.members[websocket] = name
        self.arrival_or_departure("join", name)
        try:
            await self.relay_messages(websocket, name)
        except ConnectionClosedError as error:
            # Too big a message, a vanished client, a missed ping: log it.
            print(f"{name!r} dropped: {error}")
        finally:  # however the visit ends, the room forgets the connection
            self.members.pop(websocket, None)
            self.arrival_or_departure("leave", name)

    def arrival_or_departure(self, kind: str, name: str) -> None:
        online = len(self.members)
        verb = "joined" if kind == "join" else "left"
        print(f"{name!r} {verb} ({online} online)")
        self.announce({"type": kind, "name": name, "online": online})

    async def relay_messages(self, websocket: ServerConnection, name: str):
        async for text in websocket:
            if not isinstance(text, str):
                await websocket.close(CloseCode.UNSUPPORTED_DATA, "text only")
                return
            if text.strip():  # blank lines are not worth a broadcast
                self.announce({"type": "message", "name": name, "text": text})


# --8<-- [end:room]
def name_in(path: str) -> str | None:
    """The name in a path such as /chat?name=Ada, if it is acceptable."""
    names = parse_qs(urlsplit(path).query).get("name", [""])
    name = names[0].strip()
    if 0 < len(name) <= MAX_NAME_LENGTH and name.isprintable():
        return name
    return None


# --8<-- [start:http]
class Website:
    """The plain HTTP side: two files, and who may open the WebSocket."""

    def __init__(self, other_hosts: list[str], max_connections: int) -> None:
        self.other_hosts = set(other_hosts)  # a proxy's, e.g. chat.example
        self.max_connections = max_connections

    def hosts(self, connection: ServerConnection) -> set[str]:
        """The Host headers it answers: its address and loopback names."""
        ip, port = connection.local_address[:2]
        names = {address(ip, port)} | self.other_hosts
        return names | {f"{name}:{port}" for name in LOOPBACK_NAMES}

    def route(self, connection: ServerConnection, request: Request):
        """Answer HTTP requests; let WebSocket handshakes on /chat through."""
        hosts = self.hosts(connection)
        # Against DNS rebinding: another site's name, made to point at
        # 127.0.0.1, still arrives with that name in Host. Refuse it.
        if request.headers.get_all("Host") not in [[host] for host in hosts]:
            return connection.respond(HTTPStatus.FORBIDDEN, "Unknown host\n")
        path = urlsplit(request.path).path
        if not is_websocket_handshake(request):
            if path in PAGES:
                return page(connection, *PAGES[path])
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if path != CHAT_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        # A browser says which page opened the connection. Accept only our
        # own page, so that another site open in the same browser cannot
        # join the chat in the user's name (cross-site WebSocket hijacking).
        # Programs such as chat_client.py send no Origin.
        ours = {f"{scheme}://{host}" for host in hosts for scheme in SCHEMES}
        origins = request.headers.get_all("Origin")
        if origins and origins not in [[url] for url in ours]:
            return connection.respond(HTTPStatus.FORBIDDEN, "Bad origin\n")
        if len(connection.server.connections) >= self.max_connections:
            busy = HTTPStatus.SERVICE_UNAVAILABLE
            return connection.respond(busy, "Room full, retry later\n")
        return None  # go on with the WebSocket handshake


SCHEMES = ("http", "https")  # the page over HTTPS: through a proxy


def is_websocket_handshake(request: Request) -> bool:
    upgrades = request.headers.get_all("Upgrade")
    return [upgrade.lower() for upgrade in upgrades] == ["websocket"]


def page(connection: ServerConnection, filename: str, content_type: str):
    content = (HERE / filename).read_text("utf-8")
    response = connection.respond(HTTPStatus.OK, content)
    del response.headers["Content-Type"]  # respond() made it text/plain
    response.headers["Content-Type"] = content_type
    # The page runs only its own script and talks only to its own server
    # (and its icon is an empty data: URL, so it asks for no favicon).
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --8<-- [end:http]
# --8<-- [start:connection]
class ChatConnection(ServerConnection):
    """A connection that answers a request other than GET with 405."""

    first_bytes = True  # nothing received yet

    def data_received(self, data: bytes) -> None:
        # websockets reads no request body: it closes a connection that
        # sends one (a POST, a form) without a word. Answer them all.
        method = data.partition(b" ")[0] if self.first_bytes else b"GET"
        self.first_bytes = False
        if not method.isalpha() or method == b"GET":
            super().data_received(data)
            return
        not_allowed = HTTPStatus.METHOD_NOT_ALLOWED
        response = self.protocol.reject(not_allowed, "Use GET\n")
        response.headers["Allow"] = "GET"
        self.protocol.send_response(response)
        self.send_data()
        self.transport.close()


# --8<-- [end:connection]
# --8<-- [start:cap]
def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if this process may not open that many files."""
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover (Windows)
        return wanted
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY:  # pragma: no cover (rare)
        return wanted
    return max(1, min(wanted, soft_limit - SPARE_FILES))


def report_file_shortage(loop: asyncio.AbstractEventLoop) -> None:
    """Say in one line, once a second at most, when the process runs out of
    file descriptors, instead of a traceback for each accept() that fails.
    (A burst of connections can do that: asyncio then stops accepting for a
    second, and goes on.)"""
    quiet_until = 0.0

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        nonlocal quiet_until
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in OUT_OF_FILES):
            loop.default_exception_handler(context)
        elif loop.time() >= quiet_until:
            quiet_until = loop.time() + 1.0
            print(f"Not accepting for a second: {error.strerror}", flush=True)

    loop.set_exception_handler(handle)


# --8<-- [end:cap]
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
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets as URLs need it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_handshake_error(record: logging.LogRecord) -> bool:
    return isinstance(record.exc_info and record.exc_info[1], InvalidHandshake)


# --8<-- [start:serve]
async def serve_chat(
    host: str = HOST,
    port: int = PORT,
    limits: Limits | None = None,
    other_hosts: list[str] | None = None,
) -> None:
    """Serve until Ctrl+C or SIGTERM, then close every connection with 1001."""
    limits = limits or Limits()
    # websockets 16 logs each failed opening handshake (a browser, a port
    # scanner) as an error with a traceback; websockets 17 only at the debug
    # level. A client's mistake is not the server's error: leave it out.
    logging.getLogger("websockets.server").addFilter(
        lambda record: not is_handshake_error(record)
    )
    report_file_shortage(asyncio.get_running_loop())
    stop = asyncio.Event()
    stop_on_signals(stop)
    room = ChatRoom(limits.max_buffer)
    cap = connection_cap(limits.max_connections)
    website = Website(other_hosts or [], cap)
    try:
        async with serve(
            room.handle,
            host,
            port,
            process_request=website.route,
            create_connection=ChatConnection,
            open_timeout=limits.open_timeout,  # for the whole handshake
            max_size=limits.max_size,
            # websockets stops pinging a connection whose buffer holds more
            # than write_limit (ping() waits for it to drain first), so its
            # ping timeout never starts. The room drops it before that.
            write_limit=2 * limits.max_buffer,
            ping_interval=limits.ping_interval,
            ping_timeout=limits.ping_timeout,
            close_timeout=limits.close_timeout,
        ) as server:
            listening = address(*server.sockets[0].getsockname()[:2])
            print(f"Listening on {listening}", flush=True)
            print(f"Open http://{listening}/ in a browser to chat", flush=True)
            await stop.wait()
        # Leaving the block closed every connection with code 1001 (going
        # away), and waited until each handler had returned.
    finally:
        print("Server stopped")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="also answer this Host, and pages from it (behind a proxy)",
    )
    for limit in fields(Limits):  # --max-size, --ping-interval...
        option = "--" + limit.name.replace("_", "-")
        parser.add_argument(option, type=limit.type, default=limit.default)
    args = parser.parse_args()

    for filename, _ in PAGES.values():  # the browser client's two files
        if not (HERE / filename).is_file():
            sys.exit(f"No {filename} beside chat_server.py: save it too")
    limits = Limits(*(getattr(args, limit.name) for limit in fields(Limits)))
    chat = serve_chat(args.host, args.port, limits, args.allow_host)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C on Windows
        asyncio.run(chat)


if __name__ == "__main__":
    main()
