"""A client for the framed echo servers: many messages over one TCP connection.

Each message travels as a frame: its length as 4 bytes (big-endian), then the
message itself. Start framed_echo_server.py (or threaded_echo_server.py, or
selectors_echo_server.py) first, then:

    python framed_echo_client.py
"""

import argparse
import socket
import struct
import sys
from collections.abc import Iterable

HOST = "127.0.0.1"
PORT = 8767
TIMEOUT = 5.0  # seconds: fail fast rather than hang on a dead server
MAX_FRAME_SIZE = 1024 * 1024  # a reply over 1 MiB is a broken server, not data
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length


# --8<-- [start:receive_exactly]
def receive_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly `size` bytes, however the stream cuts them."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(min(size - len(buffer), 64 * 1024))
        if not chunk:  # the peer closed: the frame will never be complete
            raise ConnectionError(
                f"connection closed after {len(buffer)} of {size} bytes"
            )
        buffer += chunk
    return bytes(buffer)


# --8<-- [end:receive_exactly]
# --8<-- [start:frames]
def send_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame: the payload's length, then the payload."""
    # One sendall() for both parts: no small packet for the header alone.
    sock.sendall(HEADER.pack(len(payload)) + payload)


def receive_frame(sock: socket.socket, limit: int = MAX_FRAME_SIZE) -> bytes:
    """Read one frame and return its payload."""
    (length,) = HEADER.unpack(receive_exactly(sock, HEADER.size))
    # Check the length before reading: a wrong or hostile length must not make
    # us wait for, or store, gigabytes.
    if length > limit:
        raise ConnectionError(f"frame of {length} bytes is over the {limit}-byte limit")
    return receive_exactly(sock, length)


# --8<-- [end:frames]
# --8<-- [start:echo_all]
def echo_all(
    messages: Iterable[bytes], host: str = HOST, port: int = PORT
) -> list[bytes]:
    """Send each message on one connection and collect the replies, in order."""
    replies = []
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        for message in messages:
            send_frame(sock, message)
            replies.append(receive_frame(sock))
    return replies


# --8<-- [end:echo_all]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    messages = ["Hello", "framed", "world 👋", ""]
    try:
        replies = echo_all([text.encode() for text in messages], args.host, args.port)
    except ConnectionRefusedError:
        sys.exit(f"No server at {args.host}:{args.port}: start framed_echo_server.py")
    for reply in replies:
        print(repr(reply.decode()))
        #> 'Hello'
        #> 'framed'
        #> 'world 👋'
        #> ''


if __name__ == "__main__":
    main()
