"""An HTTPS client that verifies the server with a local certificate authority.

Make the certificates and start the server first (see the HTTPS page):

    python3 make_local_ca.py --folder certs
    python3 api_server.py --port 8443 \\
        --cert certs/server.pem --key certs/server-key.pem

then:

    python3 https_client.py --ca-file certs/ca.pem
    python3 https_client.py --ca-file certs/ca.pem --url https://[::1]:8443/
"""

import argparse
import socket
import ssl
import sys
from pathlib import Path

import requests

URL = "https://127.0.0.1:8443/"
CA_FILE = "certs/ca.pem"
TIMEOUT = (
    3.05,
    10,
)  # (connect, read) seconds; the TLS handshake is part of connect


# --8<-- [start:get]
def get_json(url: str, ca_file: str | None = None) -> object:
    """GET `url` over HTTPS, verifying the server's certificate.

    With a CA file, trust that authority; without one, requests trusts the
    public authorities of the certifi package, as a browser trusts its own.
    """
    verify = ca_file if ca_file is not None else True
    response = requests.get(url, verify=verify, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


# --8<-- [end:get]
# --8<-- [start:why]
def first_cause(error: BaseException) -> BaseException:
    """The error that started it all: requests wraps urllib3's error, which
    wraps the one from Python's ssl module (or the socket's)."""
    while error.__cause__ or error.__context__:
        error = error.__cause__ or error.__context__
    return error


def failure(error: Exception) -> str:
    """What went wrong, in one line that names the real cause."""
    cause = first_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        # OpenSSL's reason: its wording depends on what the server sends.
        return f"certificate not trusted: {cause.verify_message}"
    if isinstance(error, requests.HTTPError):  # the server answered: no
        response = error.response
        return f"HTTP {response.status_code} {response.reason}"
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON"
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: start api_server.py with --cert"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"  # e.g. TLS to a plain HTTP port


# --8<-- [end:why]
# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "An HTTPS client with a local CA.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--url", default=URL, help="what to GET, as JSON")
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA (PEM)")
    args = parser.parse_args()

    # Without this, requests fails with "OSError: ... invalid path".
    if not Path(args.ca_file).is_file():
        sys.exit(
            f"No CA file {args.ca_file}: make one with "
            "python3 make_local_ca.py --folder certs"
        )
    try:
        print("Without the local CA:")
        #> Without the local CA:
        print(without_local_ca(args.url))
        #> certificate not trusted: unable to get local issuer certificate
        print(get_json(args.url, args.ca_file))
        #> {'message': 'Hello, HTTP!'}
    except requests.RequestException as error:
        sys.exit(f"{args.url}: {failure(error)}")


def without_local_ca(url: str) -> str:
    """What a client that trusts the public CAs only makes of the server."""
    try:
        get_json(url)
    except requests.exceptions.SSLError as error:
        return failure(error)  # as it must, unless a public CA signed it
    return "trusted: a public CA signed its certificate"


# --8<-- [end:main]
if __name__ == "__main__":
    main()
