"""Fetch a JSON document with aiohttp, and say in one line what went wrong.

The code that test_async_json_client.py tests. Against any JSON server:

    python3 async_json_client.py --url http://127.0.0.1:8080/hello
"""

import argparse
import asyncio
import json
import sys

import aiohttp

URL = "http://127.0.0.1:8080/"  # api_server.py's
TIMEOUT = 10.0  # seconds for the whole request
MAX_SIZE = 1024 * 1024  # bytes of JSON at most


class FetchError(Exception):
    """Why there is no JSON, in one line."""


# --8<-- [start:fetch]
async def fetch_json(
    session: aiohttp.ClientSession,
    url: str,
    timeout: float = TIMEOUT,
) -> object:
    """GET the URL and return its JSON, or raise FetchError."""
    deadline = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.get(url, timeout=deadline) as response:
            if response.status != 200:  # 404 Not Found, say
                status = f"{response.status} {response.reason}"
                raise FetchError(f"{url} answered {status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_SIZE:
                    raise FetchError(f"{url} sent over {MAX_SIZE} bytes")
    except aiohttp.ClientConnectorError:
        raise FetchError(f"No server at {url}") from None
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11 on
        silent = f"{url} did not answer within {timeout} s"
        raise FetchError(silent) from None
    except aiohttp.ServerDisconnectedError:
        raise FetchError(f"{url} hung up without answering") from None
    except aiohttp.ClientResponseError:  # a status line that is not HTTP
        raise FetchError(f"{url} did not answer in HTTP") from None
    except aiohttp.ClientPayloadError:
        raise FetchError(f"{url} cut its answer short") from None
    except aiohttp.ClientOSError as error:  # a reset, say
        raise FetchError(f"{url} failed: {error.strerror}") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError(f"{url} did not answer in JSON") from None


# --8<-- [end:fetch]
async def fetch(url: str) -> object:
    async with aiohttp.ClientSession() as session:
        return await fetch_json(session, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()

    try:
        document = asyncio.run(fetch(args.url))
    except FetchError as error:
        sys.exit(str(error))
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
