"""What requests raises when a call fails, and one line that names each cause.

Start api_server.py first, then:

    python3 requests_errors.py
    python3 requests_errors.py --url http://[::1]:8080
"""

import argparse
import socket
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import requests

BASE_URL = "http://127.0.0.1:8080"
TIMEOUT = (3.05, 10)  # (connect, read) seconds


def get_json(url: str, timeout: tuple[float, float] = TIMEOUT) -> object:
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.json()


# --8<-- [start:failure]
def first_cause(error: BaseException) -> BaseException:
    """The error that started it all: requests wraps urllib3's error, which
    wraps the socket's or the TLS library's."""
    while error.__cause__ or error.__context__:
        error = error.__cause__ or error.__context__
    return error


def http_status(response: requests.Response) -> str:
    """The status, and this API's reason if the body gives one in JSON."""
    status = f"HTTP {response.status_code} {response.reason}"
    try:
        return f"{status}: {response.json()['error']}"
    except (ValueError, KeyError, TypeError):  # another server's error page
        return f"{status} ({response.headers.get('Content-Type', 'no type')})"


def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, requests.HTTPError):  # the server answered: no
        return http_status(error.response)
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON: is this the right server?"
    cause = first_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {cause.verify_message}"
    if isinstance(error, requests.ConnectTimeout):
        return "no connection in time: the server is overloaded or filtered"
    if isinstance(error, requests.Timeout) or isinstance(cause, TimeoutError):
        return "no answer in time: a slow server, try again later"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: is the server running?"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"  # a reset, a TLS failure...


# --8<-- [end:failure]
# --8<-- [start:report]
def report(
    label: str,
    url: str,
    timeout: tuple[float, float] = TIMEOUT,
) -> None:
    """GET `url` as JSON and print how it went, in one line."""
    try:
        get_json(url, timeout)
    except requests.RequestException as error:
        print(f"{label}: {failure(error)}")
        #> A missing note: HTTP 404 Not Found: no note 0
        #> A slow answer: no answer in time: a slow server, try again later
        #> Not JSON: the answer is not JSON: is this the right server?
        #> No server: connection refused: is the server running?
    else:
        print(f"{label}: it worked")


# --8<-- [end:report]
@contextmanager
def port_without_server() -> Iterator[int]:
    """A loopback port held, not listened on: connecting there is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "How requests calls fail.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the API's base URL")
    base_url = parser.parse_args().url.rstrip("/")

    try:
        get_json(f"{base_url}/", timeout=(3.05, 5))
    except requests.RequestException as error:
        sys.exit(f"{base_url}: {failure(error)}")
    report("A missing note", f"{base_url}/notes/0")
    # The server takes 0.5 s; we allow 0.1 s for the answer to start.
    slow = f"{base_url}/delay?seconds=0.5"
    report("A slow answer", slow, timeout=(3.05, 0.1))
    report("Not JSON", f"{base_url}/download?size=10")
    with port_without_server() as port:
        report("No server", f"http://127.0.0.1:{port}/")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
