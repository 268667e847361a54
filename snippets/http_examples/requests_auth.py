"""requests authentication: HTTP Basic, and a bearer token.

The credentials come from the environment, never from the code or the URL.
Start nginx with nginx_requests.conf first (see the page), then:

    export API_PASSWORD=... API_TOKEN=...
    python3 requests_auth.py
"""

import argparse
import os
import socket
import sys

import requests
from requests.auth import AuthBase

BASE_URL = "http://127.0.0.1:8082"
TIMEOUT = (3.05, 10)  # (connect, read) seconds


# --8<-- [start:basic]
def basic_login(base_url: str, user: str, password: str) -> requests.Response:
    """GET /basic with HTTP Basic authentication."""
    # auth=(user, password) sends "Authorization: Basic " and then
    # base64("user:password"): an encoding, not encryption. Send it over
    # HTTPS only, except on loopback.
    return requests.get(
        f"{base_url}/basic",
        auth=(user, password),
        timeout=TIMEOUT,
    )


# --8<-- [end:basic]
# --8<-- [start:bearer]
class BearerAuth(AuthBase):
    """Adds "Authorization: Bearer <token>" to each request it is given."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(
        self,
        request: requests.PreparedRequest,
    ) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def get_with_token(base_url: str, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{base_url}{path}",
        auth=BearerAuth(token),
        timeout=TIMEOUT,
    )


# --8<-- [end:bearer]
# --8<-- [start:credentials]
def credentials() -> tuple[str, str, str]:
    """User, password and token, from the environment: not on the command
    line, where any user of the machine can read them with ps."""
    needed = ("API_PASSWORD", "API_TOKEN")
    missing = [name for name in needed if name not in os.environ]
    if missing:
        sys.exit(f"Set {' and '.join(missing)} in the environment first")
    user = os.environ.get("API_USER", "ada")
    return user, os.environ["API_PASSWORD"], os.environ["API_TOKEN"]


# --8<-- [end:credentials]
def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, KeyError):  # JSON, but not of the shape we expect
        return f"the answer has no {error}: is this the page's nginx?"
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
    doc = (__doc__ or "requests authentication.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the server's URL")
    base_url = parser.parse_args().url.rstrip("/")
    user, password, token = credentials()
    try:
        show_authentication(base_url, user, password, token)
    except (requests.RequestException, KeyError) as error:
        sys.exit(f"{base_url}: {failure(error)}")


def show_authentication(
    base_url: str,
    user: str,
    password: str,
    token: str,
) -> None:
    response = basic_login(base_url, user, password)
    print(response.status_code, response.json())
    #> 200 {'user': 'ada'}
    # What went over the wire: base64 is readable by anyone who sees it.
    print(response.request.headers["Authorization"])
    #> Basic YWRhOmxvdmVsYWNl
    refused = basic_login(base_url, user, "a wrong password")
    print(refused.status_code, refused.headers["WWW-Authenticate"])
    #> 401 Basic realm="notes"

    response = get_with_token(base_url, "/bearer", token)
    print(response.status_code, response.json())
    #> 200 {'user': 'ada'}
    # Redirected to the same host, the token goes along; to another host,
    # requests drops the Authorization header, and the server says 401.
    for path in ("/bearer-here", "/bearer-elsewhere"):
        response = get_with_token(base_url, path, token)
        sent = "Authorization" in response.request.headers
        print(path, response.status_code, f"token sent: {sent}")
        #> /bearer-here 200 token sent: True
        #> /bearer-elsewhere 401 token sent: False


# --8<-- [end:main]
if __name__ == "__main__":
    main()
