"""What aiohttp raises and logs when a request fails, each case on loopback.

    python3 -m pip install "aiohttp==3.14.5"
    python3 aiohttp_messages.py

Each case has an asyncio server of its own on a free port of 127.0.0.1,
which misbehaves in one way.
"""

import asyncio
import contextlib
import gc
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import aiohttp
from message_text import last_line, logged_by_asyncio, normalised

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 0.1  # seconds: short, to show a timeout without a long wait
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable]


@asynccontextmanager
async def server(handle: Handler) -> AsyncIterator[str]:
    """An asyncio server that treats each request with `handle`: its URL."""
    handlers = []

    async def read_head_then_handle(reader, writer) -> None:
        handlers.append(asyncio.current_task())
        try:
            await reader.readuntil(b"\r\n\r\n")  # the request's head
            await handle(reader, writer)
        finally:
            writer.close()

    listener = await asyncio.start_server(read_head_then_handle, *LOOPBACK)
    async with listener:
        yield f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/"
    # Each handler ends when its client closes the connection.
    await asyncio.wait_for(asyncio.gather(*handlers), timeout=5)


async def hang_up(reader, writer) -> None:
    pass  # the connection is closed, without an answer


def html_page(connection: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14"
        b"\r\nConnection: " + connection + b"\r\n\r\n<h1>Hello</h1>"
    )


async def answer_html(reader, writer) -> None:
    writer.write(html_page(b"close"))  # and close the connection


async def answer_html_keep_alive(reader, writer) -> None:
    writer.write(html_page(b"keep-alive"))
    await reader.read()  # until the client closes the connection


async def get(session: aiohttp.ClientSession, url: str, **options) -> None:
    async with session.get(url, **options) as response:
        await response.json()


# --8<-- [start:failures]
async def failures() -> list[str]:
    messages = []
    async with aiohttp.ClientSession() as session:
        with socket.socket() as not_listening:  # bound, never listening
            not_listening.bind(LOOPBACK)
            port = not_listening.getsockname()[1]
            try:
                await get(session, f"http://127.0.0.1:{port}/")
            except aiohttp.ClientConnectorError as error:
                messages.append(last_line(error))
        async with server(hang_up) as url:
            try:
                await get(session, url)
            except aiohttp.ServerDisconnectedError as error:
                messages.append(last_line(error))
        async with server(answer_html) as url:
            try:
                await get(session, url)
            except aiohttp.ContentTypeError as error:
                messages.append(last_line(error))
    return messages


# --8<-- [end:failures]
# --8<-- [start:timeouts]
async def timeouts() -> list[str]:
    messages = []
    async with aiohttp.ClientSession() as session:
        with socket.socket() as full:  # listening, with a full queue
            full.bind(LOOPBACK)
            full.listen(0)  # room for one connection, taken at once
            with socket.create_connection(full.getsockname()):
                url = f"http://127.0.0.1:{full.getsockname()[1]}/"
                no_connection = aiohttp.ClientTimeout(connect=TIMEOUT)
                try:
                    await get(session, url, timeout=no_connection)
                except aiohttp.ConnectionTimeoutError as error:
                    messages.append(last_line(error))
        with socket.create_server(LOOPBACK) as silent:  # never accepts
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
            for timeout in (
                aiohttp.ClientTimeout(sock_read=TIMEOUT),  # between reads
                aiohttp.ClientTimeout(total=TIMEOUT),  # the whole request
            ):
                try:
                    await get(session, url, timeout=timeout)
                except asyncio.TimeoutError as error:  # TimeoutError, 3.11+
                    messages.append(last_line(error))
    return messages


# --8<-- [end:timeouts]
# --8<-- [start:unclosed]
async def forget_to_close(url: str) -> None:
    session = aiohttp.ClientSession()  # no `async with`, no close()
    await get(session, url)  # one request: a connection stays in the pool


async def unclosed_session() -> list[str]:
    async with server(answer_html_keep_alive) as url:
        # ResourceWarnings too, as python3 -X dev shows: kept out of sight.
        with warnings.catch_warnings(), logged_by_asyncio() as logged:
            warnings.simplefilter("ignore", ResourceWarning)
            # An HTML page, not JSON: the session is what matters here.
            with contextlib.suppress(aiohttp.ContentTypeError):
                await forget_to_close(url)
            gc.collect()  # the session is garbage: Python frees it now
    return [normalised(line) for text in logged for line in text.splitlines()]


# --8<-- [end:unclosed]
# --8<-- [start:closed_loop]
async def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


async def use(session: aiohttp.ClientSession, url: str) -> None:
    async with session.get(url):
        pass  # pragma: no cover (the request fails before it is sent)


def session_across_two_loops() -> Iterator[str]:
    # Each asyncio.run() makes a new event loop, and closes it at the end.
    session = asyncio.run(new_session())  # tied to the first loop
    with socket.socket() as not_listening:  # an address for the request
        not_listening.bind(LOOPBACK)
        url = f"http://127.0.0.1:{not_listening.getsockname()[1]}/"
        try:
            asyncio.run(use(session, url))  # in a second loop
        except RuntimeError as error:
            yield last_line(error)
    asyncio.run(session.close())  # closing needs no loop of its own


# --8<-- [end:closed_loop]
def main() -> None:
    # One event loop for each: a loop closed by asyncio.run() is the point
    # of the last one.
    for scenario in (failures, timeouts, unclosed_session):
        for message in asyncio.run(scenario()):
            print(message)
    for message in session_across_two_loops():
        print(message)


if __name__ == "__main__":
    main()
