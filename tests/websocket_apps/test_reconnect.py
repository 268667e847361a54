"""A client that reconnects with backoff, and a server that stops gracefully.

From the page "Robustness" (docs/websockets/robustness.md).
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from websockets.sync.client import connect

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
