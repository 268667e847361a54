"""Fetch a JSON document over HTTP, and say in one line what went wrong.

The code that test_json_client.py tests. Against any JSON server:

    python3 json_client.py --port 8080 --path /hello
"""

import argparse
import http.client
import json
import sys

HOST = "127.0.0.1"
PORT = 8080  # api_server.py's
TIMEOUT = 10.0  # seconds for the connection, and for each read
MAX_SIZE = 1024 * 1024  # bytes of JSON at most


class FetchError(Exception):
    """Why there is no JSON, in one line."""


# --8<-- [start:fetch]
def fetch_json(
    host: str,
    port: int,
    path: str = "/",
    timeout: float = TIMEOUT,
) -> object:
    """GET path from the server and return its JSON, or raise FetchError."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(MAX_SIZE + 1)
    except ConnectionRefusedError:
        raise FetchError(f"No server at {where}") from None
    except TimeoutError:
        silent = f"{where} did not answer within {timeout} s"
        raise FetchError(silent) from None
    except http.client.RemoteDisconnected:  # before ConnectionResetError
        raise FetchError(f"{where} hung up without answering") from None
    except ConnectionResetError:
        raise FetchError(f"{where} reset the connection") from None
    except http.client.HTTPException:
        raise FetchError(f"{where} did not answer in HTTP") from None
    finally:
        connection.close()
    if response.status != 200:  # 404 Not Found, say
        status = f"{response.status} {response.reason}"
        raise FetchError(f"{where} answered {status}")
    if len(body) > MAX_SIZE:
        raise FetchError(f"{where} sent over {MAX_SIZE} bytes")
    if response.length:  # bytes that Content-Length announced, never sent
        raise FetchError(f"{where} cut its answer short")
    try:
        return json.loads(body)
    # Not JSON, not UTF-8, or nested deeper than the parser goes.
    except (ValueError, RecursionError):
        raise FetchError(f"{where} did not answer in JSON") from None


# --8<-- [end:fetch]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--path", default="/")
    args = parser.parse_args()

    try:
        document = fetch_json(args.host, args.port, args.path)
    except FetchError as error:
        sys.exit(str(error))
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
