"""What requests raises when a call fails, each case made on loopback.

    python3 -m pip install "requests==2.34.2"
    python3 requests_messages.py

Each case has a server of its own in a thread, on a free port of
127.0.0.1, which misbehaves in one way.
"""

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from message_text import last_line

LOOPBACK = ("127.0.0.1", 0)  # port 0: the system picks a free port
TIMEOUT = 0.1  # seconds: short, to show a timeout without a long wait


def response(status: str, body: bytes = b"") -> bytes:
    """An HTTP response that ends the connection: one request each."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


@contextmanager
def server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server for one request, answered by `answer`; yields its URL."""
    listener = socket.create_server(LOOPBACK)

    def serve_one() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:  # the request's head
                request += connection.recv(4096) or b"\r\n\r\n"
            answer(connection)

    thread = threading.Thread(target=serve_one)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        thread.join()
        listener.close()


def hang_up(connection: socket.socket) -> None:
    connection.shutdown(socket.SHUT_WR)  # a FIN: the end, without an answer


def reset(connection: socket.socket) -> None:
    linger = struct.pack("ii", 1, 0)  # close() then sends a reset
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)


def send(response: bytes) -> Callable[[socket.socket], None]:
    return lambda connection: connection.sendall(response)


# --8<-- [start:no_connection]
def no_connection() -> Iterator[str]:
    with socket.socket() as not_listening:  # bound, never listening
        not_listening.bind(LOOPBACK)
        port = not_listening.getsockname()[1]
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT)
        except requests.ConnectionError as error:
            yield last_line(error)
    with socket.socket() as full:  # listening, with a full queue
        full.bind(LOOPBACK)
        full.listen(0)  # room for one connection, which the next line takes
        with socket.create_connection(full.getsockname()):
            url = f"http://127.0.0.1:{full.getsockname()[1]}/"
            try:
                requests.get(url, timeout=TIMEOUT)
            except requests.ConnectTimeout as error:
                yield last_line(error)


# --8<-- [end:no_connection]
# --8<-- [start:no_answer]
def no_answer() -> Iterator[str]:
    # Listening, never accepting: the system completes the connection and
    # keeps the request, and no answer ever comes.
    with socket.create_server(LOOPBACK) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        try:
            requests.get(url, timeout=TIMEOUT)
        except requests.ReadTimeout as error:
            yield last_line(error)
    for behaviour in (hang_up, reset):
        with server(behaviour) as url:
            try:
                requests.get(url, timeout=5)
            except requests.ConnectionError as error:
                yield last_line(error)


# --8<-- [end:no_answer]
# --8<-- [start:answers]
def unexpected_answers() -> Iterator[str]:
    with server(send(response("404 Not Found"))) as url:
        try:
            requests.get(f"{url}notes/7", timeout=5).raise_for_status()
        except requests.HTTPError as error:
            yield last_line(error)
    with server(send(response("200 OK", b"<h1>Hello</h1>"))) as url:
        try:
            requests.get(url, timeout=5).json()
        except requests.JSONDecodeError as error:
            yield last_line(error)


# --8<-- [end:answers]
def main() -> None:
    for scenario in (no_connection, no_answer, unexpected_answers):
        for message in scenario():
            print(message)


if __name__ == "__main__":
    main()
