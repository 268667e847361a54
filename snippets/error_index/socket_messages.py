"""The errors of sockets, each made on purpose on loopback, with its message.

    python3 socket_messages.py

Every scenario makes its own sockets on free ports of 127.0.0.1: the
program needs no server, and no packet leaves the machine.
"""

import asyncio
import socket
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from message_text import last_line, normalised

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 0.1  # seconds: short, to show a timeout without a long wait


@contextmanager
def port_without_server() -> Iterator[tuple[str, int]]:
    """An address where nothing listens: bound, so no one else takes it."""
    with socket.socket() as placeholder:
        placeholder.bind(LOOPBACK)
        yield placeholder.getsockname()


# --8<-- [start:refused]
def connection_refused() -> Iterator[str]:
    with port_without_server() as address:
        try:
            socket.create_connection(address, timeout=5)
        except ConnectionRefusedError as error:
            yield last_line(error)
        try:  # the same, in asyncio's words
            asyncio.run(asyncio.open_connection(*address))
        except ConnectionRefusedError as error:
            yield last_line(error)


# --8<-- [end:refused]
# --8<-- [start:timeouts]
def no_answer_in_time() -> Iterator[str]:
    # Listening, so the system completes each connection; never accepted,
    # so nothing is ever said on it: a server that hangs.
    with socket.create_server(LOOPBACK) as listener:
        address = listener.getsockname()
        with socket.create_connection(address, timeout=TIMEOUT) as client:
            try:
                client.recv(1024)
            except TimeoutError as error:
                yield last_line(error)


def no_connection_in_time() -> Iterator[str]:
    # A server whose queue of connections waiting for accept() is full: the
    # system drops the next SYN without answering, as a firewall does.
    with socket.socket() as listener:
        listener.bind(LOOPBACK)
        listener.listen(0)  # room for one connection, never accepted
        address = listener.getsockname()
        with socket.create_connection(address, timeout=TIMEOUT):
            try:
                socket.create_connection(address, timeout=TIMEOUT)
            except TimeoutError as error:
                yield last_line(error)


# --8<-- [end:timeouts]
@contextmanager
def connected_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP connection on loopback: (client side, server side)."""
    with socket.create_server(LOOPBACK) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server_side, _ = listener.accept()
    with client, server_side:
        yield client, server_side


# --8<-- [start:reset]
def reset_then_broken_pipe() -> Iterator[str]:
    with connected_pair() as (client, server_side):
        # Linger on, for 0 seconds: close() sends a reset, not a FIN, as
        # when a program crashes or a server drops a client it refuses.
        linger = struct.pack("ii", 1, 0)
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        server_side.close()
        try:
            client.recv(1024)  # the first call after the reset
        except ConnectionResetError as error:
            yield last_line(error)
        try:
            client.sendall(b"more")  # every write after it
        except BrokenPipeError as error:
            yield last_line(error)


# --8<-- [end:reset]
# --8<-- [start:in_use]
def address_in_use() -> Iterator[str]:
    with socket.create_server(LOOPBACK) as first:
        address = first.getsockname()
        with socket.socket() as second:  # a second server, same address
            try:
                second.bind(address)
            except OSError as error:
                yield last_line(error)
        try:  # the same, in the words of create_server() and of asyncio
            socket.create_server(address)
        except OSError as error:
            yield last_line(error)
        try:
            asyncio.run(asyncio.start_server(print, *address))
        except OSError as error:
            yield last_line(error)


# --8<-- [end:in_use]
# --8<-- [start:lookup]
def unknown_name() -> Iterator[str]:
    # AI_NUMERICHOST: take only an address, never look a name up, so that
    # no query leaves this machine. A name that no DNS server knows gives
    # the same error after a lookup.
    name = "no-such-host.example"
    try:
        socket.getaddrinfo(name, 80, flags=socket.AI_NUMERICHOST)
    except socket.gaierror as error:
        yield last_line(error)


# --8<-- [end:lookup]
# --8<-- [start:unclosed]
def unclosed_socket() -> Iterator[str]:
    # Shown with python3 -X dev (or -W default); recorded here instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sock = socket.socket()
        sock.bind(LOOPBACK)
        del sock  # the last reference: Python frees it, still open
    for warning in caught:
        yield normalised(f"{warning.category.__name__}: {warning.message}")


# --8<-- [end:unclosed]
def main() -> None:
    for scenario in (
        connection_refused,
        no_answer_in_time,
        no_connection_in_time,
        reset_then_broken_pipe,
        address_in_use,
        unknown_name,
        unclosed_socket,
    ):
        for message in scenario():
            print(message)


if __name__ == "__main__":
    main()
