"""Tests of the pages "A chat application" and "Robustness" (docs/websockets/).

One chat server serves the tests of this module. Each test gives its clients
names of its own, and counts the room relative to what it saw on arrival.
"""

import asyncio
import io
import json
import os
import re
import signal
import sys
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
SERVER = "websocket_apps/chat_server.py"
CLIENT = "websocket_apps/chat_client.py"
WATCHER = "websocket_apps/chat_watcher.py"
TIMEOUT = 5.0
TEXT, BINARY = 0x1, 0x2


@pytest.fixture(scope="module")
def chat_server(start_server):
    # Its own limits, as the page states them (test_limits.py shortens them
    # to break each one).
    with start_server(SERVER) as server:
        yield server
    assert server.output.endswith("Server stopped\n")


def chat_uri(server, name: str | None = None) -> str:
    query = "" if name is None else "?" + urlencode({"name": name})
    return f"ws://{server.host}:{server.port}/chat{query}"


async def next_event(websocket: ClientConnection, kind: str, name: str) -> dict:
    """Read events until one of `kind` ("join", "message"...) from `name`."""
    while True:
        event = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT))
        if (event["type"], event["name"]) == (kind, name):
            return event


async def read_until_closed(websocket: ClientConnection) -> None:
    """Read past any notice until the server closes the connection."""
    while True:
        await asyncio.wait_for(websocket.recv(), TIMEOUT)


@asynccontextmanager
async def member(server, name: str):
    """A client in the room; its own join notice is in `websocket.joined`."""
    async with connect(chat_uri(server, name), open_timeout=TIMEOUT) as websocket:
        websocket.joined = await next_event(websocket, "join", name)
        yield websocket


# --- The chat --------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_message_goes_to_everyone_including_its_sender(chat_server):
    async with member(chat_server, "Ada") as ada, member(chat_server, "Grace") as grace:
        await next_event(ada, "join", "Grace")
        await ada.send("Hello, room! 👋")
        for websocket in (ada, grace):
            event = await next_event(websocket, "message", "Ada")
            assert event["text"] == "Hello, room! 👋"


@pytest.mark.asyncio
async def test_join_and_leave_notices_count_the_room(chat_server):
    async with member(chat_server, "Grace") as grace:
        async with member(chat_server, "Ada"):
            joined = await next_event(grace, "join", "Ada")
        left = await next_event(grace, "leave", "Ada")
    assert joined["online"] == grace.joined["online"] + 1
    assert left["online"] == grace.joined["online"]


@pytest.mark.asyncio
async def test_blank_messages_are_not_broadcast(chat_server):
    async with member(chat_server, "Ada") as ada:
        await ada.send("   ")
        await ada.send("not blank")
        event = json.loads(await asyncio.wait_for(ada.recv(), TIMEOUT))
    assert (event["type"], event["text"]) == ("message", "not blank")


@pytest.mark.parametrize(
    "name",
    [None, "", "   ", "x" * 33, "bell\a"],
    ids=["none", "empty", "blank", "long", "control"],
)
@pytest.mark.hostile(SERVER, "garbage", limit="Name")
@pytest.mark.asyncio
async def test_a_name_is_required(chat_server, name):
    async with connect(chat_uri(chat_server, name)) as websocket:
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(websocket.recv(), TIMEOUT)
    assert closed.value.rcvd.code == 1008  # policy violation
    assert closed.value.rcvd.reason == "a name of 1 to 32 characters is needed"


@pytest.mark.asyncio
async def test_binary_message_is_refused_with_1003(chat_server):
    async with member(chat_server, "Bits") as bits:
        await bits.send(b"\x00\x01")
        with pytest.raises(ConnectionClosedError) as closed:
            await read_until_closed(bits)
    assert closed.value.rcvd.code == 1003  # unsupported data


# --- The terminal client ---------------------------------------------------


