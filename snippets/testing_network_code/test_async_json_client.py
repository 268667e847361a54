"""Tests of async_json_client.py, with pytest-asyncio.

In strict mode a test says it is asyncio code, with @pytest.mark.asyncio,
and an asynchronous fixture with @pytest_asyncio.fixture; each test gets an
event loop of its own (pytest.ini), so no test inherits another's tasks.

    python3 -m pytest test_async_json_client.py
"""

import asyncio
import socket

import aiohttp
import pytest
import pytest_asyncio
from async_json_client import FetchError, fetch_json
from test_json_client import (
    cut_short,
    garbage,
    hang_up,
    not_json,
    reset,
    too_large,
)

SHORT = 0.1  # seconds: the timeout of a test that waits for one


# --8<-- [start:tests]
@pytest_asyncio.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def stalling_server():
    """An asyncio server on the test's own loop that never answers."""

    async def stall(reader, writer):
        await reader.read()  # until the client gives up and closes
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    async with server:  # closes the server after the test
        yield server.sockets[0].getsockname()[1]


@pytest.mark.asyncio
async def test_fetches_the_json(session, json_server):
    url = f"http://127.0.0.1:{json_server}/hello"
    assert await fetch_json(session, url) == {"greeting": "Hello"}


@pytest.mark.asyncio
async def test_a_stalled_server_is_a_timeout(session, stalling_server):
    url = f"http://127.0.0.1:{stalling_server}/"
    with pytest.raises(FetchError, match=f"did not answer within {SHORT} s"):
        await fetch_json(session, url, timeout=SHORT)


# --8<-- [end:tests]
# --8<-- [start:faults]
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("misbehave", "message"),
    [
        (hang_up, "hung up without answering"),
        (reset, "failed: Connection reset by peer"),
        (garbage, "did not answer in HTTP"),
        (not_json, "did not answer in JSON"),
        (cut_short, "cut its answer short"),
        (too_large, "sent over 1048576 bytes"),
    ],
)
async def test_a_misbehaving_server_gets_a_one_line_error(
    session, fake_server, misbehave, message
):
    # A server in a thread serves an asyncio client as well as any other.
    url = f"http://127.0.0.1:{fake_server(misbehave)}/"
    with pytest.raises(FetchError) as error:
        await fetch_json(session, url)
    assert str(error.value) == f"{url} {message}"


@pytest.mark.asyncio
async def test_names_the_status_of_a_missing_page(session, json_server):
    url = f"http://127.0.0.1:{json_server}/missing"
    with pytest.raises(FetchError, match=r"answered 404 Not Found$"):
        await fetch_json(session, url)


@pytest.mark.asyncio
async def test_nothing_listening_is_not_a_timeout(session):
    with socket.socket() as holder:  # a free port, held: nothing listens
        holder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{holder.getsockname()[1]}/"
        with pytest.raises(FetchError, match=r"^No server at "):
            await fetch_json(session, url)


# --8<-- [end:faults]
