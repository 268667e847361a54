"""A client that reconnects with backoff, and a server that stops gracefully.

From the page "Robustness" (docs/websockets/robustness.md).
"""

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .conftest import websocket_peer

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
SERVER = "websocket_apps/chat_server.py"
WATCHER = "websocket_apps/chat_watcher.py"
# websockets reads its reconnection delays from these variables. Shortened:
# a random first delay of up to 0.01 s (logged as "0.0 seconds"), then 0.1 s,
# growing to 0.5 s at most. A new series starts after each connection.
BACKOFF = {
    "WEBSOCKETS_BACKOFF_INITIAL_DELAY": "0.01",
    "WEBSOCKETS_BACKOFF_MIN_DELAY": "0.1",
    "WEBSOCKETS_BACKOFF_MAX_DELAY": "0.5",
}
RETRY = "connect failed; reconnecting in "  # how websockets logs a failed attempt
FIRST_RETRY = RETRY + "0.0 seconds: ConnectionRefusedError"


def test_watcher_retries_until_a_server_answers_and_after_it_leaves(start_server):
    # A port where nothing listens yet, held (bound) so that no one takes it.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    uri = f"ws://127.0.0.1:{port}/chat"
    watcher = subprocess.Popen(  # noqa: S603 (our own snippet)
        [sys.executable, "-W", "error", SNIPPETS / WATCHER, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        env={**os.environ, **BACKOFF, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        # No server: each attempt is refused, and retried after a delay.
        assert watcher.stderr.readline().startswith(FIRST_RETRY)
        holder.close()
        with start_server(SERVER, "--port", str(port)) as server:
            assert watcher.stdout.readline() == f"Connected to {uri}\n"
            with connect(f"{uri}?name=Ada", open_timeout=5) as ada:
                ada.send("Hello, watcher")
            assert watcher.stdout.readline() == "Ada: Hello, watcher\n"
            # How service managers stop a server. It closes every connection
            # with 1001 (going away), and the watcher sets out to reconnect.
            server.process.send_signal(signal.SIGTERM)
            disconnected = watcher.stdout.readline()
            assert disconnected == "Disconnected (close code 1001), reconnecting\n"
            assert server.process.wait(timeout=10) == 0  # SIGTERM alone stopped it
        assert server.output.endswith("'Watcher' left (0 online)\nServer stopped\n")
        # A new series of attempts, after the connection: its first delay.
        while not (line := watcher.stderr.readline()).startswith(FIRST_RETRY):
            assert line, "the watcher ended"
    finally:
        holder.close()
        watcher.send_signal(signal.SIGINT)  # Ctrl+C
        _, errors = watcher.communicate(timeout=10)
    assert watcher.returncode == 0
    # Only the notes of failed attempts: no traceback, no warning.
    assert all(line.startswith(RETRY) for line in errors.splitlines()), errors


def test_ctrl_c_leaves_with_a_normal_close_code():
    # The close code the server receives, recorded by a stand-in server.
    codes: queue.Queue = queue.Queue()

    def record(websocket):
        with contextlib.suppress(ConnectionClosed):
            for _ in websocket:
                pass
        codes.put(websocket.close_code)

    with websocket_peer(record) as peer:
        watcher = subprocess.Popen(  # noqa: S603 (our own snippet)
            [sys.executable, "-W", "error", SNIPPETS / WATCHER,
             "--url", peer.url("/chat")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            assert watcher.stdout.readline().startswith("Connected to ")
        finally:
            watcher.send_signal(signal.SIGINT)  # Ctrl+C
            output, errors = watcher.communicate(timeout=10)
        code = codes.get(timeout=10)
    assert (watcher.returncode, output, errors) == (0, "", "")
    assert code == 1001  # going away; it used to be 1011 (internal error)


def test_the_watcher_shows_control_characters_instead_of_obeying_them(
    import_snippet,
):
    watcher = import_snippet(WATCHER)
    message = '{"type": "message", "name": "Eve", "text": "\\u001b[2Jhi\\u0007"}'
    assert watcher.said(message) == "Eve: \\x1b[2Jhi\\x07"
    assert watcher.said('{"type": "join", "name": "Eve", "online": 1}') is None


def greeter(text: str):
    def greet(websocket):
        websocket.send(text)
        websocket.recv()  # until the watcher leaves

    return greet


@pytest.mark.parametrize(
    ("peer", "failure"),
    [
        ("greeter", "{url} is not a chat server: it sent 'Welcome!'"),
        ("http_200", "{url} answered HTTP 200: not a WebSocket endpoint"),
        ("not_http", "{url} did not answer in HTTP: not a WebSocket server"),
    ],
)
def test_the_watcher_gives_up_on_what_retrying_would_not_cure(
    peer, failure, import_snippet, monkeypatch, peers
):
    watcher = import_snippet(WATCHER)
    if peer == "greeter":
        running = websocket_peer(greeter("Welcome!"))
    else:
        running = getattr(peers, peer)()
    with running as server:
        url = server.url("/chat")
        monkeypatch.setattr(sys, "argv", [WATCHER, "--url", url])
        with pytest.raises(SystemExit) as exit_info:
            watcher.main()
    assert exit_info.value.code == failure.format(url=url)


def test_the_watcher_refuses_an_invalid_url(import_snippet, monkeypatch):
    watcher = import_snippet(WATCHER)
    monkeypatch.setattr(sys, "argv", [WATCHER, "--host", "::1", "--port", "1"])
    assert watcher.websocket_url("::1", 8782, "/chat") == "ws://[::1]:8782/chat"
    monkeypatch.setattr(sys, "argv", [WATCHER, "--url", "ws://::1:8782/chat"])
    with pytest.raises(SystemExit) as exit_info:
        watcher.main()
    assert exit_info.value.code.startswith("Cannot watch ws://::1:8782/chat: ")
