"""Many requests at once with aiohttp, at most LIMIT of them in flight.

Start the site's API server (http_examples/api_server.py) first, then:

    python many_requests.py

or aim it at another server with --url.
"""

import argparse
import asyncio

import aiohttp
from yarl import URL

HOST = "127.0.0.1"
PORT = 8080
LIMIT = 10  # requests in flight at once: be gentle with the server
TIMEOUT = aiohttp.ClientTimeout(total=10)  # per request, from when it starts


# --8<-- [start:fetch]
async def fetch_json(
    session: aiohttp.ClientSession, path: str, slots: asyncio.Semaphore
) -> dict:
    # Wait for a free slot *before* the request starts: time spent queueing
    # here does not count against the request's timeout.
    async with slots, session.get(path) as response:
        return await response.json()


# --8<-- [end:fetch]
# --8<-- [start:gather]
async def fetch_all(
    session: aiohttp.ClientSession, paths: list[str], limit: int
) -> list[dict | BaseException]:
    """Fetch every path, `limit` at a time; results in the order of `paths`."""
    slots = asyncio.Semaphore(limit)
    # return_exceptions=True: a failed request gives its exception as its
    # result, and the other requests go on. Without it, gather() raises the
    # first error and leaves the other requests running, unwatched.
    return await asyncio.gather(
        *(fetch_json(session, path, slots) for path in paths),
        return_exceptions=True,
    )


# --8<-- [end:gather]
# --8<-- [start:task_group]
async def fetch_all_or_nothing(
    session: aiohttp.ClientSession, paths: list[str], limit: int
) -> list[dict]:
    """Fetch every path, `limit` at a time; on an error, cancel the rest.

    Python 3.11 and later: a TaskGroup waits for all its tasks, and if one
    fails, cancels the others and raises an ExceptionGroup of the errors.
    """
    slots = asyncio.Semaphore(limit)
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(fetch_json(session, path, slots))
            for path in paths  # one task per path, all started at once
        ]
    return [task.result() for task in tasks]


# --8<-- [end:task_group]
def report(results: list[dict | BaseException]) -> None:
    failed = [r for r in results if isinstance(r, BaseException)]
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    print(f"{len(succeeded)} succeeded, {len(failed)} failed")
    #> 100 succeeded, 0 failed
    print([echoed_n(result) for result in succeeded[:5]])  # in order
    #> ['0', '1', '2', '3', '4']
    for error in failed[:3]:  # the first few errors say what went wrong
        print(f"Failed: {type(error).__name__} {error}".rstrip())


def echoed_n(answer: object) -> object:
    """The n that /echo sent back; None from a server of another shape."""
    args = answer.get("args") if isinstance(answer, dict) else None
    return args.get("n") if isinstance(args, dict) else None


async def run(base_url: URL) -> None:
    paths = [f"/echo?n={n}" for n in range(100)]
    async with aiohttp.ClientSession(
        base_url=base_url, timeout=TIMEOUT, raise_for_status=True
    ) as session:
        results = await fetch_all(session, paths, LIMIT)
    report(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--url", help="the server's URL: not host and port")
    args = parser.parse_args()

    base_url = (
        URL(args.url)
        if args.url
        else URL.build(scheme="http", host=args.host, port=args.port)
    )
    asyncio.run(run(base_url))


if __name__ == "__main__":
    main()
