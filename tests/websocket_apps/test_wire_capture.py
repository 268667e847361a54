"""Tests of the page "How WebSockets work" (docs/websockets/how-websockets-work.md)."""

import pytest
from websockets.frames import Frame, Opcode

CAPTURE = "websocket_apps/wire_capture.py"


def test_capture_shows_the_handshake_and_every_frame(run_example):
    # The #> comments hold the handshake and the frames the relay saw.
    run_example(CAPTURE)


@pytest.mark.parametrize(
    ("size", "mask"),
    [(125, True), (126, True), (65_535, False), (65_536, True), (100_000, False)],
)
def test_frame_reader_agrees_with_websockets(import_snippet, size, mask):
    # Lengths up to 125 fit in the second byte; 126 announces a 16-bit length
    # and 127 a 64-bit one. websockets' own encoder is the reference.
    capture = import_snippet(CAPTURE)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frames = Frame(Opcode.BINARY, payload, fin=False).serialize(mask=mask)
    frames += Frame(Opcode.CLOSE, b"\x03\xe8bye").serialize(mask=mask)
    assert list(capture.read_frames(frames)) == [
        capture.Frame(fin=False, opcode=0x2, masked=mask, payload=payload),
        capture.Frame(fin=True, opcode=0x8, masked=mask, payload=b"\x03\xe8bye"),
    ]


def test_accept_value_matches_the_example_of_rfc_6455(import_snippet):
    # RFC 6455 section 1.3 gives this key and the answer the server must send.
    capture = import_snippet(CAPTURE)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    assert capture.expected_accept(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_missing_header_is_reported(import_snippet):
    capture = import_snippet(CAPTURE)
    response = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket"]
    assert capture.header(response, "upgrade") == "websocket"
    with pytest.raises(LookupError, match="no sec-websocket-accept header"):
        capture.header(response, "sec-websocket-accept")
