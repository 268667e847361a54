"""What requests raises when a call fails, and how to tell the failures apart.

Start api_server.py first, then:

    python requests_errors.py
"""

import argparse
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import requests

BASE_URL = "http://127.0.0.1:8080"
TIMEOUT = (3.05, 10)  # (connect, read) seconds


def get_json(url: str, timeout: tuple[float, float] = TIMEOUT) -> object:
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.json()


# --8<-- [start:explain]
def causes(error: BaseException) -> list[BaseException]:
    """The error, then the errors it was raised from, down to the first one."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def explain(error: requests.RequestException) -> str:
    """What failed, in one line without the host and port that str(error) repeats."""
    if isinstance(error, requests.HTTPError):
        response = error.response  # the server answered: its answer says why
        return f"{response.status_code} {response.reason} {response.text}"
    # requests wraps urllib3's error, which wraps the socket's: the first
    # error of the chain is the one that says what happened.
    first = causes(error)[-1]
    reason = getattr(first, "strerror", None) or str(first)
    return f"{type(error).__name__} from {type(first).__name__}: {reason}"


# --8<-- [end:explain]
# --8<-- [start:handle]
def report(label: str, url: str, timeout: tuple[float, float] = TIMEOUT) -> None:
    """GET `url` and print how it failed: each kind of failure has its own fix."""
    try:
        get_json(url, timeout)
    except requests.HTTPError as error:
        print(f"{label}: the server refused the request")
        #> A missing note: the server refused the request
        print(f"  {explain(error)}")
        #>   404 Not Found {"error": "no note 0"}
    # Timeout before ConnectionError: ConnectTimeout is both.
    except requests.Timeout as error:
        print(f"{label}: no answer in time, perhaps try again later")
        #> A slow answer: no answer in time, perhaps try again later
        print(f"  {explain(error)}")
        #>   ReadTimeout from TimeoutError: timed out
    except requests.ConnectionError as error:
        print(f"{label}: unreachable, is the server running?")
        #> No server: unreachable, is the server running?
        print(f"  {explain(error)}")
        #>   ConnectionError from ConnectionRefusedError: Connection refused
    else:
        print(f"{label}: it worked")


# --8<-- [end:handle]
@contextmanager
def port_without_server() -> Iterator[int]:
    """A loopback port held, not listened on: connecting there is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=BASE_URL, help="the API server's base URL")
    base_url = parser.parse_args().url

    report("A missing note", f"{base_url}/notes/0")
    # The server takes 0.5 s; we allow 0.1 s for the answer to start.
    report("A slow answer", f"{base_url}/delay?seconds=0.5", timeout=(3.05, 0.1))
    with port_without_server() as port:
        report("No server", f"http://127.0.0.1:{port}/")


# --8<-- [end:main]
if __name__ == "__main__":
    main()
