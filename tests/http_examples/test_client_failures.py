"""Each requests client names the real cause of a failure, in one line.

The same failures for every client of the chapter (refused, timeout, unknown
name, a server that hangs up, an HTTP error status, a body that is not JSON,
an untrusted certificate), then each program against nginx: another server,
with its own error pages, shapes and certificate chain.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from peers.nginx_http import TOKEN

BASICS = "http_examples/requests_basics.py"
SESSION = "http_examples/session_client.py"
TRANSFER = "http_examples/transfer_files.py"
ERRORS = "http_examples/requests_errors.py"
HTTPS = "http_examples/https_client.py"
# The programs of "requests: sessions, authentication and proxies" too.
SESSIONS_PAGE = [
    f"http_examples/requests_{name}.py"
    for name in ("auth", "cookies", "redirects", "proxies")
]
CLIENTS = [BASICS, SESSION, TRANSFER, ERRORS, HTTPS, *SESSIONS_PAGE]


@pytest.fixture
def hang_up_server() -> Iterator[str]:
    """A server that reads the request and closes without a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_once():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                conn.recv(65536)

        thread = threading.Thread(target=serve_once)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        thread.join(timeout=5)


def failure_of(client, call) -> str:
    with pytest.raises(requests.RequestException) as error:
        call()
    return client.failure(error.value)


@pytest.mark.parametrize("program", CLIENTS)
def test_refused_timeout_unknown_name_and_hang_up_each_say_so(
    program, import_snippet, free_port, silent_server, hang_up_server, monkeypatch
):
    client = import_snippet(program)
    refused = failure_of(
        client, lambda: requests.get(f"http://127.0.0.1:{free_port}/", timeout=1)
    )
    assert refused.startswith("connection refused")
    host, port = silent_server
    timed_out = failure_of(
        client, lambda: requests.get(f"http://{host}:{port}/", timeout=(1, 0.05))
    )
    assert "in time" in timed_out
    hung_up = failure_of(client, lambda: requests.get(hang_up_server, timeout=5))
    assert hung_up == (
        "RemoteDisconnected: Remote end closed connection without response"
    )

    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    unknown = failure_of(
        client, lambda: requests.get("http://no-such-host.invalid/", timeout=1)
    )
    assert unknown == "unknown host name: Name or service not known"


@pytest.mark.parametrize("program", CLIENTS)
def test_a_body_that_is_not_json_says_so(program, import_snippet, nginx_http):
    client = import_snippet(program)
    (nginx_http.folder / "www" / "page.html").write_text("<p>Hello</p>\n")
    url = f"http://127.0.0.1:{nginx_http.values['port']}/page.html"
    with pytest.raises(requests.JSONDecodeError) as error:
        requests.get(url, timeout=5).json()
    assert "not JSON" in client.failure(error.value)


# --- Against nginx ----------------------------------------------------------


def nginx_url(nginx, path: str = "", host: str = "127.0.0.1") -> str:
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{nginx.values['port']}{path}"


@pytest.mark.interop(BASICS, "nginx", "404 page, another JSON shape, not JSON, IPv6")
def test_basics_reports_what_nginx_answers_in_one_line(nginx_http, run_program):
    root = nginx_http.folder / "www"
    (root / "plain").mkdir(exist_ok=True)
    (root / "plain" / "echo").write_text("<p>not JSON</p>\n")
    base = nginx_url(nginx_http, host="::1")
    printed, exit_code = run_program(BASICS, "--url", base)
    assert printed == ""
    assert exit_code == (
        f"{base}: HTTP 404 Not Found for {base}/echo?q=tcp+timeouts&page=2"
    )
    base = nginx_url(nginx_http, "/other")
    printed, exit_code = run_program(BASICS, "--url", base)
    assert printed.splitlines()[0] == "GET /other/echo?q=tcp+timeouts&page=2"
    assert exit_code == f"{base}: the answer has no 'headers': is this the API server?"
    base = nginx_url(nginx_http, "/plain")
    printed, exit_code = run_program(BASICS, "--url", base)
    assert exit_code == f"{base}: the answer is not JSON: is this the API server?"


