"""Tests of the page "aiohttp client" (docs/async/aiohttp-client.md).

The programs run against the site's API server (api_server.py), against
servers of other shapes written here with aiohttp.web, and against nginx.
"""

import asyncio
import errno
import sys

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

GET_POST = "async_networking/aiohttp_get_post.py"
MANY = "async_networking/many_requests.py"
ERRORS = "async_networking/client_errors.py"


def address(server) -> list[str]:
    return ["--host", server.host, "--port", str(server.port)]


def session_for(server, **options) -> aiohttp.ClientSession:
    url = URL.build(scheme="http", host=server.host, port=server.port)
    return aiohttp.ClientSession(base_url=url, **options)


def exit_message(run_example, program: str, *args: str) -> str:
    """Run a program that must end with one line: that line."""
    with pytest.raises(SystemExit) as exit_info:
        run_example(program, *args)
    message = exit_info.value.code
    assert isinstance(message, str)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("program", [GET_POST, MANY, ERRORS])
def test_program_prints_what_the_page_shows(api_server, run_example, program):
    run_example(program, *address(api_server))


def test_get_post_program_says_what_to_do_when_no_server(run_example, free_port):
    assert exit_message(run_example, GET_POST, "--port", str(free_port)) == (
        f"http://127.0.0.1:{free_port}: connection refused: is the server running?"
    )


def test_errors_program_shows_why_it_cannot_connect(run_example, free_port):
    assert exit_message(run_example, ERRORS, "--port", str(free_port)) == (
        f"Cannot connect to http://127.0.0.1:{free_port}: "
        f"Connect call failed ('127.0.0.1', {free_port})"
    )


# --- Servers of another shape ----------------------------------------------


async def text_page(request):
    return web.Response(text="<h1>Not an API</h1>", content_type="text/html")


async def json_of_another_shape(request):
    return web.json_response(["a", "list"])


async def broken_json(request):
    return web.Response(text="{not json", content_type="application/json")


async def html_error(request):
    raise web.HTTPNotFound(text="<h1>404</h1>", content_type="text/html")


async def json_in_name_only(request):
    raise web.HTTPBadGateway(text="{oops", content_type="application/json")


async def never_answers(request):
    await asyncio.Event().wait()


