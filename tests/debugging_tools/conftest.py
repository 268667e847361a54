"""The peers of "Seeing the traffic": nginx, an echo server (socat), websocketd.

Each is a real program that this project did not write, on a free loopback
port, stopped by its process id after the tests.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers.daemons import Daemon, free_port, render, run_daemon
from peers.programs import require

TEMPLATES = Path(__file__).resolve().parents[1] / "peers" / "templates"


@pytest.fixture(scope="session")
def quiet_nginx(tmp_path_factory, local_certificates) -> Iterator[Daemon]:
    """nginx answering "Hello from nginx" over HTTP (port) and HTTPS (tls_port).

    Its Server header names no version, so what the page shows is the same
    whatever nginx a machine has.
    """
    nginx = require("nginx")
    folder = tmp_path_factory.mktemp("nginx-debugging")
    values = {}

    def command(port: int) -> list:
        values.update(
            port=str(port), tls_port=str(free_port()), folder=str(folder),
            cert_file=str(local_certificates.cert_file),
            key_file=str(local_certificates.key_file),
        )  # fmt: skip
        template = TEMPLATES / "nginx-debugging.conf"
        config = render(template, folder / "nginx.conf", **values)
        return [nginx, "-p", folder, "-c", config, "-e", "stderr"]

    with run_daemon("nginx", folder, command, values=values) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def socat_echo(tmp_path_factory) -> Iterator[Daemon]:
    """socat as an echo server: each connection gets a `cat` of its own."""
    socat = require("socat")
    folder = tmp_path_factory.mktemp("socat-echo")

    def command(port: int) -> list:
        return [socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"]

    with run_daemon("socat", folder, command) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def websocketd_echo(tmp_path_factory) -> Iterator[Daemon]:
    """websocketd running `cat`: each text message comes back as it was sent."""
    websocketd = require("websocketd")
    folder = tmp_path_factory.mktemp("websocketd-echo")

    def command(port: int) -> list:
        return [websocketd, "--address=127.0.0.1", f"--port={port}", "cat"]

    with run_daemon("websocketd", folder, command) as daemon:
        yield daemon


@pytest.fixture
def silent_server() -> Iterator[int]:
    """The port of a server that takes connections and never says a word.

    It never calls accept(): the kernel completes each connection all the
    same, so a client connects, then waits for an answer until its timeout.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


@pytest.fixture
def hanging_up_server() -> Iterator[int]:
    """The port of a server that reads a request, then hangs up unanswered."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stop = threading.Event()

        def hang_up() -> None:
            while not stop.is_set():
                connection, _ = listener.accept()
                with connection:
                    connection.settimeout(5)
                    connection.recv(64 * 1024)  # the request, all of it here

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            stop.set()
            # One last connection wakes accept() up, and the thread ends.
            socket.create_connection(listener.getsockname()[:2], timeout=5).close()
            thread.join(timeout=5)
