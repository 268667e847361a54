"""Fixtures of the HTTP chapter: its shared API server, and servers that never reply."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

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
