"""requests through an HTTP proxy: plain HTTP, and HTTPS in a CONNECT tunnel.

Start nginx with nginx_requests.conf, and tinyproxy with tinyproxy.conf,
first (see the page), then:

    HTTP_PROXY=http://127.0.0.1:8888 python3 requests_proxies.py
"""

import argparse
import socket
import ssl
import sys
from pathlib import Path

import requests

PROXY = "http://127.0.0.1:8888"
BASE_URL = "http://127.0.0.1:8082"
HTTPS_URL = "https://127.0.0.1:8444"
CA_FILE = "certs/ca.pem"  # from make_local_ca.py, as nginx's certificate
TIMEOUT = (3.05, 10)  # (connect, read) seconds


# --8<-- [start:proxies]
def get_through(url: str, proxy: str, ca_file: str) -> dict:
    """GET `url` through the proxy, whatever the environment says."""
    response = requests.get(
        url,
        # Which proxy for which scheme of the URL asked for: both go
        # through the same HTTP proxy here.
        proxies={"http": proxy, "https": proxy},
        verify=ca_file,  # through a proxy too: the server's certificate
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return response.json()


# --8<-- [end:proxies]
# --8<-- [start:environment]
def get_as_configured(url: str, ca_file: str) -> dict:
    """GET `url` through the proxy the environment names, if any:
    HTTP_PROXY, HTTPS_PROXY and NO_PROXY."""
    response = requests.get(url, verify=ca_file, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


# --8<-- [end:environment]
# --8<-- [start:failure]
def first_cause(error: BaseException) -> BaseException:
    """The error that started it all: requests wraps urllib3's error, which
    wraps the socket's or the ssl module's."""
    while True:
        inner = error.__cause__ or error.__context__
        # Through a proxy, urllib3 passes the ssl module's error as its
        # argument, not as its cause.
        if inner is None and error.args:
            inner = error.args[0]
        if not isinstance(inner, BaseException):
            return error
        error = inner


def failure(error: requests.RequestException) -> str:
    """What went wrong, in one line that names the real cause."""
    if isinstance(error, requests.HTTPError):  # an answer, maybe the proxy's
        answer = error.response
        return f"HTTP {answer.status_code} {answer.reason} for {answer.url}"
    if isinstance(error, requests.JSONDecodeError):
        return "the answer is not JSON: is this the page's nginx?"
    cause = first_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {cause.verify_message}"
    if isinstance(error, requests.exceptions.ProxyError):
        if isinstance(cause, ConnectionRefusedError):
            return "no proxy there: start tinyproxy with tinyproxy.conf"
        return f"the proxy refused: {cause}"  # e.g. CONNECT to another port
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: start nginx with nginx_requests.conf"
    if isinstance(cause, socket.gaierror):
        return f"unknown host name: {cause.strerror}"
    return f"{type(cause).__name__}: {cause}"


# --8<-- [end:failure]
# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "requests through a proxy.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--proxy", default=PROXY, help="the proxy's URL")
    parser.add_argument("--url", default=BASE_URL, help="an http:// URL")
    parser.add_argument("--https-url", default=HTTPS_URL)
    parser.add_argument("--ca-file", default=CA_FILE, help="the CA to trust")
    args = parser.parse_args()
    if not Path(args.ca_file).is_file():
        sys.exit(
            f"No CA file {args.ca_file}: "
            "make one with python3 make_local_ca.py --folder certs"
        )
    try:
        show_proxies(args.proxy, args.url, args.https_url, args.ca_file)
    except requests.RequestException as error:
        sys.exit(failure(error))


def show_proxies(proxy: str, url: str, https_url: str, ca_file: str) -> None:
    # An http:// URL: the proxy reads the request, and adds a Via header.
    print("HTTP:", get_through(f"{url}/via", proxy, ca_file))
    #> HTTP: {'via_header': True}
    # An https:// URL: the proxy opens a tunnel with CONNECT and relays
    # encrypted bytes; it can neither read nor change the request.
    print("HTTPS:", get_through(f"{https_url}/via", proxy, ca_file))
    #> HTTPS: {'via_header': False}
    # No proxies=: HTTP_PROXY and NO_PROXY decide (run as on the page).
    print("Environment:", get_as_configured(f"{url}/via", ca_file))
    #> Environment: {'via_header': True}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
