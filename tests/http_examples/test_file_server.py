"""Tests of file_server.py, on the page "A small HTTP server" (docs/http/server.md).

Each attack is followed (or accompanied) by a well-behaved client that must
be served promptly; the hostile markers name the row of the page's limits
table that the attack breaks.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import subprocess
import sys
import time

import pytest
import requests
from hostile.attacks import (
    closed_within,
    connect,
    low_file_limit,
    memory_of,
    read_until_closed,
    reset,
    slow_drip,
)
from peers.daemons import run_client
from peers.programs import require

SERVER = "http_examples/file_server.py"
SHORT = 0.3  # seconds: the request timeout of the tests' servers
PAGE = "<h1>Hello, files!</h1>\n"
BIG = 8 * 1024 * 1024  # a file that fills every buffer between the two sides


def hostile(fault: str, limit: str | None = None):
    return pytest.mark.hostile(SERVER, fault, limit=limit)


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    """A folder to serve, with secrets in it and beside it, to keep out of reach."""
    root = tmp_path_factory.mktemp("site")
    folder = root / "public"
    (folder / "docs").mkdir(parents=True)
    (folder / "index.html").write_text(PAGE)
    (folder / "data.json").write_text('{"answer": 42}\n')
    (folder / "big.bin").write_bytes(os.urandom(1024) * (BIG // 1024))
    (folder / ".env").write_text("API_KEY=not-for-the-web\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("not for the web\n")
    (root / "secret.txt").write_text("not for the web\n")
    # Links: one that stays inside (served), some that lead out (refused).
    (folder / "docs" / "data-link.json").symlink_to("../data.json")
    (folder / "passwd").symlink_to("/etc/passwd")
    (folder / "secret-link.txt").symlink_to(root / "secret.txt")
    (folder / "outside").symlink_to(root)
    (folder / "env-link").symlink_to(".env")
    (folder / "docs" / ".draft.md").write_text("not for the web\n")
    (folder / "docs" / "readme.txt").write_text("Read me\n")
    (folder / "docs" / "passwd-link").symlink_to("/etc/passwd")
    (folder / "docs" / "sub").mkdir()
    return folder


@pytest.fixture(scope="module")
def files(start_server, public):
    """The file server with short timeouts, shared by the tests that do not stop it."""
    arguments = ("--directory", str(public), "--request-timeout", str(SHORT))
    with start_server(SERVER, *arguments) as server:
        yield server


def url(server, path: str = "/") -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}{path}"


def raw_get(server, path: str, *headers: str) -> bytes:
    """GET `path` exactly as written (requests would tidy up /../), whole answer."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *headers]
    request = "\r\n".join([*lines, "Connection: close", "", ""]).encode()
    with connect(server.host, server.port) as sock:
        sock.sendall(request)
        return read_until_closed(sock, 5)


def served(server) -> float:
    """A well-behaved client: GET a small file; returns how long it waited."""
    start = time.monotonic()
    response = requests.get(url(server, "/data.json"), timeout=5)
    assert response.json() == {"answer": 42}
    return time.monotonic() - start


# --- What it serves ---------------------------------------------------------


def test_it_serves_files_with_their_type(files):
    page = requests.get(url(files), timeout=5)  # / serves index.html
    assert page.text == PAGE
    assert page.headers["Content-Type"] == "text/html"
    data = requests.get(url(files, "/data.json"), timeout=5)
    assert data.json() == {"answer": 42}
    assert data.headers["Content-Type"] == "application/json"
    assert data.headers["Accept-Ranges"] == "bytes"
    linked = requests.get(url(files, "/docs/data-link.json"), timeout=5)
    assert linked.json() == {"answer": 42}  # a link that stays inside works


def test_a_listing_shows_only_what_it_serves(files):
    listing = requests.get(url(files, "/docs/"), timeout=5).text
    assert '<a href="data-link.json">' in listing
    listing = requests.get(url(files, "/outside/"), timeout=5)
    assert listing.status_code == 404


