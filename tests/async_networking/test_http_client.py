"""Tests of the page "aiohttp client" (docs/async/aiohttp-client.md)."""

import asyncio
import sys

import aiohttp
import pytest
from yarl import URL

GET_POST = "async_networking/aiohttp_get_post.py"
MANY = "async_networking/many_requests.py"
ERRORS = "async_networking/client_errors.py"


def address(server) -> list[str]:
    return ["--host", server.host, "--port", str(server.port)]


def session_for(server, **options) -> aiohttp.ClientSession:
    url = URL.build(scheme="http", host=server.host, port=server.port)
    return aiohttp.ClientSession(base_url=url, **options)


@pytest.mark.parametrize("program", [GET_POST, MANY, ERRORS])
def test_program_prints_what_the_page_shows(api_server, run_example, program):
    run_example(program, *address(api_server))


def test_get_post_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(GET_POST, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at http://127.0.0.1:{free_port}: start http_api_server.py"
    )


def test_errors_program_shows_why_it_cannot_connect(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(ERRORS, "--port", str(free_port))
    assert exit_info.value.code == (
        f"Cannot connect to http://127.0.0.1:{free_port}: "
        f"Connect call failed ('127.0.0.1', {free_port})"
    )


@pytest.mark.asyncio
async def test_a_refused_connection_is_described(import_snippet, free_port):
    errors = import_snippet(ERRORS)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{free_port}") as session:
        description = await errors.describe_failure(session, "/get")
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
        assert await errors.describe_failure(session, "/get") == "200: no error"
        document = await errors.post_with_error_details(session, b'{"ok": true}')
    assert document == {"json": {"ok": True}}


def test_the_report_shows_the_first_errors(import_snippet, capsys):
    many = import_snippet(MANY)
    many.report([{"args": {"n": "0"}}, TimeoutError(), {"args": {"n": "2"}}])
    assert capsys.readouterr().out.splitlines() == [
        "2 succeeded, 1 failed",
        "[0, 2]",
        "Failed: TimeoutError()",
    ]


@pytest.mark.asyncio
async def test_one_failed_request_leaves_the_others_be(import_snippet, api_server):
    many = import_snippet(MANY)
    paths = ["/get?n=0", "/missing", "/get?n=2"]
    async with session_for(api_server, raise_for_status=True) as session:
        first, missing, last = await many.fetch_all(session, paths, limit=2)
    assert (first, last) == ({"args": {"n": "0"}}, {"args": {"n": "2"}})
    assert isinstance(missing, aiohttp.ClientResponseError)
    assert missing.status == 404


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is new in 3.11")
@pytest.mark.asyncio
async def test_task_group_returns_every_result_in_order(import_snippet, api_server):
    many = import_snippet(MANY)
    paths = [f"/get?n={n}" for n in range(20)]
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
    paths = ["/delay/5", "/missing", "/delay/5"]
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
            async with s.get("/delay/0.15") as response:
                return await response.json()

        results = await asyncio.gather(
            *(fetch() for _ in range(3)), return_exceptions=True
        )
    assert any(isinstance(result, asyncio.TimeoutError) for result in results)
