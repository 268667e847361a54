"""An HTTPS client that verifies the server with a local certificate authority.

Make the certificates and start the server first (see the HTTPS page):

    python make_local_ca.py --folder certs
    python api_server.py --port 8443 --cert certs/server.pem --key certs/server-key.pem

then:

    python https_client.py --ca-file certs/ca.pem
"""

import argparse
import ssl
import sys

import requests

BASE_URL = "https://127.0.0.1:8443"
CA_FILE = "certs/ca.pem"
TIMEOUT = (3.05, 10)  # (connect, read) seconds; the TLS handshake is part of connect


# --8<-- [start:get]
def get_greeting(base_url: str, ca_file: str | None = None) -> dict:
    """GET the server's greeting over HTTPS, verifying its certificate.

    With a CA file, trust that authority; without one, requests trusts the
    public authorities of the certifi package, as a browser trusts its own.
    """
    verify = ca_file if ca_file is not None else True
    response = requests.get(f"{base_url}/", verify=verify, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


# --8<-- [end:get]
# --8<-- [start:why]
def why_not_trusted(error: requests.exceptions.SSLError) -> str:
    """The reason OpenSSL gave, found among the errors that `error` wraps."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"{cause.reason}: {cause.verify_message}"
        cause = cause.__cause__ or cause.__context__
    return str(error)


# --8<-- [end:why]
# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=BASE_URL, help="the API server's base URL")
    parser.add_argument("--ca-file", default=CA_FILE, help="the local CA (PEM)")
    args = parser.parse_args()

    # First as a client that does not know the local CA: it must refuse.
    try:
        get_greeting(args.url)
    except requests.exceptions.SSLError as error:
        print(f"{type(error).__name__}: {why_not_trusted(error)}")
        #> SSLError: CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate
    except requests.ConnectionError:
        sys.exit(f"No server at {args.url}: start api_server.py with --cert")

    print(get_greeting(args.url, args.ca_file))
    #> {'message': 'Hello, HTTP!'}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