@pytest.mark.asyncio
async def test_terminal_client_sends_what_is_typed(
    chat_server, import_snippet, monkeypatch, capsys
):
    client = import_snippet(CLIENT)
    async with member(chat_server, "Grace") as grace:
        # The client reads the keyboard; here the "keyboard" is a string.
        monkeypatch.setattr(sys, "stdin", io.StringIO("Hello, Grace!\n"))
        await client.chat_from_keyboard("Ada", chat_uri(chat_server))
        said = await next_event(grace, "message", "Ada")
        await next_event(grace, "leave", "Ada")  # at the end of input
    assert said["text"] == "Hello, Grace!"
    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\* Ada joined \(\d+ online\)", printed[0])
    assert printed[-1] == "Disconnected (close code 1000)"


@pytest.mark.asyncio
async def test_terminal_program_chats_both_ways_and_leaves_on_ctrl_c(chat_server):
    async with member(chat_server, "Grace") as grace:
        ada = await asyncio.create_subprocess_exec(
            sys.executable, "-W", "error", str(SNIPPETS / CLIENT),
            "--port", str(chat_server.port), "--name", "Ada",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
        )  # fmt: skip

        async def ada_prints() -> str:
            return (await asyncio.wait_for(ada.stdout.readline(), TIMEOUT)).decode()

        try:
            assert re.fullmatch(r"\* Ada joined \(\d+ online\)\n", await ada_prints())
            await next_event(grace, "join", "Ada")
            await grace.send("Hi, Ada")
            assert await ada_prints() == "Grace: Hi, Ada\n"
            # Control characters from others are shown, not obeyed: this
            # would clear Ada's screen and retitle her terminal.
            await grace.send("\x1b[2J\x1b]0;owned\x07 tab\there")
            shown = await ada_prints()
            assert shown == "Grace: \\x1b[2J\\x1b]0;owned\\x07 tab\\there\n"
            ada.stdin.write("Hello, Grace! 👋\n".encode())
            said = await next_event(grace, "message", "Ada")
            assert said["text"] == "Hello, Grace! 👋"
            assert await ada_prints() == "Ada: Hello, Grace! 👋\n"
        finally:  # pass or fail, no process is left behind
            ada.send_signal(signal.SIGINT)  # Ctrl+C: Ada leaves, as at end of input
            output, errors = await asyncio.wait_for(ada.communicate(), TIMEOUT)
        await next_event(grace, "leave", "Ada")
    assert (ada.returncode, output, errors) == (
        0,
        b"Disconnected (close code 1000)\n",
        b"",
    )


@pytest.mark.asyncio
async def test_piped_messages_all_come_back_before_the_client_leaves(chat_server):
    # With its input from a pipe, the client reaches the end of input right
    # after sending. It must still show its own messages, which the room
    # sends back after the server has read them: once the client's CLOSE
    # frame has arrived, the server sends nothing more. Five at once, as
    # the race showed itself in 2 runs out of 5.
    async def pipe_into_client(number: int) -> str:
        name = f"Pipe{number}"
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-W", "error", str(SNIPPETS / CLIENT),
            "--port", str(chat_server.port), "--name", name,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )  # fmt: skip
        typed = f"first from {name}\nlast from {name}\n".encode()
        output, _ = await asyncio.wait_for(client.communicate(typed), 2 * TIMEOUT)
        return name, output.decode().splitlines()

    for name, lines in await asyncio.gather(*map(pipe_into_client, range(5))):
        assert f"{name}: first from {name}" in lines
        assert f"{name}: last from {name}" in lines
        assert lines[-1] == "Disconnected (close code 1000)"


def test_events_from_another_server_are_shown_safely(import_snippet):
    client = import_snippet(CLIENT)
    event = {"type": "message", "name": "M\x1b[8m", "text": "\x1b[31mred\r\n"}
    assert client.shown(event) == "M\\x1b[8m: \\x1b[31mred\\r\\n"
    event = {"type": "join", "name": "Eve\u202e", "online": 2}  # right-to-left
    assert client.shown(event) == "* Eve\\u202e joined (2 online)"


