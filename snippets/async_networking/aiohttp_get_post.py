"""GET and POST with aiohttp: one session, a timeout, and errors raised.

Start http_api_server.py first, then:

    python aiohttp_get_post.py
"""

import argparse
import asyncio
import sys

import aiohttp
from yarl import URL

HOST = "127.0.0.1"
PORT = 8080
# total: the whole request, from waiting for a connection to the last byte.
# connect: getting a connection, from the pool or a new one.
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


# --8<-- [start:session]
def make_session(base_url: URL) -> aiohttp.ClientSession:
    """The application's one session: it keeps connections open for reuse."""
    return aiohttp.ClientSession(
        base_url=base_url,  # requests name a path: session.get("/get")
        timeout=TIMEOUT,  # every request gets a timeout, as in requests' timeout=
        raise_for_status=True,  # a 4xx or 5xx status raises ClientResponseError
    )


# --8<-- [end:session]
# --8<-- [start:requests]
async def search(session: aiohttp.ClientSession, words: str, page: int) -> dict:
    # params= encodes the query string: /get?q=async+networking&page=2
    async with session.get("/get", params={"q": words, "page": page}) as response:
        return await response.json()


async def post_form(session: aiohttp.ClientSession, fields: dict) -> dict:
    # data= with a dict sends application/x-www-form-urlencoded, as an HTML form.
    async with session.post("/post", data=fields) as response:
        return await response.json()


async def post_json(session: aiohttp.ClientSession, document: object) -> dict:
    # json= sends the document as JSON, with Content-Type: application/json.
    async with session.post("/post", json=document) as response:
        return await response.json()


# --8<-- [end:requests]
async def run(base_url: URL) -> None:
    # async with closes the session, and its connections, whatever happens.
    async with make_session(base_url) as session:
        print(await search(session, "async networking", page=2))
        #> {'args': {'q': 'async networking', 'page': '2'}}
        print(await post_form(session, {"name": "Ada", "language": "Python"}))
        #> {'form': {'name': 'Ada', 'language': 'Python'}}
        print(await post_json(session, {"name": "Ada", "languages": ["Python"]}))
        #> {'json': {'name': 'Ada', 'languages': ['Python']}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    # URL.build puts an IPv6 address in brackets: http://[::1]:8080
    base_url = URL.build(scheme="http", host=args.host, port=args.port)
    try:
        asyncio.run(run(base_url))
    except aiohttp.ClientConnectorError:
        sys.exit(f"No server at {base_url}: start http_api_server.py")


if __name__ == "__main__":
    main()
