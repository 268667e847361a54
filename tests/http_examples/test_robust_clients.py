"""Tests of the page "requests: robust clients" (docs/http/robust_clients.md)."""

import hashlib
import re
import socket
import threading

import pytest
import requests
from urllib3.exceptions import MaxRetryError, ReadTimeoutError

SESSION = "http_examples/session_client.py"
ERRORS = "http_examples/requests_errors.py"
TRANSFER = "http_examples/transfer_files.py"


# --- Session and retries ---------------------------------------------------


def test_session_client_prints_its_retries(api_url, run_example):
    run_example(SESSION, "--url", api_url)


@pytest.fixture
def session(import_snippet):
    """The page's session, with the same retries but no waits between them."""
    client = import_snippet(SESSION)
    retry = client.RETRY.new(backoff_factor=0, backoff_jitter=0)
    with client.make_session(retry) as session:
        yield session


@pytest.mark.parametrize("failures", [1, 3])
def test_get_is_retried_until_it_succeeds(api_url, import_snippet, session, failures):
    client = import_snippet(SESSION)
    response = client.call_flaky(session, api_url, "GET", failures)
    # The server counted every attempt it received.
    assert response.json() == {"attempts": failures + 1}
    assert [a.status for a in response.raw.retries.history] == [503] * failures


def test_when_retries_run_out_the_last_answer_raises(api_url, import_snippet, session):
    client = import_snippet(SESSION)
    response = client.call_flaky(session, api_url, "GET", failures=5)
    assert response.json() == {"error": "attempt 4 fails"}  # 1 try + 3 retries
    with pytest.raises(requests.HTTPError, match="503"):
        response.raise_for_status()


