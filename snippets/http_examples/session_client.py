"""A requests Session: shared headers, pooled connections, retries.

Start api_server.py first, then:

    python3 session_client.py
    API_TOKEN=... python3 session_client.py --url http://[::1]:8080

Needs urllib3 2.6.3 or newer (for retry_after_max).
"""

import argparse
import os
import socket
import sys
import uuid

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

BASE_URL = "http://127.0.0.1:8080"
# (connect, read) seconds: a Session has no default timeout either.
TIMEOUT = (3.05, 10)

# --8<-- [start:retry]
RETRY_RULES = dict(
    total=3,  # at most 3 retries: 4 attempts in all
    # Only methods that are safe to repeat: GET, HEAD, PUT, DELETE, OPTIONS,
    # TRACE. Never POST: the first attempt may have created the note already.
    allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
    # Answers that mean "try again later". Not 500: a bug stays a bug.
    status_forcelist=(429, 502, 503, 504),
    # Waits before retries 2 and 3: 0.4 s, then 0.8 s (the first is at once),
    # plus up to 0.1 s at random so that many clients do not retry in step.
    backoff_factor=0.2,
    backoff_jitter=0.1,
    retry_after_max=30,  # a Retry-After header may ask for a wait: up to 30 s
    # Not after a read timeout: the server may have done the work, and each
    # retry would wait the whole read timeout again.
    read=False,
    # When retries run out, return the last answer: raise_for_status() then
    # raises HTTPError, as it does without retries.
    raise_on_status=False,
)
try:
    RETRY = Retry(**RETRY_RULES)
except TypeError:  # pragma: no cover (urllib3 older than 2.6.3)
    sys.exit("session_client.py needs urllib3 2.6.3 or newer")


# --8<-- [end:retry]
# --8<-- [start:session]
def make_session(
    retry: Retry | None = None, token: str | None = None
) -> requests.Session:
    """A Session that retries as `retry` says (default: RETRY), names itself,
    and sends `token`, if given, as a bearer token."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry or RETRY)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Sent with every request of this session.
    session.headers.update(
        {"User-Agent": "notes-client/1.0", "Accept": "application/json"}
    )
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


# --8<-- [end:session]
# --8<-- [start:calls]
def create_note(session: requests.Session, base_url: str, text: str) -> dict:
    url = f"{base_url}/notes"
    response = session.post(url, json={"text": text}, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def notes_by_ids(
    session: requests.Session,
    base_url: str,
    ids: list[int],
) -> list:
    """GET each note; the session sends all over one kept-alive connection."""
    notes = []
    for note_id in ids:
        response = session.get(f"{base_url}/notes/{note_id}", timeout=TIMEOUT)
        response.raise_for_status()
        notes.append(response.json())
    return notes


# --8<-- [end:calls]
# --8<-- [start:flaky]
def call_flaky(
    session: requests.Session, base_url: str, method: str, failures: int
) -> requests.Response:
    """Call /flaky, which answers 503 to the first `failures` tries."""
    key = uuid.uuid4().hex  # a fresh key: the server counts attempts per key
    return session.request(
        method,
        f"{base_url}/flaky",
        params={"key": key, "failures": failures},
        timeout=TIMEOUT,
    )


# --8<-- [end:flaky]
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
    doc = (__doc__ or "A requests Session with retries.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=BASE_URL, help="the API's base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("API_TOKEN"),
        help="a bearer token (default: $API_TOKEN, which ps does not show)",
    )
    args = parser.parse_args()
    base_url = args.url.rstrip("/")

    # The with block closes the session's connections at the end.
    with make_session(token=args.token) as session:
        try:
            show_session(session, base_url)
        except (requests.RequestException, KeyError) as error:
            sys.exit(f"{base_url}: {failure(error)}")


def show_session(session: requests.Session, base_url: str) -> None:
    created = [create_note(session, base_url, f"note {n}") for n in (1, 2)]
    notes = notes_by_ids(session, base_url, [note["id"] for note in created])
    print([note["text"] for note in notes])
    #> ['note 1', 'note 2']

    response = call_flaky(session, base_url, "GET", failures=1)
    # urllib3 keeps the attempts it retried: log them to see retries happen.
    for attempt in response.raw.retries.history:
        print(f"Retried after {attempt.method} got {attempt.status}")
        #> Retried after GET got 503
    print(response.status_code, response.json())
    #> 200 {'attempts': 2}

    response = call_flaky(session, base_url, "POST", failures=1)
    print(response.status_code, response.json())  # POST: no retry
    #> 503 {'error': 'attempt 1 fails'}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
