"""GET and POST with aiohttp: one session, a timeout, and errors raised.

Start the site's API server (http_examples/api_server.py) first, then:

    python aiohttp_get_post.py

or name the server by its URL, and trust a local certificate authority:

    python aiohttp_get_post.py --url https://127.0.0.1:8443 \\
        --cafile certs/ca.pem
"""

import argparse
import asyncio
import ssl
import sys

import aiohttp
from yarl import URL

HOST = "127.0.0.1"
PORT = 8080
# total: the whole request, from waiting for a connection to the last byte.
# connect: getting a connection, from the pool or a new one.
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


# --8<-- [start:session]
def make_session(
    base_url: URL,
    cafile: str | None = None,
) -> aiohttp.ClientSession:
    """The application's one session: it keeps connections open for reuse."""
    # The authorities to trust for HTTPS: the system's, or those in cafile.
    trusted = ssl.create_default_context(cafile=cafile)
    return aiohttp.ClientSession(
        base_url=base_url,  # requests name a path: session.get("/echo")
        timeout=TIMEOUT,  # every request gets one, as in requests' timeout=
        raise_for_status=True,  # a 4xx or 5xx raises ClientResponseError
        connector=aiohttp.TCPConnector(ssl=trusted),
    )


# --8<-- [end:session]
# --8<-- [start:requests]
async def search(session: aiohttp.ClientSession, words: str, page: int):
    # params= encodes the query string: /echo?q=async+networking&page=2
    query = {"q": words, "page": page}
    async with session.get("/echo", params=query) as response:
        return part(await response.json(), "args")


async def post_form(session: aiohttp.ClientSession, fields: dict):
    # data= with a dict sends application/x-www-form-urlencoded, as a form.
    async with session.post("/echo", data=fields) as response:
        return part(await response.json(), "form")


async def post_json(session: aiohttp.ClientSession, document: object):
    # json= sends the document as JSON, with Content-Type: application/json.
    async with session.post("/echo", json=document) as response:
        return part(await response.json(), "json")


class OtherShape(ValueError):
    """The answer is JSON, but not what this program expects."""


def part(answer: object, key: str) -> object:
    """answer[key], from another server too: it may answer something else."""
    if not isinstance(answer, dict) or key not in answer:
        raise OtherShape(f"no {key!r} in {str(answer)[:60]}")
    return answer[key]


# --8<-- [end:requests]
# --8<-- [start:run]
async def run(base_url: URL, cafile: str | None = None) -> None:
    # async with closes the session, and its connections, whatever happens.
    async with make_session(base_url, cafile) as session:
        print(await search(session, "async networking", page=2))
        #> {'q': 'async networking', 'page': '2'}
        print(await post_form(session, {"name": "Ada", "language": "Python"}))
        #> {'name': 'Ada', 'language': 'Python'}
        print(await post_json(session, {"name": "Ada", "tags": ["Python"]}))
        #> {'name': 'Ada', 'tags': ['Python']}


# --8<-- [end:run]
# --8<-- [start:failures]
def failure(error: Exception) -> str:
    """One line that names why a request failed."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        reason = error.certificate_error.verify_message
        return f"certificate not trusted ({reason}): see --cafile"
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return "connection refused: is the server running?"
        return f"cannot connect: {error.os_error}"  # no such host...
    if isinstance(error, aiohttp.ContentTypeError):
        return f"the answer is not JSON but {error.headers['Content-Type']}"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"the server answered {error.status} {error.message}"
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return f"no connection within {TIMEOUT.connect} s"
    if isinstance(error, asyncio.TimeoutError):  # a read, or the total
        return f"no complete answer within {TIMEOUT.total} s"
    if isinstance(error, ValueError):  # not valid JSON, or OtherShape
        return f"an unexpected answer: {error}"
    return f"{type(error).__name__}: {error}"  # the connection was lost...


# --8<-- [end:failures]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL: not host and port")
    parser.add_argument("--cafile", help="trust the authorities in this file")
    args = parser.parse_args()

    # URL.build puts an IPv6 address in brackets: http://[::1]:8080
    base_url = (
        URL(args.url)
        if args.url
        else URL.build(scheme="http", host=args.host, port=args.port)
    )
    try:
        asyncio.run(run(base_url, args.cafile))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        sys.exit(f"{base_url}: {failure(error)}")


if __name__ == "__main__":
    main()
