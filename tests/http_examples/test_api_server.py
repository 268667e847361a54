"""Tests of api_server.py, the site's JSON API (docs/http/server.md runs it,
docs/async/aiohttp-server.md explains it and states its limits).

Each bad input, each hostile client, is followed by a well-behaved request
that must succeed: the server survived. Servers with their own limits, made
small so that the tests stay fast, are started where a test needs them.
"""

from __future__ import annotations

import json
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from hostile import attacks
from peers.daemons import run_client
from peers.programs import require

API_SERVER = "http_examples/api_server.py"
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
SHORT = 0.5  # seconds: the strict server's timeouts
SLACK = 2.0  # seconds a busy machine may add to a deadline, at most
STRICT = (
    *("--idle-timeout", str(SHORT), "--body-timeout", str(SHORT)),
    *("--send-timeout", str(SHORT), "--max-upload-size", "100000"),
    *("--max-notes", "5", "--max-notes-size", "100000"),
    *("--serve-name", "api.test"),
)
HELLO = {"message": "Hello, HTTP!"}


def url(server, path: str = "/") -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}{path}"


def well_behaved(server, record_wait=None) -> float:
    """A normal request, which must be answered: how long it took."""
    start = time.monotonic()
    response = requests.get(url(server), timeout=5)
    assert response.json() == HELLO
    waited = time.monotonic() - start
    if record_wait:
        record_wait(waited)
    return waited


def served_again(server, record_wait=None, attempts: int = 50) -> None:
    """Once a fault has ended: normal requests until one is answered.

    The server notices the end of a flood (the clients' FINs) in its own
    time; each attempt is a full request, so this waits on events only.
    """
    start = time.monotonic()
    for _ in range(attempts):
        response = requests.get(url(server), timeout=5)
        if response.status_code == 200:
            assert response.json() == HELLO
            if record_wait:
                record_wait(time.monotonic() - start)
            return
        assert response.status_code == 503  # refused while still full
    pytest.fail(f"not served after {attempts} attempts")


def host_header(server) -> str:
    return url(server).split("/")[2]


def request_bytes(server, head: str, body: bytes = b"") -> bytes:
    """A raw request: `head` is its request line and extra header lines."""
    lines = [head, f"Host: {host_header(server)}"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(server, data: bytes, seconds: float = 5) -> bytes:
    """Send raw bytes, then read everything until the server closes."""
    with attacks.connect(server.host, server.port) as sock:
        sock.sendall(data)
        return attacks.read_until_closed(sock, seconds)


def status_of(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


def body_of(answer: bytes) -> object:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


@pytest.fixture
def api(api_server):
    """The API server the HTTP chapter's tests share: bad input must not stop it."""
    return api_server


@pytest.fixture(scope="module")
def strict(start_server):
    """An API server with timeouts of SHORT seconds, and small stores."""
    with start_server(API_SERVER, *STRICT) as server:
        yield server


@pytest.fixture(scope="module")
def ipv6(start_server):
    with start_server(API_SERVER, "--host", "::1") as server:
        yield server


# --- Routes and errors -------------------------------------------------------


def test_echo_sends_back_a_json_body(api):
    response = requests.post(url(api, "/echo"), json={"a": [1, 2]}, timeout=5)
    assert response.json()["json"] == {"a": [1, 2]}


def test_delay_answers_after_the_time_asked(api):
    response = requests.get(url(api, "/delay"), params={"seconds": 0}, timeout=5)
    assert response.json() == {"delayed": 0}


def test_notes_can_be_listed_by_tag(api):
    for text, tags in [("one", ["a"]), ("two", ["b"]), ("three", ["a", "b"])]:
        response = requests.post(
            url(api, "/notes"), json={"text": text, "tags": tags}, timeout=5
        )
        assert response.status_code == 201
        assert response.headers["Location"] == f"/notes/{response.json()['id']}"
    tagged = requests.get(url(api, "/notes"), params={"tag": "a"}, timeout=5).json()
    assert {note["text"] for note in tagged} >= {"one", "three"}
    assert all("a" in note["tags"] for note in tagged)
    everything = requests.get(url(api, "/notes"), timeout=5).json()
    assert len(everything) >= 3


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "body is not valid JSON: Expecting property name"),
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


def test_a_note_not_sent_as_json_gets_415(api):
    response = requests.post(url(api, "/notes"), data='{"text": "t"}', timeout=5)
    assert response.status_code == 415
    assert response.json() == {"error": "send application/json"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("DELETE", "/notes", 405),
        ("GET", "/upload", 405),
        ("GET", "/notes/x", 404),
        ("GET", "/notes/0", 404),
        ("GET", "/download?size=lots", 400),
        ("GET", "/flaky?failures=-1", 400),
        ("POST", "/upload", 400),
    ],
)
def test_every_error_is_answered_in_json(api, method, path, status):
    response = requests.request(method, url(api, path), timeout=5)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("DELETE", "/notes", {"GET", "HEAD", "POST"}), ("GET", "/upload", {"POST"})],
)
def test_405_names_the_allowed_methods(api, method, path, allowed):
    response = requests.request(method, url(api, path), timeout=5)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(",")) == allowed


