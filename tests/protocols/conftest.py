"""Fixtures of the protocols chapter."""

import importlib.util
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"


@pytest.fixture(scope="session")
def import_snippet_once():
    """Import a snippet as a module, for fixtures that outlive one test.

    The shared `import_snippet` is per test; a module-wide server fixture
    reads the snippet's settings (its demo password, say) with this instead.
    """

    def load(relative_path: str):
        path = SNIPPETS / relative_path
        spec = importlib.util.spec_from_file_location(f"{path.stem}_once", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def idle_client():
    """A client that connects, says nothing, and stays until the server has stopped.

    A server fixture holds one across its server's shutdown: Ctrl+C must stop
    a server promptly (with Python 3.12+, asyncio's serve_forever() would wait
    for the client to leave) and close the client's socket (or a
    ResourceWarning fails the server).

        with idle_client() as connect_idle, start_server(...) as server:
            connect_idle(server.host, server.port)
    """

    @contextmanager
    def stays_connected() -> Iterator[Callable[[str, int], None]]:
        with socket.socket() as sock:
            sock.settimeout(5)

            def connect(host: str, port: int) -> None:
                sock.connect((host, port))
                assert sock.recv(1024), "no greeting: the server did not accept"

            yield connect

    return stays_connected


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A server that accepts connections and never says a word.

    The listening socket never calls accept(): the kernel completes each
    connection all the same, so a client connects, then waits for a greeting
    that never comes, until its timeout.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[:2]


@dataclass
class Ran:
    """What a program did, as its shell would see it."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_program(import_snippet, monkeypatch, capsys):
    """Run a snippet's main() as its command line does, in this process.

    A message given to sys.exit() is what Python prints on stderr, with
    exit status 1; the snippet is imported afresh for each test.
    """

    def run(path: str, *arguments: str, env: dict | None = None) -> Ran:
        program = import_snippet(path)
        monkeypatch.setattr(sys, "argv", [path, *arguments])
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()  # what came before is not this program's
        try:
            program.main()
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code
        out = capsys.readouterr().out
        if isinstance(code, str):
            return Ran(1, out, code + "\n")
        return Ran(code or 0, out, "")

    return run
