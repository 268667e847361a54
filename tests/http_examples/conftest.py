"""Fixtures of the HTTP chapter: its shared API server, and servers that never reply."""

import inspect
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from pytest_examples import run_code

API_SERVER = "http_examples/api_server.py"


@pytest.fixture(scope="session")
def api_server(start_server):
    """The chapter's API server over plain HTTP, shared by the tests of this worker.

    Tests that need its log, or its own settings, start their own.
    """
    with start_server(API_SERVER) as server:
        yield server


@pytest.fixture(scope="session")
def api_url(api_server) -> str:
    return f"http://{api_server.host}:{api_server.port}"


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A listening socket that never accepts and never answers.

    The kernel completes the TCP handshake for it, so a client connects and
    sends, then waits for an answer that never comes: only its timeout ends
    the wait.
    """
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[:2]


@pytest.fixture
def full_server() -> Iterator[tuple[str, int]]:
    """A listening socket whose queue of connections is full: connecting times out.

    With a backlog of 0, Linux queues one connection that nobody accepts and
    drops the handshakes that follow, as an overloaded server does.
    """
    with socket.socket() as server, socket.socket() as queued:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        queued.settimeout(5)
        queued.connect(server.getsockname())
        yield server.getsockname()[:2]


@pytest.fixture
def run_program(import_snippet, monkeypatch, capsys):
    """Run a snippet's main() with arguments, against any server.

    run_example checks the output the page shows (from the API server); this
    returns what the program printed and its exit message (None if it ended
    normally), for outputs that depend on another server.
    """

    def run(program, *args: str) -> tuple[str, object]:
        """`program`: a path under snippets/, or a module import_snippet gave."""
        module = import_snippet(program) if isinstance(program, str) else program
        monkeypatch.setattr("sys.argv", [Path(module.__file__).name, *args])
        capsys.readouterr()
        try:
            module.main()
        except SystemExit as exit_info:
            return capsys.readouterr().out, exit_info.code
        return capsys.readouterr().out, None

    return run


# --- Faster #> checks ---------------------------------------------------------
# pytest-examples finds the line of each print() with inspect.stack(), which
# reads the source of every frame of the stack (pytest's included): about
# 0.2 s per print() on this machine, seconds for a program that prints ten
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


@pytest.fixture(autouse=True)
def _fast_print_lookup(monkeypatch):
    assert run_code.inspect is inspect, "pytest-examples changed: drop this"
    monkeypatch.setattr(run_code, "inspect", _FrameOnlyInspect())
