"""A WebSocket server that greets each client by name: an old tutorial, redone.

Run it, then run greeting_client.py in another terminal:

    python greeting_server.py
"""

import argparse
import asyncio
import contextlib
import logging
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import CloseCode

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8781
NAME_TIMEOUT = 10.0  # seconds a client has to send its name
MAX_NAME_SIZE = 1024  # bytes: a name is short, refuse anything bigger (1009)
OPEN_TIMEOUT = 10.0  # seconds to complete the opening handshake
MAX_CONNECTIONS = 256  # at once: more are refused with HTTP 503
SPARE_FILES = 16  # descriptors kept for the listening socket, the loop...


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
        reason = "send your name as text"
        await websocket.close(CloseCode.UNSUPPORTED_DATA, reason)
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
# --8<-- [start:cap]
def capped(max_connections: int) -> type[ServerConnection]:
    """A connection class that turns away connections beyond the cap."""
    connections: set[ServerConnection] = set()

    class CappedConnection(ServerConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if len(connections) < max_connections:
                connections.add(self)
                return
            # Each connection holds a file descriptor: refuse before the
            # process runs out of them, with 503 (try again later).
            busy = HTTPStatus.SERVICE_UNAVAILABLE
            self.protocol.send_response(self.protocol.reject(busy, "Busy\n"))
            self.send_data()
            transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            connections.discard(self)
            super().connection_lost(exc)

    return CappedConnection


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


# --8<-- [end:cap]
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets as URLs need it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_handshake_error(record: logging.LogRecord) -> bool:
    return isinstance(record.exc_info and record.exc_info[1], InvalidHandshake)


# --8<-- [start:serve]
async def serve_greetings(
    host: str = HOST,
    port: int = PORT,
    max_connections: int = MAX_CONNECTIONS,
    open_timeout: float = OPEN_TIMEOUT,
) -> None:
    """Serve until cancelled (Ctrl+C), then close every connection cleanly."""
    # websockets 16 logs each failed opening handshake (a port scanner, a
    # client gone early) as an error: a client's mistake, not the server's.
    logging.getLogger("websockets.server").addFilter(
        lambda record: not is_handshake_error(record)
    )
    server = await serve(
        greet,
        host,
        port,
        max_size=MAX_NAME_SIZE,
        open_timeout=open_timeout,  # for the whole opening handshake
        create_connection=capped(connection_cap(max_connections)),
    )
    listening = address(*server.sockets[0].getsockname()[:2])
    print(f"Listening on {listening}", flush=True)
    try:
        await server.serve_forever()
    finally:  # cancelled by Ctrl+C, once every connection is closed
        print("Server stopped")


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    parser.add_argument("--open-timeout", type=float, default=OPEN_TIMEOUT)
    args = parser.parse_args()

    greetings = serve_greetings(
        args.host, args.port, args.max_connections, args.open_timeout
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops the server
        asyncio.run(greetings)


if __name__ == "__main__":
    main()
