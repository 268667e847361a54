"""Tests of the page "aiohttp server" (docs/async/aiohttp-server.md).

The routes and the middleware are tested in this process with aiohttp's test
utilities (fast, and a handler can be added); the limits, on the real server.
"""

import logging

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

SERVER = "async_networking/http_api_server.py"


@pytest.fixture
def api(import_snippet):
    return import_snippet(SERVER)


@pytest_asyncio.fixture
async def client(api):
    app = api.make_app()

    async def crash(request):
        raise RuntimeError("a bug in a handler")

    async def moved(request):
        raise web.HTTPFound("/get")

    app.router.add_get("/crash", crash)
    app.router.add_get("/moved", moved)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.asyncio
async def test_get_returns_the_query_parameters(client):
    response = await client.get("/get", params={"q": "async", "page": "2"})
    assert response.status == 200
    assert await response.json() == {"args": {"q": "async", "page": "2"}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"json": {"name": "Ada", "tags": [1, 2]}},
            {"json": {"name": "Ada", "tags": [1, 2]}},
        ),
        ({"data": {"name": "Ada"}}, {"form": {"name": "Ada"}}),
    ],
    ids=["json", "form"],
)
async def test_post_returns_what_was_posted(client, body, expected):
    response = await client.post("/post", **body)
    assert response.status == 200
    assert await response.json() == expected


@pytest.mark.asyncio
async def test_delay_waits_then_answers(client):
    response = await client.get("/delay/0.01")
    assert await response.json() == {"delay": 0.01}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "options", "status", "error"),
    [
        ("GET", "/no/such/page", {}, 404, "404: Not Found"),
        ("POST", "/get", {}, 405, "405: Method Not Allowed"),
        ("GET", "/delay/11", {}, 400, "At most 10.0 seconds"),
        ("POST", "/post", {"data": b"text"}, 415, "Send a form or JSON"),
        (
            "POST",
            "/post",
            {"data": b"{'a': 1}", "headers": {"Content-Type": "application/json"}},
            400,
            "Invalid JSON: Expecting property name enclosed in double quotes",
        ),
    ],
    ids=["not-found", "wrong-method", "too-long", "not-json-or-form", "bad-json"],
)
async def test_errors_come_back_as_json(client, method, path, options, status, error):
    response = await client.request(method, path, **options)
    assert response.status == status
    assert await response.json() == {"error": error, "status": status}


@pytest.mark.asyncio
async def test_a_bug_gives_500_without_details_and_is_logged(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = await client.get("/crash")
    assert response.status == 500
    assert await response.json() == {"error": "Internal Server Error", "status": 500}
    [record] = [r for r in caplog.records if r.name == "http_api_server"]
    assert record.getMessage() == "Error in GET /crash"
    assert "a bug in a handler" in str(record.exc_info[1])


@pytest.mark.asyncio
async def test_redirects_are_left_alone(client):
    response = await client.get("/moved", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/get"


# --- On the real server ------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("extra", [1, 512 * 1024], ids=["just-over", "far-over"])
@pytest.mark.parametrize("kind", ["json", "form"])
async def test_a_body_over_the_limit_gets_413_and_server_goes_on(
    api_server, api, kind, extra
):
    size = api.MAX_BODY_SIZE + extra
    body = {"json": "x" * size} if kind == "json" else {"data": {"x": "x" * size}}
    url = f"http://{api_server.host}:{api_server.port}"
    async with aiohttp.ClientSession(url) as session:
        async with session.post("/post", **body) as response:
            assert response.status == 413
            assert await response.json() == {
                "error": f"Maximum request body size {api.MAX_BODY_SIZE} exceeded.",
                "status": 413,
            }
        async with session.post("/post", json={"next": 1}) as response:
            assert await response.json() == {"json": {"next": 1}}
