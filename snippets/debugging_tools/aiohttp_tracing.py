"""GET a URL twice with aiohttp, printing each step that its tracing reports.

python3 aiohttp_tracing.py --url http://127.0.0.1:8080/
"""

import argparse
import asyncio
import sys

import aiohttp

URL = "http://127.0.0.1:8080/"  # api_server.py's
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


# --8<-- [start:tracing]
async def on_request_start(session, context, params) -> None:
    print(f"request: {params.method} {params.url}")


async def on_connection_create_end(session, context, params) -> None:
    print("  a new connection")


async def on_connection_reuseconn(session, context, params) -> None:
    print("  an open connection, reused")


async def on_request_end(session, context, params) -> None:
    print(f"  answer: {params.response.status} {params.response.reason}")


def tracing() -> aiohttp.TraceConfig:
    """aiohttp calls these coroutines at each step of every request."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    trace.on_connection_create_end.append(on_connection_create_end)
    trace.on_connection_reuseconn.append(on_connection_reuseconn)
    trace.on_request_end.append(on_request_end)
    return trace


# --8<-- [end:tracing]
async def get_twice(url: str) -> str:
    async with aiohttp.ClientSession(
        timeout=TIMEOUT, trace_configs=[tracing()]
    ) as session:
        for _ in range(2):  # the second GET reuses the connection
            async with session.get(url) as response:
                text = await response.text()
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()

    try:
        text = asyncio.run(get_twice(args.url))
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11 on
        sys.exit(f"{args.url} did not answer in time")
    except aiohttp.ClientError as error:
        sys.exit(f"GET {args.url} failed: {error}")
    print(text, end="")


if __name__ == "__main__":
    main()
