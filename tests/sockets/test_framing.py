"""Tests of the page "Message framing over TCP" (docs/sockets/framing.md)."""

import socket
import struct

import pytest

SERVER = "sockets/framed_echo_server.py"
CLIENT = "sockets/framed_echo_client.py"
HEADER = struct.Struct("!I")


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@pytest.fixture(scope="module")
def server(live_server):
    # One server for the module; a client silent for 0.3 s is timed out.
    with live_server(SERVER, "--client-timeout", "0.3") as running:
        yield running


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def test_a_byte_stream_keeps_no_message_boundaries(run_example):
    run_example("sockets/stream_boundaries.py")


def test_client_sends_four_messages_on_one_connection(server, run_example):
    run_example(CLIENT, "--host", server.host, "--port", str(server.port))
    assert server.wait_for_line("Echoed 4 frames")


def test_a_frame_sent_one_byte_at_a_time_is_reassembled(server, client):
    message = "one byte at a time 👋".encode()
    with server.connect() as sock:
        # No Nagle delay: each one-byte send leaves as its own TCP segment.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in frame(message):
            sock.sendall(bytes([byte]))
        assert client.receive_frame(sock) == message


def test_two_frames_in_one_write_get_two_replies(server, client):
    with server.connect() as sock:
        sock.sendall(frame(b"first") + frame(b"second"))
        assert client.receive_frame(sock) == b"first"
        assert client.receive_frame(sock) == b"second"


def test_receive_frame_reads_a_frame_that_arrives_in_one_byte_pieces(client):
    class OneByteAtATime:
        """A socket whose every recv() returns a single byte: the worst case."""

        def __init__(self, sock):
            self.sock = sock

        def recv(self, size):
            return self.sock.recv(1)

    writer, reader = socket.socketpair()
    with writer, reader:
        reader.settimeout(5)
        writer.sendall(frame(b"piece by piece") + frame(b""))
        trickle = OneByteAtATime(reader)
        assert client.receive_frame(trickle) == b"piece by piece"
        assert client.receive_frame(trickle) == b""


def test_large_messages_come_back_intact(server, client):
    messages = [bytes([n]) * 300_000 for n in range(3)]
    assert client.echo_all(messages, server.host, server.port) == messages


def test_oversized_frame_is_refused_and_the_next_client_served(server, client):
    limit = client.MAX_FRAME_SIZE
    with server.connect() as bad:
        bad.sendall(HEADER.pack(limit + 1))
        # Connected while the server handles `bad`: it waits its turn.
        with server.connect() as waiting:
            client.send_frame(waiting, b"my turn")
            assert bad.recv(1) == b""  # refused: the server hung up
            assert client.receive_frame(waiting) == b"my turn"
    line = server.wait_for_line("Refused")
    assert line == f"Refused: frame of {limit + 1} bytes is over the {limit}-byte limit"


def test_garbage_is_read_as_a_huge_length_and_refused(server, client, closed_by_peer):
    garbage = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    (announced,) = HEADER.unpack(garbage[: HEADER.size])
    with server.connect() as sock:
        sock.sendall(garbage)
        assert closed_by_peer(sock)
    assert server.wait_for_line("Refused").startswith(f"Refused: frame of {announced}")
    assert client.echo_all([b"fresh"], server.host, server.port) == [b"fresh"]


@pytest.mark.parametrize("how", ["reset", "close"])
def test_client_vanishing_mid_frame_does_not_stop_the_server(
    server, client, vanish, how
):
    sock = server.connect()
    sock.sendall(HEADER.pack(100) + b"only ten b")
    if how == "reset":
        vanish(sock)
        expected = "Client went away: Connection reset by peer"
    else:
        sock.close()
        expected = "Client went away: closed after 10 of 100 bytes"
    assert server.wait_for_line(expected)
    assert client.echo_all([b"still there?"], server.host, server.port) == [
        b"still there?"
    ]


def test_client_closing_right_after_a_header_is_logged(server, client):
    with server.connect() as sock:
        sock.sendall(HEADER.pack(5))
    line = server.wait_for_line("Client went away")
    assert line == "Client went away: closed after the header of a 5-byte frame"
    assert client.echo_all([b"next"], server.host, server.port) == [b"next"]


def test_client_that_never_sends_is_timed_out(server, client):
    with server.connect() as silent:
        assert silent.recv(1) == b""  # the server hangs up on us
    assert server.wait_for_line("Timed out") == "Timed out: no data for 0.3 seconds"
    assert client.echo_all([b"my turn"], server.host, server.port) == [b"my turn"]


def test_client_refuses_an_oversized_reply_before_reading_it(client):
    limit = client.MAX_FRAME_SIZE
    peer, sock = socket.socketpair()
    with peer, sock:
        sock.settimeout(5)
        peer.sendall(HEADER.pack(limit + 1))
        with pytest.raises(ConnectionError, match=f"over the {limit}-byte limit"):
            client.receive_frame(sock)


def test_client_reports_a_reply_cut_short(client):
    peer, sock = socket.socketpair()
    with peer, sock:
        sock.settimeout(5)
        peer.sendall(HEADER.pack(10) + b"abc")
        peer.close()
        with pytest.raises(ConnectionError, match="closed after 3 of 10 bytes"):
            client.receive_frame(sock)


def test_client_program_says_what_to_do_when_no_server(run_example, free_port):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start framed_echo_server.py"
    )
