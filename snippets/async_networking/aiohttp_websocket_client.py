"""A WebSocket client with aiohttp: send messages, print what comes back.

Start the site's API server (http_examples/api_server.py) first: its /ws
route sends every message back. Then:

    python aiohttp_websocket_client.py

or name another server by its URL, and the messages to send:

    python aiohttp_websocket_client.py --url ws://[::1]:8080/ws Hi there

For wss:// with a local certificate authority, add --cafile certs/ca.pem.
"""

import argparse
import asyncio
import ssl
import sys
from http import HTTPStatus

import aiohttp
from yarl import URL

HOST = "127.0.0.1"
PORT = 8080
PATH = "/ws"
MESSAGES = ["Hello, WebSocket!", "Ça va ? 👋"]
# The opening handshake is an HTTP request, with a request's timeouts:
# `connect`, `sock_read` for each read of the answer, `total` for all.
HANDSHAKE = aiohttp.ClientTimeout(total=10, connect=3, sock_read=5)
# The conversation has its own: for each reply, and for the server to
# answer the closing frame.
CONVERSATION = aiohttp.ClientWSTimeout(ws_receive=5, ws_close=5)
HEARTBEAT = 10  # s between pings; no pong within half that: closed
MAX_SIZE = 64 * 1024  # bytes in a reply; this many: the client closes
PHRASES = {status.value: status.phrase for status in HTTPStatus}


# --8<-- [start:converse]
async def converse(
    url: URL, messages: list[str], cafile: str | None = None
) -> list[str]:
    """Send each message, wait for its reply; return the replies."""
    # The authorities to trust for wss://: the system's, or cafile's.
    trusted = ssl.create_default_context(cafile=cafile)
    async with (
        aiohttp.ClientSession(timeout=HANDSHAKE) as session,
        session.ws_connect(
            url,
            ssl=trusted,
            timeout=CONVERSATION,
            heartbeat=HEARTBEAT,
            max_msg_size=MAX_SIZE,
        ) as websocket,
    ):
        replies = []
        for message in messages:
            await websocket.send_str(message)
            replies.append(await reply(websocket))
        return replies  # leaving the block closes: code 1000


# --8<-- [end:converse]
# --8<-- [start:reply]
class Closed(Exception):
    """The conversation ended before a reply came."""


async def reply(websocket: aiohttp.ClientWebSocketResponse) -> str:
    """The next message, as text; Closed if none comes."""
    try:
        message = await websocket.receive()
    except asyncio.TimeoutError:  # after CONVERSATION.ws_receive
        raise Closed(f"no reply within {CONVERSATION.ws_receive} s") from None
    if message.type is aiohttp.WSMsgType.TEXT:
        return message.data
    if message.type is aiohttp.WSMsgType.BINARY:
        return f"{len(message.data)} bytes"
    if message.type is aiohttp.WSMsgType.CLOSE:  # the server's code, reason
        code, reason = message.data, message.extra  # reason: maybe ""
        closed = f"{code} {reason!r}" if reason else f"{code}"
        raise Closed(f"the server closed the connection: {closed}")
    if message.type is aiohttp.WSMsgType.ERROR:  # a frame over MAX_SIZE...
        raise Closed(f"the connection failed: {message.data}")
    raise Closed("the connection ended without a closing frame")  # CLOSED


# --8<-- [end:reply]
# --8<-- [start:failures]
def failure(error: Exception) -> str:
    """One line that names why the conversation failed."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        reason = error.certificate_error.verify_message
        return f"certificate not trusted ({reason}): see --cafile"
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return "connection refused: is the server running?"
        return f"cannot connect: {error.os_error}"
    if isinstance(error, aiohttp.WSServerHandshakeError):
        if error.status == 101:  # it switched, then answered wrongly
            return f"not a WebSocket server: {error.message}"
        status = f"{error.status} {PHRASES.get(error.status, '')}".strip()
        return f"no WebSocket here: the server answered {status}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server hung up during the handshake"
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return f"no connection within {HANDSHAKE.connect} s"
    if isinstance(error, aiohttp.SocketTimeoutError):
        return f"no answer to the handshake within {HANDSHAKE.sock_read} s"
    if isinstance(error, asyncio.TimeoutError):  # TimeoutError on 3.11+
        return f"no handshake within {HANDSHAKE.total} s"
    return str(error)  # Closed: how the conversation ended


# --8<-- [end:failures]
# --8<-- [start:run]
def show(replies: list[str]) -> None:
    for received in replies:
        # !r: a reply from another server may hold control characters.
        print(f"< {received!r}")
        #> < 'Hello, WebSocket!'
        #> < 'Ça va ? 👋'


# --8<-- [end:run]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="ws:// or wss://: not host and port")
    parser.add_argument("--cafile", help="trust the authorities in this file")
    parser.add_argument("messages", nargs="*", default=MESSAGES)
    args = parser.parse_args()

    # URL.build puts an IPv6 address in brackets: ws://[::1]:8080/ws
    url = (
        URL(args.url)
        if args.url
        else URL.build(scheme="ws", host=args.host, port=args.port, path=PATH)
    )
    try:
        replies = asyncio.run(converse(url, args.messages, args.cafile))
    except (aiohttp.ClientError, asyncio.TimeoutError, Closed) as error:
        sys.exit(f"{url}: {failure(error)}")
    show(replies)


if __name__ == "__main__":
    main()