def test_an_upload_without_a_file_field_gets_400(api):
    response = requests.post(
        url(api, "/upload"), files={"document": ("a.txt", b"text")}, timeout=5
    )
    assert response.status_code == 400
    assert response.json() == {"error": 'send the file in a form field named "file"'}


def test_an_upload_is_hashed_as_it_arrives(api):
    data = bytes(range(256)) * 1000
    response = requests.post(
        url(api, "/upload"), files={"file": ("data.bin", data)}, timeout=5
    )
    assert response.status_code == 201
    assert response.json()["size"] == len(data)


def test_flaky_forgets_the_oldest_keys_beyond_its_limit(import_snippet, monkeypatch):
    # In this process, on a mocked request: a thousand keys over HTTP would be slow.
    import asyncio

    from aiohttp.test_utils import make_mocked_request

    server = import_snippet(API_SERVER)
    monkeypatch.setattr(server, "MAX_TRACKED_KEYS", 2)
    app = server.make_app()

    def attempt(key: str):
        request = make_mocked_request("GET", f"/flaky?key={key}&failures=0", app=app)
        return json.loads(asyncio.run(server.flaky(request)).text)["attempts"]

    assert [attempt(key) for key in ("a", "a", "b", "c", "a")] == [1, 2, 1, 1, 1]


# --- Garbage: malformed HTTP, and bodies that are not what they claim -------


@pytest.mark.hostile(API_SERVER, "garbage")
@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        bytes(range(256)) + b"\r\n\r\n",
    ],
    ids=["words", "version", "header", "binary"],
)
def test_a_malformed_request_gets_400(api, garbage, record_wait):
    # aiohttp answers before any handler runs, in plain text, in HTTP/1.0
    # when it could not read the request's version.
    assert status_of(exchange(api, garbage)) == b"HTTP/1.0 400 Bad Request"
    well_behaved(api, record_wait)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.hostile(API_SERVER, "garbage")
