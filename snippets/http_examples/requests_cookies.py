"""requests cookies: a Session keeps them in its cookie jar.

Start nginx with nginx_requests.conf first (see the page), then:

    export API_PASSWORD=...
    python3 requests_cookies.py
"""

import argparse
import os
import socket
import sys

import requests

BASE_URL = "http://127.0.0.1:8082"
TIMEOUT = (3.05, 10)  # (connect, read) seconds


# --8<-- [start:login]
def log_in(
    session: requests.Session, base_url: str, user: str, password: str
) -> requests.Response:
    """Log in once with a password; the server answers with a cookie."""
    response = session.get(
        f"{base_url}/login",
        auth=(user, password),
        timeout=TIMEOUT,
    )
    response.raise_for_status()  # a wrong password is a 401: HTTPError
    return response


def whoami(session: requests.Session, base_url: str) -> requests.Response:
    # No password here: the session sends the cookie from its jar.
    return session.get(f"{base_url}/me", timeout=TIMEOUT)


# --8<-- [end:login]
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
    doc = (__doc__ or "requests cookies.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the server's URL")
    base_url = parser.parse_args().url.rstrip("/")
    if "API_PASSWORD" not in os.environ:
        sys.exit("Set API_PASSWORD in the environment first")
    user = os.environ.get("API_USER", "ada")
    try:
        show_cookies(base_url, user, os.environ["API_PASSWORD"])
    except (requests.RequestException, KeyError) as error:
        sys.exit(f"{base_url}: {failure(error)}")


def show_cookies(base_url: str, user: str, password: str) -> None:
    with requests.Session() as session:
        response = log_in(session, base_url, user, password)
        print(response.json())
        #> {'logged_in': 'ada'}
        print(response.headers["Set-Cookie"])
        #> session=3f9c1e7a; Path=/; HttpOnly; SameSite=Lax
        # The jar holds each cookie with where it may be sent back.
        for cookie in session.cookies:
            print(cookie.name, cookie.value, cookie.domain, cookie.path)
            #> session 3f9c1e7a 127.0.0.1 /
        response = whoami(session, base_url)
        print(response.status_code, response.json())
        #> 200 {'user': 'ada'}
        print(response.request.headers["Cookie"])
        #> session=3f9c1e7a

    # requests.get() has no jar to remember the cookie: the server does not
    # know who this is.
    response = requests.get(f"{base_url}/me", timeout=TIMEOUT)
    print(response.status_code, response.json())
    #> 401 {'error': 'log in first'}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
