"""HTTP by hand: one GET request over a TCP socket, and its response.

Start api_server.py first, then:

    python3 raw_http_get.py
    python3 raw_http_get.py --host ::1 --path /notes
"""

import argparse
import socket
import sys
from dataclasses import dataclass

HOST = "127.0.0.1"
PORT = 8080
TIMEOUT = 5.0  # seconds: for connecting, and for each send and receive after
MAX_HEADER_SIZE = 64 * 1024  # a server sending more header than this is broken
# These change with the time and the machine; printed as "..." so that the
# output shown on the page is the same on every run.
VARYING_HEADERS = {"date", "server"}


@dataclass
class Response:
    status_line: str
    headers: list[tuple[str, str]]  # in the order they came, duplicates kept
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called `name`: header names ignore case."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


# --8<-- [start:request]
def host_header(host: str, port: int) -> str:
    # An IPv6 address goes in brackets, or its colons would read as a port.
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_request(host: str, port: int, path: str) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        # HTTP/1.1 requires Host: one address can serve many sites.
        f"Host: {host_header(host, port)}",
        "Accept: application/json",
        # We send one request only: the server may close after answering.
        "Connection: close",
    ]
    # Each line ends with CRLF, and an empty line ends the header.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# --8<-- [end:request]
# --8<-- [start:read_header]
def read_header(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the empty line that ends the header.

    Returns the header, and what came after it: the start of the body."""
    data = b""
    # recv() returns what has arrived so far: loop until the blank line is in.
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEADER_SIZE:
            raise ConnectionError(f"header over {MAX_HEADER_SIZE} bytes")
        chunk = sock.recv(64 * 1024)
        if not chunk:
            raise ConnectionError("connection closed before the header ended")
        data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    return header, rest


# --8<-- [end:read_header]
def parse_header(header: bytes) -> tuple[str, list[tuple[str, str]]]:
    status_line, *lines = header.decode("iso-8859-1").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return status_line, headers


# --8<-- [start:read_body]
def read_body(
    sock: socket.socket,
    response: Response,
    received: bytes,
) -> bytes:
    """Read the body: Content-Length bytes if the server said how many,
    else all until the server closes the connection."""
    if response.header("Transfer-Encoding"):
        # Chunked bodies come in pieces, each with its own size: an HTTP
        # library decodes them. We asked for none, so this is unexpected.
        raise ConnectionError("chunked response: use an HTTP library")
    chunks, size = [received], len(received)
    length = response.header("Content-Length")
    expected = int(length) if length is not None else None
    while expected is None or size < expected:
        chunk = sock.recv(64 * 1024)
        if not chunk:
            break  # the server closed: that is the end of the body
        chunks.append(chunk)
        size += len(chunk)
    if expected is not None and size != expected:
        raise ConnectionError(f"body cut short: {size} of {expected} bytes")
    return b"".join(chunks)


# --8<-- [end:read_body]
# --8<-- [start:http_get]
def http_get(host: str, port: int, path: str = "/") -> Response:
    """GET `path` over a new TCP connection; read the whole response."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(build_request(host, port, path))
        header, rest = read_header(sock)
        status_line, headers = parse_header(header)
        response = Response(status_line, headers, b"")
        response.body = read_body(sock, response, rest)
    return response


# --8<-- [end:http_get]
# --8<-- [start:main]
def main() -> None:
    doc = (__doc__ or "HTTP by hand: one GET request.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--host", default=HOST, help="a name, IPv4 or IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--path", default="/", help="with its query, if any")
    args = parser.parse_args()

    where = host_header(args.host, args.port)
    # Each failure has its own cause, and its own line.
    try:
        response = http_get(args.host, args.port, args.path)
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start api_server.py")
    except TimeoutError:
        sys.exit(f"No answer from {where} within {TIMEOUT} s")
    except socket.gaierror as error:  # the name lookup failed
        sys.exit(f"Cannot find {args.host}: {error.strerror}")
    except ConnectionError as error:  # a reset, or a broken response
        sys.exit(f"{where}: {error}")
    print(response.status_line)
    #> HTTP/1.1 200 OK
    for name, value in response.headers:
        print(f"{name}: {'...' if name.lower() in VARYING_HEADERS else value}")
        #> Content-Type: application/json; charset=utf-8
        #> Content-Length: 27
        #> Date: ...
        #> Server: ...
        #> Connection: close
    # After the header's blank line: the body, Content-Length bytes of it.
    # "replace": a body that is not UTF-8 text still prints.
    print(f"Body: {response.body.decode(errors='replace')}")
    #> Body: {"message": "Hello, HTTP!"}


# --8<-- [end:main]
if __name__ == "__main__":
    main()
