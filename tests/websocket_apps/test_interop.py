"""The chapter's programs against WebSocket software that this project did not
write: websocketd (Go) serving the clients, Node.js' `ws` driving the
servers, nginx proxying the chat, Chromium and curl using it.

Each test is marked `interop`; docs/interop.md lists them with the peers'
versions. The peers' fixtures are in tests/peers/websocket.py.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from peers.daemons import free_port, run_client
from peers.programs import require

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


ECHO_CLIENT = "websocket_apps/echo_client.py"
GREETING_CLIENT = "websocket_apps/greeting_client.py"
CHAT_CLIENT = "websocket_apps/chat_client.py"
WATCHER = "websocket_apps/chat_watcher.py"
SECURE_CLIENT = "websocket_apps/secure_echo_client.py"
ECHO_SERVER = "websocket_apps/echo_server.py"
GREETING_SERVER = "websocket_apps/greeting_server.py"
CHAT_SERVER = "websocket_apps/chat_server.py"
SECURE_SERVER = "websocket_apps/secure_echo_server.py"
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"


@pytest.fixture
def main_of(import_snippet, monkeypatch, capsys):
    """Run a program's main() with these arguments: (exit line, printed)."""

    def run(snippet: str, *args: str, stdin: str = "") -> tuple[str | None, str]:
        import io

        module = import_snippet(snippet)
        monkeypatch.setattr(sys, "argv", [snippet, *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            module.main()
            failure = None
        except SystemExit as exit_info:
            failure = exit_info.code
        return failure, capsys.readouterr().out

    return run


# --- The clients against websocketd ------------------------------------------


@pytest.mark.interop(
    ECHO_CLIENT, "websocketd", "text and binary frames over IPv6, both echoed"
)
def test_echo_client_against_websocketd(websocketd, main_of):
    # --binary: websocketd sends what `cat` writes back as binary messages
    # (text comes back as bytes, with the newline websocketd adds to text).
    with websocketd("cat", binary=True, host="::1") as daemon:
        failure, printed = main_of(
            ECHO_CLIENT, "--host", "::1", "--port", str(daemon.port)
        )
    assert failure is None
    assert printed.splitlines() == [
        repr("Hello, WebSocket! 👋\n".encode()),
        repr(b"\x00\x01\xff"),
    ]


@pytest.mark.interop(GREETING_CLIENT, "websocketd", "a name sent, a greeting back")
def test_greeting_client_against_websocketd(websocketd, main_of):
    with websocketd("sh", websocketd_script("greeting.sh")) as daemon:
        failure, printed = main_of(
            GREETING_CLIENT, "--port", str(daemon.port), "--name", "Gopher"
        )
    assert (failure, printed) == (None, "Hello Gopher!\n")


@pytest.mark.interop(
    CHAT_CLIENT, "websocketd", "chat events both ways; escapes shown, not obeyed"
)
def test_chat_client_against_websocketd(websocketd, main_of):
    typed = "Hello, Go!\nred \\u001b[31malert\n"  # the second: an escape code
    with websocketd("sh", websocketd_script("chat-room.sh")) as daemon:
        failure, printed = main_of(
            CHAT_CLIENT, "--port", str(daemon.port), "--name", "Ada", stdin=typed
        )
    assert failure is None
    assert printed.splitlines() == [
        "* Ada joined (1 online)",
        "Ada: Hello, Go!",
        "Ada: red \\x1b[31malert",
        "Disconnected (close code 1000)",
    ]


@pytest.mark.interop(
    CHAT_CLIENT, "websocketd", "one clear line for a server that is no chat"
)
def test_chat_client_says_when_websocketd_is_no_chat_server(websocketd, main_of):
    with websocketd("cat") as daemon:
        failure, _ = main_of(
            CHAT_CLIENT, "--port", str(daemon.port), "--name", "Ada", stdin="Hi\n"
        )
    url = f"ws://127.0.0.1:{daemon.port}/chat"
    assert failure == f"{url} is not a chat server: it sent 'Hi'"


@pytest.mark.interop(
    WATCHER, "websocketd", "prints the room; reconnects when dropped (1006)"
)
def test_watcher_against_websocketd(websocketd):
    # websocketd drops the TCP connection when its program ends, without a
    # closing handshake: a broken connection, after which the watcher tries
    # again. Ctrl+C ends it.
    with websocketd("sh", websocketd_script("announcer.sh")) as daemon:
        watcher = subprocess.Popen(  # noqa: S603 (our own snippet)
            [sys.executable, "-W", "error", SNIPPETS / WATCHER,
             "--port", str(daemon.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            encoding="utf-8", env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            lines = [watcher.stdout.readline() for _ in range(4)]
        finally:
            watcher.send_signal(signal.SIGINT)
            _, errors = watcher.communicate(timeout=10)
    url = f"ws://127.0.0.1:{daemon.port}/chat"
    assert lines == [
        f"Connected to {url}\n",
        "websocketd: Hello, \\x1b[1mwatcher\\x1b[0m\n",
        "Disconnected (close code 1006), reconnecting\n",
        f"Connected to {url}\n",
    ]
    assert (watcher.returncode, errors) == (0, "")


@pytest.mark.interop(
    SECURE_CLIENT, "websocketd", "wss:// with the local CA; another CA refused"
)
def test_secure_client_against_websocketd_over_tls(
    websocketd, main_of, local_certificates, tmp_path
):
    import trustme

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    with websocketd("cat", tls=True) as daemon:
        port = str(daemon.port)
        ca_file = str(local_certificates.ca_file)
        echoed = main_of(SECURE_CLIENT, "--port", port, "--ca-file", ca_file)
        refused = main_of(SECURE_CLIENT, "--port", port, "--ca-file", str(other_ca))
    assert echoed == (None, "Hello over TLS! 🔒\n")
    assert refused[0] == (
        "Untrusted server certificate (unable to get local issuer certificate): "
        f"is {other_ca} the CA that signed it?"
    )


# --- The clients against nginx ------------------------------------------------


@pytest.mark.parametrize(
    ("client", "path", "status"),
    [
        pytest.param(
            ECHO_CLIENT, "/json", 200,
            marks=pytest.mark.interop(
                ECHO_CLIENT, "nginx", "a web server's answer, in one line"
            ),
        ),
        pytest.param(
            GREETING_CLIENT, "/status/404", 404,
            marks=pytest.mark.interop(
                GREETING_CLIENT, "nginx", "a web server's 404, in one line"
            ),
        ),
    ],
)  # fmt: skip
def test_clients_pointed_at_a_web_server_say_so(
    client, path, status, nginx_static, main_of
):
    url = f"ws://127.0.0.1:{nginx_static.port}{path}"
    failure, _ = main_of(client, "--url", url)
    assert failure == f"{url} answered HTTP {status}: not a WebSocket endpoint"


def websocketd_script(name: str) -> str:
    from peers.websocket import websocketd_script as script

    return script(name)


# --- The servers driven by Node.js' ws -----------------------------------------


@pytest.fixture(scope="module")
def servers(start_server, local_certificates):
    """The four servers, as a reader starts them (the TLS one with the CA)."""
    from contextlib import ExitStack

    certificates = (
        "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file),
    )  # fmt: skip
    with ExitStack() as stack:
        yield {
            "echo": stack.enter_context(start_server(ECHO_SERVER, "--host", "::1")),
            "greeting": stack.enter_context(start_server(GREETING_SERVER)),
            "chat": stack.enter_context(start_server(CHAT_SERVER)),
            "secure": stack.enter_context(start_server(SECURE_SERVER, *certificates)),
        }


def events(name: str, found: list[dict]) -> list:
    return [event for event in found if event["event"] == name]


@pytest.mark.interop(ECHO_SERVER, "node:ws", "text, binary, and 1009 over IPv6")
def test_echo_server_driven_by_node_ws(servers, node_ws):
    url = f"ws://[::1]:{servers['echo'].port}/"
    echoed = node_ws(url, "--send", "Hello from Node 👋", "--send-bytes", "0001ff",
                     "--expect", "2")  # fmt: skip
    assert events("message", echoed) == [
        {"event": "message", "binary": False, "data": "Hello from Node 👋"},
        {"event": "message", "binary": True, "data": "0001ff"},
    ]
    assert events("close", echoed)[0]["code"] == 1000
    too_big = node_ws(url, "--send-size", str(64 * 1024 + 1), "--expect", "1")
    assert events("close", too_big)[0]["code"] == 1009


@pytest.mark.interop(GREETING_SERVER, "node:ws", "a greeting, then a normal close")
def test_greeting_server_driven_by_node_ws(servers, node_ws):
    url = f"ws://127.0.0.1:{servers['greeting'].port}/"
    found = node_ws(url, "--send", "Node", "--expect", "1")
    assert events("message", found)[0]["data"] == "Hello Node!"
    assert events("close", found)[0]["code"] == 1000


@pytest.mark.interop(
    CHAT_SERVER, "node:ws", "join, talk, leave; another site's page refused"
)
def test_chat_server_driven_by_node_ws(servers, node_ws):
    chat = servers["chat"]
    url = f"ws://127.0.0.1:{chat.port}/chat?name=Node"
    found = node_ws(url, "--send", "Hello from Node", "--expect", "2")
    said = [json.loads(event["data"]) for event in events("message", found)]
    assert said[0]["type"] == "join"
    assert said[1] == {"type": "message", "name": "Node", "text": "Hello from Node"}
    # A page on another site, as a browser would say in Origin.
    refused = node_ws(url, "--origin", "http://evil.example")
    assert events("refused", refused) == [{"event": "refused", "status": 403}]
    own_page = node_ws(url, "--origin", f"http://127.0.0.1:{chat.port}")
    assert events("open", own_page)


@pytest.mark.interop(SECURE_SERVER, "node:ws", "wss:// verified with the local CA")
def test_secure_server_driven_by_node_ws(servers, node_ws, local_certificates):
    url = f"wss://localhost:{servers['secure'].port}/"
    ca = str(local_certificates.ca_file)
    found = node_ws(url, "--ca", ca, "--send", "over TLS", "--expect", "1")
    assert events("message", found)[0]["data"] == "over TLS"
    # Without the CA, Node refuses the certificate: verification is on.
    untrusted = node_ws(url, "--send", "over TLS", "--expect", "1")
    assert "self-signed" in events("error", untrusted)[0]["message"] or (
        "unable to" in events("error", untrusted)[0]["message"]
    )


# --- The chat's HTTP side with curl --------------------------------------------


@pytest.mark.interop(CHAT_SERVER, "curl", "405 for a POST with a body; 403 for a host")
def test_chat_server_answers_curl(servers):
    curl = require("curl")
    base = f"http://127.0.0.1:{servers['chat'].port}/"

    def status_of(*options: str) -> str:
        result = run_client([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "--max-time", "5", *options, base])  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert status_of() == "200"
    assert status_of("-d", "x") == "405"  # was "Empty reply from server"
    assert status_of("-X", "PUT", "--data-binary", "@/dev/null") == "405"
    host = f"rebind.example:{servers['chat'].port}"
    assert status_of("-H", f"Host: {host}") == "403"
    allow = run_client([curl, "-s", "-i", "-d", "x", "--max-time", "5", base])
    assert re.search(r"^Allow: GET$", allow.stdout, re.MULTILINE)


# --- The chat behind nginx, in Chromium ----------------------------------------


@pytest.fixture
def chat_behind_nginx(start_server, nginx_websocket_proxy):
    """The chat server behind nginx, which listens on HTTP and HTTPS."""
    upstream = free_port()
    with nginx_websocket_proxy(upstream) as nginx:
        ports = (nginx.port, int(nginx.values["tls_port"]))
        allowed = [f"--allow-host=127.0.0.1:{port}" for port in ports]
        with start_server(CHAT_SERVER, "--port", str(upstream), *allowed) as chat:
            yield Peer("127.0.0.1", ports[0]), Peer("127.0.0.1", ports[1]), chat


async def chat_in(page, site: str, name: str) -> str:
    """Open the chat's page, join, say something; the last line it shows."""
    from playwright.async_api import expect

    await page.goto(site)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join").click()
    messages = page.locator("#messages li")
    await expect(messages.last).to_have_text(re.compile(rf"\* {name} joined"))
    await page.get_by_label("Message").fill(f"Hello from {name}")
    await page.get_by_role("button", name="Send").click()
    await expect(messages.last).to_have_text(f"{name}: Hello from {name}")
    return await messages.last.text_content()


@pytest.mark.interop(
    CHAT_SERVER, "nginx", "behind nginx: page and WebSocket proxied, HTTP and HTTPS"
)
@pytest.mark.interop(CHAT_SERVER, "chromium", "the page through nginx, ws: and wss:")
def test_chat_through_nginx_in_chromium(chat_behind_nginx, chromium, browser_home):
    plain, secure, _chat = chat_behind_nginx

    async def both_ways() -> list:
        seen = []
        page = await chromium.browser.new_page()
        try:
            seen.append(await chat_in(page, plain.url("/", "http"), "Plain"))
        finally:
            await page.close()
        # Over HTTPS, a Chromium that trusts the local CA (as a reader's
        # browser trusts a public one): the page opens wss:// to nginx.
        trusting = await browser_home.launch(chromium)
        try:
            page = await trusting.new_page()
            sockets = []
            page.on("websocket", lambda websocket: sockets.append(websocket.url))
            seen.append(await chat_in(page, secure.url("/", "https"), "Secure"))
            seen.append(sockets)
        finally:
            await trusting.close()
        return seen

    plain_line, secure_line, sockets = chromium.run(both_ways())
    assert plain_line == "Plain: Hello from Plain"
    assert secure_line == "Secure: Hello from Secure"
    assert sockets == [f"wss://127.0.0.1:{secure.port}/chat?name=Secure"]