@pytest.mark.parametrize(
    "message",
    [
        "Hello",
        "[1, 2]",
        '{"type": "message"}',
        '{"type": "join", "name": "A"}',
        b"\x00",
    ],
    ids=["text", "json-list", "no-name", "no-count", "bytes"],
)
def test_anything_but_a_chat_event_is_not_a_chat_server(message, import_snippet):
    client = import_snippet(CLIENT)
    with pytest.raises(client.NotAChatServer):
        client.parse_event(message)


def test_the_client_says_when_a_server_is_not_a_chat(
    import_snippet, peers, monkeypatch
):
    client = import_snippet(CLIENT)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello\n"))
    with peers.echo() as echo:
        argv = [CLIENT, "--url", echo.url("/chat"), "--name", "Ada"]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exit_info:
            client.main()
    assert exit_info.value.code == (
        f"{echo.url('/chat')} is not a chat server: it sent 'Hello'"
    )


def test_terminal_client_reports_a_lost_connection(
    chat_server, run_example, import_snippet, monkeypatch
):
    limit = import_snippet(SERVER).Limits().max_size
    monkeypatch.setattr(sys, "stdin", io.StringIO("x" * (limit + 1) + "\n"))
    args = ["--port", str(chat_server.port), "--name", "Verbose"]
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, *args)
    # Whether the client's own close (at the end of input) went first varies.
    uri = f"ws://127.0.0.1:{chat_server.port}/chat"
    assert exit_info.value.code.startswith(f"{uri} closed the connection: ")
    assert "received 1009 (message too big)" in exit_info.value.code


def test_watcher_gives_up_when_the_server_refuses_it(chat_server, run_example):
    # A refused name would be refused again: reconnecting would only spin.
    with pytest.raises(SystemExit) as exit_info:
        run_example(WATCHER, "--port", str(chat_server.port), "--name", " ")
    assert exit_info.value.code == (
        "The server closed the connection: code 1008 "
        "a name of 1 to 32 characters is needed"
    )


# --- Robustness ------------------------------------------------------------


@pytest.mark.asyncio
async def test_oversized_message_closes_only_that_connection(
    chat_server, import_snippet
):
    limit = import_snippet(SERVER).Limits().max_size
    async with member(chat_server, "Grace") as grace:
        async with member(chat_server, "Big") as big:
            await big.send("x" * (limit + 1))
            with pytest.raises(ConnectionClosedError) as closed:
                await read_until_closed(big)
        assert closed.value.rcvd.code == 1009  # message too big
        await next_event(grace, "leave", "Big")
        # Grace noticed nothing else: she still talks, the room still answers.
        await grace.send("x" * limit)
        assert (await next_event(grace, "message", "Grace"))["text"] == "x" * limit


@pytest.mark.asyncio
async def test_client_that_vanishes_is_removed_from_the_room(
    chat_server, raw_websocket
):
    async with member(chat_server, "Grace") as grace:
        path = "/chat?name=Ghost"
        with raw_websocket(chat_server.host, chat_server.port, path) as ghost:
            joined = await next_event(grace, "join", "Ghost")
            ghost.vanish()  # a reset, as from a crashed program
            left = await next_event(grace, "leave", "Ghost")
    assert left["online"] == joined["online"] - 1


@pytest.mark.asyncio
async def test_invalid_utf8_closes_only_that_connection(chat_server, raw_websocket):
    async with member(chat_server, "Grace") as grace:
        path = "/chat?name=Latin1"
        with raw_websocket(chat_server.host, chat_server.port, path) as latin1:
            latin1.send_frame(TEXT, "café".encode("latin-1"))
            assert latin1.read_close()[0] == 1007  # invalid frame payload data
        await next_event(grace, "leave", "Latin1")
        await grace.send("still here")
        await next_event(grace, "message", "Grace")


# --- HTTP: the page, and who may connect -----------------------------------


def fetch(server, path: str) -> tuple[int, dict, str]:
    url = f"http://{server.host}:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read().decode()
    except HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


