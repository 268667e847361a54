"""Tests of the page "aiohttp server" (docs/async/aiohttp-server.md).

The page walks through api_server.py. Its middlewares and helpers are tested
here, in this process, with aiohttp's test utilities (fast, and a handler can
be added); the real server, its limits and the hostile clients it survives,
in tests/http_examples/test_api_server.py.
"""

import logging

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

SERVER = "http_examples/api_server.py"


@pytest.fixture
def api(import_snippet):
    return import_snippet(SERVER)


@pytest_asyncio.fixture
async def client(api):
    app = api.make_app()

    async def crash(request):
        raise RuntimeError("a bug in a handler")

    async def moved(request):
        raise web.HTTPFound("/echo")

    app.router.add_get("/crash", crash)
    app.router.add_get("/moved", moved)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.asyncio
async def test_echo_returns_the_query_the_form_and_the_json(client):
    response = await client.get("/echo", params={"q": "async", "page": "2"})
    assert (await response.json())["args"] == {"q": "async", "page": "2"}
    response = await client.post("/echo", data={"name": "Ada"})
    assert (await response.json())["form"] == {"name": "Ada"}
    response = await client.post("/echo", json={"tags": [1, 2]})
    assert (await response.json())["json"] == {"tags": [1, 2]}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "options", "status", "error"),
    [
        ("GET", "/no/such/page", {}, 404, "404: Not Found"),
        ("POST", "/delay", {}, 405, "405: Method Not Allowed"),
        ("GET", "/delay?seconds=11", {}, 400, "seconds must be between 0 and 10.0"),
        ("POST", "/notes", {"data": b"text"}, 415, "send application/json"),
        (
            "POST",
            "/notes",
            {"data": b"{'a': 1}", "headers": {"Content-Type": "application/json"}},
            400,
            "body is not valid JSON: Expecting property name enclosed in double "
            "quotes",
        ),
        ("GET", "/", {"headers": {"Host": "evil.example"}}, 421,
         "'evil.example' is not served here"),
    ],
    ids=["not-found", "wrong-method", "too-long", "not-json", "bad-json", "host"],
)  # fmt: skip
async def test_errors_come_back_as_json(client, method, path, options, status, error):
    response = await client.request(method, path, **options)
    assert response.status == status
    assert await response.json() == {"error": error}


@pytest.mark.asyncio
async def test_a_bug_gives_500_without_details_and_is_logged(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = await client.get("/crash")
    assert response.status == 500
    assert await response.json() == {"error": "Internal Server Error"}
    [record] = [r for r in caplog.records if r.name == "api_server"]
    assert record.getMessage() == "Bug in GET /crash"
    assert "a bug in a handler" in str(record.exc_info[1])


@pytest.mark.asyncio
async def test_redirects_are_left_alone(client):
    response = await client.get("/moved", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/echo"


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("localhost:8080", "localhost"),
        ("LocalHost", "localhost"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("", ""),
    ],
)
def test_the_name_in_a_host_header(api, host, name):
    assert api.name_in(host) == name


def test_nesting_is_measured_without_recursion(api):
    deep = []
    for _ in range(10_000):  # far deeper than Python's recursion limit
        deep = [deep]
    assert api.nesting(deep) == 10_001
    assert api.nesting({"a": [1, {"b": []}], "c": "text"}) == 4
    assert api.nesting("text") == 0


def test_the_note_store_counts_what_it_holds(api):
    notes = api.NoteStore(max_notes=2, max_size=100)
    assert notes.add({"text": "one"})["id"] == 1
    assert notes.size == len(b'{"text": "one"}')
    with pytest.raises(web.HTTPInsufficientStorage):
        notes.add({"text": "x" * 100})  # over the size
    notes.add({"text": "two"})
    with pytest.raises(web.HTTPInsufficientStorage):
        notes.add({"text": "three"})  # over the count
    assert [note["text"] for note in notes.notes.values()] == ["one", "two"]
