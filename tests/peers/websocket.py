"""WebSocket peers: websocketd (Go) as a server, Node.js `ws` as a client, and
nginx as a WebSocket reverse proxy.

* `websocketd(*program, tls=False, binary=False, host="127.0.0.1", env=None)`
  serves a program over WebSocket: each message goes to its stdin, each line
  (or chunk, with binary=True) of its stdout comes back as a message; `env`
  is passed on to the program. Scripts for it live in tests/peers/websocketd/.
* `node_ws(url, *options)` runs tests/peers/node/ws_client.mjs, a client
  written with the npm package `ws`, and returns the events it printed (one
  JSON object each). npm installs the package from package-lock.json into
  tests/peers/node/node_modules the first time.
* `nginx_websocket_proxy(upstream_port)` runs nginx in front of a server on
  127.0.0.1, over HTTP and HTTPS (the local CA's certificate), passing the
  WebSocket upgrade on.
* `trusting_chromium` is a Chromium that trusts the local CA, for pages
  served over HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from peers.daemons import Daemon, free_port, render, run_client, run_daemon
from peers.programs import NODE_PEERS, require

TEMPLATES = Path(__file__).resolve().parent / "templates"
WEBSOCKETD_SCRIPTS = Path(__file__).resolve().parent / "websocketd"
NODE_CLIENT = NODE_PEERS / "ws_client.mjs"
T = TypeVar("T")


@pytest.fixture
def websocketd(tmp_path, local_certificates):
    """A factory: `with websocketd("cat") as daemon:` serves `cat`."""
    executable = require("websocketd")
    started = 0

    @contextmanager
    def run(
        *program: str,
        tls: bool = False,
        binary: bool = False,
        host="127.0.0.1",
        env: dict[str, str] | None = None,
    ) -> Iterator[Daemon]:
        nonlocal started
        started += 1
        options = ["--binary"] if binary else []
        if env:  # websocketd passes on only the variables it is told to
            options.append("--passenv=" + ",".join(["PATH", *env]))
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
        with run_daemon("websocketd", folder, command, host=host, env=env) as daemon:
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
# writes. The shared `chromium` fixture (tests/conftest.py) trusts no local
# CA; this one serves both browser tests of the WebSockets chapter (the chat
# over HTTP, and behind nginx over HTTP and HTTPS), so that the chapter
# starts one browser, not two.
TRUSTING_FLAGS = [  # as tests/conftest.py's CHROMIUM_FLAGS
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-quic", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]  # fmt: skip
BROWSER_CALL_TIMEOUT = 45.0  # seconds, as tests/conftest.py's


def trusting_home(folder: Path, ca_file: Path) -> Path:
    """A home folder whose NSS database trusts the CA in `ca_file`."""
    certutil = require("certutil")
    database = folder / ".pki" / "nssdb"
    database.mkdir(parents=True)
    for arguments in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "local CA", "-i", ca_file],
    ):
        subprocess.run(  # noqa: S603 (NSS's certutil, on a new database)
            [certutil, "-d", f"sql:{database}", *arguments],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    return folder


@dataclass
class TrustingChromium:
    """Chromium trusting the local CA, driven as tests/conftest.py's
    `chromium` is: `trusting_chromium.run(coroutine)` runs a coroutine that
    uses `trusting_chromium.browser` on the browser's own event loop."""

    browser: Any  # playwright.async_api.Browser
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=BROWSER_CALL_TIMEOUT)
        except BaseException:
            future.cancel()  # a timeout or Ctrl+C: the browser's work ends too
            raise


@pytest.fixture(scope="session")
def trusting_chromium(
    tmp_path_factory, local_certificates
) -> Iterator[TrustingChromium]:
    """One Chromium per test process that trusts the test run's local CA (as
    a reader's browser trusts a public one), started on first use."""
    from playwright.async_api import async_playwright

    executable = require("chromium")
    home = trusting_home(
        tmp_path_factory.mktemp("browser-home"), local_certificates.ca_file
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        return future.result(timeout=BROWSER_CALL_TIMEOUT)

    async def launch():
        playwright = await async_playwright().start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable,
                args=TRUSTING_FLAGS,
                env={**os.environ, "HOME": str(home)},
            )
        except BaseException:
            await playwright.stop()
            raise
        return playwright, browser

    try:
        playwright, browser = call(launch())
        try:
            yield TrustingChromium(browser, loop)
        finally:
            call(browser.close())
            call(playwright.stop())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
