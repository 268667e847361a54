"""Fixtures shared by every test: snippet runners and the loopback-only guard.

Two ways to run a snippet, both as a reader would:

* `run_example` runs a program in this process, as `__main__`, with the
  command-line arguments given, and checks the `#>` comments under its
  print() calls against what it really printed (pytest-examples).
* `start_server` starts a server snippet as its own process on a free port,
  waits until it says "Listening on HOST:PORT", and stops it with Ctrl+C.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def run_example(eval_example: EvalExample, monkeypatch: pytest.MonkeyPatch):
    """Run `python snippets/<relative_path> *args` and check its `#>` output.

    With `pytest --update-examples` the `#>` comments are rewritten instead.
    """
    # pytest-examples runs a copy of the code from a temporary folder; run the
    # snippet's own file instead, so coverage counts the lines of snippets/.
    monkeypatch.setattr(eval_example, "_write_file", lambda example: example.path)

    def run(relative_path: str, *args: str) -> dict:
        path = snippet(relative_path)
        monkeypatch.setattr(sys, "argv", [path.name, *args])
        monkeypatch.setattr(sys, "path", [str(path.parent), *sys.path])
        monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
        example = CodeExample.create(path.read_text(encoding="utf-8"), path=path)
        if eval_example.update_examples:
            return eval_example.run_print_update(example)
        return eval_example.run_print_check(example)

    return run


@pytest.fixture
def import_snippet(monkeypatch: pytest.MonkeyPatch):
    """Import a snippet as a module (not as __main__), to call its functions."""
    import importlib.util

    def load(relative_path: str):
        path = snippet(relative_path)
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


@contextmanager
def _server_process(relative_path: str, *args: str) -> Iterator[RunningServer]:
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
    )  # fmt: skip
    try:
        # Wait for the server to say where it listens: no sleep, no guessing
        # (pytest-timeout ends the test if it never does).
        first_line = process.stdout.readline().strip()
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
