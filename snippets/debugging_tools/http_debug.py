"""GET a URL with http.client, printing every line sent and received.

    python3 http_debug.py --url http://127.0.0.1:8080/

Over HTTPS, with the secrets of the connection written to a file that
Wireshark reads (certs/ca.pem comes from make_local_ca.py):

    SSLKEYLOGFILE=keys.log python3 http_debug.py \\
        --url https://127.0.0.1:8443/ --cafile certs/ca.pem
"""

import argparse
import http.client
import ssl
import sys
import urllib.parse

URL = "http://127.0.0.1:8080/"  # api_server.py's
TIMEOUT = 5.0  # seconds for the connection and each read


# --8<-- [start:connection]
def open_connection(
    url: str,
    cafile: str | None = None,
) -> http.client.HTTPConnection:
    """A connection to the URL's server that prints what it exchanges."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        # create_default_context() reads SSLKEYLOGFILE: when it is set, the
        # TLS secrets of each connection are appended to that file.
        context = ssl.create_default_context(cafile=cafile)
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=TIMEOUT
        )
    connection.set_debuglevel(1)  # print each line sent and received
    return connection


# --8<-- [end:connection]
def get(url: str, cafile: str | None = None) -> tuple[int, bytes]:
    """The status and body of the answer to GET url."""
    connection = open_connection(url, cafile)
    try:
        connection.request("GET", urllib.parse.urlsplit(url).path or "/")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    parser.add_argument("--cafile", help="CA to trust (PEM): a local CA's")
    args = parser.parse_args()

    try:
        status, body = get(args.url, args.cafile)
    except ConnectionRefusedError:
        sys.exit(f"No server at {args.url}")
    except ssl.SSLCertVerificationError as error:
        reason = error.verify_message  # "self-signed certificate", say
        sys.exit(f"Untrusted certificate at {args.url}: {reason}")
    except TimeoutError:
        sys.exit(f"{args.url} did not answer within {TIMEOUT} s")
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "strerror", None) or error  # no "[Errno 104]"
        sys.exit(f"GET {args.url} failed: {reason}")
    print(status, body.decode("utf-8", "replace"), end="")


if __name__ == "__main__":
    main()
