"""Tests of "Seeing the traffic": each program's failures end in one line.

A refused connection, a server that never answers, one that hangs up at once,
an untrusted certificate, a wrong password: each is named as what it is, in
one line, with no traceback. Timeouts are made short for the tests.
"""

from __future__ import annotations

import gc
import logging
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

PROGRAMS = {
    "unclosed": "debugging_tools/unclosed_socket.py",
    "mistakes": "debugging_tools/asyncio_mistakes.py",
    "http": "debugging_tools/http_debug.py",
    "requests": "debugging_tools/requests_logging.py",
    "aiohttp": "debugging_tools/aiohttp_tracing.py",
    "websockets": "debugging_tools/websockets_logging.py",
    "smtp": "debugging_tools/smtp_debug.py",
}
DRAIN_NEVER_AWAITED = "coroutine 'StreamWriter.drain' was never awaited"
SHORT = 0.1  # seconds: the timeouts of these tests
SHORT_TIMEOUTS = {
    "unclosed": SHORT,
    "mistakes": SHORT,
    "http": SHORT,
    "requests": (SHORT, SHORT),
    "aiohttp": aiohttp.ClientTimeout(total=SHORT),
    "websockets": SHORT,
    "smtp": SHORT,
}


@pytest.fixture
def failure(import_snippet, monkeypatch, capsys):
    """Run a program's main() with these arguments: the line it exits with."""
    # The programs set these loggers' levels: put them back after the test.
    loggers = [logging.root, *map(logging.getLogger, ["urllib3", "websockets"])]
    levels = [logger.level for logger in loggers]

    def run(program: str, *arguments: str) -> str:
        module = import_snippet(PROGRAMS[program])
        if program in SHORT_TIMEOUTS:
            monkeypatch.setattr(module, "TIMEOUT", SHORT_TIMEOUTS[program])
        monkeypatch.setattr(sys, "argv", [Path(PROGRAMS[program]).name, *arguments])
        with warnings.catch_warnings():
            # The mistakes that two programs make on purpose are no failure:
            # a coroutine never awaited, a socket never closed (even when
            # the connection fails, which the garbage collector shows now).
            if program == "mistakes":
                warnings.filterwarnings("ignore", DRAIN_NEVER_AWAITED, RuntimeWarning)
            if program == "unclosed":
                warnings.filterwarnings("ignore", "unclosed <socket", ResourceWarning)
            with pytest.raises(SystemExit) as exit_:
                module.main()
            line = exit_.value.code
            del exit_
            gc.collect()
        capsys.readouterr()  # what the debug output printed before
        assert isinstance(line, str), "one line, not a status"
        assert "\n" not in line
        return line

    yield run
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)  # which also clears the loggers' caches


def address_options(program: str, port: int) -> list[str]:
    scheme = "ws" if program == "websockets" else "http"
    if program in ("unclosed", "mistakes", "smtp"):
        return ["--port", str(port)]
    return ["--url", f"{scheme}://127.0.0.1:{port}/"]


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("unclosed", "No server at 127.0.0.1:{port}: start tcp_echo_server.py"),
        ("mistakes", "No server at 127.0.0.1:{port}: start tcp_echo_server.py"),
        ("http", "No server at http://127.0.0.1:{port}/"),
        ("requests", "No answer from http://127.0.0.1:{port}/: "),
        ("aiohttp", "GET http://127.0.0.1:{port}/ failed: Cannot connect to host"),
        ("websockets", "WebSocket with ws://127.0.0.1:{port}/ failed: "),
        ("smtp", "No SMTP server at 127.0.0.1:{port}"),
    ],
)
def test_a_refused_connection_is_named(
    program, expected, failure, free_port, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "anything")
    line = failure(program, *address_options(program, free_port))
    assert line.startswith(expected.format(port=free_port))


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("unclosed", "No echo from 127.0.0.1:{port}: timed out"),
        ("mistakes", "No echo from 127.0.0.1:{port}: TimeoutError()"),
        ("http", "http://127.0.0.1:{port}/ did not answer within 0.1 s"),
        ("requests", "http://127.0.0.1:{port}/ did not answer in time"),
        ("aiohttp", "http://127.0.0.1:{port}/ did not answer in time"),
        ("websockets", "ws://127.0.0.1:{port}/ did not answer within 0.1 s"),
        (
            "smtp",
            "127.0.0.1:{port} stopped answering: "
            "Connection unexpectedly closed: timed out",
        ),
    ],
)
def test_a_server_that_never_answers_is_a_timeout(
    program, expected, failure, silent_server, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "anything")
    line = failure(program, *address_options(program, silent_server))
    assert line.startswith(expected.format(port=silent_server))


def test_a_server_that_hangs_up_without_answering(failure, hanging_up_server):
    line = failure("http", *address_options("http", hanging_up_server))
    assert line == (
        f"GET http://127.0.0.1:{hanging_up_server}/ failed: "
        "Remote end closed connection without response"
    )


def test_an_http_server_is_not_a_websocket_server(failure, quiet_nginx):
    url = f"ws://127.0.0.1:{quiet_nginx.port}/"
    line = failure("websockets", "--url", url)
    assert line == (
        f"{url} refused the handshake: server rejected WebSocket connection: HTTP 200"
    )


def test_smtp_without_a_password_says_how_to_give_one(failure, monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    assert failure("smtp") == "Set SMTP_PASSWORD to the password of ada"


def test_smtp_with_an_untrusted_certificate(failure, exim_server, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", exim_server.values["password"])
    line = failure("smtp", "--port", str(exim_server.port))
    # Exim sends the CA's certificate in its chain: a client that does not
    # trust that CA says so.
    assert line == "Untrusted certificate: self-signed certificate in certificate chain"


def test_smtp_with_a_wrong_password(
    failure, exim_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "not the password")
    ca = str(local_certificates.ca_file)
    line = failure("smtp", "--port", str(exim_server.port), "--cafile", ca)
    assert line.startswith("The server refused: (535, ")


@pytest.fixture
def garbage_after_starttls() -> Iterator[int]:
    """The port of an SMTP server that answers STARTTLS with bytes that are not TLS."""
    replies = [
        b"220 fake ESMTP\r\n",
        b"250-fake\r\n250 STARTTLS\r\n",
        b"220 Go ahead\r\n",
    ]
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_one() -> None:
            connection, _ = listener.accept()
            with connection, connection.makefile("rb") as commands:
                connection.settimeout(5)
                connection.sendall(replies[0])
                for reply in replies[1:]:
                    commands.readline()  # EHLO, then STARTTLS
                    connection.sendall(reply)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                commands.readline()  # whatever the client sends: its hello

        thread = threading.Thread(target=serve_one, daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(timeout=5)


def test_smtp_with_a_server_that_is_not_tls_after_starttls(
    failure, garbage_after_starttls, monkeypatch
):
    monkeypatch.setenv("SMTP_PASSWORD", "anything")
    line = failure("smtp", "--port", str(garbage_after_starttls))
    assert line.startswith(
        f"SMTP with 127.0.0.1:{garbage_after_starttls} failed: SSLError("
    )
