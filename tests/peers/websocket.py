"""WebSocket peers: websocketd (Go) as a server, Node.js `ws` as a client, and
nginx as a WebSocket reverse proxy.

* `websocketd(*program, tls=False, binary=False, host="127.0.0.1")` serves
  a program over WebSocket: each message goes to its stdin, each line (or
  chunk, with binary=True) of its stdout comes back as a message. Scripts
  for it live in tests/peers/websocketd/.
* `node_ws(url, *options)` runs tests/peers/node/ws_client.mjs, a client
  written with the npm package `ws`, and returns the events it printed (one
  JSON object each). npm installs the package from package-lock.json into
  tests/peers/node/node_modules the first time.
* `nginx_websocket_proxy(upstream_port)` runs nginx in front of a server on
  127.0.0.1, over HTTP and HTTPS (the local CA's certificate), passing the
  WebSocket upgrade on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from peers.daemons import Daemon, free_port, render, run_client, run_daemon
from peers.programs import NODE_PEERS, require

TEMPLATES = Path(__file__).resolve().parent / "templates"
WEBSOCKETD_SCRIPTS = Path(__file__).resolve().parent / "websocketd"
NODE_CLIENT = NODE_PEERS / "ws_client.mjs"


@pytest.fixture
def websocketd(tmp_path, local_certificates):
    """A factory: `with websocketd("cat") as daemon:` serves `cat`."""
    executable = require("websocketd")
    started = 0

    @contextmanager
    def run(
        *program: str, tls: bool = False, binary: bool = False, host="127.0.0.1"
    ) -> Iterator[Daemon]:
        nonlocal started
        started += 1
        options = ["--binary"] if binary else []
        if tls:
            options += [
                "--ssl",
                f"--sslcert={local_certificates.cert_file}",
                f"--sslkey={local_certificates.key_file}",
            ]
        address = f"[{host}]" if ":" in host else host

        def command(port: int) -> list:
            return [executable, f"--address={address}", f"--port={port}",
                    "--loglevel=error", *options, *program]  # fmt: skip

        folder = tmp_path / f"websocketd-{started}"
        with run_daemon("websocketd", folder, command, host=host) as daemon:
            yield daemon

    return run


def websocketd_script(name: str) -> str:
    return str(WEBSOCKETD_SCRIPTS / name)


@pytest.fixture(scope="session")
def node_ws():
    """Run the Node.js `ws` client; the events it printed, parsed."""
    node = require("node")
    if not (NODE_PEERS / "node_modules" / "ws").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(
                "npm is not installed: `apt-get install npm` (it installs the "
                "Node.js peers of tests/peers/node/package-lock.json)",
                pytrace=False,
            )
        subprocess.run(  # noqa: S603 (npm, from the committed lock file)
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PEERS, check=True,
            capture_output=True, timeout=300,
        )  # fmt: skip

    def run(url: str, *options: str) -> list[dict]:
        result = run_client([node, NODE_CLIENT, url, *options], timeout=20)
        assert result.returncode == 0, result.stdout + result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    return run


@pytest.fixture
def nginx_websocket_proxy(tmp_path, local_certificates):
    """A factory: nginx on 127.0.0.1 in front of 127.0.0.1:`upstream_port`."""
    nginx = require("nginx")

    @contextmanager
    def run(upstream_port: int) -> Iterator[Daemon]:
        folder = tmp_path / "nginx"
        values: dict[str, str] = {}

        def command(port: int) -> list:
            values.update(
                port=str(port), tls_port=str(free_port()),
                upstream=str(upstream_port), folder=str(folder),
                cert_file=str(local_certificates.cert_file),
                key_file=str(local_certificates.key_file),
            )  # fmt: skip
            folder.mkdir(exist_ok=True)
            template = TEMPLATES / "nginx-websocket.conf"
            config = render(template, folder / "nginx.conf", **values)
            return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

        with run_daemon("nginx", folder, command, values=values) as daemon:
            yield daemon

    return run


# Chromium that trusts the local CA: Chromium on Linux reads the CAs a user
# trusts from the NSS database in $HOME/.pki/nssdb, which NSS's certutil
# writes. The shared `chromium` fixture trusts no local CA.
TRUSTING_FLAGS = [  # as tests/conftest.py's CHROMIUM_FLAGS
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-quic", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]  # fmt: skip


class BrowserHome:
    """A home folder whose NSS database trusts the test run's local CA."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def launch(self, chromium):
        """A second Chromium, on the shared one's Playwright, in this home."""
        import os

        return await chromium.browser.browser_type.launch(
            executable_path=require("chromium"),
            args=TRUSTING_FLAGS,
            env={**os.environ, "HOME": str(self.folder)},
        )


@pytest.fixture(scope="session")
def browser_home(tmp_path_factory, local_certificates) -> BrowserHome:
    certutil = require("certutil")
    home = tmp_path_factory.mktemp("browser-home")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True)
    for arguments in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "local CA", "-i", local_certificates.ca_file],
    ):
        subprocess.run(  # noqa: S603 (NSS's certutil, on a new database)
            [certutil, "-d", f"sql:{database}", *arguments],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    return BrowserHome(home)
