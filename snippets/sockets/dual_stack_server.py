"""A TCP echo server on IPv6 and IPv4: by default on both loopback addresses.

Run it, then connect over either family:

    python dual_stack_server.py
    python dual_stack_client.py
    python tcp_echo_client.py --host ::1

With --host ::, one dual-stack socket serves every interface in both families:
do that only for a server that other machines must reach.
"""

import argparse
import selectors
import socket

HOSTS = ["127.0.0.1", "::1"]  # loopback, IPv4 and IPv6: this machine only
PORT = 8768
MAX_MESSAGE_SIZE = 1024 * 1024  # refuse messages over 1 MiB
CLIENT_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up


class MessageTooLarge(Exception):
    """The client sent more than the server accepts."""


# --8<-- [start:listen]
def open_listener(host: str, port: int) -> socket.socket:
    """Listen on `host`, an IPv4 or IPv6 address."""
    if ":" not in host:
        return socket.create_server((host, port))
    # An IPv6 socket. Dual stack (IPV6_V6ONLY off) lets it take IPv4 clients
    # too, seen as ::ffff:a.b.c.d, where its address covers them: "::" does,
    # "::1" does not (IPv4 clients of 127.0.0.1 never reach ::1).
    return socket.create_server(
        (host, port), family=socket.AF_INET6, dualstack_ipv6=socket.has_dualstack_ipv6()
    )


def open_listeners(hosts: list[str], port: int) -> list[socket.socket]:
    """One listening socket per address, all on one port (with port 0, the first's)."""
    listeners: list[socket.socket] = []
    try:
        for host in hosts:
            listeners.append(open_listener(host, port))
            port = listeners[0].getsockname()[1]
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return listeners


# --8<-- [end:listen]
def receive_message(conn: socket.socket, limit: int) -> bytes:
    """Read until the client shuts down its sending side, up to `limit` bytes."""
    chunks = []
    received = 0
    while chunk := conn.recv(64 * 1024):
        received += len(chunk)
        if received > limit:
            raise MessageTooLarge(f"message over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def handle_client(conn: socket.socket, peer: str, client_timeout: float) -> None:
    """Echo one message back, or log why not; never let one client stop the server."""
    conn.settimeout(client_timeout)
    try:
        message = receive_message(conn, MAX_MESSAGE_SIZE)
        conn.sendall(message)
    except MessageTooLarge as error:
        print(f"Refused: {error}")
    except TimeoutError:
        print(f"Timed out: no data for {client_timeout} seconds")
    except ConnectionError as error:
        print(f"Client went away: {error.strerror}")
    else:
        print(f"Echoed {len(message)} bytes to {peer}")


# --8<-- [start:serve]
def serve(listeners: list[socket.socket], client_timeout: float) -> None:
    """Wait on every listening socket at once; serve clients one at a time."""
    with selectors.DefaultSelector() as selector:
        for listener in listeners:
            selector.register(listener, selectors.EVENT_READ)
        while True:
            for key, _events in selector.select():
                conn, address = key.fileobj.accept()
                with conn:
                    # address[0]: "::1", "127.0.0.1", or "::ffff:127.0.0.1" for
                    # an IPv4 client of a dual-stack socket.
                    handle_client(conn, address[0], client_timeout)


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="repeat for more addresses")
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--client-timeout", type=float, default=CLIENT_TIMEOUT)
    args = parser.parse_args()

    listeners = open_listeners(args.host or HOSTS, args.port)
    try:
        for listener in listeners:
            host, port = listener.getsockname()[:2]
            # An IPv6 address goes in brackets, or its port would look like part of it.
            shown = f"[{host}]" if ":" in host else host
            print(f"Listening on {shown}:{port}", flush=True)
        serve(listeners, args.client_timeout)
    except KeyboardInterrupt:
        print("Server stopped")
    finally:
        for listener in listeners:
            listener.close()


if __name__ == "__main__":
    main()