@pytest.mark.parametrize(
    ("path", "content_type", "body", "status", "error"),
    [
        ("/notes", "application/json", b'{"text": "\xff"}', 400,
         "body is not valid utf-8"),
        ("/notes", "application/json; charset=klingon", b"{}", 415,
         "unknown charset klingon"),
        ("/notes", "application/json", DEEP, 400, "JSON nested too deeply"),
        ("/echo", "application/json", b"[" * 900 + b"]" * 900, 400,
         "JSON nested too deeply"),
        ("/notes", "application/json", b'{"text": ' + b"1" * 5000 + b"}", 400,
         "a number in the JSON is too long"),
        ("/echo", "application/x-www-form-urlencoded", b"name=\xff", 400,
         "form is not valid utf-8"),
        ("/echo", "application/x-www-form-urlencoded; charset=klingon", b"a=b",
         415, "unknown charset klingon"),
        ("/upload", "multipart/form-data", b"a=b", 400,
         "malformed multipart: boundary missed for Content-Type: "
         "multipart/form-data"),
    ],
    ids=["not-utf-8", "unknown-charset", "deep", "deep-to-echo", "long-number",
         "form-not-utf-8", "form-unknown-charset", "no-boundary"],
)  # fmt: skip
def test_a_body_that_is_not_what_it_claims_gets_a_json_4xx(
    api, path, content_type, body, status, error, record_wait
):
    # request.json() would raise UnicodeDecodeError, LookupError,
    # RecursionError, ValueError: a 500, and a traceback as if of a bug.
    headers = {"Content-Type": content_type}
    response = requests.post(url(api, path), data=body, headers=headers, timeout=5)
    assert (response.status_code, response.json()) == (status, {"error": error})
    well_behaved(api, record_wait)


def test_each_client_error_takes_one_line_of_log(start_server):
    # Faults of clients get one line each (the access log's); bugs keep
    # their traceback, on stderr, which start_server() checks is empty.
    with start_server(API_SERVER) as server:
        json_post = "POST /notes HTTP/1.1\r\nConnection: close\r\n"
        json_post += "Content-Type: application/json"
        bad = [
            request_bytes(server, json_post, b'{"text": "\xff"}'),
            request_bytes(server, json_post, DEEP),
            b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        ]
        for data in bad:
            exchange(server, data)
    assert server.output.splitlines() == [
        '"POST /notes HTTP/1.1" 400',
        '"POST /notes HTTP/1.1" 400',
        '"UNKNOWN / HTTP/1.0" 400',
        '"GET / HTTP/1.1" 421',
        "Server stopped",
    ]


# --- Clients that vanish -------------------------------------------------------


@pytest.mark.hostile(API_SERVER, "reset")
@pytest.mark.parametrize(
    "half",
    [
        b"POST /notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le",
        b"POST /notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"text": "cut',
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 1000\r\n\r\n--b\r\n"
        b'Content-Disposition: form-data; name="file"\r\n\r\nhalf a fi',
    ],
    ids=["half-header", "half-body", "half-upload"],
)
def test_a_client_that_vanishes_mid_request_does_not_stop_the_server(
    api, half, record_wait
):
    sock = attacks.connect(api.host, api.port)
    sock.sendall(half)
    attacks.reset(sock)
    well_behaved(api, record_wait)


def test_a_slow_answer_does_not_hold_up_other_clients(api, record_wait):
    with attacks.connect(api.host, api.port) as slow:
        slow.sendall(request_bytes(api, "GET /delay?seconds=5 HTTP/1.1"))
        well_behaved(api, record_wait)
        attacks.reset(slow)  # and its handler is cancelled, not left running


# --- Time: a deadline for the header, the body and the answer --------------


@pytest.mark.hostile(API_SERVER, "silent", limit="Time to send a header")
def test_a_silent_client_is_dropped_at_the_header_deadline(strict, record_wait):
    start = time.monotonic()
    with attacks.connect(strict.host, strict.port) as silent:
        well_behaved(strict, record_wait)  # while it holds its connection
        assert attacks.closed_within(silent, 5) is not None
    assert SHORT * 0.8 < time.monotonic() - start < SHORT + SLACK


@pytest.mark.hostile(API_SERVER, "slow drip", limit="Time to send a header")
def test_a_header_sent_a_byte_at_a_time_is_cut_off(strict, record_wait):
    header = request_bytes(strict, "GET / HTTP/1.1\r\nX-Pad: " + "x" * 100)
    with attacks.connect(strict.host, strict.port) as drip:
        # A byte every 0.1 s: an idle timeout of 0.5 s would never fire.
        closed_after = attacks.slow_drip(drip, header, every=0.1, for_at_most=5)
        well_behaved(strict, record_wait)
    assert closed_after is not None
    assert closed_after < SHORT + SLACK


