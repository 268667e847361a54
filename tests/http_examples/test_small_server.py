"""Tests of the page "A small HTTP server" (docs/http/server.md): the file server.

Each bad input is followed by a normal request that must succeed: the
server survived it. The API server's tests are in test_api_server.py.
"""

import socket
import struct

import pytest
import requests

FILE_SERVER = "http_examples/file_server.py"
SHORT = 0.2  # seconds: the servers' timeouts, shortened for the tests


def raw_exchange(server, data: bytes) -> bytes:
    """Send raw bytes, then read the whole answer until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def vanish(sock: socket.socket) -> None:
    """Close with a reset, as the kernel of a crashed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def url(server, path: str) -> str:
    return f"http://{server.host}:{server.port}{path}"


# --- http.server, serving files --------------------------------------------


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    """A folder to serve, with a secret beside it that must stay out of reach."""
    root = tmp_path_factory.mktemp("site")
    (root / "public").mkdir()
    (root / "public" / "index.html").write_text("<h1>Hello, files!</h1>\n")
    (root / "public" / "data.json").write_text('{"answer": 42}\n')
    (root / "secret.txt").write_text("not for the web\n")
    return root / "public"


@pytest.fixture(scope="module")
def files(start_server, public):
    arguments = ("--directory", str(public), "--client-timeout", str(SHORT))
    with start_server(FILE_SERVER, *arguments) as server:
        yield server


def test_file_server_serves_files_with_their_type(files):
    page = requests.get(url(files, "/"), timeout=5)  # / serves index.html
    assert page.text == "<h1>Hello, files!</h1>\n"
    assert page.headers["Content-Type"] == "text/html"
    data = requests.get(url(files, "/data.json"), timeout=5)
    assert data.json() == {"answer": 42}
    assert data.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path", ["/missing.txt", "/../secret.txt", "/%2e%2e/secret.txt"]
)
def test_file_server_refuses_what_is_not_in_its_folder(files, path):
    # requests would tidy up "/../"; send the path exactly as written.
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(files, request.encode())
    assert answer.startswith(b"HTTP/1.1 404 File not found\r\n")
    assert b"not for the web" not in answer


def test_file_server_answers_garbage_with_400(files):
    # Without a readable version, http.server answers as HTTP/0.9 did: a page
    # with no status line and no header.
    answer = raw_exchange(files, b"NOT HTTP AT ALL\r\n\r\n")
    assert b"Error code: 400" in answer
    answer = raw_exchange(files, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X" * 70_000)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert requests.get(url(files, "/data.json"), timeout=5).ok


def test_file_server_disconnects_a_client_that_never_sends(files):
    with socket.create_connection((files.host, files.port), timeout=5) as silent:
        assert silent.recv(1) == b""  # closed after --client-timeout
    assert requests.get(url(files, "/data.json"), timeout=5).ok


def test_file_server_survives_a_client_that_vanishes(start_server, public):
    with start_server(FILE_SERVER, "--directory", str(public)) as server:
        sock = socket.create_connection((server.host, server.port), timeout=5)
        sock.sendall(b"GET /data.js")
        vanish(sock)
        assert requests.get(url(server, "/missing"), timeout=5).status_code == 404
    # One line for the dropped client, none of the traceback the default prints.
    assert "Client went away: ConnectionResetError" in server.output
    assert '"GET /missing HTTP/1.1" 404 -' in server.output
    assert server.output.endswith("Server stopped\n")
