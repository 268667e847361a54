"""requests and redirects: what it follows, how far, and with which method.

Start nginx with nginx_requests.conf first (see the page), then:

    python3 requests_redirects.py
"""

import argparse
import socket
import sys

import requests

BASE_URL = "http://127.0.0.1:8082"
TIMEOUT = (3.05, 10)  # (connect, read) seconds


# --8<-- [start:methods]
def method_after_redirect(
    session: requests.Session, base_url: str, path: str
) -> tuple[int, str]:
    """POST to `path`, which redirects to /new; which method arrived?"""
    response = session.post(
        f"{base_url}{path}", json={"text": "a note"}, timeout=TIMEOUT
    )
    response.raise_for_status()
    # history: the redirect responses that were followed, oldest first.
    first = response.history[0] if response.history else response
    return first.status_code, response.json()["method"]


# --8<-- [end:methods]
def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, KeyError):  # JSON, but not of the shape we expect
        return f"the answer has no {error}: is this the page's nginx?"
    if isinstance(error, requests.HTTPError):  # the server answered: no
        answer = error.response
        return f"HTTP {answer.status_code} {answer.reason} for {answer.url}"
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON: is this the page's nginx?"
    cause = error  # requests wraps urllib3's error, which wraps the socket's
    while cause.__cause__ or cause.__context__:
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: start nginx with nginx_requests.conf"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"


# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "requests and redirects.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the server's URL")
    base_url = parser.parse_args().url.rstrip("/")
    try:
        with requests.Session() as session:
            show_redirects(session, base_url)
    except (requests.RequestException, KeyError) as error:
        sys.exit(f"{base_url}: {failure(error)}")


def show_redirects(session: requests.Session, base_url: str) -> None:
    # GET follows redirects by default, and keeps the ones it followed.
    response = session.get(f"{base_url}/moved", timeout=TIMEOUT)
    print([r.status_code for r in response.history], response.status_code)
    #> [301] 200
    print(response.url.removeprefix(base_url), response.json())
    #> /new {'method': 'GET', 'path': '/new'}

    # A POST redirected with 301, 302 or 303 comes back as a GET, without
    # its body; 307 and 308 repeat the POST, body included.
    for path in ("/moved", "/found", "/see-other", "/temporary", "/permanent"):
        status, method = method_after_redirect(session, base_url, path)
        print(f"POST {path} -> {status} -> {method} /new")
        #> POST /moved -> 301 -> GET /new
        #> POST /found -> 302 -> GET /new
        #> POST /see-other -> 303 -> GET /new
        #> POST /temporary -> 307 -> POST /new
        #> POST /permanent -> 308 -> POST /new

    # allow_redirects=False: the redirect itself, and where it points.
    response = session.get(
        f"{base_url}/moved",
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    print(response.status_code, response.headers["Location"])
    #> 301 /new

    # A redirect that leads back to itself: requests gives up after
    # max_redirects (30 by default).
    print(session.max_redirects)
    #> 30
    session.max_redirects = 5
    try:
        session.get(f"{base_url}/loop", timeout=TIMEOUT)
    except requests.TooManyRedirects as error:
        print(type(error).__name__, error)
        #> TooManyRedirects Exceeded 5 redirects.


# --8<-- [end:main]
if __name__ == "__main__":
    main()