@pytest.mark.parametrize(
    ("path", "content_type", "snippet"),
    [("/", "text/html", "chat.html"), ("/chat.js", "text/javascript", "chat.js")],
)
def test_the_browser_client_is_served(chat_server, path, content_type, snippet):
    status, headers, body = fetch(chat_server, path)
    assert status == 200
    assert headers["Content-Type"] == f"{content_type}; charset=utf-8"
    assert headers["Content-Security-Policy"] == "default-src 'self'; img-src data:"
    assert body == (SNIPPETS / "websocket_apps" / snippet).read_text("utf-8")


@pytest.mark.parametrize("path", ["/chat.py", "/../chat_server.py", "/chat"])
def test_nothing_else_is_served(chat_server, path):
    # /chat answers WebSocket handshakes only.
    assert fetch(chat_server, path)[0] == 404


@pytest.mark.asyncio
async def test_websocket_on_another_path_is_refused(chat_server):
    with pytest.raises(InvalidStatus, match="HTTP 404"):
        await connect(f"ws://{chat_server.host}:{chat_server.port}/?name=Ada")


@pytest.mark.asyncio
async def test_a_page_from_another_site_cannot_join(chat_server):
    # A browser sends the Origin of the page that opens the WebSocket.
    with pytest.raises(InvalidStatus, match="HTTP 403"):
        await connect(chat_uri(chat_server, "Mallory"), origin="http://example.com")
    own_page = f"http://{chat_server.host}:{chat_server.port}"
    async with connect(chat_uri(chat_server, "Ada"), origin=own_page) as websocket:
        await next_event(websocket, "join", "Ada")


# --- The browser client ----------------------------------------------------


def test_browser_and_python_client_chat_both_ways(chat_server, chromium):
    from playwright.async_api import expect

    site = f"http://{chat_server.host}:{chat_server.port}"
    requests, sockets, problems = [], [], []

    async def chat_in_browser_and_in_python() -> dict:
        """Chromium joins the room, then a Python client; they talk both ways."""
        page = await chromium.browser.new_page()
        try:
            page.on("request", lambda request: requests.append(request.url))
            page.on("websocket", lambda websocket: sockets.append(websocket.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda message: problems.append(message.text))
            await page.goto(f"{site}/")

            await page.get_by_label("Your name").fill("Chromium")
            await page.get_by_role("button", name="Join").click()
            messages = page.locator("#messages li")
            joined = re.compile(r"\* Chromium joined \(\d+ online\)")
            await expect(messages.last).to_have_text(joined)

            async with member(chat_server, "Python") as python:
                python_joined = re.compile(r"\* Python joined")
                await expect(messages.last).to_have_text(python_joined)
                # Python to the browser. The markup must show as text, not run.
                await python.send("<b>Hello</b> from Python")
                shown = "Python: <b>Hello</b> from Python"
                await expect(messages.last).to_have_text(shown)
                assert await page.locator("#messages b").count() == 0
                # The browser to Python.
                await page.get_by_label("Message").fill("Hello from Chromium 👋")
                await page.get_by_role("button", name="Send").click()
                said = await next_event(python, "message", "Chromium")
            await expect(messages.last).to_have_text(re.compile(r"\* Python left"))
            return said
        finally:  # pass or fail, the shared browser keeps no page of this test
            await page.close()

    said = chromium.run(chat_in_browser_and_in_python())
    assert said == {
        "type": "message",
        "name": "Chromium",
        "text": "Hello from Chromium 👋",
    }
    assert problems == []
    # The page loaded nothing from elsewhere: the server's page, script, socket.
    assert requests == [f"{site}/", f"{site}/chat.js"]
    assert sockets == [f"ws://{chat_server.host}:{chat_server.port}/chat?name=Chromium"]


def test_the_server_says_when_the_pages_files_are_missing(
    import_snippet, monkeypatch, tmp_path
):
    server = import_snippet(SERVER)
    monkeypatch.setattr(server, "HERE", tmp_path)  # a folder without them
    monkeypatch.setattr(sys, "argv", [SERVER])
    with pytest.raises(SystemExit) as exit_info:
        server.main()
    assert exit_info.value.code == "No chat.html beside chat_server.py: save it too"
