"""A DROP client in plain sockets: store, list and fetch files.

    python drop_client.py put hello.txt
    python drop_client.py list
    python drop_client.py get hello.txt --folder downloads

Start drop_server.py first. With --ca-file it speaks TLS and trusts only
that CA. It needs drop_protocol.py beside it.
"""

import argparse
import socket
import ssl
import sys
from pathlib import Path

from drop_protocol import (
    ERROR,
    FILE,
    HEADER_SIZE,
    NAMES,
    STORED,
    VERSION,
    Header,
    ProtocolError,
    check_name,
    get_request,
    list_request,
    parse_error,
    parse_header,
    parse_names,
    put_request,
    sha256,
)

HOST = "127.0.0.1"
PORT = 8790
TIMEOUT = 10.0  # seconds to connect, and for each recv() or send
# The reply's length is input too: never make room for what a confused or
# hostile server announces beyond this.
MAX_REPLY = 64 * 2**20


class Refused(Exception):
    """The server answered with an ERROR reply."""

    def __init__(self, error: ProtocolError) -> None:
        super().__init__(str(error))
        self.code = error.code


class EndedEarly(EOFError):
    """The connection closed before the reply was complete."""

    def __init__(self, received: int) -> None:
        super().__init__(f"closed after {received} bytes of the reply")
        self.received = received


# --8<-- [start:exchange]
def receive_exactly(sock: socket.socket, size: int) -> bytes:
    """Exactly `size` bytes: recv() returns what has arrived, maybe less."""
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 64 * 1024))
        if not chunk:
            raise EndedEarly(size - missing)
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def request_reply(
    request: bytes,
    host: str,
    port: int,
    context: ssl.SSLContext | None = None,
    timeout: float = TIMEOUT,
) -> tuple[bytes, bytes]:
    """Send one request; return the type and payload of its reply."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        if context is not None:  # TLS: checks the certificate and the name
            sock = context.wrap_socket(sock, server_hostname=host)
        with sock:
            sock.sendall(request)
            header = read_header(sock)
            payload = receive_exactly(sock, header.length)
    if header.kind == ERROR:
        raise Refused(parse_error(payload))
    return header.kind, payload


def read_header(sock: socket.socket) -> Header:
    start = receive_exactly(sock, HEADER_SIZE)
    try:
        return parse_header(start, MAX_REPLY)
    except ProtocolError as error:  # say what answered instead
        raise ProtocolError(error.code, f"{error.text}: {start!r}") from None


# --8<-- [end:exchange]
# --8<-- [start:commands]
def put(path: Path, name: str, host: str, port: int, **options) -> str:
    content = path.read_bytes()
    request = put_request(name, content)
    kind, digest = request_reply(request, host, port, **options)
    expect(kind, STORED)
    # The server says what it stored: check it is what we sent.
    if digest != sha256(content):
        raise ProtocolError(0, "its SHA-256 is not that of what we sent")
    return f"Stored {name}: {len(content)} bytes, SHA-256 checked"


def get(name: str, folder: Path, host: str, port: int, **options) -> str:
    kind, content = request_reply(get_request(name), host, port, **options)
    expect(kind, FILE)
    # The name was checked: a file name, never a path such as ../x.
    (folder / name).write_bytes(content)
    return f"Saved {name}: {len(content)} bytes"


def list_names(host: str, port: int, **options) -> list[str]:
    kind, payload = request_reply(list_request(), host, port, **options)
    expect(kind, NAMES)
    return parse_names(payload)


def expect(kind: bytes, wanted: bytes) -> None:
    if kind != wanted:
        raise ProtocolError(0, f"a reply of type {kind!r}, not {wanted!r}")


# --8<-- [end:commands]
# --8<-- [start:explain]
def explain(error: Exception, where: str) -> str:
    """One line that names the cause, for each way a request can fail."""
    if isinstance(error, Refused):
        return f"The server refused: {error}"
    if isinstance(error, ProtocolError):
        return f"{where} does not speak DROP {VERSION}: {error.text}"
    if isinstance(error, ConnectionRefusedError):
        return f"No server at {where}: is drop_server.py running?"
    if isinstance(error, TimeoutError):
        return f"{where} did not answer in time"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"Untrusted certificate at {where}: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed with {where}: {error.reason} (does it speak TLS?)"
    if isinstance(error, ConnectionResetError):
        return f"{where} reset the connection (busy or restarting?)"
    if isinstance(error, EndedEarly) and error.received == 0:
        # A TLS server closes on a plain request without a word.
        return f"{where} closed without a reply (TLS? add --ca-file)"
    if isinstance(error, EndedEarly):
        return f"{where} hung up in the middle of its reply"
    if isinstance(error, OSError) and error.filename:  # a file of ours
        return f"Cannot use {error.filename}: {error.strerror}"
    return f"Cannot reach {where}: {error}"


# --8<-- [end:explain]
def trust(ca_file: str) -> ssl.SSLContext:
    """A TLS context that trusts the CA in `ca_file`, and no other."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:  # it names no file: we do
        sys.exit(f"No CA file {ca_file}: make_local_ca.py --folder certs")


def run(args: argparse.Namespace) -> list[str]:
    options = {"timeout": args.timeout}
    if args.ca_file:
        options["context"] = trust(args.ca_file)
    where = (args.host, args.port)
    if args.command == "put":
        return [put(args.path, args.name, *where, **options)]
    if args.command == "get":
        return [get(args.name, args.folder, *where, **options)]
    return list_names(*where, **options)


def drop_name(text: str) -> str:
    """argparse's check of a name, before anything is sent."""
    try:
        return check_name(text.encode())
    except ProtocolError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a DROP name has letters, digits, '.', '_', '-'"
        ) from None


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --8<-- [start:main]
def main() -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default=HOST)
    common.add_argument("--port", type=int, default=PORT)
    common.add_argument("--ca-file", help="speak TLS, trusting this CA (PEM)")
    common.add_argument("--timeout", type=float, default=TIMEOUT)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    put_command = commands.add_parser("put", parents=[common])
    put_command.add_argument("path", type=Path)
    put_command.add_argument("--name", type=drop_name, help="another name")
    get_command = commands.add_parser("get", parents=[common])
    get_command.add_argument("name", type=drop_name)
    get_command.add_argument("--folder", type=Path, default=Path("."))
    commands.add_parser("list", parents=[common])
    args = parser.parse_args()
    if args.command == "put" and args.name is None:
        try:
            args.name = drop_name(args.path.name)
        except argparse.ArgumentTypeError as error:
            put_command.error(f"{error} (choose one with --name)")

    try:
        lines = run(args)
    except (OSError, EOFError, ProtocolError, Refused) as error:
        sys.exit(explain(error, host_port(args.host, args.port)))
    for line in lines:
        print(line)
        #> Stored hello.txt: 12 bytes, SHA-256 checked


# --8<-- [end:main]
if __name__ == "__main__":
    main()