@pytest.mark.hostile(API_SERVER, "silent", limit="Time to send a body")
def test_a_body_that_stops_halfway_gets_408(strict, record_wait):
    half = (
        request_bytes(
            strict,
            "POST /notes HTTP/1.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 100",
        )
        + b'{"text": "and then nothing'
    )
    with attacks.connect(strict.host, strict.port) as stalled:
        stalled.sendall(half)
        well_behaved(strict, record_wait)
        start = time.monotonic()
        answer = attacks.read_until_closed(stalled, 5)
    assert status_of(answer) == b"HTTP/1.1 408 Request Timeout"
    assert body_of(answer) == {"error": f"body not received within {SHORT} s"}
    assert time.monotonic() - start < 2 * SHORT + SLACK  # 408, then lingering


@pytest.mark.hostile(API_SERVER, "slow drip", limit="Time to send a body")
@pytest.mark.parametrize("path", ["/notes", "/upload"])
def test_a_body_sent_a_byte_at_a_time_is_cut_off(strict, path, record_wait):
    content_type = (
        "application/json" if path == "/notes" else "multipart/form-data; boundary=b"
    )
    head = request_bytes(
        strict,
        f"POST {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: 1000",
    )
    with attacks.connect(strict.host, strict.port) as drip:
        drip.sendall(head)
        body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        closed_after = attacks.slow_drip(
            drip, body.ljust(1000, b"x"), every=0.1, for_at_most=5
        )
        well_behaved(strict, record_wait)
    assert closed_after is not None
    assert closed_after < 2 * SHORT + SLACK


@pytest.mark.hostile(API_SERVER, "non-reading", limit="Time to read an answer")
def test_a_client_that_stops_reading_a_download_is_dropped(strict, record_wait):
    size = 50 * 1024 * 1024
    with attacks.connect(strict.host, strict.port) as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(request_bytes(strict, f"GET /download?size={size} HTTP/1.1"))
        well_behaved(strict, record_wait)  # while the download is stuck
        memory = attacks.memory_of(strict.process.pid)
        # Past the deadline, what the kernels held is all it will get.
        received = len(attacks.read_until_closed(stuck, SHORT + 5))
    assert received < size / 2
    assert memory["VmRSS"] < 100 * 1024 * 1024  # one block held, not 50 MiB
    well_behaved(strict)


@pytest.mark.hostile(API_SERVER, "non-reading", limit="Time to read an answer")
def test_a_client_that_never_reads_its_answers_is_dropped(strict, record_wait):
    # Requests sent back to back, and none of the answers read: aiohttp's
    # own write would wait for ever once the buffers are full.
    echo = request_bytes(strict, "GET /echo HTTP/1.1\r\nX-Pad: " + "x" * 8000)
    with attacks.connect(strict.host, strict.port) as stuck:
        sent = attacks.fill_without_reading(stuck, echo, rounds=2000)
        well_behaved(strict, record_wait)
        assert attacks.closed_within(stuck, SHORT + 5) is not None
    assert sent < 2000  # the server stopped reading before it ended


# --- Size ----------------------------------------------------------------


@pytest.mark.hostile(API_SERVER, "oversize", limit="Header size")
@pytest.mark.parametrize(
    "head",
    [
        "GET /" + "a" * 9000 + " HTTP/1.1",
        "GET / HTTP/1.1\r\nX-Long: " + "a" * 9000,
        "GET / HTTP/1.1\r\n" + "X-A: b\r\n" * 200 + "X-B: c",
    ],
    ids=["request-line", "header-line", "header-lines"],
)
def test_a_header_over_the_limit_gets_400(api, head, record_wait):
    answer = exchange(api, request_bytes(api, head))
    assert status_of(answer) == b"HTTP/1.0 400 Bad Request"
    well_behaved(api, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="Body size")
