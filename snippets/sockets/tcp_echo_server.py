"""A TCP echo server that survives misbehaving clients.

Run it, then run tcp_echo_client.py in another terminal:

    python tcp_echo_server.py

It serves one client at a time: see "Serving many clients" for servers that
serve many at once.
"""

import argparse
import socket

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8765
MAX_MESSAGE_SIZE = 1024 * 1024  # refuse messages over 1 MiB
CLIENT_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up


class MessageTooLarge(Exception):
    """The client sent more than the server accepts."""


# --8<-- [start:receive]
def receive_message(conn: socket.socket, limit: int) -> bytes:
    """Read until the client shuts down its sending side, up to `limit` bytes."""
    chunks = []
    received = 0
    # One recv() returns whatever has arrived so far, which can be any part
    # of the message: keep reading until the client signals the end (b"").
    while chunk := conn.recv(64 * 1024):
        received += len(chunk)
        if received > limit:
            raise MessageTooLarge(f"message over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --8<-- [end:receive]
# --8<-- [start:handle]
def handle_client(conn: socket.socket, client_timeout: float) -> None:
    """Echo one message back, or log why not; never let one client stop the server."""
    conn.settimeout(client_timeout)
    try:
        message = receive_message(conn, MAX_MESSAGE_SIZE)
        conn.sendall(message)  # send() may send only part; sendall() sends it all
    except MessageTooLarge as error:
        print(f"Refused: {error}")
    except TimeoutError:
        print(f"Timed out: no data for {client_timeout} seconds")
    except ConnectionError as error:  # reset, broken pipe: the client went away
        print(f"Client went away: {error.strerror}")
    else:
        print(f"Echoed {len(message)} bytes")


# --8<-- [end:handle]
def serve(server: socket.socket, client_timeout: float) -> None:
    """Accept clients one after another, forever."""
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
