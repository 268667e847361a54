"""requests, the basics: GET with a query and headers, POST a form and JSON.

Start api_server.py first, then:

    python3 requests_basics.py
    python3 requests_basics.py --url http://[::1]:8080
"""

import argparse
import socket
import sys

import requests
from requests.structures import CaseInsensitiveDict

BASE_URL = "http://127.0.0.1:8080"
# (connect, read) in seconds. Without a timeout, requests waits forever for a
# server that accepted the connection and never answers.
TIMEOUT = (3.05, 10)


# --8<-- [start:get]
def search(base_url: str, query: str, page: int) -> requests.Response:
    """GET with a query string and headers; /echo sends back what it got."""
    response = requests.get(
        f"{base_url}/echo",
        # requests encodes the parameters: the space becomes "+".
        params={"q": query, "page": page},
        headers={"Accept": "application/json", "X-Request-Id": "basics-1"},
        timeout=TIMEOUT,
    )
    response.raise_for_status()  # a 4xx or 5xx answer raises HTTPError
    return response


# --8<-- [end:get]
# --8<-- [start:form]
def send_form(base_url: str, fields: dict[str, str]) -> dict:
    """POST fields as an HTML form would: application/x-www-form-urlencoded."""
    response = requests.post(f"{base_url}/echo", data=fields, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


# --8<-- [end:form]
# --8<-- [start:json]
def create_note(
    base_url: str,
    text: str,
    tags: list[str],
) -> requests.Response:
    """POST a JSON body: json= serialises it and sets Content-Type for us."""
    response = requests.post(
        f"{base_url}/notes", json={"text": text, "tags": tags}, timeout=TIMEOUT
    )
    response.raise_for_status()
    return response


# --8<-- [end:json]
# --8<-- [start:status]
def get_note(base_url: str, note_id: int) -> dict:
    """GET one note; a note that does not exist is a 404: HTTPError."""
    response = requests.get(f"{base_url}/notes/{note_id}", timeout=TIMEOUT)
    # Without this line a 404 page would be parsed as if it were a note.
    response.raise_for_status()
    return response.json()


# --8<-- [end:status]
# --8<-- [start:failure]
def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, requests.HTTPError):  # the server answered: no
        answer = error.response
        return f"HTTP {answer.status_code} {answer.reason} for {answer.url}"
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON: is this the API server?"
    if isinstance(error, KeyError):  # JSON, but not of the shape we expect
        return f"the answer has no {error}: is this the API server?"
    cause = error  # requests wraps urllib3's error, which wraps the socket's
    while cause.__cause__ or cause.__context__:
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, requests.Timeout) or isinstance(cause, TimeoutError):
        return "no answer in time"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: start api_server.py"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"


# --8<-- [end:failure]
# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "requests, the basics.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the API's base URL")
    base_url = parser.parse_args().url.rstrip("/")

    try:
        show_requests(base_url)
    except (requests.RequestException, KeyError) as error:
        sys.exit(f"{base_url}: {failure(error)}")


def show_requests(base_url: str) -> None:
    response = search(base_url, "tcp timeouts", page=2)
    print(response.request.method, response.request.path_url)
    #> GET /echo?q=tcp+timeouts&page=2
    content_type = response.headers["Content-Type"]
    print(response.status_code, response.reason, content_type)
    #> 200 OK application/json; charset=utf-8
    received = response.json()  # the body, parsed from JSON
    # Header names ignore case (the server spells this one X-Request-ID), but
    # a dict from JSON does not: wrap it to look names up as HTTP does.
    headers = CaseInsensitiveDict(received["headers"])
    print(received["args"], headers["X-Request-Id"])
    #> {'q': 'tcp timeouts', 'page': '2'} basics-1

    received = send_form(base_url, {"name": "Ada", "topic": "HTTP"})
    print(received["headers"]["Content-Type"], received["form"])
    #> application/x-www-form-urlencoded {'name': 'Ada', 'topic': 'HTTP'}

    response = create_note(base_url, "Always set a timeout", ["requests"])
    note = response.json()
    print(response.status_code, response.reason, note["text"], note["tags"])
    #> 201 Created Always set a timeout ['requests']
    print(get_note(base_url, note["id"]) == note)  # the note is stored
    #> True

    try:
        get_note(base_url, 0)  # ids start at 1
    except requests.HTTPError as error:
        print(
            type(error).__name__,
            error.response.status_code,
            error.response.json(),
        )
        #> HTTPError 404 {'error': 'no note 0'}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