@pytest.mark.parametrize("extra", [1, 512 * 1024], ids=["just-over", "far-over"])
@pytest.mark.parametrize("kind", ["json", "form"])
def test_a_body_over_the_limit_gets_413(api, import_snippet, kind, extra, record_wait):
    limit = import_snippet(API_SERVER).Limits().max_body_size
    size = limit + extra
    body = {"json": "x" * size} if kind == "json" else {"data": {"x": "x" * size}}
    response = requests.post(url(api, "/echo"), **body, timeout=5)
    assert response.status_code == 413
    assert response.json() == {"error": f"Maximum request body size {limit} exceeded."}
    well_behaved(api, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="Upload size")
def test_an_upload_announced_over_the_limit_gets_413_before_it_is_sent(
    strict, record_wait
):
    head = request_bytes(
        strict,
        "POST /upload HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b"
        "\r\nContent-Length: 100001",
    )
    # Only the header: the server refuses on the announced length alone.
    with attacks.connect(strict.host, strict.port) as sock:
        sock.sendall(head)
        with sock.makefile("rb") as answer:
            assert answer.readline().startswith(b"HTTP/1.1 413 ")
    well_behaved(strict, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="Upload size")
def test_an_upload_without_a_length_is_cut_off_at_the_limit(strict, record_wait):
    boundary = "limit-test"

    def multipart_body():  # a generator: requests sends it chunked, no length
        yield (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        ).encode()
        for _ in range(4):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = requests.post(
        url(strict, "/upload"), data=multipart_body(), headers=headers, timeout=5
    )
    assert response.status_code == 413
    well_behaved(strict, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="Numbers in a query")
@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/delay?seconds=86400", "seconds must be between 0 and 10.0"),
        ("/download?size=1e12", "size must be between 0 and 104857600"),
        ("/flaky?failures=1000", "failures must be between 0 and 10"),
    ],
)
def test_a_number_out_of_range_gets_400(api, path, error, record_wait):
    response = requests.get(url(api, path), timeout=5)
    assert (response.status_code, response.json()) == (400, {"error": error})
    well_behaved(api, record_wait)


@pytest.mark.hostile(API_SERVER, "oversize", limit="Notes stored")
def test_a_full_note_store_answers_507(strict, record_wait):
    def add(note: dict) -> requests.Response:
        return requests.post(url(strict, "/notes"), json=note, timeout=5)

    # The strict server keeps 5 notes and 100,000 bytes at most.
    big, small = {"text": "big", "tags": ["t" * 30_000]}, {"text": "small"}
    by_size = [add(big) for _ in range(4)]
    by_count = [add(small) for _ in range(3)]
    well_behaved(strict, record_wait)
    statuses = [response.status_code for response in by_size + by_count]
    assert statuses == [201, 201, 201, 507, 201, 201, 507]
    assert by_count[-1].json() == {
        "error": "the store is full: 5 notes or 100000 bytes at most"
    }


def test_the_default_note_store_stays_small(start_server):
    """Filled to its limits, the default store costs the server a few MB."""
    with start_server(API_SERVER) as server:
        before = attacks.memory_of(server.process.pid)["VmRSS"]
        # Notes of about 100 KB, within the 1 MiB body limit: the store's
        # size, not its count, stops them.
        note = {"text": "big", "tags": ["t" * 1000] * 100}
        with requests.Session() as session:
            statuses = [
                session.post(url(server, "/notes"), json=note, timeout=5).status_code
                for _ in range(12)
            ]
        after = attacks.memory_of(server.process.pid)["VmRSS"]
    assert statuses.count(201) == 10  # 10 of ~100 KB fill its 1 MiB
    assert set(statuses[10:]) == {507}
    assert after - before < 20 * 1024 * 1024


# --- Names served: the Host header (DNS rebinding) ---------------------------


@pytest.mark.hostile(API_SERVER, "confinement", limit="Names served")
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", ""]
)
def test_a_host_the_server_does_not_serve_gets_421(api, host, record_wait):
    # As a browser would send it after a DNS rebinding.
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    answer = exchange(api, request.encode())
    assert status_of(answer) == b"HTTP/1.1 421 Misdirected Request"
    assert body_of(answer) == {"error": f"{host!r} is not served here"}
    well_behaved(api, record_wait)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