@pytest.mark.interop(SESSION, "nginx", "bearer token from API_TOKEN; 503 retried")
def test_session_sends_its_token_and_retries_nginx_503(
    nginx_http, import_snippet, run_program, monkeypatch
):
    client = import_snippet(SESSION)
    monkeypatch.setattr(client, "RETRY", client.RETRY.new(backoff_factor=0))
    private = nginx_url(nginx_http, "/private")
    with client.make_session(token=TOKEN) as session:
        assert session.get(private, timeout=5).json() == {"private": True}
        # 503 from nginx: retried 3 times, then the last answer is returned.
        response = session.get(nginx_url(nginx_http, "/status/503"), timeout=5)
        assert [a.status for a in response.raw.retries.history] == [503] * 3
        with pytest.raises(requests.HTTPError) as error:
            response.raise_for_status()
        assert client.failure(error.value) == (
            f"HTTP 503 Service Temporarily Unavailable for {response.url}"
        )
    with client.make_session() as session:  # no token: 401
        response = session.get(private, timeout=5)
        assert response.status_code == 401
    # The program against nginx, with its token from the environment:
    # there is no /notes there.
    tokens = []
    make_session = client.make_session

    def recorded(*args, **kwargs):
        tokens.append(kwargs["token"])
        return make_session(*args, **kwargs)

    monkeypatch.setattr(client, "make_session", recorded)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    base = nginx_url(nginx_http, host="::1")
    printed, exit_code = run_program(client, "--url", base)
    assert (printed, exit_code) == (
        "",
        f"{base}: HTTP 404 Not Found for {base}/notes",
    )
    assert tokens == [TOKEN]
    run_program(client, "--url", base, "--token", "from-the-option")
    assert tokens == [TOKEN, "from-the-option"]


@pytest.mark.interop(ERRORS, "nginx", "HTML error pages, not JSON, untrusted chain")
def test_errors_names_each_failure_from_nginx(
    nginx_http, import_snippet, capsys, run_program
):
    client = import_snippet(ERRORS)
    (nginx_http.folder / "www" / "page.html").write_text("<p>Hello</p>\n")
    client.report("HTML 404", nginx_url(nginx_http, "/status/404"))
    client.report("HTML 500", nginx_url(nginx_http, "/status/500", host="::1"))
    client.report("Not JSON", nginx_url(nginx_http, "/page.html"))
    client.report("JSON", nginx_url(nginx_http, "/json"))
    client.report("Redirected", nginx_url(nginx_http, "/redirect"))
    chain = f"https://127.0.0.1:{nginx_http.values['chain_port']}/"
    client.report("CA in the chain", chain)
    assert capsys.readouterr().out.splitlines() == [
        "HTML 404: HTTP 404 Not Found (text/html)",
        "HTML 500: HTTP 500 Internal Server Error (text/html)",
        "Not JSON: the answer is not JSON: is this the right server?",
        "JSON: it worked",
        "Redirected: it worked",
        # OpenSSL's wording when the server sends its CA in the chain:
        "CA in the chain: certificate not trusted:"
        " self-signed certificate in certificate chain",
    ]
    base = nginx_url(nginx_http)
    printed, exit_code = run_program(ERRORS, "--url", base)
    assert (printed, exit_code) == ("", f"{base}: HTTP 403 Forbidden (text/html)")


