"""Tests of the page "A small HTTP server" (docs/http/server.md).

Each bad input is followed by a normal request that must succeed: the
server survived it.
"""

import asyncio
import json
import logging
import socket
import struct

import pytest
import requests
from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine

API_SERVER = "http_examples/api_server.py"
SHORT = 0.2  # seconds: the servers' timeouts, shortened for the tests


def raw_exchange(server, data: bytes) -> bytes:
    """Send raw bytes, then read the whole answer until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_line(server, data: bytes) -> bytes:
    """Send raw bytes, then read the first line of the answer."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(data)
        with sock.makefile("rb") as answer:
            return answer.readline()


def vanish(sock: socket.socket) -> None:
    """Close with a reset, as the kernel of a crashed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- The aiohttp.web API ---------------------------------------------------


@pytest.fixture
def api(api_server):
    """The API server the other pages' tests share: bad input must not stop it."""
    return api_server


def url(server, path: str) -> str:
    return f"http://{server.host}:{server.port}{path}"


def still_serves(server) -> bool:
    response = requests.get(url(server, "/"), timeout=5)
    return response.json() == {"message": "Hello, HTTP!"}


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        bytes(range(256)) + b"\r\n\r\n",
    ],
    ids=["words", "version", "header", "binary"],
)
def test_a_malformed_request_gets_400(api, garbage):
    # aiohttp answers in HTTP/1.0 when it could not read the request's version.
    assert status_line(api, garbage) == b"HTTP/1.0 400 Bad Request\r\n"
    assert still_serves(api)


def test_a_body_over_client_max_size_gets_413(api, import_snippet):
    limit = import_snippet(API_SERVER).MAX_BODY_SIZE
    body = b'{"text": "' + b"x" * limit + b'"}'
    response = requests.post(
        url(api, "/notes"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"Maximum request body size {limit} exceeded."}
    assert still_serves(api)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        (b'["a list"]', 422, "send a JSON object"),
        (b'{"text": ""}', 422, "text: a string of 1 to 1000 characters"),
        (b'{"text": "t", "tags": "x"}', 422, "tags: a list of strings"),
    ],
    ids=["not-json", "not-object", "empty-text", "bad-tags"],
)
def test_a_bad_note_is_refused_with_a_json_error(api, body, status, error):
    response = requests.post(
        url(api, "/notes"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("DELETE", "/notes", 405),
        ("GET", "/notes/x", 404),
        ("GET", "/download?size=-1", 400),
        ("GET", "/download?size=lots", 400),
        ("GET", "/delay?seconds=60", 400),
        ("POST", "/upload", 400),
    ],
)
def test_every_error_is_answered_in_json(api, method, path, status):
    response = requests.request(method, url(api, path), timeout=5)
    assert response.status_code == status
    assert "error" in response.json()
    if status == 405:
        assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}


def test_echo_sends_back_a_json_body(api):
    response = requests.post(url(api, "/echo"), json={"a": [1, 2]}, timeout=5)
    assert response.json()["json"] == {"a": [1, 2]}


def test_delay_answers_after_the_time_asked(api):
    response = requests.get(url(api, "/delay"), params={"seconds": 0}, timeout=5)
    assert response.json() == {"delayed": 0}


def test_an_upload_announced_over_the_limit_gets_413_before_it_is_sent(
    api, import_snippet
):
    limit = import_snippet(API_SERVER).MAX_UPLOAD_SIZE
    header = (
        "POST /upload HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n"
    )
    # Only the header: the server refuses on the announced length alone.
    # (The phrase after 413 depends on the Python version: check the number.)
    assert status_line(api, header.encode()).startswith(b"HTTP/1.1 413 ")
    assert still_serves(api)


def test_an_upload_without_a_length_is_cut_off_at_the_limit(api, import_snippet):
    limit = import_snippet(API_SERVER).MAX_UPLOAD_SIZE
    boundary = "limit-test"

    def multipart_body():  # a generator: requests sends it chunked, no length
        yield (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        ).encode()
        for _ in range(limit // 65536 + 1):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = requests.post(
        url(api, "/upload"), data=multipart_body(), headers=headers, timeout=5
    )
    assert response.status_code == 413
    assert still_serves(api)