@hostile("confinement", limit="Files it serves")
@pytest.mark.parametrize(
    "path",
    [
        "/missing.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/passwd",  # a symlink to /etc/passwd
        "/secret-link.txt",  # a symlink to a file beside the folder
        "/outside/secret.txt",  # through a symlink to the folder above
        "/.env",
        "/.git/config",
        "/env-link",  # a visible name for a hidden file
        "/%ED%A0%80",  # not UTF-8: a name no file system holds
    ],
)
def test_it_refuses_what_is_not_in_its_folder(files, path, record_wait):
    answer = raw_get(files, path)
    assert answer.startswith(b"HTTP/1.1 404 File not found\r\n")
    assert b"not for the web" not in answer
    assert b"root:" not in answer
    record_wait(served(files))


@hostile("confinement", limit="Files it serves")
def test_its_listing_leaves_out_dotfiles_and_links_that_lead_out(files, record_wait):
    listing = requests.get(url(files, "/docs/"), timeout=5).text
    links = re.findall(r'href="([^"]*)"', listing)
    assert links == ["data-link.json", "readme.txt", "sub/"]
    record_wait(served(files))


def test_dotfiles_are_served_when_asked(start_server, public):
    with start_server(SERVER, "--directory", str(public), "--dotfiles") as server:
        listing = requests.get(url(server, "/docs/"), timeout=5).text
        assert '<a href=".draft.md">' in listing
        env = requests.get(url(server, "/.env"), timeout=5)
        assert env.text == "API_KEY=not-for-the-web\n"
        # Still never outside the folder.
        assert requests.get(url(server, "/passwd"), timeout=5).status_code == 404


@hostile("confinement", limit="Names it answers to (Host)")
@pytest.mark.parametrize(
    "host",
    ["rebind.example:{port}", "127.0.0.1:1", "127.0.0.1", "", "localhost.:{port}"],
)
def test_it_answers_only_the_names_it_serves(files, host, record_wait):
    headers = {"Host": host.format(port=files.port)} if host else {}
    request = ["GET /data.json HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    with connect(files.host, files.port) as sock:
        sock.sendall("\r\n".join([*request, "", ""]).encode())
        answer = read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 421 Unknown host\r\n")
    assert b'"answer"' not in answer
    record_wait(served(files))


def test_the_names_it_serves_include_allowed_ones(start_server, public):
    arguments = ("--directory", str(public), "--allow-host", "Files.Test")
    with start_server(SERVER, *arguments) as server:
        for name in ("127.0.0.1", "LOCALHOST", "[::1]", "files.test"):
            request = f"GET /data.json HTTP/1.1\r\nHost: {name}:{server.port}\r\n"
            with connect(server.host, server.port) as sock:
                sock.sendall(request.encode() + b"Connection: close\r\n\r\n")
                assert read_until_closed(sock, 5).startswith(b"HTTP/1.1 200 OK\r\n")


def test_it_serves_over_ipv6(start_server, public):
    with start_server(SERVER, "--directory", str(public), "--host", "::1") as server:
        assert server.host == "::1"
        response = requests.get(url(server, "/data.json"), timeout=5)
        assert response.json() == {"answer": 42}


def test_a_missing_folder_stops_it_with_one_line(tmp_path):
    missing = tmp_path / "pubilc"
    result = subprocess.run(  # noqa: S603 (our own snippet)
        [sys.executable, "-W", "error", str(snippet_path()), "--port", "0",
         "--directory", str(missing)],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"No folder {missing}: give --directory an existing one\n")


def snippet_path():
    from conftest import snippet

    return snippet(SERVER)


def test_a_stream_past_its_deadline_raises_timeout(import_snippet):
    server = import_snippet(SERVER)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = server.TimedStream(ours)
        theirs.sendall(b"GET")
        stream.limit(5, max_bytes=2)
        assert stream.read(10) == b"GE"
        with pytest.raises(server.RequestTooLarge):
            stream.read(10)
        stream.limit(0, max_bytes=100)
        with pytest.raises(TimeoutError, match="deadline passed"):
            stream.read(10)


# --- Range: resuming a download -------------------------------------------


@pytest.mark.parametrize(
    ("header", "part"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=90-1000", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        (" bytes=5-5 ", (5, 5)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("bytes=9-3", None),  # not a range: the whole file
        ("bytes=-", None),
        ("items=0-9", None),
    ],
)
def test_requested_part(import_snippet, header, part):
    server = import_snippet(SERVER)
    assert server.requested_part(header, 100) == part


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=-5", 0), ("bytes=0-", 0)],
)
def test_a_range_past_the_end_cannot_be_served(import_snippet, header, size):
    server = import_snippet(SERVER)
    with pytest.raises(ValueError, match=r"past the end|no bytes"):
        server.requested_part(header, size)