async def answered_by(handler, program, **run_options) -> Exception:
    """Run a program's run() against a server whose /echo and /notes are
    `handler`; return the exception that ended it."""
    app = web.Application()
    app.router.add_route("*", "/echo", handler)
    app.router.add_route("*", "/notes", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        base_url = URL.build(scheme="http", host=server.host, port=server.port)
        with pytest.raises(Exception) as error_info:  # noqa: PT011
            await program.run(base_url, **run_options)
    return error_info.value


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (text_page, "the answer is not JSON but text/html; charset=utf-8"),
        (json_of_another_shape, "an unexpected answer: no 'args' in ['a', 'list']"),
        (broken_json, "an unexpected answer: Expecting property name enclosed "
                      "in double quotes: line 1 column 2 (char 1)"),
        (html_error, "the server answered 404 Not Found"),
        (never_answers, "no complete answer within 0.2 s"),
    ],
    ids=["html", "other-shape", "broken-json", "html-404", "silent"],
)  # fmt: skip
async def test_get_post_names_what_another_server_answered(
    import_snippet, monkeypatch, handler, reason
):
    program = import_snippet(GET_POST)
    monkeypatch.setattr(program, "TIMEOUT", aiohttp.ClientTimeout(total=0.2))
    error = await answered_by(handler, program)
    assert program.failure(error) == reason


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (aiohttp.ConnectionTimeoutError(), "no connection within 3 s"),
        (
            aiohttp.ClientConnectorError(
                None, OSError(errno.ENETUNREACH, "Network is unreachable")
            ),
            "cannot connect: [Errno 101] Network is unreachable",
        ),
        (aiohttp.ServerDisconnectedError(), "ServerDisconnectedError: "
         "Server disconnected"),
    ],
    ids=["connect-timeout", "unreachable", "disconnected"],
)  # fmt: skip
def test_get_post_names_each_cause_of_failure(import_snippet, error, reason):
    assert import_snippet(GET_POST).failure(error) == reason


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("handler", "reason"),
    [(html_error, "404 Not Found"), (json_in_name_only, "502 Bad Gateway")],
    ids=["html-404", "json-in-name-only"],
)
async def test_an_error_body_that_is_not_the_apis_gives_the_status(
    import_snippet, handler, reason
):
    # An error page of nginx or a proxy: the status line's reason, not a
    # complaint about JSON that would hide it.
    errors = import_snippet(ERRORS)
    app = web.Application()
    app.router.add_route("*", "/notes", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        session = aiohttp.ClientSession(server.make_url("/"))
        async with session:
            with pytest.raises(aiohttp.ClientResponseError) as error_info:
                await errors.post_with_error_details(session, b"{}")
    error = error_info.value
    assert f"{error.status} {error.message}" == reason


@pytest.mark.asyncio
async def test_a_refused_connection_is_described(import_snippet, free_port):
    errors = import_snippet(ERRORS)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{free_port}") as session:
        description = await errors.describe_failure(session, "/echo")
        with pytest.raises(aiohttp.ClientConnectorError) as error_info:
            await errors.post_with_error_details(session, b"{}")
    assert description.startswith(
        f"ClientConnectorError: Cannot connect to host 127.0.0.1:{free_port}"
    )
    assert isinstance(error_info.value.os_error, ConnectionRefusedError)


@pytest.mark.asyncio
async def test_requests_that_succeed_are_described_as_such(import_snippet, api_server):
    errors = import_snippet(ERRORS)
    async with session_for(api_server) as session:
        assert await errors.describe_failure(session, "/echo") == "200: no error"
        note = await errors.post_with_error_details(session, b'{"text": "Ada"}')
    assert note["text"] == "Ada"


def test_the_report_shows_the_first_errors(import_snippet, capsys):
    many = import_snippet(MANY)
    many.report([{"args": {"n": "0"}}, TimeoutError(), ["another", "shape"]])
    assert capsys.readouterr().out.splitlines() == [
        "2 succeeded, 1 failed",
        "['0', None]",
        "Failed: TimeoutError",
    ]


@pytest.mark.asyncio
async def test_one_failed_request_leaves_the_others_be(import_snippet, api_server):
    many = import_snippet(MANY)
    paths = ["/echo?n=0", "/missing", "/echo?n=2"]
    async with session_for(api_server, raise_for_status=True) as session:
        first, missing, last = await many.fetch_all(session, paths, limit=2)
    assert (first["args"], last["args"]) == ({"n": "0"}, {"n": "2"})
    assert isinstance(missing, aiohttp.ClientResponseError)
    assert missing.status == 404


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is new in 3.11")
@pytest.mark.asyncio
async def test_task_group_returns_every_result_in_order(import_snippet, api_server):
    many = import_snippet(MANY)
    paths = [f"/echo?n={n}" for n in range(20)]
    async with session_for(api_server, raise_for_status=True) as session:
        results = await many.fetch_all_or_nothing(session, paths, limit=5)
    assert [result["args"]["n"] for result in results] == [str(n) for n in range(20)]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is new in 3.11")
@pytest.mark.asyncio
async def test_task_group_cancels_the_rest_on_the_first_error(
    import_snippet, api_server
):
    many = import_snippet(MANY)
    # The slow requests would take 5 s: the 404 cancels them long before.
    paths = ["/delay?seconds=5", "/missing", "/delay?seconds=5"]
    async with session_for(api_server, raise_for_status=True) as session:
        with pytest.raises(ExceptionGroup) as group_info:  # noqa: F821 (3.11+)
            await many.fetch_all_or_nothing(session, paths, limit=3)
    [error] = group_info.value.exceptions
    assert isinstance(error, aiohttp.ClientResponseError)
    assert error.status == 404


@pytest.mark.asyncio
async def test_time_queued_for_a_connection_counts_against_total(api_server):
    # Without a semaphore, requests beyond the connector's limit wait inside
    # the request, on the clock of its total timeout. One connection, three
    # requests of 0.15 s: the later ones cannot finish within 0.25 s.
    connector = aiohttp.TCPConnector(limit=1)
    timeout = aiohttp.ClientTimeout(total=0.25)
    async with session_for(api_server, connector=connector, timeout=timeout) as s:

        async def fetch():
            async with s.get("/delay?seconds=0.15") as response:
                return await response.json()

        results = await asyncio.gather(
            *(fetch() for _ in range(3)), return_exceptions=True
        )
    assert any(isinstance(result, asyncio.TimeoutError) for result in results)


# --- Against nginx -----------------------------------------------------------


def run_main(import_snippet, monkeypatch, capsys, program: str, *args: str):
    """Run a program's main() as a reader would: (what it printed, its exit)."""
    module = import_snippet(program)
    monkeypatch.setattr(sys, "argv", [program, *args])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    return capsys.readouterr().out.splitlines(), exit_info.value.code


def nginx_url(nginx, scheme="http", host="127.0.0.1") -> str:
    port = nginx.values["tls_port"] if scheme == "https" else nginx.port
    return f"{scheme}://{host}:{port}"


@pytest.mark.interop(GET_POST, "nginx", "GET of JSON; a 405 page said in one line")
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_get_post_against_nginx(nginx_api, import_snippet, monkeypatch, capsys, host):
    url = nginx_url(nginx_api, host=host)
    printed, exit_message = run_main(
        import_snippet, monkeypatch, capsys, GET_POST, "--url", url
    )
    # nginx echoes n only: the query's other parameters are not in its answer.
    assert printed == ["{'n': ''}"]
    assert exit_message == f"{url}: the server answered 405 Not Allowed"


@pytest.mark.interop(GET_POST, "nginx", "HTTPS: trusted with --cafile, refused without")
def test_get_post_against_nginx_over_https(
    nginx_api, local_certificates, import_snippet, monkeypatch, capsys
):
    url = nginx_url(nginx_api, "https")
    printed, refused = run_main(
        import_snippet, monkeypatch, capsys, GET_POST, "--url", url
    )
    assert printed == []
    assert refused == (
        f"{url}: certificate not trusted (unable to get local issuer "
        "certificate): see --cafile"
    )
    trusted = ("--url", url, "--cafile", str(local_certificates.ca_file))
    printed, exit_message = run_main(
        import_snippet, monkeypatch, capsys, GET_POST, *trusted
    )
    assert printed == ["{'n': ''}"]
    assert exit_message == f"{url}: the server answered 405 Not Allowed"


@pytest.mark.interop(MANY, "nginx", "100 requests at once, answers in order")
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_many_requests_against_nginx(nginx_api, run_example, host):
    run_example(MANY, "--url", nginx_url(nginx_api, host=host))


@pytest.mark.interop(ERRORS, "nginx", "an HTML 404 page: its status, not a JSON error")
def test_client_errors_against_nginx(nginx_api, import_snippet, monkeypatch, capsys):
    module = import_snippet(ERRORS)
    monkeypatch.setattr(sys, "argv", [ERRORS, "--url", nginx_url(nginx_api)])
    module.main()  # no exit: every request failed as expected
    lines = capsys.readouterr().out.splitlines()
    # nginx has no such page, nor /upload, nor /delay (answered at once).
    assert_described(lines[:4], "ClientResponseError: 404 Not Found")
    assert lines[4:] == ["404 Not Found"]  # the HTML page's status


def assert_described(lines: list[str], expected: str) -> None:
    """client_errors.py's four descriptions, all `expected`.

    The last two requests have timeouts of 0.2 s: on a very busy machine, a
    fast answer may still come too late for them.
    """
    assert lines[:2] == [expected, expected]
    assert set(lines[2:4]) <= {
        expected,
        "TimeoutError after the total timeout",
        "SocketTimeoutError: Timeout on reading data from socket",
    }
    assert len(lines) == 4


@pytest.mark.interop(
    ERRORS, "nginx", "a server that hangs up, and an untrusted certificate"
)
def test_client_errors_against_nginx_hanging_up_or_untrusted(
    nginx_api, import_snippet, monkeypatch, capsys
):
    closing = f"http://127.0.0.1:{nginx_api.values['closing_port']}"
    printed, exit_message = run_main(
        import_snippet, monkeypatch, capsys, ERRORS, "--url", closing
    )
    assert_described(printed, "ServerDisconnectedError: Server disconnected")
    assert exit_message == f"{closing}: ServerDisconnectedError: Server disconnected"
    https = nginx_url(nginx_api, "https")
    printed, exit_message = run_main(
        import_snippet, monkeypatch, capsys, ERRORS, "--url", https
    )
    assert_described(
        printed,
        "ClientConnectorCertificateError: unable to get local issuer certificate",
    )
    assert exit_message.startswith(f"Cannot connect to {https}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in exit_message