def test_flaky_forgets_the_oldest_keys_beyond_its_limit(import_snippet, monkeypatch):
    # In this process, on a mocked request: a thousand keys over HTTP would be slow.
    from aiohttp.test_utils import make_mocked_request

    server = import_snippet(API_SERVER)
    monkeypatch.setattr(server, "MAX_TRACKED_KEYS", 2)
    app = server.make_app()

    def attempt(key: str):
        request = make_mocked_request("GET", f"/flaky?key={key}&failures=0", app=app)
        return json.loads(asyncio.run(server.flaky(request)).text)["attempts"]

    assert [attempt(key) for key in ("a", "a", "b", "c", "a")] == [1, 2, 1, 1, 1]


def test_notes_can_be_listed_by_tag(api):
    for text, tags in [("one", ["a"]), ("two", ["b"]), ("three", ["a", "b"])]:
        response = requests.post(
            url(api, "/notes"), json={"text": text, "tags": tags}, timeout=5
        )
        assert response.status_code == 201
    tagged = requests.get(url(api, "/notes"), params={"tag": "a"}, timeout=5).json()
    assert {note["text"] for note in tagged} >= {"one", "three"}
    assert all("a" in note["tags"] for note in tagged)
    everything = requests.get(url(api, "/notes"), timeout=5).json()
    assert len(everything) >= 3


def test_a_note_not_sent_as_json_gets_415(api):
    response = requests.post(url(api, "/notes"), data='{"text": "t"}', timeout=5)
    assert response.status_code == 415
    assert response.json() == {"error": "send application/json"}


def test_an_upload_without_a_file_field_gets_400(api):
    response = requests.post(
        url(api, "/upload"), files={"document": ("a.txt", b"text")}, timeout=5
    )
    assert response.status_code == 400
    assert response.json() == {"error": 'send the file in a form field named "file"'}


@pytest.mark.parametrize(
    "half",
    [
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Le",
        b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"text": "cut',
    ],
    ids=["half-header", "half-body"],
)
def test_a_client_that_vanishes_mid_request_does_not_stop_the_server(api, half):
    sock = socket.create_connection((api.host, api.port), timeout=5)
    sock.sendall(half)
    vanish(sock)
    assert still_serves(api)


def test_a_slow_answer_does_not_hold_up_other_clients(api):
    with socket.create_connection((api.host, api.port), timeout=5) as slow:
        slow.sendall(b"GET /delay?seconds=5 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert still_serves(api)
        vanish(slow)  # and its handler is cancelled, not left running


@pytest.mark.asyncio
async def test_silent_and_stalled_clients_are_cut_off(import_snippet):
    # In this process, with short timeouts: the app of api_server.py, run
    # with the idle timeout its main() gives run_app() as keepalive_timeout.
    server = import_snippet(API_SERVER)
    app = server.make_app(body_timeout=SHORT)
    runner = web.AppRunner(app, keepalive_timeout=SHORT, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]

    async def first_line_after(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            return await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()
            await writer.wait_closed()

    half = b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    half += b'Content-Length: 100\r\n\r\n{"text": "and then nothing'
    try:
        silent, stalled = await asyncio.gather(
            first_line_after(b""),  # connects, never sends: closed, nothing said
            first_line_after(half),  # stops mid-body: 408
        )
    finally:
        await runner.cleanup()
    assert silent == b""
    assert stalled == b"HTTP/1.1 408 Request Timeout\r\n"


def test_client_faults_are_logged_in_one_line_and_bugs_in_full(import_snippet):
    server = import_snippet(API_SERVER)

    def record(error: BaseException) -> logging.LogRecord:
        message, args = "Error handling request from %s", ("127.0.0.1",)
        exc_info = (type(error), error, None)
        return logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, message, args, exc_info
        )

    malformed = record(BadStatusLine("HTTP/9.9"))
    vanished = record(ConnectionResetError("Connection lost"))
    bug = record(KeyError("note"))
    assert server.is_client_fault(malformed)
    assert server.is_client_fault(vanished)
    assert not server.is_client_fault(bug)  # a bug keeps its traceback, on stderr
    assert server.OneLine().format(malformed) == (
        "Error handling request from 127.0.0.1: BadStatusLine"
    )