def test_a_range_request_gets_its_part(files, public):
    whole = (public / "big.bin").read_bytes()
    response = requests.get(
        url(files, "/big.bin"), headers={"Range": "bytes=1000-1999"}, timeout=5
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    assert response.content == whole[1000:2000]
    past = requests.get(
        url(files, "/big.bin"), headers={"Range": f"bytes={len(whole)}-"}, timeout=5
    )
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{len(whole)}"
    several = requests.get(
        url(files, "/data.json"), headers={"Range": "bytes=0-1,3-4"}, timeout=5
    )
    assert (several.status_code, several.json()) == (200, {"answer": 42})


def test_if_range_of_another_date_gets_the_whole_file(files):
    headers = {"Range": "bytes=0-1", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}
    response = requests.get(url(files, "/data.json"), headers=headers, timeout=5)
    assert (response.status_code, response.json()) == (200, {"answer": 42})
    modified = response.headers["Last-Modified"]
    headers["If-Range"] = modified  # unchanged since: the part
    response = requests.get(url(files, "/data.json"), headers=headers, timeout=5)
    assert (response.status_code, response.content) == (206, b'{"')


@pytest.mark.interop(SERVER, "curl", "download resumed with curl -C - (Range)")
def test_curl_resumes_a_download(files, public, tmp_path):
    curl = require("curl")
    whole = (public / "big.bin").read_bytes()
    target = tmp_path / "big.bin"
    target.write_bytes(whole[:3_000_000])  # what a first, cut-off try saved
    result = run_client(
        [curl, "--silent", "--show-error", "--fail", "-C", "-", "-o", target,
         url(files, "/big.bin")],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == whole


@pytest.mark.interop(SERVER, "wget", "download resumed with wget -c (Range)")
def test_wget_resumes_a_download(files, public, tmp_path):
    wget = require("wget")
    whole = (public / "big.bin").read_bytes()
    target = tmp_path / "big.bin"
    target.write_bytes(whole[:5_000_000])
    result = run_client([wget, "-c", "-O", target, url(files, "/big.bin")])
    assert result.returncode == 0, result.stderr
    assert "206 Partial Content" in result.stderr
    assert target.read_bytes() == whole
    # Once complete, wget -c asks for what follows the end, and stops there.
    again = run_client([wget, "-c", "-O", target, url(files, "/big.bin")])
    assert again.returncode == 0, again.stderr
    assert "416" in again.stderr
    assert target.read_bytes() == whole


@pytest.mark.interop(SERVER, "aria2c", "download resumed with aria2c -c (Range)")
def test_aria2_resumes_a_download(files, public, tmp_path):
    # aria2c refused the server without Range: "Invalid range header".
    aria2c = require("aria2c")
    whole = (public / "big.bin").read_bytes()
    (tmp_path / "big.bin").write_bytes(whole[:2_000_000])
    result = run_client(
        [aria2c, "-c", "--quiet", "--no-conf", "--max-tries=1", "--dir", tmp_path,
         "--out", "big.bin", "--allow-overwrite=false", url(files, "/big.bin")],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "big.bin").read_bytes() == whole


@pytest.mark.interop(SERVER, "curl", "GET over IPv4 and IPv6, 404 for a dotfile")
def test_curl_gets_files_over_ipv4_and_ipv6(start_server, public):
    curl = require("curl")
    for host in ("127.0.0.1", "::1"):
        arguments = ("--directory", str(public), "--host", host)
        with start_server(SERVER, *arguments) as server:
            page = run_client([curl, "--silent", "--fail", "--globoff", url(server)])
            assert (page.returncode, page.stdout) == (0, PAGE)
            hidden = run_client(
                [curl, "--silent", "--globoff", "--write-out", "%{http_code}",
                 "--output", os.devnull, url(server, "/.env")]
            )  # fmt: skip
            assert hidden.stdout == "404"


# --- The fault matrix -------------------------------------------------------


@hostile("silent", limit="Time to send a request")
def test_a_silent_client_is_disconnected(files, record_wait):
    with connect(files.host, files.port) as silent:
        record_wait(served(files))
        closed_after = closed_within(silent, 5)
    assert closed_after is not None
    assert closed_after < SHORT + 1


@hostile("slow drip", limit="Time to send a request")
def test_a_slow_drip_is_cut_off_at_the_request_deadline(files, record_wait):
    request = f"GET /data.json HTTP/1.1\r\nHost: 127.0.0.1:{files.port}\r\n"
    with connect(files.host, files.port) as drip:
        # A byte every 0.05 s: each arrives well within any idle timeout.
        closed_after = slow_drip(drip, request.encode() * 10, every=0.05, for_at_most=5)
    assert closed_after is not None
    assert closed_after < SHORT + 1
    record_wait(served(files))


@hostile("reset")
def test_a_client_that_resets_mid_request_is_logged_in_one_line(
    start_server, public, record_wait
):
    with start_server(SERVER, "--directory", str(public)) as server:
        sock = connect(server.host, server.port)
        sock.sendall(b"GET /data.js")
        reset(sock)
        # Reset while the server sends a large file, too.
        sock = connect(server.host, server.port)
        sock.sendall(
            f"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
        reset(sock)
        record_wait(served(server))
        assert requests.get(url(server, "/missing"), timeout=5).status_code == 404
    # One line for a dropped client, none of the traceback the default prints.
    assert "Client went away: ConnectionResetError" in server.output
    assert '"GET /missing HTTP/1.1" 404 -' in server.output
    assert server.output.endswith("Server stopped\n")


@hostile("oversize", limit="Request line and header")
@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 8000 + b"\r\n",  # 88 KB
        b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n",  # 101 headers
    ],
    ids=["request-line", "header-line", "header-size", "header-count"],
)
def test_an_oversized_request_gets_431(files, request_head, record_wait):
    with connect(files.host, files.port) as sock:
        # It may answer, and close, before the end: a reset then.
        with contextlib.suppress(ConnectionResetError):
            sock.sendall(request_head)
        answer = read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 431 ")
    record_wait(served(files))


@hostile("garbage")
@pytest.mark.parametrize(
    ("garbage", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (bytes(range(256)) + b"\r\n\r\n", b"400"),
        (b"GET / HTTP/9.9\r\n\r\n", b"505"),
        (b"POST /data.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", b"501"),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", b"404"),
    ],
    ids=["words", "binary", "version", "method", "invalid-utf8"],
)
def test_garbage_gets_an_error_status(files, garbage, status, record_wait):
    with connect(files.host, files.port) as sock:
        sock.sendall(garbage.replace(b"{port}", str(files.port).encode()))
        answer = read_until_closed(sock, 5)
    # Without a readable version, http.server answers as HTTP/0.9 did: a page
    # with no status line and no header. The page names the status.
    assert b"Error code: " + status in answer
    record_wait(served(files))


def burst(host: str, port: int, count: int, request: bytes, seconds: float):
    """`count` clients that connect at the same moment, each sends `request`.

    Non-blocking sockets, so that every SYN is in flight at once, as with
    that many real clients. Returns each client's first line of answer (b""
    for a connection closed without one) once all have one, or at the deadline.
    """
    answers: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((host, port))
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + seconds
        while selector.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, events in selector.select(left):
                sock = key.fileobj
                if events & selectors.EVENT_WRITE:
                    try:
                        sock.sendall(request)
                        selector.modify(sock, selectors.EVENT_READ)
                    except OSError:
                        answers[sock] = b""
                        selector.unregister(sock)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                answers[sock] = answers.get(sock, b"") + data
                if not data or b"\r\n" in answers[sock]:
                    selector.unregister(sock)
        unanswered = len(selector.get_map())
        for key in list(selector.get_map().values()):
            key.fileobj.close()
    for sock in answers:
        sock.close()
    assert unanswered == 0, f"{unanswered} of {count} clients got no answer in time"
    return [answer.split(b"\r\n")[0] for answer in answers.values()]


def get_request(server, path="/data.json") -> bytes:
    host = f"Host: 127.0.0.1:{server.port}"
    return f"GET {path} HTTP/1.1\r\n{host}\r\nConnection: close\r\n\r\n".encode()


@hostile("flood", limit="Connections at once")
def test_two_hundred_clients_at_once_are_all_served(files, record_wait):
    # With socketserver's default listen backlog of 5, about a fifth of them
    # were dropped; the backlog of 1024 queues them all.
    lines = burst(files.host, files.port, 200, get_request(files), seconds=10)
    assert lines == [b"HTTP/1.1 200 OK"] * 200
    record_wait(served(files))


@hostile("flood", limit="Connections at once")
def test_beyond_its_cap_a_client_gets_503_at_once(start_server, public, record_wait):
    arguments = ("--directory", str(public), "--max-connections", "20")
    with start_server(SERVER, *arguments) as server:
        # 20 silent clients hold every slot...
        holders = [connect(server.host, server.port) for _ in range(20)]
        try:
            # ...so each of 300 more is told 503 at once, without waiting.
            start = time.monotonic()
            lines = burst(server.host, server.port, 300, get_request(server), 5)
            took = time.monotonic() - start
            assert lines == [b"HTTP/1.1 503 Service Unavailable"] * 300
            assert took < 3
        finally:
            for sock in holders:
                sock.close()
        # Once they leave, a client is served again.
        record_wait(served(server))


@hostile("non-reading", limit="Time to take a response")
def test_a_client_that_stops_reading_is_dropped(start_server, public, record_wait):
    arguments = ("--directory", str(public), "--response-timeout", str(SHORT))
    with (
        start_server(SERVER, *arguments) as server,
        connect(server.host, server.port) as stalled,
    ):
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(get_request(server, "/big.bin"))
        record_wait(served(server))  # served while the other one stalls
        # The server gives up once the response deadline has passed:
        # its log says so, and its memory did not grow by the file's size.
        deadline = time.monotonic() + 5
        while "Request timed out" not in log_so_far(server):
            assert time.monotonic() < deadline, "never gave up"
        assert memory_of(server.process.pid)["VmHWM"] < 60 * 1024 * 1024
    assert "Request timed out: TimeoutError" in server.seen


def log_so_far(server) -> str:
    """One more line of the server's log (a blocking read, bounded by the test)."""
    server.seen = getattr(server, "seen", "") + server.process.stdout.readline()
    return server.seen


@hostile("fd exhaustion", limit="Connections at once")
def test_with_few_descriptors_it_caps_connections(start_server, public, record_wait):
    # 64 descriptors: room for (64 - 16) // 2 = 24 connections, each with the
    # file it sends. A burst of 150 clients is answered, 200 or 503, and never
    # leaves the server unable to accept.
    arguments = ("--directory", str(public))
    with start_server(SERVER, *arguments, preexec_fn=low_file_limit(64)) as server:
        lines = burst(server.host, server.port, 150, get_request(server), 10)
        assert set(lines) <= {b"HTTP/1.1 200 OK", b"HTTP/1.1 503 Service Unavailable"}
        assert b"HTTP/1.1 200 OK" in lines
        holders = [connect(server.host, server.port) for _ in range(24)]
        try:
            assert served_or_busy(server) == b"HTTP/1.1 503 Service Unavailable"
        finally:
            for sock in holders:
                sock.close()
        record_wait(served(server))


def served_or_busy(server) -> bytes:
    with connect(server.host, server.port) as sock:
        sock.sendall(get_request(server))
        return read_until_closed(sock, 5).split(b"\r\n")[0]