@pytest.mark.parametrize("with_port", [True, False])
def test_the_names_it_serves_are_answered(api, name, with_port):
    host = f"{name}:{api.port}" if with_port else name
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    answer = exchange(api, request.encode())
    assert status_of(answer) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize(("name", "status"), [("api.test", 200), ("b.test", 421)])
def test_more_names_can_be_served(strict, name, status):
    request = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
    answer = exchange(strict, request.encode())
    assert status_of(answer).split()[1] == str(status).encode()


# --- Connections ---------------------------------------------------------


@pytest.mark.hostile(API_SERVER, "flood")
def test_a_few_hundred_connections_at_once_leave_room_for_one_more(strict, record_wait):
    with attacks.flood(strict.host, strict.port, 300) as flooders:
        assert len(flooders) == 300
        well_behaved(strict, record_wait)
        memory = attacks.memory_of(strict.process.pid)
    assert memory["VmRSS"] < 100 * 1024 * 1024


def refused(sockets: list[socket.socket], seconds: float) -> list[bytes]:
    """What each socket received before its server closed it (all at once)."""
    answers = {sock: b"" for sock in sockets}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(deadline - time.monotonic()):
                chunk = key.fileobj.recv(4096)
                answers[key.fileobj] += chunk
                if not chunk:
                    selector.unregister(key.fileobj)
        assert not selector.get_map(), "some connections were never closed"
    return [answers[sock] for sock in sockets]


@pytest.mark.hostile(API_SERVER, "flood", limit="Connections")
def test_connections_over_the_limit_get_503(start_server, record_wait):
    with start_server(API_SERVER, "--max-connections", "10") as server:
        with attacks.flood(server.host, server.port, 30) as flooders:
            # Accepted in order: the first ten are served, and wait in
            # silence; the twenty others are refused at once.
            answers = refused(flooders[10:], seconds=5)
            assert all(
                status_of(answer) == b"HTTP/1.1 503 Service Unavailable"
                for answer in answers
            )
            assert body_of(answers[0]) == {
                "error": "too many connections: try again later"
            }
            newcomer = requests.get(url(server), timeout=5)
            assert newcomer.status_code == 503
            assert newcomer.headers["Retry-After"] == "1"
        served_again(server, record_wait)


@pytest.mark.hostile(API_SERVER, "fd exhaustion", limit="Connections")
def test_a_process_with_few_files_limits_its_connections(start_server, record_wait):
    # 64 file descriptors: the server admits 64 - 32 connections, and
    # keeps the rest of its descriptors for itself and for refusing.
    with start_server(API_SERVER, preexec_fn=attacks.low_file_limit(64)) as server:
        with attacks.flood(server.host, server.port, 60) as flooders:
            answers = refused(flooders[32:], seconds=5)
            assert {status_of(answer) for answer in answers} == {
                b"HTTP/1.1 503 Service Unavailable"
            }
        served_again(server, record_wait)
    assert "Traceback" not in server.output


# --- Shutdown, IPv6 --------------------------------------------------------


def test_it_listens_on_ipv6(ipv6):
    assert ipv6.host == "::1"
    assert requests.get(url(ipv6), timeout=5).json() == HELLO


def test_a_port_in_use_is_said_in_one_line(free_port):
    # free_port is bound, by this process: the server cannot bind it too.
    server = [sys.executable, str(SNIPPETS / API_SERVER), "--port", str(free_port)]
    result = subprocess.run(server, capture_output=True, text=True, timeout=10)  # noqa: S603
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Cannot listen on 127.0.0.1: Address already in use"
    )
    assert result.stderr.count("\n") == 1


def test_client_faults_are_logged_in_one_line_and_bugs_in_full(import_snippet):
    import logging

    from aiohttp.http_exceptions import BadStatusLine

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
    assert server.client_fault(malformed)
    assert not server.client_went_away(malformed)
    assert server.client_fault(vanished)
    assert server.client_went_away(vanished)
    assert not server.client_fault(bug)  # a bug keeps its traceback, on stderr
    assert server.OneLine().format(vanished) == (
        "Error handling request from 127.0.0.1: ConnectionResetError: Connection lost"
    )


