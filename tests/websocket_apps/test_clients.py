"""Each WebSocket client, pointed at what is not its server: one clear line.

A client may meet no server, a server that never answers, a web server, a
server that speaks no HTTP at all, one that closes with an error, or an
address it cannot even parse. Each failure must end in one line that names
the real cause (a timeout is not "no server"), never in a traceback. The
stand-in servers are in conftest.py; tests/peers/ runs real ones.
"""

from __future__ import annotations

import gc
import io
import sys
from dataclasses import dataclass

import pytest

from .conftest import Peer

# Python 3.10's asyncio warns when it frees a TLS transport that the peer's
# close had already ended (its new TLS code in 3.11 no longer does):
# websockets 16 clients on 3.10 trigger it. Not our code (see test_secure.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:unclosed transport <asyncio.sslproto._SSLProtocolTransport:ResourceWarning"
)


@pytest.fixture(autouse=True)
def free_transports_here():
    """Free this test's transports while the filter above applies."""
    yield
    gc.collect()


@dataclass(frozen=True)
class Client:
    snippet: str
    path: str = "/"
    secure: bool = False
    server: str = ""  # the program that "No server" tells the reader to start
    options: tuple[str, ...] = ()

    def url(self, peer: Peer) -> str:
        return peer.url(self.path, "wss" if self.secure else "ws")


CLIENTS = {
    client.snippet.split("/")[1].removesuffix(".py"): client
    for client in [
        Client("websocket_apps/echo_client.py", server="echo_server.py"),
        Client("websocket_apps/greeting_client.py", server="greeting_server.py"),
        Client(
            "websocket_apps/chat_client.py",
            path="/chat",
            server="chat_server.py",
            options=("--name", "Ada"),
        ),
        Client(
            "websocket_apps/secure_echo_client.py",
            secure=True,
            server="secure_echo_server.py",
        ),
    ]
}


@pytest.fixture
def failure_of(import_snippet, monkeypatch, local_certificates):
    """Run a client's main() with these arguments; the line it exits with."""

    def run(client: Client, *args: str, timeout: float = 0.3) -> str:
        module = import_snippet(client.snippet)
        monkeypatch.setattr(module, "TIMEOUT", timeout)  # a short patience
        options = list(client.options)
        if client.secure:
            options += ["--ca-file", str(local_certificates.ca_file)]
        monkeypatch.setattr(sys, "argv", [client.snippet, *args, *options])
        if hasattr(module, "read_keyboard"):  # the chat's: no one types
            monkeypatch.setattr(module, "read_keyboard", lambda lines, loop: None)
        with pytest.raises(SystemExit) as exit_info:
            module.main()
        return exit_info.value.code

    return run


each_client = pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS)


@each_client
def test_no_server_says_which_to_start(client, failure_of, free_port):
    peer = Peer("127.0.0.1", free_port)
    assert failure_of(client, "--port", str(free_port)) == (
        f"No server at {client.url(peer)}: start {client.server}"
    )


@each_client
def test_a_server_that_never_answers_is_a_timeout_not_no_server(
    client, failure_of, silent_listener
):
    # The kernel accepts the connection; no one ever answers the handshake.
    args = ("--port", str(silent_listener.port))
    expected = f"{client.url(silent_listener)} did not answer in time"
    assert failure_of(client, *args) == expected


@each_client
def test_a_web_server_is_not_a_websocket_endpoint(client, failure_of, peers):
    with peers.http_200(client.secure) as web:
        failure = failure_of(client, "--port", str(web.port))
    expected = f"{client.url(web)} answered HTTP 200: not a WebSocket endpoint"
    assert failure == expected


@each_client
def test_a_server_that_speaks_no_http(client, failure_of, peers):
    with peers.not_http(client.secure) as other:
        failure = failure_of(client, "--port", str(other.port))
    expected = f"{client.url(other)} did not answer in HTTP: not a WebSocket server"
    assert failure == expected


@each_client
def test_a_server_that_closes_with_an_error(client, failure_of, peers):
    with peers.closing_1011(client.secure) as failing:
        failure = failure_of(client, "--port", str(failing.port))
    assert failure.startswith(f"{client.url(failing)} closed the connection: ")
    assert "received 1011 (internal error) something broke" in failure


@each_client
def test_an_ipv6_address_without_brackets_is_an_invalid_url(client, failure_of):
    scheme = "wss" if client.secure else "ws"
    url = f"{scheme}://::1:8780/"  # what the old clients built from --host ::1
    failure = failure_of(client, "--url", url)
    assert failure.startswith(f"Cannot reach {url}: ")
    assert "isn't a valid URI" in failure


@pytest.mark.parametrize(
    "client", [CLIENTS["echo_client"], CLIENTS["greeting_client"]], ids=str
)
def test_host_ipv6_builds_a_url_in_brackets(client, import_snippet):
    module = import_snippet(client.snippet)
    assert module.websocket_url("::1", 8780) == "ws://[::1]:8780/"
    assert module.websocket_url("127.0.0.1", 8780) == "ws://127.0.0.1:8780/"


@each_client
def test_each_client_talks_over_ipv6(
    client, import_snippet, monkeypatch, peers, local_certificates
):
    reply = "Hello" if client.snippet.endswith("greeting_client.py") else None
    with peers.echo(client.secure, host="::1", reply=reply) as peer:
        module = import_snippet(client.snippet)
        options = ["--host", "::1", "--port", str(peer.port), *client.options]
        if client.secure:
            options += ["--ca-file", str(local_certificates.ca_file)]
        monkeypatch.setattr(sys, "argv", [client.snippet, *options])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        module.main()  # no SystemExit: it worked


# --- Replies another server may send --------------------------------------


@pytest.mark.parametrize(
    ("reply", "printed"),
    [
        ("Hello \x1b[2J!", "'Hello \\x1b[2J!'\n"),  # a clear-screen sequence
        (b"\x00\x01", "b'\\x00\\x01'\n"),  # bytes, not text
        ("Hello Ada!", "Hello Ada!\n"),
    ],
    ids=["escape-sequence", "bytes", "plain"],
)
def test_the_greeting_client_shows_what_another_server_sends_safely(
    reply, printed, import_snippet, monkeypatch, peers, capsys
):
    client = import_snippet("websocket_apps/greeting_client.py")
    with peers.echo(reply=reply) as peer:
        monkeypatch.setattr(sys, "argv", ["greeting_client.py", "--url", peer.url()])
        client.main()
    assert capsys.readouterr().out == printed


@pytest.mark.parametrize(
    ("reply", "printed"),
    [
        ("Hello \x1b]0;owned\x07", "'Hello \\x1b]0;owned\\x07'\n"),
        (b"\xff", "b'\\xff'\n"),
    ],
    ids=["title-sequence", "bytes"],
)
def test_the_secure_client_shows_what_another_server_sends_safely(
    reply, printed, import_snippet, monkeypatch, peers, capsys, local_certificates
):
    client = import_snippet("websocket_apps/secure_echo_client.py")
    with peers.echo(secure=True, reply=reply) as peer:
        ca_file = str(local_certificates.ca_file)
        argv = ["secure_echo_client.py", "--url", peer.url(scheme="wss")]
        monkeypatch.setattr(sys, "argv", [*argv, "--ca-file", ca_file])
        client.main()
    assert capsys.readouterr().out == printed
