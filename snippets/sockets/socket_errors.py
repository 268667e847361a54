"""The errors a socket program meets, each one reproduced on loopback.

    python3 socket_errors.py

Every scenario makes its own sockets on free ports of 127.0.0.1, so the
program needs no server and leaves nothing behind.
"""

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 5.0  # seconds: a scenario that goes wrong fails instead of hanging


# --8<-- [start:describe]
def describe(error: OSError) -> str:
    """The error's class, errno name and message: match on those, not text."""
    if error.errno is None:  # a socket timeout carries no errno
        return f"{type(error).__name__}: {error}"
    # os.strerror, not str(error): some messages include the address and port.
    name = errno.errorcode[error.errno]
    return f"{type(error).__name__}: [{name}] {os.strerror(error.errno)}"


# --8<-- [end:describe]
@contextmanager
def connected_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP connection on loopback: (client side, server side)."""
    with socket.create_server(LOOPBACK) as listener:
        address = listener.getsockname()
        client = socket.create_connection(address, timeout=TIMEOUT)
        server_side, _ = listener.accept()
    with client, server_side:
        yield client, server_side


# --8<-- [start:refused]
def connection_refused() -> None:
    # A port that is bound but not listening: the kernel answers a reset.
    with socket.socket() as not_listening:
        not_listening.bind(LOOPBACK)
        try:
            address = not_listening.getsockname()
            socket.create_connection(address, timeout=TIMEOUT)
        except ConnectionRefusedError as error:
            print(describe(error))
            #> ConnectionRefusedError: [ECONNREFUSED] Connection refused


# --8<-- [end:refused]
# --8<-- [start:timeout]
def timed_out() -> None:
    with connected_pair() as (client, _server_side):
        client.settimeout(0.1)  # the server side never answers
        try:
            client.recv(1024)
        except TimeoutError as error:
            print(describe(error))
            #> TimeoutError: timed out


# --8<-- [end:timeout]
# --8<-- [start:reset]
def connection_reset() -> None:
    with connected_pair() as (client, server_side):
        client.sendall(b"a request")
        # Wait until it has arrived, and leave it unread.
        server_side.recv(1, socket.MSG_PEEK)
        server_side.close()  # closed with unread data: a reset, not a FIN
        try:
            client.recv(1024)
        except ConnectionResetError as error:
            print(describe(error))
            #> ConnectionResetError: [ECONNRESET] Connection reset by peer


# --8<-- [end:reset]
# --8<-- [start:broken_pipe]
def broken_pipe() -> None:
    with connected_pair() as (client, server_side):
        server_side.close()
        print(client.recv(1024))  # b"": the server has closed its side
        #> b''
        # Our kernel takes this send; the peer's kernel answers with a reset.
        client.sendall(b"first")
        try:
            while True:  # the reset comes after that send: a later one fails
                client.sendall(b"second")
        except BrokenPipeError as error:
            print(describe(error))
            #> BrokenPipeError: [EPIPE] Broken pipe


# --8<-- [end:broken_pipe]
# --8<-- [start:in_use]
def address_in_use() -> None:
    with socket.create_server(LOOPBACK) as first:
        try:  # a second server on the same address and port
            socket.create_server(first.getsockname())
        except OSError as error:
            print(describe(error))
            #> OSError: [EADDRINUSE] Address already in use


# --8<-- [end:in_use]
# --8<-- [start:reuse]
def bind_new_socket(address: tuple[str, int], reuse_address: bool) -> str:
    """Bind and listen as a restarted server would; say how it went."""
    with socket.socket() as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            return describe(error)
        sock.listen()
        return "listening"


def restart_after_close() -> None:
    # A server that served one client and stopped: it closed first, so its
    # side of that connection waits in TIME_WAIT (60 s on Linux), on its port.
    with socket.create_server(LOOPBACK) as listener:
        address = listener.getsockname()
        with socket.create_connection(address, timeout=TIMEOUT) as client:
            server_side, _ = listener.accept()
            server_side.close()
            client.recv(1024)  # b"": the server's close arrived
    without = bind_new_socket(address, reuse_address=False)
    print("without SO_REUSEADDR:", without)
    #> without SO_REUSEADDR: OSError: [EADDRINUSE] Address already in use
    print("with SO_REUSEADDR:", bind_new_socket(address, reuse_address=True))
    #> with SO_REUSEADDR: listening


# --8<-- [end:reuse]
def main() -> None:
    connection_refused()
    timed_out()
    connection_reset()
    broken_pipe()
    address_in_use()
    restart_after_close()


if __name__ == "__main__":
    main()
