"""Mistakes with asyncio's event loop and tasks, each made on purpose.

    python3 asyncio_messages.py

Each mistake uses a port of 127.0.0.1 where nothing listens, or a server
of its own that never answers.
"""

import asyncio
import gc
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from message_text import last_line, logged_by_asyncio, normalised

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 0.1  # seconds: short, to show a timeout without a long wait


@contextmanager
def port_without_server() -> Iterator[int]:
    """A port where nothing listens: bound, so no one else takes it."""
    with socket.socket() as placeholder:
        placeholder.bind(LOOPBACK)
        yield placeholder.getsockname()[1]


async def fetch(port: int) -> bytes:
    """Connect, read what the server says first, and hang up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await reader.read(100)
    finally:
        writer.close()
        await writer.wait_closed()


# --8<-- [start:no_loop]
def outside_the_loop() -> Iterator[str]:
    with port_without_server() as port:
        coroutine = fetch(port)
        try:  # a task needs a running loop: asyncio.run() makes one
            asyncio.create_task(coroutine)  # noqa: RUF006 (raises at once)
        except RuntimeError as error:
            yield last_line(error)
        finally:
            coroutine.close()  # it never ran: say so, or Python warns


# --8<-- [end:no_loop]
# --8<-- [start:run_inside]
async def run_inside_a_loop(port: int) -> str:
    coroutine = fetch(port)
    try:  # as in Jupyter, where a loop already runs every cell
        asyncio.run(coroutine)
    except RuntimeError as error:
        return last_line(error)
    finally:
        coroutine.close()


# --8<-- [end:run_inside]
# --8<-- [start:never_awaited]
async def without_await(port: int) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fetch(port)  # the mistake: no await, so it never runs
        gc.collect()  # Python frees the coroutine: it warns then
    return [f"{w.category.__name__}: {w.message}" for w in caught]


# --8<-- [end:never_awaited]
# --8<-- [start:never_retrieved]
async def forgotten_task(port: int) -> list[str]:
    with logged_by_asyncio() as logged:
        task = asyncio.create_task(fetch(port))  # started, never awaited
        await asyncio.wait([task])  # it fails, and nobody asks how
        del task  # its last reference: Python frees it, asyncio logs
        gc.collect()
    return [normalised(line) for text in logged for line in text.splitlines()]


# --8<-- [end:never_retrieved]
# --8<-- [start:timeout]
async def no_answer_in_time() -> str:
    # Listening, never accepting: connected, and nothing ever arrives.
    with socket.create_server(LOOPBACK) as silent:
        port = silent.getsockname()[1]
        try:
            await asyncio.wait_for(fetch(port), timeout=TIMEOUT)
        except asyncio.TimeoutError as error:  # TimeoutError on 3.11+
            return last_line(error)


# --8<-- [end:timeout]
async def inside_the_loop() -> list[str]:
    with port_without_server() as port:
        return [
            await run_inside_a_loop(port),
            *await without_await(port),
            *await forgotten_task(port),
            await no_answer_in_time(),
        ]


def main() -> None:
    for message in outside_the_loop():
        print(message)
    for message in asyncio.run(inside_the_loop()):
        print(message)


if __name__ == "__main__":
    main()
