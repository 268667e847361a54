"""GET a URL twice with requests, with urllib3's log of its connections.

python3 requests_logging.py --url http://127.0.0.1:8080/
"""

import argparse
import logging
import sys

import requests

URL = "http://127.0.0.1:8080/"  # api_server.py's
TIMEOUT = (3.05, 10.0)  # seconds to connect, and between two reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    args = parser.parse_args()

    # --8<-- [start:logging]
    # Libraries log with `logging`, and say nothing until told to: WARNING
    # for everything, DEBUG for urllib3, the library below requests.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    # --8<-- [end:logging]
    with requests.Session() as session:
        try:
            for _ in range(2):  # the second GET reuses the connection
                response = session.get(args.url, timeout=TIMEOUT)
        except requests.Timeout:  # before ConnectionError: a connect timeout
            sys.exit(f"{args.url} did not answer in time")  # is both
        except requests.ConnectionError as error:
            sys.exit(f"No answer from {args.url}: {error}")
    print(response.status_code, response.text, end="")


if __name__ == "__main__":
    main()
