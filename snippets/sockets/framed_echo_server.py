"""A TCP echo server for length-prefixed frames: many messages per connection.

Each frame is a 4-byte big-endian length, then that many bytes. Run it, then
run framed_echo_client.py in another terminal:

    python framed_echo_server.py

It serves one connection at a time: see "Serving many clients" for servers
that serve many at once.
"""

import argparse
import socket
import struct

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8767
MAX_FRAME_SIZE = 1024 * 1024  # refuse frames over 1 MiB
CLIENT_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up
HEADER = struct.Struct("!I")  # network byte order, unsigned 32-bit length


class FrameTooLarge(Exception):
    """The client announced a frame over the server's limit."""


class ClosedMidFrame(ConnectionError):
    """The client closed the connection in the middle of a frame."""


def receive_exactly(conn: socket.socket, size: int) -> bytes:
    """Read exactly `size` bytes; b"" if the client closed before the first one."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = conn.recv(min(size - len(buffer), 64 * 1024))
        if not chunk:
            if buffer:
                raise ClosedMidFrame(f"closed after {len(buffer)} of {size} bytes")
            return b""
        buffer += chunk
    return bytes(buffer)


# --8<-- [start:receive_frame]
def receive_frame(conn: socket.socket, limit: int) -> bytes | None:
    """Read one frame's payload; None when the client closed between frames."""
    header = receive_exactly(conn, HEADER.size)
    if not header:
        return None  # a clean end: the client has no more messages
    (length,) = HEADER.unpack(header)
    if length > limit:
        # Refuse before reading a byte of it: the length alone is the attack.
        raise FrameTooLarge(f"frame of {length} bytes is over the {limit}-byte limit")
    payload = receive_exactly(conn, length)
    if len(payload) < length:  # closed right after the header
        raise ClosedMidFrame(f"closed after the header of a {length}-byte frame")
    return payload


# --8<-- [end:receive_frame]
# --8<-- [start:handle]
def handle_client(conn: socket.socket, client_timeout: float) -> None:
    """Echo frames until the client is done; log why the connection ended."""
    conn.settimeout(client_timeout)
    echoed = 0
    try:
        while (payload := receive_frame(conn, MAX_FRAME_SIZE)) is not None:
            conn.sendall(HEADER.pack(len(payload)) + payload)
            echoed += 1
    except FrameTooLarge as error:
        print(f"Refused: {error}")
    except TimeoutError:
        print(f"Timed out: no data for {client_timeout} seconds")
    except ConnectionError as error:  # reset, broken pipe, closed mid-frame
        print(f"Client went away: {error.strerror or error}")
    else:
        print(f"Echoed {echoed} frames")


# --8<-- [end:handle]
def serve(server: socket.socket, client_timeout: float) -> None:
    """Accept connections one after another, forever."""
    while True:
        conn, _address = server.accept()
        with conn:  # closes the connection whatever happens in handle_client
            handle_client(conn, client_timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT)
    args = parser.parse_args()

    with socket.create_server((args.host, args.port)) as server:
        host, port = server.getsockname()[:2]
        print(f"Listening on {host}:{port}", flush=True)
        try:
            serve(server, args.client_timeout)
        except KeyboardInterrupt:
            print("Server stopped")


if __name__ == "__main__":
    main()
