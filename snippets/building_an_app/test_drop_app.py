"""Tests of the file-drop service: copy them with it, and run

    python -m pytest test_drop_app.py        # or: python test_drop_app.py

Unit tests of the protocol (no network), tests against a real server on a
free port, and fault tests: a client that misbehaves gets what the limits
promise, and the next client is still served. They need pytest, and the
drop_*.py files beside them.
"""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from drop_client import Refused, get, list_names, put
from drop_protocol import (
    HEADER_SIZE,
    LIST,
    Code,
    ProtocolError,
    check_name,
    encode,
    error_reply,
    parse_error,
    parse_header,
    put_request,
)

HERE = Path(__file__).resolve().parent
LIMITS = ["--deadline", "0.5", "--max-size", "1024"]  # small: fast tests


# --8<-- [start:unit]
def test_a_request_reads_back_as_it_was_written():
    request = put_request("hello.txt", b"Hello!")
    header = parse_header(request[:HEADER_SIZE], max_length=1024)
    assert header == (b"P", len(request) - HEADER_SIZE)
    assert request[HEADER_SIZE:] == b"\x09hello.txtHello!"


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (b"GET / HT", Code.BAD_FRAME),  # an HTTP client at the wrong port
        (b"DP\x02L\x00\x00\x00\x00", Code.BAD_VERSION),
        (b"DP\x01P\xff\xff\xff\xff", Code.TOO_LARGE),  # 4 GiB announced
    ],
)
def test_a_bad_header_is_refused_before_any_payload(start, code):
    with pytest.raises(ProtocolError) as refused:
        parse_header(start, max_length=1024)
    assert refused.value.code == code


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "a/b", ".env", "", "x" * 101, "tab\there"]
)
def test_a_name_is_a_file_name_and_nothing_else(name):
    with pytest.raises(ProtocolError) as refused:
        check_name(name.encode())
    assert refused.value.code == Code.BAD_NAME


def test_an_error_reply_carries_its_code_and_text():
    reply = error_reply(Code.NOT_FOUND, "no file named x")
    error = parse_error(reply[HEADER_SIZE:])
    assert (error.code, error.text) == (Code.NOT_FOUND, "no file named x")


# --8<-- [end:unit]
# --8<-- [start:server]
@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """A drop_server.py of our own, on a free port, with small limits.

    One for the whole module: a server takes a tenth of a second to start,
    and each test uses names of its own.
    """
    folder = tmp_path_factory.mktemp("stored")
    command = [
        sys.executable,
        str(HERE / "drop_server.py"),
        "--port",
        "0",  # the system picks a free port; the server prints it
        "--folder",
        str(folder),
        *LIMITS,
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        first_line = server.stdout.readline()  # "Listening on HOST:PORT"
        yield int(first_line.rpartition(":")[2])
    finally:
        server.terminate()  # SIGTERM: it drains, then exits
        server.communicate(timeout=10)


def test_what_is_stored_comes_back_byte_for_byte(port, tmp_path):
    original = tmp_path / "data.bin"
    original.write_bytes(bytes(range(256)) * 3)  # every byte value
    put(original, "data.bin", "127.0.0.1", port)
    back = tmp_path / "back"
    back.mkdir()
    get("data.bin", back, "127.0.0.1", port)
    assert (back / "data.bin").read_bytes() == original.read_bytes()
    assert "data.bin" in list_names("127.0.0.1", port)


def test_a_missing_file_is_an_error_reply(port):
    with pytest.raises(Refused) as refused:
        get("missing.txt", Path("."), "127.0.0.1", port)
    assert refused.value.code == Code.NOT_FOUND


# --8<-- [end:server]
# --8<-- [start:faults]
def test_a_silent_client_gets_too_slow_and_the_next_is_served(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        reply = silent.makefile("rb").read()  # all of it, until it closes
    assert parse_error(reply[HEADER_SIZE:]).code == Code.TOO_SLOW
    assert isinstance(list_names("127.0.0.1", port), list)


def test_an_upload_over_the_limit_is_refused_with_a_reason(port, tmp_path):
    too_big = tmp_path / "big.bin"
    too_big.write_bytes(b"x" * 2000)  # the limit is 1024
    with pytest.raises(Refused) as refused:
        put(too_big, "big.bin", "127.0.0.1", port)
    assert refused.value.code == Code.TOO_LARGE
    assert "big.bin" not in list_names("127.0.0.1", port)


def test_garbage_gets_an_error_and_the_next_client_is_served(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"\xff" * 100 + encode(LIST))
        reply = client.makefile("rb").read()
    assert parse_error(reply[HEADER_SIZE:]).code == Code.BAD_FRAME
    assert isinstance(list_names("127.0.0.1", port), list)


# --8<-- [end:faults]
def main() -> None:
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))


if __name__ == "__main__":
    main()
