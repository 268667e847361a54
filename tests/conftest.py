"""Fixtures shared by every test: snippet runners, the loopback-only guard, the browser.

Two ways to run a snippet, both as a reader would:

* `run_example` runs a program in this process, as `__main__`, with the
  command-line arguments given, and checks the `#>` comments under its
  print() calls against what it really printed (pytest-examples).
* `start_server` starts a server snippet as its own process on a free port,
  waits until it says "Listening on HOST:PORT", and stops it with Ctrl+C.

And the site as a reader sees it: `site_url` serves the built site on a free
loopback port, `chromium` drives the system Chromium (Playwright).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import inspect
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pytest
from pytest_examples import CodeExample, EvalExample, run_code

ROOT = Path(__file__).resolve().parent.parent
# Real peers (nginx, OpenSSH, curl...): each module of tests/peers/ is a plugin.
# The hostile-input marker and its report: tests/hostile/plugin.py.
pytest.register_assert_rewrite("peers", "hostile", "suite_markers")
pytest_plugins = [
    "suite_markers",
    "hostile.plugin",
    *sorted(
        f"peers.{module.stem}"
        for module in (Path(__file__).parent / "peers").glob("*.py")
        if not module.stem.startswith("_")
    ),
]
SNIPPETS = ROOT / "snippets"
SERVER_STOP_TIMEOUT = 10.0  # seconds for it to exit after Ctrl+C
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


# --- Loopback only ---------------------------------------------------------
# pytest-socket (configured in pyproject.toml) refuses socket.connect() to
# anything outside 127.0.0.0/8 and ::1. These guards cover the calls it does
# not patch, so a UDP datagram or a connect_ex() cannot leave the machine.


def is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # a Unix socket path, not a network address
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return address[0] == "localhost"


class NonLoopbackTrafficError(RuntimeError):
    """A test tried to send traffic off this machine."""


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sendto = socket.socket.sendto
    real_connect_ex = socket.socket.connect_ex

    def guarded_sendto(sock: socket.socket, data, *args):
        if not is_loopback(args[-1]):
            raise NonLoopbackTrafficError(
                f"sendto {args[-1]!r} refused: tests stay on loopback"
            )
        return real_sendto(sock, data, *args)

    def guarded_connect_ex(sock: socket.socket, address):
        if not is_loopback(address):
            raise NonLoopbackTrafficError(
                f"connect_ex {address!r} refused: tests stay on loopback"
            )
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "sendto", guarded_sendto)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    # Loopback traffic must never be sent to a proxy named by the environment.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")


# --- Running snippets ------------------------------------------------------


def snippet(relative_path: str) -> Path:
    """The path of a file in snippets/, failing clearly if it does not exist."""
    path = SNIPPETS / relative_path
    assert path.is_file(), f"no snippet {path}"
    return path


# --- Faster #> checks ---------------------------------------------------------
# pytest-examples finds the line of each print() with inspect.stack(), which
# reads the source of every frame of the stack (pytest's included): about
# 0.2 s per print() on a 2-core machine, seconds for a program that prints ten
# lines. Its mock only needs the frames themselves.


@dataclass(frozen=True)
class _Frame:
    frame: FrameType
    filename: str


class _FrameOnlyInspect:
    """The inspect module, with a stack() that skips reading source files."""

    def __getattr__(self, name: str):
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list[_Frame]:
        frames, frame = [], sys._getframe(1)
        while frame is not None:
            frames.append(_Frame(frame, frame.f_code.co_filename))
            frame = frame.f_back
        return frames


# With --update-examples: the snippets whose output this run rewrote, with
# what it wrote and which test did (see run_example).
_REWRITTEN: dict[Path, tuple[str, str]] = {}


def _rewrite_now(eval_example: EvalExample, example: CodeExample, test: str) -> None:
    """Write an updated snippet at once, instead of at the end of the session.

    pytest-examples refuses to update one file from two tests ("Cannot update
    the same example in separate tests!"), yet a client snippet is run by
    several tests (against this site's server and against a real peer). Each
    test reads the file as the last one left it; two tests that print
    different outputs for the same snippet fail, since the page can show one.
    """
    if not any(pending is example for pending in eval_example.to_update):
        return  # the output was already what the file says
    eval_example.to_update.remove(example)
    earlier = _REWRITTEN.get(example.path)
    if earlier and earlier[0] != example.source:
        pytest.fail(
            f"{example.path.name} prints one output in {earlier[1]} and another "
            f"in {test}: a page can show only one",
            pytrace=False,
        )
    example.path.write_text(example.source, encoding="utf-8")
    _REWRITTEN[example.path] = (example.source, test)


@pytest.fixture
def run_example(eval_example: EvalExample, monkeypatch: pytest.MonkeyPatch, request):
    """Run `python snippets/<relative_path> *args` and check its `#>` output.

    With `pytest --update-examples` the `#>` comments are rewritten instead.
    """
    # pytest-examples runs a copy of the code from a temporary folder; run the
    # snippet's own file instead, so coverage counts the lines of snippets/.
    monkeypatch.setattr(eval_example, "_write_file", lambda example: example.path)
    assert run_code.inspect is inspect, (
        "pytest-examples changed: drop _FrameOnlyInspect"
    )
    monkeypatch.setattr(run_code, "inspect", _FrameOnlyInspect())

    def run(relative_path: str, *args: str) -> dict:
        path = snippet(relative_path)
        monkeypatch.setattr(sys, "argv", [path.name, *args])
        monkeypatch.setattr(sys, "path", [str(path.parent), *sys.path])
        monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
        example = CodeExample.create(path.read_text(encoding="utf-8"), path=path)
        if eval_example.update_examples:
            result = eval_example.run_print_update(example, rewrite_assertions=False)
            _rewrite_now(eval_example, example, request.node.nodeid)
            return result
        # No assertion rewriting: a program is not a test, and rewriting
        # compiles each one through pytest's AST pass, where CPython 3.11 can
        # raise "SystemError: AST constructor recursion depth mismatch"
        # (cpython#106905, pytest#10763).
        return eval_example.run_print_check(example, rewrite_assertions=False)

    return run


@pytest.fixture
def import_snippet(monkeypatch: pytest.MonkeyPatch):
    """Import a snippet as a module (not as __main__), to call its functions."""
    import importlib.util

    def load(relative_path: str):
        path = snippet(relative_path)
        # A script's own folder comes first on sys.path: a snippet may
        # import its neighbours (building_an_app/drop_protocol.py).
        monkeypatch.syspath_prepend(str(path.parent))
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return load


@dataclass
class RunningServer:
    """A server snippet running in its own process."""

    process: subprocess.Popen
    host: str
    port: int
    output: str = ""  # everything it printed, once it has stopped


LISTENING = re.compile(r"Listening on \[?(?P<host>[^\]\s]+?)\]?:(?P<port>\d+)$")


def _read_first_line(stream) -> str:
    """The first line a process prints, read a byte at a time from its pipe.

    readline() on the text stream would read ahead a whole buffer, and what
    it read ahead (a second line printed at once) would be lost: communicate()
    reads the pipe itself, not the text stream's buffer.
    """
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(stream.fileno(), 1)
        if not byte:
            break
        line += byte
    return line.decode("utf-8", errors="replace")


@contextmanager
def _server_process(
    relative_path: str, *args: str, preexec_fn=None
) -> Iterator[RunningServer]:
    path = snippet(relative_path)
    # -W error: a warning in the server (an unclosed socket, a deprecated
    # call) ends it with a traceback, which fails the test below.
    command = [sys.executable, "-W", "error", str(path), "--port", "0", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    # A test run started with SIGINT ignored (`make test &` in a script) would
    # pass that on, and the server would never see our Ctrl+C: undo it here.
    # Handlers reset at exec, so the server starts with the default again.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    process = subprocess.Popen(  # noqa: S603 (runs our own snippet)
        command, cwd=path.parent, env=env, text=True, encoding="utf-8",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=preexec_fn,  # e.g. hostile.attacks.low_file_limit(64)
    )  # fmt: skip
    try:
        # Wait for the server to say where it listens: no sleep, no guessing
        # (pytest-timeout ends the test if it never does).
        first_line = _read_first_line(process.stdout).strip()
        match = LISTENING.search(first_line)
        if not match:
            process.kill()
            _, errors = process.communicate()
            pytest.fail(f"{path.name} did not start: {first_line!r}\n{errors}")
        server = RunningServer(process, match["host"], int(match["port"]))
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl+C does
        try:
            output, errors = process.communicate(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            output, errors = process.communicate()
            pytest.fail(f"{path.name} ignored Ctrl+C:\n{output}\n{errors}")
    server.output = output
    assert errors == "", f"{path.name} wrote to stderr:\n{errors}"
    assert process.returncode == 0, f"{path.name} exited with {process.returncode}"


@pytest.fixture(scope="session")
def start_server():
    """Start a server snippet on a free loopback port; Ctrl+C stops it after the test.

    `with start_server("sockets/tcp_echo_server.py") as server:` gives its
    host and port; after the block, `server.output` holds what it printed,
    and the test fails if it wrote to stderr or exited with an error.
    """
    return _server_process


@pytest.fixture
def free_port() -> Iterator[int]:
    """A loopback port where nothing listens: connecting to it is refused.

    The port is held by a bound, non-listening socket, so no other test can
    take it while this test runs.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# --- The built site --------------------------------------------------------


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `mkdocs build --strict` makes it.

    The README's test command builds the site once and names the folder in
    SITE_DIR; run alone, a test builds its own copy.
    """
    if site_dir := os.environ.get("SITE_DIR"):
        return Path(site_dir).resolve()
    site_dir = tmp_path_factory.mktemp("site")
    subprocess.run(  # noqa: S603 (mkdocs from this environment)
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site_dir],
        cwd=ROOT, check=True, capture_output=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    return site_dir


def published_path() -> str:
    """The path the site is published under, from mkdocs.yml's site_url: /site/."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    match = re.search(r"^site_url:\s*(\S+)", config, re.MULTILINE)
    assert match, "mkdocs.yml sets no site_url"
    return urllib.parse.urlsplit(match[1]).path


class _SiteRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site under its published path, as GitHub Pages does.

    A project site lives under /<repository>/, not at the root: a page that
    links /assets/... would break there. Any path outside the site, or missing
    in it, gets the site's 404.html with status 404, as on GitHub Pages.
    Logs nothing (a test reads no log).
    """

    prefix = "/"

    def translate_path(self, path: str) -> str:
        route = urllib.parse.urlsplit(path).path
        if not route.startswith(self.prefix):
            return str(Path(self.directory) / "no such file")
        return super().translate_path("/" + path[len(self.prefix) :])

    def send_error(self, code, message=None, explain=None):
        not_found = Path(self.directory) / "404.html"
        if code != 404 or not not_found.is_file():
            return super().send_error(code, message, explain)
        body = not_found.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return None

    def log_message(self, format, *args):
        pass


class _SiteServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A browser drops connections it no longer needs, sometimes in the
        # middle of a response: that is not an error of the site.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site over HTTP on a free loopback port: `http://127.0.0.1:PORT/site/`.

    Served under the path of mkdocs.yml's site_url, as GitHub Pages serves a
    project site. HTTP/1.0, one request per connection, so no connection
    outlives the test run; a thread per request, as a browser loads a page's
    files in parallel.
    """
    prefix = published_path()
    handler = functools.partial(
        type("Handler", (_SiteRequestHandler,), {"prefix": prefix}),
        directory=str(built_site),
    )
    server = _SiteServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


# --- A real browser: the system Chromium ------------------------------------
# Playwright drives Debian's Chromium (`apt-get install chromium`); Playwright's
# own browser download is never used. Its async API runs on an event loop in a
# thread of its own: the sync API would leave its loop marked as running in the
# test's thread, and every later asyncio test in that process would then fail
# ("asyncio.run() cannot be called from a running event loop").

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests may run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    # Even with the flags above, Chromium looks up Google's hostnames for its
    # own services. With this rule every hostname and every IP address but
    # loopback fails to resolve, inside the browser, before anything is sent:
    # strace shows no DNS query and no connect() to any other address (an
    # <img> of http://203.0.113.9/ or http://[2001:db8::7]/ fails with
    # net::ERR_NAME_NOT_RESOLVED).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
CHROMIUM_CANDIDATES = ("chromium", "google-chrome", "google-chrome-stable")
BROWSER_CALL_TIMEOUT = 45.0  # seconds for one chromium.run(), under pytest-timeout's 60

T = TypeVar("T")


def chromium_executable() -> str:
    """Chromium's path: $CHROMIUM, else the first of CHROMIUM_CANDIDATES on PATH."""
    if named := os.environ.get("CHROMIUM"):
        if shutil.which(named):
            return shutil.which(named)
        pytest.fail(f"CHROMIUM={named} is not an executable", pytrace=False)
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    pytest.fail(
        "The browser tests need Chromium, and none was found. Install it with "
        "`apt-get install chromium` (Debian; .ci/run does this), or set CHROMIUM "
        "to the path of a Chromium or Chrome executable.",
        pytrace=False,
    )


@dataclass
class Chromium:
    """The system Chromium, driven by Playwright's async API on its own thread.

    Write what a reader does as a coroutine that uses `chromium.browser`, and
    run it with `chromium.run(coroutine)`, which returns its result:

        async def title(url):
            page = await chromium.browser.new_page()
            ...
        assert chromium.run(title(site_url)) == "..."
    """

    browser: Any  # playwright.async_api.Browser
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=BROWSER_CALL_TIMEOUT)
        except BaseException:
            # A timeout, pytest-timeout or Ctrl+C: the browser's work ends too.
            future.cancel()
            raise


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """One Chromium per test process (xdist worker), started on first use.

    A missing Chromium fails the test with how to install it: never a skip.
    """
    from playwright.async_api import async_playwright

    executable = chromium_executable()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="chromium", daemon=True)
    thread.start()

    def call(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(
            timeout=BROWSER_CALL_TIMEOUT
        )

    async def launch():
        playwright = await async_playwright().start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_FLAGS
            )
        except BaseException:
            await playwright.stop()
            raise
        return playwright, browser

    try:
        playwright, browser = call(launch())
        try:
            yield Chromium(browser, loop)
        finally:
            call(browser.close())
            call(playwright.stop())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# --- TLS with a local certificate authority --------------------------------


@dataclass
class LocalCertificates:
    """PEM files from a certificate authority that exists only for this test run."""

    ca_file: Path  # what a client trusts: pass it as cafile= or verify=
    cert_file: Path  # the server's certificate chain, for 127.0.0.1, ::1, localhost
    key_file: Path  # the server's private key


@pytest.fixture(scope="session")
def local_certificates(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificates:
    """A local CA (trustme) and a server certificate it issued, as files.

    Servers take `--cert` and `--key`; clients verify with `ca_file`. TLS
    verification stays on everywhere: this CA is what makes that possible.
    """
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "::1", "localhost")
    certificates = LocalCertificates(
        folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem"
    )
    ca.cert_pem.write_to_path(certificates.ca_file)
    server_cert.private_key_pem.write_to_path(certificates.key_file)
    for index, blob in enumerate(server_cert.cert_chain_pems):
        blob.write_to_path(certificates.cert_file, append=index > 0)
    return certificates
