"""Tests of the page "TCP client and server" (docs/sockets/tcp.md)."""

import os
import socket
import struct

import pytest

SERVER = "sockets/tcp_echo_server.py"
CLIENT = "sockets/tcp_echo_client.py"


def test_client_prints_the_echoed_greeting(start_server, run_example):
    with start_server(SERVER) as server:
        run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert "Echoed 16 bytes" in server.output
    assert server.output.endswith("Server stopped\n")


def test_a_one_megabyte_message_arrives_intact(start_server, import_snippet):
    client = import_snippet(CLIENT)
    message = os.urandom(1_000_000)
    with start_server(SERVER) as server:
        reply = client.echo(message, server.host, server.port)
    assert reply == message


@pytest.mark.parametrize("extra", [1, 1024 * 1024], ids=["just-over", "double"])
def test_oversized_message_is_refused_and_server_goes_on(
    start_server, import_snippet, extra
):
    client = import_snippet(CLIENT)
    limit = import_snippet(SERVER).MAX_MESSAGE_SIZE
    with start_server(SERVER) as server:
        # The server hangs up without a reply. The client sees a cut-off echo
        # or, if the server closed with our data unread, the reset that follows
        # (from recv, sendall or shutdown, depending on timing).
        refused = "incomplete echo|reset by peer|not connected|Broken pipe"
        with pytest.raises(OSError, match=refused):
            client.echo(b"x" * (limit + extra), server.host, server.port)
        assert client.echo(b"next", server.host, server.port) == b"next"
    assert f"Refused: message over {limit} bytes" in server.output


def test_client_that_vanishes_mid_message_does_not_stop_the_server(
    start_server, import_snippet
):
    client = import_snippet(CLIENT)
    with start_server(SERVER) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"half a mess")
            # Linger 0: close() sends a reset, as a crashed client's kernel does.
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        assert client.echo(b"still there?", server.host, server.port) == b"still there?"
    assert "Client went away: Connection reset by peer" in server.output


def test_client_that_never_sends_is_timed_out(start_server, import_snippet):
    client = import_snippet(CLIENT)
    with start_server(SERVER, "--client-timeout", "0.2") as server:
        with socket.create_connection((server.host, server.port), timeout=5) as silent:
            # The server hangs up on us: our read ends with b"" (closed).
            assert silent.recv(1) == b""
        assert client.echo(b"my turn", server.host, server.port) == b"my turn"
    assert "Timed out: no data for 0.2 seconds" in server.output


def test_garbage_bytes_are_echoed_like_any_others(start_server, import_snippet):
    client = import_snippet(CLIENT)
    garbage = bytes(range(256)) * 4
    with start_server(SERVER) as server:
        assert client.echo(garbage, server.host, server.port) == garbage


def test_no_server_gives_connection_refused(import_snippet, free_port):
    client = import_snippet(CLIENT)
    with pytest.raises(ConnectionRefusedError):
        client.echo(b"anyone?", "127.0.0.1", free_port)


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start tcp_echo_server.py"
    )
