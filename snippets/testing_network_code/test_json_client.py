"""Tests of json_client.py: against real servers on free ports, then against
fake servers that reset, stall, or answer garbage.

    python3 -m pytest test_json_client.py
"""

import socket
import struct
import time

import pytest
from json_client import MAX_SIZE, FetchError, fetch_json

SHORT = 0.1  # seconds: the timeout of a test that waits for one


# --8<-- [start:live]
def test_fetches_the_json_of_a_server_in_a_thread(json_server):
    document = fetch_json("127.0.0.1", json_server, "/hello")
    assert document == {"greeting": "Hello"}


def test_names_the_status_of_a_missing_page(json_server):
    with pytest.raises(FetchError, match=r"answered 404 Not Found$"):
        fetch_json("127.0.0.1", json_server, "/missing")


def test_fetches_the_json_of_a_server_in_a_process(file_server):
    document = fetch_json("127.0.0.1", file_server, "/hello.json")
    assert document == {"greeting": "Hello"}


# --8<-- [end:live]
# --8<-- [start:faults]
def hang_up(connection):
    """Close without a word: the with block in fake_server closes it."""


def reset(connection):
    """Close with a TCP reset, as a crashed server's system does."""
    linger = struct.pack("ii", 1, 0)  # SO_LINGER on, for 0 s: close() resets
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)


def stall(connection):
    """Say nothing, until the client gives up and closes the connection."""
    connection.recv(1)  # returns b"" once the client has closed: no sleep


def garbage(connection):
    connection.sendall(b"\xff\xfe\x00 not HTTP at all\r\n\r\n")


def not_json(connection):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>")


def cut_short(connection):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{")


def too_large(connection):
    size = MAX_SIZE + 1
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n"
    connection.sendall(head.encode() + b" " * size)


@pytest.mark.parametrize(
    ("misbehave", "message"),
    [
        (hang_up, "hung up without answering"),
        (reset, "reset the connection"),
        (garbage, "did not answer in HTTP"),
        (not_json, "did not answer in JSON"),
        (cut_short, "cut its answer short"),
        (too_large, f"sent over {MAX_SIZE} bytes"),
    ],
)
def test_a_misbehaving_server_gets_a_one_line_error(
    fake_server,
    misbehave,
    message,
):
    port = fake_server(misbehave)
    with pytest.raises(FetchError) as error:
        fetch_json("127.0.0.1", port)
    assert str(error.value) == f"127.0.0.1:{port} {message}"


# --8<-- [end:faults]
# --8<-- [start:timing]
def test_a_stalled_server_costs_the_timeout_and_no_more(fake_server):
    port = fake_server(stall)
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        fetch_json("127.0.0.1", port, timeout=SHORT)
    waited = time.monotonic() - started
    assert str(error.value).endswith(f"did not answer within {SHORT} s")
    assert SHORT <= waited < SHORT + 2


def test_nothing_listening_is_not_a_timeout():
    with socket.socket() as holder:  # a port that no one else takes...
        holder.bind(("127.0.0.1", 0))  # ...and where nothing listens
        port = holder.getsockname()[1]
        with pytest.raises(FetchError, match=r"^No server at 127\.0\.0\.1:"):
            fetch_json("127.0.0.1", port, timeout=SHORT)


# --8<-- [end:timing]
