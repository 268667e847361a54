"""What aiohttp raises when a request fails, and how to tell the cases apart.

Start the site's API server (http_examples/api_server.py) first, then:

    python client_errors.py

or aim it at another server with --url.
"""

import argparse
import asyncio
import sys

import aiohttp
from yarl import URL

HOST = "127.0.0.1"
PORT = 8080
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


# --8<-- [start:describe]
async def describe_failure(
    session: aiohttp.ClientSession,
    path: str,
    **kwargs,
) -> str:
    """Make a request that is expected to fail; say how it failed."""
    try:
        async with session.get(path, **kwargs) as response:
            response.raise_for_status()
            return f"{response.status}: no error"
    except aiohttp.ClientResponseError as error:
        # The server answered with a 4xx or 5xx status.
        return f"{type(error).__name__}: {error.status} {error.message}"
    except aiohttp.ServerTimeoutError as error:
        # The connect or sock_read timeout ran out. ServerTimeoutError is also
        # a TimeoutError: this clause must come before the next one.
        return f"{type(error).__name__}: {error}"
    except asyncio.TimeoutError as error:  # TimeoutError on 3.11+
        # The total timeout ran out: aiohttp raises TimeoutError itself.
        return f"{type(error).__name__} after the total timeout"
    except aiohttp.ClientConnectorCertificateError as error:
        # TLS: the server's certificate is not signed by an authority the
        # client trusts. Not "unreachable": it answered, and was refused.
        reason = error.certificate_error.verify_message
        return f"{type(error).__name__}: {reason}"
    except aiohttp.ClientError as error:
        # No answer at all: refused, reset, closed before the response...
        return f"{type(error).__name__}: {error}"


# --8<-- [end:describe]
# --8<-- [start:error_body]
async def post_with_error_details(
    session: aiohttp.ClientSession, body: bytes
) -> object:
    """POST a JSON note; on a 4xx or 5xx status, raise with the reason."""
    headers = {"Content-Type": "application/json"}
    async with session.post("/notes", data=body, headers=headers) as response:
        if response.status >= 400:
            # raise_for_status() would drop the body, where this API explains
            # what went wrong: read it first, keep it in the exception.
            raise aiohttp.ClientResponseError(
                response.request_info,
                response.history,
                status=response.status,
                message=await reason_for(response),
            )
        return await response.json()


async def reason_for(response: aiohttp.ClientResponse) -> str:
    """The API's {"error": "..."}; from another server, the status's reason.

    An error from nginx, a proxy or a load balancer is often an HTML page:
    reading it as JSON would fail, and hide the status behind that failure.
    """
    if response.content_type == "application/json":
        try:
            details = await response.json()
        except ValueError:  # JSON in name only
            details = None
        if isinstance(details, dict) and isinstance(details.get("error"), str):
            return details["error"]
    return response.reason or "no reason given"


# --8<-- [end:error_body]
async def run(base_url: URL) -> None:
    slow = aiohttp.ClientTimeout(total=0.2)
    slow_reads = aiohttp.ClientTimeout(sock_read=0.2)
    session = aiohttp.ClientSession(base_url=base_url, timeout=TIMEOUT)
    async with session:
        # Four requests at once; gather() returns what each said, in order.
        descriptions = await asyncio.gather(
            describe_failure(session, "/no/such/page"),
            describe_failure(session, "/upload"),  # POST only
            describe_failure(session, "/delay?seconds=1", timeout=slow),
            describe_failure(session, "/delay?seconds=1", timeout=slow_reads),
        )
        for description in descriptions:
            print(description)
            #> ClientResponseError: 404 Not Found
            #> ClientResponseError: 405 Method Not Allowed
            #> TimeoutError after the total timeout
            #> SocketTimeoutError: Timeout on reading data from socket
        try:
            # A form's encoding, sent as JSON: a mistake a client can make.
            await post_with_error_details(session, b"text=Ada")
        except aiohttp.ClientResponseError as error:
            print(f"{error.status} {error.message}")
            #> 400 body is not valid JSON: Expecting value


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
    try:
        asyncio.run(run(base_url))
    except aiohttp.ClientConnectorError as error:
        # Refused, no such host, an untrusted certificate: error.os_error
        # holds the cause (the requests above were only described).
        sys.exit(f"Cannot connect to {base_url}: {error.os_error.strerror}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        sys.exit(f"{base_url}: {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
