"""A client for the framed echo servers: many messages over one TCP connection.

Each message travels as a frame: its length as 4 bytes (big-endian), then the
message itself. Start framed_echo_server.py first, then:

    python3 framed_echo_client.py
    python3 framed_echo_client.py --host ::1     # over IPv6
    python3 framed_echo_client.py --port 8770    # threaded_echo_server.py
    python3 framed_echo_client.py --port 8771    # selectors_echo_server.py
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
            cut = f"connection closed after {len(buffer)} of {size} bytes"
            raise ConnectionError(cut)
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
        too_long = f"frame of {length} bytes is over the {limit}-byte limit"
        raise ConnectionError(too_long)
    return receive_exactly(sock, length)


# --8<-- [end:frames]
# --8<-- [start:echo_all]
def echo_all(
    messages: Iterable[bytes],
    host: str = HOST,
    port: int = PORT,
    timeout: float = TIMEOUT,
) -> list[bytes]:
    """Send each message on one connection; return the replies, in order."""
    replies = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for message in messages:
            send_frame(sock, message)
            replies.append(receive_frame(sock))
    return replies


# --8<-- [end:echo_all]
def address(host: str, port: int) -> str:
    """host:port, with an IPv6 address in brackets: [::1]:8767."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    messages = [text.encode() for text in ["Hello", "framed", "world 👋", ""]]
    where = address(args.host, args.port)
    try:
        replies = echo_all(messages, args.host, args.port, args.timeout)
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start framed_echo_server.py")
    except TimeoutError:  # it listens, but did not answer in time
        sys.exit(f"{where} did not answer within {args.timeout} s")
    except OSError as error:  # a reset, a cut or oversized frame, a bad name
        sys.exit(f"Echo from {where} failed: {error.strerror or error}")
    # --8<-- [start:print]
    for reply in replies:
        print(repr(reply.decode()))
        #> 'Hello'
        #> 'framed'
        #> 'world 👋'
        #> ''
    # --8<-- [end:print]


if __name__ == "__main__":
    main()
