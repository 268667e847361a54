"""Tests of the page "Authentication" (docs/websockets/authentication.md).

The server runs as a reader starts it, with its token in WEBSOCKET_TOKEN and
the short limits of the fault matrix (conftest.py's SERVERS), which also
breaks its other limits (test_limits.py). Here: the deadline to sign in, and
the token itself.
"""

from __future__ import annotations

import os
import struct
import sys
import time

import pytest

from .conftest import CLOSE, SERVERS, TEXT, RawWebSocket

SERVER = "websocket_apps/auth_server.py"
CLIENT = "websocket_apps/auth_client.py"
AUTH = SERVERS["auth_server"]
SIGN_IN = "Time to sign in"  # rows of its limits table
TOKEN_ROW = "Token"  # noqa: S105 (a row of the table, no password)
MARGIN = 2.0  # seconds of slack on a loaded machine, on top of a limit
AUTH_TIMEOUT = float(AUTH.options[AUTH.options.index("--auth-timeout") + 1])


@pytest.fixture(scope="module")
def auth_server(shared_server):
    return shared_server(AUTH)


def fragment(payload: bytes, *, first: bool, last: bool) -> bytes:
    """A masked frame that holds one piece of a text message."""
    opcode = TEXT if first else 0x0  # the others: continuation frames
    header = bytes([(0x80 if last else 0) | opcode, 0x80 | len(payload)])
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return header + mask + masked


# --- The page's programs ------------------------------------------------------


def test_the_client_signs_in_and_gets_its_echo(auth_server, run_example, monkeypatch):
    monkeypatch.setenv("WEBSOCKET_TOKEN", AUTH.token)
    run_example(CLIENT, "--port", str(auth_server.port))  # its #> line


def test_a_wrong_token_is_refused_in_one_line(auth_server, run_example, monkeypatch):
    monkeypatch.setenv("WEBSOCKET_TOKEN", "a guess " + "x" * 32)
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(auth_server.port))
    assert exit_info.value.code == (
        f"ws://127.0.0.1:{auth_server.port}/ refused to sign us in "
        "(authentication failed): is WEBSOCKET_TOKEN the server's token?"
    )


def test_the_client_needs_its_token(import_snippet, monkeypatch):
    client = import_snippet(CLIENT)
    monkeypatch.delenv("WEBSOCKET_TOKEN", raising=False)
    monkeypatch.setattr(sys, "argv", [CLIENT])
    with pytest.raises(SystemExit) as exit_info:
        client.main()
    assert exit_info.value.code == (
        "WEBSOCKET_TOKEN is not set: give it the server's token"
    )


@pytest.mark.parametrize(
    ("token", "problem"), [("", "is not set"), ("too short", "is too short")]
)
def test_the_server_needs_a_long_enough_token(
    token, problem, import_snippet, monkeypatch
):
    server = import_snippet(SERVER)
    monkeypatch.setenv("WEBSOCKET_TOKEN", token)
    monkeypatch.setattr(sys, "argv", [SERVER])
    with pytest.raises(SystemExit) as exit_info:
        server.main()
    assert exit_info.value.code == (
        f"WEBSOCKET_TOKEN {problem}: make one with "
        "export WEBSOCKET_TOKEN=$(python3 auth_server.py --new-token)"
    )


def test_the_server_makes_new_tokens(import_snippet, monkeypatch, capsys):
    server = import_snippet(SERVER)
    monkeypatch.setattr(sys, "argv", [SERVER, "--new-token"])
    tokens = set()
    for _ in range(2):
        server.main()
        tokens.add(capsys.readouterr().out)
    assert len(tokens) == 2  # a new one each time
    for token in tokens:  # 32 random bytes, in URL-safe base64, and a newline
        assert len(token) == 44
        assert token.rstrip("\n").replace("-", "").replace("_", "").isalnum()


# --- The deadline to sign in ---------------------------------------------------


@pytest.mark.hostile(SERVER, "silent", limit=SIGN_IN)
def test_a_client_that_never_signs_in_is_closed_at_the_deadline(
    auth_server, record_wait
):
    started = time.monotonic()
    with auth_server.raw(sign_in=False) as silent:
        waited = time.monotonic()
        auth_server.serve_one()  # meanwhile
        record_wait(time.monotonic() - waited)
        code, reason = silent.read_close(answer_pings=True)  # alive
    lasted = time.monotonic() - started
    assert (code, reason) == (1008, "authentication timed out")
    assert AUTH_TIMEOUT <= lasted < AUTH_TIMEOUT + MARGIN


