"""Tests of the page "Server and client" (docs/websockets/server-and-client.md)."""

import asyncio
import select
import struct
import time

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

GREETING_SERVER = "websocket_apps/greeting_server.py"
GREETING_CLIENT = "websocket_apps/greeting_client.py"
ECHO_SERVER = "websocket_apps/echo_server.py"
ECHO_CLIENT = "websocket_apps/echo_client.py"
NAME_TIMEOUT = 0.1  # seconds: the greeting server's patience, shortened here
TEXT, CLOSE = 0x1, 0x8


@pytest_asyncio.fixture
async def greeting_uri(import_snippet, monkeypatch):
    """The greeting server's handler, served in this test's event loop.

    (The program itself runs in its own process in the first test below.)
    """
    greeting = import_snippet(GREETING_SERVER)
    monkeypatch.setattr(greeting, "NAME_TIMEOUT", NAME_TIMEOUT)
    async with serve(
        greeting.greet, "127.0.0.1", 0, max_size=greeting.MAX_NAME_SIZE
    ) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


def uri(server) -> str:
    return f"ws://{server.host}:{server.port}/"


def test_greeting_client_prints_the_greeting(start_server, run_example):
    with start_server(GREETING_SERVER) as server:
        run_example(GREETING_CLIENT, "--port", str(server.port))
    assert server.output == "< 'Ada'\n> 'Hello Ada!'\nServer stopped\n"


@pytest.mark.hostile(GREETING_SERVER, "silent", limit="Time to send the name")
@pytest.mark.asyncio
async def test_client_that_never_sends_its_name_is_closed_with_1008(
    greeting_uri, import_snippet
):
    client = import_snippet(GREETING_CLIENT)
    async with connect(greeting_uri) as silent:
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(silent.recv(), 10 * NAME_TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        1008,
        "no name received",
    )
    assert await client.hello("Grace", greeting_uri) == "Hello Grace!"


@pytest.mark.asyncio
async def test_binary_name_is_refused_with_1003(greeting_uri, import_snippet):
    client = import_snippet(GREETING_CLIENT)
    async with connect(greeting_uri) as websocket:
        await websocket.send(b"\x00\x01")
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(websocket.recv(), 5)
    assert closed.value.rcvd.code == 1003  # unsupported data
    assert await client.hello("Grace", greeting_uri) == "Hello Grace!"


@pytest.mark.hostile(GREETING_SERVER, "slow drip", limit="Time to send the name")
@pytest.mark.asyncio
async def test_a_name_sent_byte_by_byte_is_closed_at_the_deadline(
    greeting_uri, raw_websocket, import_snippet
):
    # The deadline covers the whole name, not the time between two bytes.
    client = import_snippet(GREETING_CLIENT)
    host, port = greeting_uri[len("ws://") : -1].split(":")

    def drip_a_name() -> tuple[float, tuple[int, str]]:
        """One byte every NAME_TIMEOUT / 4, until the server answers."""
        with raw_websocket(host, int(port)) as dripping:
            started = time.monotonic()
            for byte in dripping.frame(TEXT, b"A very slow name"):
                dripping.sock.sendall(bytes([byte]))
                answered, _, _ = select.select(
                    [dripping.sock], [], [], NAME_TIMEOUT / 4
                )
                if answered:
                    break
            return time.monotonic() - started, dripping.read_close()

    answered_after, close = await asyncio.to_thread(drip_a_name)
    assert close == (1008, "no name received")
    assert answered_after < NAME_TIMEOUT + 1.0
    assert await client.hello("Grace", greeting_uri) == "Hello Grace!"


@pytest.mark.asyncio
async def test_name_over_the_limit_closes_with_1009(greeting_uri, import_snippet):
    client = import_snippet(GREETING_CLIENT)
    limit = import_snippet(GREETING_SERVER).MAX_NAME_SIZE
    async with connect(greeting_uri) as websocket:
        await websocket.send("x" * (limit + 1))
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(websocket.recv(), 5)
    assert closed.value.rcvd.code == 1009  # message too big
    assert await client.hello("Grace", greeting_uri) == "Hello Grace!"


@pytest.mark.asyncio
async def test_client_that_leaves_before_its_greeting(
    greeting_uri, raw_websocket, import_snippet, capsys
):
    client = import_snippet(GREETING_CLIENT)
    host, port = greeting_uri[len("ws://") : -1].split(":")

    def leave_early() -> tuple[int, bytes]:
        with raw_websocket(host, int(port)) as leaving:
            leaving.send_then_close("Early")
            return leaving.read_frame()

    # The server answers the close, and sends no greeting before it.
    closing = await asyncio.to_thread(leave_early)
    assert closing == (CLOSE, struct.pack("!H", 1000))
    assert await client.hello("Grace", greeting_uri) == "Hello Grace!"
    assert capsys.readouterr().out == ("< 'Early'\n< 'Grace'\n> 'Hello Grace!'\n")


def test_echo_client_gets_text_as_text_and_bytes_as_bytes(echo_server, run_example):
    run_example(ECHO_CLIENT, "--port", str(echo_server.port))


@pytest.mark.asyncio
async def test_message_of_the_maximum_size_comes_back_intact(
    echo_server, import_snippet
):
    client = import_snippet(ECHO_CLIENT)
    limit = import_snippet(ECHO_SERVER).Limits().max_size
    message = bytes(range(256)) * (limit // 256)
    assert len(message) == limit
    assert await client.echo_each([message], uri(echo_server)) == [message]


@pytest.mark.asyncio
async def test_message_over_the_maximum_size_closes_with_1009(
    echo_server, import_snippet
):
    client = import_snippet(ECHO_CLIENT)
    limit = import_snippet(ECHO_SERVER).Limits().max_size
    with pytest.raises(ConnectionClosedError) as closed:
        await client.echo_each([b"x" * (limit + 1)], uri(echo_server))
    assert closed.value.rcvd.code == 1009
    assert await client.echo_each(["next"], uri(echo_server)) == ["next"]


def test_client_that_leaves_without_waiting_for_the_echo(
    echo_server, raw_websocket, import_snippet
):
    # The server's send() then meets a closed connection. Its handler treats
    # that as normal: logging an error would fail the test at the end.
    client = import_snippet(ECHO_CLIENT)
    with raw_websocket(echo_server.host, echo_server.port) as leaving:
        leaving.send_then_close("no need to answer")
        assert leaving.read_frame() == (CLOSE, struct.pack("!H", 1000))
    assert asyncio.run(client.echo_each(["next"], uri(echo_server))) == ["next"]
