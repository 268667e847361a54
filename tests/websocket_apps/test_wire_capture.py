"""Tests of the page "How WebSockets work" (docs/websockets/how-websockets-work.md)."""

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
import websockets.frames
from websockets.frames import Frame, Opcode

from .frame_figure import frame_svg, parts

CAPTURE = "websocket_apps/wire_capture.py"
FIGURE = Path(__file__).resolve().parents[2] / "docs/websockets/websocket-frame.svg"
# The masking key of the example in RFC 6455, section 5.7. websockets picks
# a random key for each frame; the figure's test fixes it, so that the
# figure stays the same from one run to the next.
RFC_KEY = bytes.fromhex("37fa213d")


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


def test_the_frame_figure_shows_the_bytes_of_a_real_frame(
    import_snippet, monkeypatch, request
):
    from sequence_figures import check_figure

    capture = import_snippet(CAPTURE)
    fixed = SimpleNamespace(token_bytes=lambda size: RFC_KEY[:size])
    monkeypatch.setattr(websockets.frames, "secrets", fixed)
    to_server, to_client = asyncio.run(capture.capture_conversation())
    client_frames, server_frames = [
        capture.split_head(data)[1] for data in (to_server, to_client)
    ]
    client_frame = client_frames[: sum(map(len, parts(client_frames)))]
    server_frame = server_frames[: sum(map(len, parts(server_frames)))]
    # What the page's decoder reads in the same bytes: the figure agrees.
    said = next(capture.read_frames(client_frame))
    assert said == capture.Frame(True, 0x1, True, b"Hello, WebSocket!")
    assert next(capture.read_frames(server_frame)).payload == said.payload
    assert client_frame[2:6] == RFC_KEY
    check_figure(request, FIGURE, frame_svg(client_frame, server_frame))
