"""Fixtures for the tests of json_client.py and async_json_client.py.

pytest finds this file by its name and gives its fixtures to every test of
the folder: servers on free ports, fake servers that misbehave, and a guard
that keeps every test on the loopback interface.
"""

import http.server
import ipaddress
import json
import re
import socket
import subprocess
import sys
import threading

import pytest


# --8<-- [start:guard]
def is_loopback(address: tuple) -> bool:
    """True for 127.0.0.0/8 and ::1; False for a name, as pytest-socket."""
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:  # "example.com": a name, not an address
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse sendto() and connect_ex() to other hosts: pytest-socket
    guards connect() only, and a UDP datagram needs no connect()."""
    real_sendto = socket.socket.sendto
    real_connect_ex = socket.socket.connect_ex

    def sendto(sock, data, *arguments):
        if not is_loopback(arguments[-1]):
            raise RuntimeError(f"sendto {arguments[-1]}: loopback only")
        return real_sendto(sock, data, *arguments)

    def connect_ex(sock, address):
        if not is_loopback(address):
            raise RuntimeError(f"connect_ex {address}: loopback only")
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# --8<-- [end:guard]
# --8<-- [start:thread]
class HelloHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET /hello with a JSON greeting, and anything else with 404."""

    def do_GET(self):
        if self.path != "/hello":
            self.send_error(404)
            return
        body = json.dumps({"greeting": "Hello"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *arguments):
        pass  # no line on stderr for each request


@pytest.fixture
def json_server():
    """A JSON server in a thread of the test's process: its port."""
    # Port 0: the system picks a free port, and the server knows which.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HelloHandler)
    # serve_forever() looks for a shutdown() request every poll_interval
    # seconds: 0.5 by default, which each test would wait at its end.
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}
    )
    serving.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()  # serve_forever() returns...
        serving.join()  # ...and the thread ends
        server.server_close()  # then the listening socket closes


# --8<-- [end:thread]
# --8<-- [start:process]
@pytest.fixture
def file_server(tmp_path):
    """python3 -m http.server in a process of its own, serving tmp_path.

    It prints "Serving HTTP on 127.0.0.1 port 43123 (...) ..." once it
    listens: the test reads the port from that line, instead of guessing a
    port, or sleeping until the server is probably up.
    """
    (tmp_path / "hello.json").write_text('{"greeting": "Hello"}')
    command = [
        sys.executable, "-u",  # -u: each line printed at once, not buffered
        "-m", "http.server", "0", "--bind", "127.0.0.1",
        "--directory", str(tmp_path),
    ]  # fmt: skip
    server = subprocess.Popen(  # noqa: S603 (a command line of our own)
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        first_line = server.stdout.readline()
        port = re.search(r" port (\d+) ", first_line)
        if not port:  # pragma: no cover (only if the server cannot start)
            pytest.fail(f"the server did not start: {first_line!r}")
        yield int(port[1])
    finally:
        server.terminate()  # SIGTERM, then wait for it to exit
        server.communicate(timeout=10)


# --8<-- [end:process]
# --8<-- [start:fake]
@pytest.fixture
def fake_server():
    """A server that misbehaves: `port = fake_server(misbehave)`.

    For each connection, it reads the request, then calls
    misbehave(connection), which does the damage: reset, stall, garbage.
    A client may connect more than once (aiohttp tries a GET again on a
    new connection when the server hangs up), so it serves until the test
    ends.
    """
    servers = []

    def start(misbehave):
        listener = socket.create_server(("127.0.0.1", 0))
        stopping = threading.Event()

        def serve():
            with listener:
                while True:
                    connection, _ = listener.accept()
                    with connection:
                        if stopping.is_set():
                            return
                        connection.settimeout(10)
                        connection.recv(64 * 1024)  # the request: small
                        misbehave(connection)

        thread = threading.Thread(target=serve)
        thread.start()
        servers.append((listener.getsockname(), stopping, thread))
        return listener.getsockname()[1]

    yield start
    for address, stopping, thread in servers:
        stopping.set()
        socket.create_connection(address).close()  # wakes accept() up
        thread.join(timeout=10)


# --8<-- [end:fake]
