"""WebSocket peers of the asynchronous chapter (aiohttp's WebSocket client and
the /ws route of api_server.py).

* `websocketd_cat(host=..., tls=...)` runs websocketd (Go) in front of `cat`:
  each text message goes to cat's input as a line and comes back, an echo
  server this project did not write.
* `node_websocket(url, *options)` runs tests/peers/node_websocket_client.mjs
  with Node.js's built-in WebSocket client (undici), and returns the events
  it printed, one JSON object each.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from peers.daemons import Daemon, run_client, run_daemon
from peers.programs import require, version

NODE_CLIENT = Path(__file__).resolve().parent / "node_websocket_client.mjs"


@pytest.fixture
def websocketd_cat(tmp_path, local_certificates):
    """A factory: `with websocketd_cat(host="::1", tls=True) as daemon:`."""
    executable = require("websocketd")

    @contextmanager
    def run(host: str = "127.0.0.1", tls: bool = False) -> Iterator[Daemon]:
        options = ["--loglevel=error"]
        if tls:  # the local CA's certificate, for 127.0.0.1 and ::1
            options += [
                "--ssl",
                f"--sslcert={local_certificates.cert_file}",
                f"--sslkey={local_certificates.key_file}",
            ]
        address = f"[{host}]" if ":" in host else host

        def command(port: int) -> list:
            cat = shutil.which("cat")
            return [executable, f"--address={address}", f"--port={port}",
                    *options, cat]  # fmt: skip

        folder = tmp_path / "websocketd"
        with run_daemon("websocketd", folder, command, host=host) as daemon:
            yield daemon

    return run


@pytest.fixture(scope="session")
def node_websocket():
    """Run the Node.js client; the events it printed, parsed."""
    node = require("node")
    found = version("node")
    if tuple(int(part) for part in found.split(".")[:2]) < (20, 10):
        pytest.fail(
            f"Node.js {found} has no WebSocket client: 20.10 or later has one"
            " (NodeSource's nodejs package; Debian 12's is 18)",
            pytrace=False,
        )

    def run(url: str, *options: str) -> list[dict]:
        command = [node, "--experimental-websocket", NODE_CLIENT, url, *options]
        result = run_client(command, timeout=20)
        assert result.returncode == 0, result.stdout + result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    return run