@pytest.mark.hostile(SERVER, "slow drip", limit=SIGN_IN)
def test_a_token_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(
    auth_server, record_wait
):
    # Each byte of the token in a frame of its own, a message in pieces:
    # the deadline is for the whole message, not for each piece.
    token = AUTH.token.encode()
    started = time.monotonic()
    with auth_server.raw(sign_in=False) as dripping:
        dripping.sock.settimeout(0.05)  # paces the drip: one byte per wait
        code = reason = None
        for index in range(len(token) - 1):  # never the last one
            piece = token[index : index + 1]
            dripping.sock.sendall(fragment(piece, first=index == 0, last=False))
            try:
                code, reason = dripping.read_close(answer_pings=True)
                break
            except TimeoutError:
                continue
        lasted = time.monotonic() - started
        waited = time.monotonic()
        auth_server.serve_one()
        record_wait(time.monotonic() - waited)
    assert (code, reason) == (1008, "authentication timed out")
    assert AUTH_TIMEOUT <= lasted < AUTH_TIMEOUT + MARGIN


# --- The token -------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_message",
    [
        RawWebSocket.frame(TEXT, b"not the token"),
        RawWebSocket.frame(TEXT, b""),
        RawWebSocket.frame(TEXT, AUTH.token[:-1].encode()),  # all but one
        RawWebSocket.frame(TEXT, (AUTH.token + "x").encode()),  # one more
        RawWebSocket.frame(TEXT, AUTH.token.upper().encode()),
        RawWebSocket.frame(TEXT, "tökén".encode()),  # not ASCII
        RawWebSocket.frame(0x2, AUTH.token.encode()),  # binary, not text
        RawWebSocket.frame(TEXT, b"Hello"),  # a message before the token
    ],
    ids=[
        "other",
        "empty",
        "shorter",
        "longer",
        "upper",
        "non-ascii",
        "binary",
        "message-first",
    ],
)
@pytest.mark.hostile(SERVER, "garbage", limit=TOKEN_ROW)
def test_anything_but_the_token_is_refused_with_1008(
    first_message, auth_server, record_wait
):
    with auth_server.raw(sign_in=False) as guessing:
        guessing.sock.sendall(first_message)
        # Its next message is not echoed: the connection is closed.
        guessing.sock.sendall(RawWebSocket.frame(TEXT, b"let me in"))
        code, reason = guessing.read_close()
    assert (code, reason) == (1008, "authentication failed")
    waited = time.monotonic()
    auth_server.serve_one()
    record_wait(time.monotonic() - waited)


@pytest.mark.hostile(SERVER, "confinement", limit=TOKEN_ROW)
def test_a_token_in_the_url_signs_no_one_in(auth_server):
    # The token in the query string, where this page says never to put it:
    # the server does not read it there, and waits for a first message.
    with auth_server.raw(f"/?token={AUTH.token}", sign_in=False) as websocket:
        code, reason = websocket.read_close(answer_pings=True)
    assert (code, reason) == (1008, "authentication timed out")


def test_a_signed_in_client_is_echoed_and_leaves_normally(auth_server):
    with auth_server.raw() as websocket:  # signed in
        websocket.send_frame(TEXT, "Hello, signed in! 🔑".encode())
        assert websocket.read_frame() == (TEXT, "Hello, signed in! 🔑".encode())
        websocket.send_frame(CLOSE, struct.pack("!H", 1000))
        assert websocket.read_close() == (1000, "")


def test_a_client_that_leaves_without_waiting_for_its_echo(auth_server):
    # The server's send() then meets a closed connection: a normal end.
    with auth_server.raw() as leaving:  # signed in
        leaving.send_then_close("no need to answer")
        assert leaving.read_frame() == (CLOSE, struct.pack("!H", 1000))
    auth_server.serve_one()


def test_the_log_names_refused_clients_never_the_token(auth_server):
    with auth_server.raw(sign_in=False) as guessing:
        guessing.send_frame(TEXT, b"a guess")
        assert guessing.read_close()[0] == 1008
        who = f"127.0.0.1:{guessing.sock.getsockname()[1]}"
    line = auth_server.wait_for_line(f"{who} refused")  # as it is printed
    assert line == f"{who} refused: authentication failed\n"