def test_a_refused_connection_is_retried_even_for_post(
    import_snippet, session, free_port, monkeypatch
):
    # The page: "The same rules retry a failed connection for any method, since
    # the request was never sent." Count the connection attempts urllib3 makes.
    import urllib3.util.connection

    client = import_snippet(SESSION)
    attempts = []
    real_create_connection = urllib3.util.connection.create_connection

    def counted(*args, **kwargs):
        attempts.append(args[0])
        return real_create_connection(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    with pytest.raises(requests.ConnectionError, match="Max retries exceeded"):
        client.create_note(session, f"http://127.0.0.1:{free_port}", "never sent")
    assert attempts == [("127.0.0.1", free_port)] * 4  # 1 try + 3 retries


def test_without_raise_on_status_running_out_raises_retry_error(
    api_url, import_snippet
):
    client = import_snippet(SESSION)
    retry = client.RETRY.new(raise_on_status=True, backoff_factor=0, backoff_jitter=0)
    with (
        client.make_session(retry) as session,
        pytest.raises(requests.exceptions.RetryError, match="too many 503"),
    ):
        client.call_flaky(session, api_url, "GET", failures=5)


def test_backoff_waits_double_after_an_immediate_first_retry(import_snippet):
    client = import_snippet(SESSION)
    retry = client.RETRY
    waits = []
    for _ in range(3):
        retry = retry.increment("GET", "/flaky")
        waits.append(retry.get_backoff_time())
    assert waits[0] == 0
    assert 0.4 <= waits[1] <= 0.5
    assert 0.8 <= waits[2] <= 0.9
    assert client.RETRY.parse_retry_after("3600") == 30


def test_post_is_never_retried(api_url, import_snippet, session):
    client = import_snippet(SESSION)
    response = client.call_flaky(session, api_url, "POST", failures=1)
    assert response.status_code == 503
    assert response.json() == {"error": "attempt 1 fails"}


def test_the_session_reuses_one_connection(api_url, import_snippet, session):
    client = import_snippet(SESSION)
    ids = [client.create_note(session, api_url, f"n{n}")["id"] for n in range(3)]
    assert [note["id"] for note in client.notes_by_ids(session, api_url, ids)] == ids
    pools = session.get_adapter(api_url).poolmanager.pools
    keys = pools.keys()  # a RecentlyUsedContainer: no iteration over it
    [pool] = [pools[key] for key in keys]  # one server, one pool
    assert (pool.num_requests, pool.num_connections) == (6, 1)  # one TCP connection
    assert session.headers["User-Agent"] == "notes-client/1.0"


def test_a_read_timeout_is_not_retried_and_stays_a_timeout(
    import_snippet, session, silent_server
):
    client = import_snippet(SESSION)
    host, port = silent_server
    with pytest.raises(requests.ReadTimeout):
        session.get(f"http://{host}:{port}/", timeout=(1, 0.05))
    assert client.RETRY.read is False


def test_with_read_retries_a_timeout_arrives_as_connection_error(
    import_snippet, silent_server
):
    # What the page warns about: allow read retries, and once they run out
    # requests raises ConnectionError, which `except Timeout` does not catch.
    client = import_snippet(SESSION)
    host, port = silent_server
    retry = client.RETRY.new(read=1, backoff_factor=0, backoff_jitter=0)
    with (
        client.make_session(retry) as session,
        pytest.raises(requests.ConnectionError) as error,
    ):
        session.get(f"http://{host}:{port}/", timeout=(1, 0.05))
    assert not isinstance(error.value, requests.Timeout)
    assert isinstance(error.value.args[0], MaxRetryError)
    assert isinstance(error.value.args[0].reason, ReadTimeoutError)


def test_session_program_says_what_to_do_when_no_server(
    import_snippet, free_port, monkeypatch
):
    client = import_snippet(SESSION)
    # The same retries, without the 1.2 s of waits between them.
    monkeypatch.setattr(client, "RETRY", client.RETRY.new(backoff_factor=0))
    url = f"http://127.0.0.1:{free_port}"
    monkeypatch.setattr("sys.argv", ["session_client.py", "--url", url])
    with pytest.raises(SystemExit) as exit_info:
        client.main()
    assert exit_info.value.code == f"{url}: connection refused: start api_server.py"


# --- Downloads and uploads -------------------------------------------------


def test_transfer_client_downloads_and_uploads(api_url, run_example, tmp_path):
    run_example(TRANSFER, "--url", api_url, "--output", str(tmp_path / "download.bin"))


def test_download_streams_every_byte_to_the_file(api_url, import_snippet, tmp_path):
    client = import_snippet(TRANSFER)
    size = 3 * client.CHUNK_SIZE + 7  # a last chunk that is not full
    target = tmp_path / "data.bin"
    assert client.download(f"{api_url}/download?size={size}", target) == size
    # /download sends the bytes 0, 1, ..., 255 over and over.
    assert target.read_bytes() == (bytes(range(256)) * (size // 256 + 1))[:size]
    assert not (tmp_path / "data.bin.part").exists()


@pytest.fixture
def server_dying_mid_body():
    """A server that promises 1000 bytes, sends 10, and closes: a crash mid-download.

    No real server does this on demand, so this test plays one.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_once():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                conn.recv(65536)  # the request
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                conn.sendall(b"0123456789")

        thread = threading.Thread(target=serve_once)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        thread.join(timeout=5)


def test_a_cut_off_download_raises_and_leaves_no_file(
    import_snippet, tmp_path, server_dying_mid_body
):
    client = import_snippet(TRANSFER)
    target = tmp_path / "data.bin"
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as error:
        client.download(server_dying_mid_body, target)
    assert not target.exists()
    assert (tmp_path / "data.bin.part").stat().st_size < 1000  # incomplete
    assert client.failure(error.value) == (
        "the download was cut off: run again to resume"
    )


@pytest.fixture
def server_answering_another_part():
    """A server that answers any Range with the first 10 bytes: a broken one."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_once():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                conn.recv(65536)  # the request
                conn.sendall(
                    b"HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n"
                    b"Content-Range: bytes 0-9/100\r\n\r\n0123456789"
                )

        thread = threading.Thread(target=serve_once)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        thread.join(timeout=5)


def test_a_range_answered_with_other_bytes_is_refused(
    import_snippet, tmp_path, server_answering_another_part
):
    client = import_snippet(TRANSFER)
    target = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(b"x" * 50)
    with pytest.raises(client.WrongPart) as error:
        client.download(server_answering_another_part, target)
    assert client.failure(error.value) == (
        "asked for bytes 50-, got another part: delete the .part file to start over"
    )
    assert (tmp_path / "data.bin.part").read_bytes() == b"x" * 50  # untouched


def test_upload_reports_the_size_and_hash_the_server_received(
    api_url, import_snippet, tmp_path
):
    client = import_snippet(TRANSFER)
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line\n" * 100_000)
    report = client.upload(f"{api_url}/upload", path)
    assert report == {
        "filename": "notes.txt",
        "size": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_a_timeout_bounds_each_transfer(import_snippet, silent_server, monkeypatch):
    client = import_snippet(TRANSFER)
    monkeypatch.setattr(client, "TIMEOUT", (1, 0.05))
    host, port = silent_server
    with pytest.raises(requests.ReadTimeout):
        client.download(f"http://{host}:{port}/", client.Path("never.bin"))
    with pytest.raises(requests.ReadTimeout):
        client.upload(f"http://{host}:{port}/", client.Path(client.__file__))


def test_transfer_program_says_what_to_do_when_no_server(
    run_example, free_port, tmp_path
):
    url = f"http://127.0.0.1:{free_port}"
    with pytest.raises(SystemExit) as exit_info:
        run_example(TRANSFER, "--url", url, "--output", str(tmp_path / "x"))
    assert exit_info.value.code == f"{url}: connection refused: start api_server.py"


# --- Errors ----------------------------------------------------------------


def test_errors_client_prints_each_failure(api_url, run_example):
    run_example(ERRORS, "--url", api_url)


def test_a_success_is_reported_as_such(api_url, import_snippet, capsys):
    client = import_snippet(ERRORS)
    client.report("Hello", f"{api_url}/")
    assert capsys.readouterr().out == "Hello: it worked\n"


def test_a_connection_error_wraps_urllib3_which_wraps_the_socket_error(
    import_snippet, free_port
):
    client = import_snippet(ERRORS)
    with pytest.raises(requests.ConnectionError) as error:
        client.get_json(f"http://127.0.0.1:{free_port}/")
    names = []
    cause = error.value
    while cause is not None:
        names.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    assert names == [
        "ConnectionError",
        "MaxRetryError",
        "NewConnectionError",
        "ConnectionRefusedError",
    ]
    assert client.first_cause(error.value).__class__ is ConnectionRefusedError


def test_the_messages_quoted_on_the_page_have_that_shape(
    api_url, import_snippet, silent_server, free_port
):
    client = import_snippet(ERRORS)
    pool = r"HTTPConnectionPool\(host='127\.0\.0\.1', port=\d+\)"
    with pytest.raises(requests.HTTPError) as error:
        client.get_json(f"{api_url}/notes/0")
    assert re.fullmatch(
        r"404 Client Error: Not Found for url: http://127\.0\.0\.1:\d+/notes/0",
        str(error.value),
    )
    host, port = silent_server
    with pytest.raises(requests.ReadTimeout) as error:
        client.get_json(f"http://{host}:{port}/", timeout=(1, 0.05))
    assert re.fullmatch(
        pool + r": Read timed out\. \(read timeout=0\.05\)", str(error.value)
    )
    with pytest.raises(requests.ConnectionError) as error:
        client.get_json(f"http://127.0.0.1:{free_port}/")
    assert re.fullmatch(
        pool
        + r": Max retries exceeded with url: / \(Caused by NewConnectionError\(.*\)\)",
        str(error.value),
    )


def test_a_connect_timeout_is_reported_as_a_timeout(
    import_snippet, capsys, full_server
):
    # ConnectTimeout is both a ConnectionError and a Timeout: it must not be
    # reported as a refused connection.
    client = import_snippet(ERRORS)
    host, port = full_server
    client.report("Overloaded", f"http://{host}:{port}/", timeout=(0.05, 1))
    assert capsys.readouterr().out == (
        "Overloaded: no connection in time: the server is overloaded or filtered\n"
    )


def test_an_error_body_without_a_reason_shows_its_type(import_snippet):
    client = import_snippet(ERRORS)
    response = requests.Response()
    response.status_code, response.reason = 502, "Bad Gateway"
    response._content = b"<html>bad gateway</html>"
    assert client.http_status(response) == "HTTP 502 Bad Gateway (no type)"


def test_the_errors_program_says_what_to_do_when_no_server(run_example, free_port):
    url = f"http://127.0.0.1:{free_port}"
    with pytest.raises(SystemExit) as exit_info:
        run_example(ERRORS, "--url", url)
    assert exit_info.value.code == (
        f"{url}: connection refused: is the server running?"
    )