# --- Real clients: curl ------------------------------------------------------


@pytest.mark.interop(API_SERVER, "curl", "GET and POST of JSON over HTTP/1.1")
def test_curl_gets_and_posts_json(api):
    curl = require("curl")
    got = run_client([curl, "--silent", "--fail", "--max-time", "5", url(api)])
    assert json.loads(got.stdout) == HELLO
    posted = run_client(
        [curl, "--silent", "--include", "--max-time", "5",
         "--json", '{"text": "from curl", "tags": ["interop"]}',
         url(api, "/notes")]
    )  # fmt: skip
    head, body = posted.stdout.split("\n\n", 1)  # text mode: \r\n became \n
    note = json.loads(body)
    assert head.startswith("HTTP/1.1 201 Created")
    assert f"Location: /notes/{note['id']}" in head.splitlines()
    assert note["text"] == "from curl"


@pytest.mark.interop(API_SERVER, "curl", "IPv6, and an error answered in JSON")
def test_curl_over_ipv6_gets_errors_in_json(ipv6):
    curl = require("curl")
    result = run_client(
        [curl, "--silent", "--globoff", "--max-time", "5", "--write-out",
         "\n%{http_code}", url(ipv6, "/notes/12345")]
    )  # fmt: skip
    body, status = result.stdout.rsplit("\n", 1)
    assert (status, json.loads(body)) == ("404", {"error": "no note 12345"})


@pytest.fixture(scope="module")
def https(start_server, local_certificates):
    """The API server over HTTPS, with a certificate of the local CA."""
    with start_server(
        API_SERVER,
        "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file),
        "--idle-timeout", str(SHORT),
    ) as server:  # fmt: skip
        yield server


@pytest.mark.interop(API_SERVER, "curl", "HTTPS with the local CA (--cacert)")
def test_curl_trusts_the_server_with_the_local_ca(https, local_certificates):
    curl = require("curl")
    address = f"https://127.0.0.1:{https.port}/"
    common = [curl, "--silent", "--max-time", "5"]
    untrusted = run_client([*common, address])
    trusted = run_client([*common, "--cacert", local_certificates.ca_file, address])
    assert untrusted.returncode == 60  # "Peer certificate cannot be authenticated"
    assert json.loads(trusted.stdout) == HELLO


@pytest.mark.hostile(API_SERVER, "silent", limit="Time to send a header")
def test_a_tls_client_that_never_says_hello_is_dropped(
    https, local_certificates, record_wait
):
    # The TLS handshake has the header's deadline: aiohttp is not told of the
    # connection before the handshake ends, asyncio waits 60 s by default.
    with attacks.connect(https.host, https.port) as silent:
        start = time.monotonic()
        response = requests.get(
            f"https://127.0.0.1:{https.port}/",
            verify=str(local_certificates.ca_file),
            timeout=5,
        )
        record_wait(time.monotonic() - start)  # while the silent one waits
        assert response.json() == HELLO
        closed_after = attacks.closed_within(silent, 5)
    assert closed_after is not None
    assert closed_after < SHORT + SLACK


def test_running_out_of_files_is_reported_once_a_second(import_snippet, capsys):
    # asyncio retries a failed accept() every second and reports each failure
    # to the loop's exception handler: one line, and not one per retry. (The
    # flood above rarely reaches accept()'s failure: the cap comes first.)
    import errno

    server = import_snippet(API_SERVER)
    handler = server.OutOfFiles()
    out_of_files = OSError(errno.EMFILE, "Too many open files")
    for _ in range(3):
        handler(None, {"message": "socket.accept() out of system resource",
                       "exception": out_of_files})  # fmt: skip
    assert capsys.readouterr().out == (
        "accept() failed: Too many open files; retrying\n"
    )
