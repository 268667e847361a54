"""Fixtures of the asynchronous networking chapter."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

API_SERVER = "http_examples/api_server.py"


def _wait_for_log(server, text: str) -> str:
    while line := server.process.stdout.readline():
        if text in line:
            return line.strip()
    pytest.fail(f"the server exited without logging {text!r}")


@pytest.fixture(scope="session")
def wait_for_log():
    """`wait_for_log(server, text)`: read the server's output until a line contains
    `text`, and return that line.

    This is how a test waits for a running server to have handled something,
    with no sleep. Lines read here (and any read along with them) are no longer
    in `server.output` at the end.
    """
    return _wait_for_log


@pytest.fixture(scope="session")
def api_server(start_server):
    """The site's JSON API, api_server.py: one per test worker, for the tests
    that need it."""
    with start_server(API_SERVER) as server:
        yield server
    assert server.output.endswith("Server stopped\n")


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A loopback address that accepts connections and never answers.

    The kernel completes the handshake for a listening socket even if the
    program never calls accept(): the client connects, then waits for ever.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[:2]