@pytest.mark.interop(TRANSFER, "nginx", "download resumed with Range; stalled body")
def test_transfer_resumes_a_download_from_nginx(
    nginx_http, import_snippet, run_program, tmp_path, monkeypatch
):
    client = import_snippet(TRANSFER)
    whole = bytes(range(256)) * 4096  # 1 MiB
    (nginx_http.folder / "www" / "file.bin").write_bytes(whole)
    target = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(whole[:300_000])  # a cut-off try
    url = nginx_url(nginx_http, "/file.bin", host="::1")
    monkeypatch.chdir(tmp_path)
    printed, exit_code = run_program(client, "--download", url)
    assert (printed, exit_code) == (f"Downloaded {len(whole)} bytes\n", None)
    assert target.read_bytes() == whole
    assert not (tmp_path / "file.bin.part").exists()
    # A complete .part: nginx answers 416, and the file is complete.
    target.rename(tmp_path / "file.bin.part")
    assert client.download(url, target) == len(whole)
    assert target.read_bytes() == whole
    # A body that stalls after 1000 bytes: the read timeout ends it, and the
    # .part file stays, to resume from.
    monkeypatch.setattr(client, "TIMEOUT", (1, 0.2))
    slow = nginx_url(nginx_http, "/slow/file.bin")
    printed, exit_code = run_program(
        client, "--download", slow, "--output", str(tmp_path / "slow.bin")
    )
    assert exit_code == f"{slow}: no data in time: run again to resume"
    kept = (tmp_path / "slow.bin.part").read_bytes()
    assert len(kept) < len(whole)
    assert kept == whole[: len(kept)]
    # nginx refuses the upload: one line.
    base = nginx_url(nginx_http)
    printed, exit_code = run_program(
        client, "--url", base, "--output", str(tmp_path / "nothing.bin")
    )
    assert exit_code == f"{base}: HTTP 404 Not Found for {base}/download?size=5242880"


@pytest.mark.interop(HTTPS, "nginx", "HTTPS over IPv4 and IPv6; CA sent in the chain")
@pytest.mark.parametrize("port_name", ["tls_port", "chain_port"])
def test_https_client_against_nginx(
    nginx_http, local_certificates, run_program, port_name
):
    port = nginx_http.values[port_name]
    url = f"https://[::1]:{port}/json"
    printed, exit_code = run_program(
        HTTPS, "--url", url, "--ca-file", str(local_certificates.ca_file)
    )
    assert exit_code is None
    without_ca, reason, answer = printed.splitlines()
    # The reason depends on what the server sends: its certificate only, or
    # the CA's certificate too.
    assert (without_ca, reason) == (
        "Without the local CA:",
        "certificate not trusted: "
        + {
            "tls_port": "unable to get local issuer certificate",
            "chain_port": "self-signed certificate in certificate chain",
        }[port_name],
    )
    assert answer.startswith("{'server': 'nginx'")


@pytest.mark.parametrize("program", [BASICS, SESSION, TRANSFER])
def test_json_of_another_shape_says_which_key_is_missing(program, import_snippet):
    client = import_snippet(program)
    assert client.failure(KeyError("id")) == (
        "the answer has no 'id': is this the API server?"
    )


@pytest.mark.parametrize(
    "program",
    [*CLIENTS, "http_examples/raw_http_get.py", "http_examples/file_server.py"],
)
def test_a_program_pasted_without_its_docstring_still_starts(
    program, capsys, monkeypatch
):
    # A reader who copies the code of a page, not the file, has no module
    # docstring: __doc__ is None, and main() must not depend on it.
    import ast
    import sys
    import types

    from conftest import snippet

    tree = ast.parse(snippet(program).read_text(encoding="utf-8"))
    assert isinstance(tree.body[0].value, ast.Constant)  # the docstring
    del tree.body[0]
    pasted = types.ModuleType("pasted")
    monkeypatch.setitem(sys.modules, "pasted", pasted)
    exec(compile(tree, program, "exec"), pasted.__dict__)  # noqa: S102 (our snippet)
    assert pasted.__doc__ is None
    monkeypatch.setattr(sys, "argv", ["pasted.py", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        pasted.main()
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: pasted.py")
