"""The figure of a WebSocket frame, byte by byte, drawn from captured bytes.

`frame_svg(client_frame, server_frame)` takes the bytes of two frames as a
test captured them on the wire (a masked one from a client, and the echo
from the server) and draws them: the bits of the header's first two bytes
with the fields they hold, then every byte of each frame, the masking key
and the payload with the character each payload byte stands for. Every
value in the figure is read from those bytes, so the figure cannot drift
from what the programs send. It follows tests/test_figures.py as
sequence_figures.py does: 400 px wide, 14 px text, a white card first.
"""

from __future__ import annotations

import math
from html import escape

from sequence_figures import FONT, INK, MUTED, PAPER, SANS, WIDTH, Canvas

LEFT = 24  # px from the card's edge to the first cell
CELL = (WIDTH - 2 * LEFT) / 8  # 8 cells a row: a byte's bits, or 8 bytes
HEIGHT = 28  # px of a cell
LINE = 19  # px between two lines of text
# What each part of a frame is filled and outlined with.
PARTS = {
    "header": ("#e8eaf6", "#3949ab"),
    "key": ("#fbe9e7", "#9a3412"),
    "payload": ("#e0f2f1", "#00796b"),
}
OPCODES = {0x0: "CONT", 0x1: "TEXT", 0x2: "BINARY", 0x8: "CLOSE", 0x9: "PING",
           0xA: "PONG"}  # fmt: skip


def header_fields(frame: bytes) -> dict[str, int]:
    """The fields of a frame's first two bytes (RFC 6455, section 5.2)."""
    first, second = frame[0], frame[1]
    return {
        "fin": first >> 7,
        "rsv": (first >> 4) & 0b111,
        "opcode": first & 0x0F,
        "mask": second >> 7,
        "length": second & 0x7F,  # 0-125: the length itself
    }


def parts(frame: bytes) -> tuple[bytes, bytes, bytes]:
    """Header, masking key (empty if unmasked) and payload of a short frame."""
    fields = header_fields(frame)
    assert fields["length"] < 126, "a short frame: its length in the header"
    key_size = 4 if fields["mask"] else 0
    key = frame[2 : 2 + key_size]
    payload = frame[2 + key_size : 2 + key_size + fields["length"]]
    assert len(payload) == fields["length"], "the whole frame was captured"
    return frame[:2], key, payload


def unmasked(payload: bytes, key: bytes) -> bytes:
    return (
        bytes(byte ^ key[i % 4] for i, byte in enumerate(payload)) if key else payload
    )


def shown(byte: int) -> str:
    """The character a payload byte stands for, made visible."""
    return "␣" if byte == 0x20 else chr(byte) if 0x20 < byte < 0x7F else "·"


class Figure(Canvas):
    def centred(self, x: float, y: float, text: str, **options) -> None:
        self.text(x, y, text, anchor="middle", **options)

    def cell(self, index: int, y: float, content: str, part: str) -> None:
        fill, stroke = PARTS[part]
        x = LEFT + index * CELL
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{CELL:.1f}" height="{HEIGHT}" '
            f'fill="{fill}" stroke="{stroke}"/>'
        )
        self.centred(x + CELL / 2, y + HEIGHT - 9, content, mono=True)

    def over(self, first: int, count: int, y: float, label: str, **options):
        """A label centred over (or under) cells first..first+count-1."""
        middle = LEFT + (first + count / 2) * CELL
        self.centred(middle, y, label, **options)

    def heading(self, text: str) -> None:
        self.y += LINE + 8
        self.text(LEFT, self.y, text, bold=True)

    def note(self, text: str) -> None:
        self.y += LINE
        self.text(LEFT, self.y, text, colour=MUTED)

    def bits(self, byte: int, fields: list[tuple[str, int]], caption: str):
        """One byte as 8 bit cells, with the fields named above them."""
        self.y += LINE + 6
        first = 0
        for label, width in fields:
            self.over(first, width, self.y, label, colour=MUTED)
            first += width
        self.y += 6
        for index in range(8):
            self.cell(index, self.y, str((byte >> (7 - index)) & 1), "header")
        self.y += HEIGHT
        self.note(caption)

    def bytes_grid(self, cells: list[tuple[int, str, str]]) -> None:
        """Bytes 8 a row: each as hex in its cell, its meaning under it.
        A meaning that spans several bytes (header, masking key) is written
        once, under all of them."""
        for start in range(0, len(cells), 8):
            row = cells[start : start + 8]
            self.y += 8
            for index, (byte, _meaning, part) in enumerate(row):
                self.cell(index, self.y, f"{byte:02x}", part)
            self.y += HEIGHT + LINE - 4
            index = 0
            while index < len(row):
                _, meaning, part = row[index]
                span = 1  # a payload byte's character is its own
                while (
                    part != "payload"
                    and index + span < len(row)
                    and row[index + span][2] == part
                ):
                    span += 1
                mono = part == "payload"
                self.over(index, span, self.y, meaning, mono=mono, colour=MUTED)
                index += span


def frame_cells(frame: bytes) -> list[tuple[int, str, str]]:
    header, key, payload = parts(frame)
    text = unmasked(payload, key)
    return [
        *((byte, "header", "header") for byte in header),
        *((byte, "masking key", "key") for byte in key),
        *(
            (byte, shown(plain), "payload")
            for byte, plain in zip(payload, text, strict=True)
        ),
    ]


def first_byte_fields() -> list[tuple[str, int]]:
    return [("FIN", 1), ("RSV1", 1), ("RSV2", 1), ("RSV3", 1), ("opcode", 4)]


def frame_svg(client_frame: bytes, server_frame: bytes) -> str:
    name = "websocket-frame"
    client = header_fields(client_frame)
    server = header_fields(server_frame)
    _, key, masked = parts(client_frame)
    text = unmasked(masked, key).decode()
    echo = parts(server_frame)[2].decode()
    kind = OPCODES[client["opcode"]]
    figure = Figure()
    figure.y = 4
    figure.heading(f"From the client: {len(client_frame)} bytes, masked")
    figure.bits(
        client_frame[0],
        first_byte_fields(),
        f"0x{client_frame[0]:02x}: FIN {client['fin']}, the last frame; "
        f"opcode {client['opcode']}, {kind}",
    )
    figure.bits(
        client_frame[1],
        [("MASK", 1), ("payload length", 7)],
        f"0x{client_frame[1]:02x}: MASK {client['mask']}; "
        f"{client['length']} bytes of payload",
    )
    figure.bytes_grid(frame_cells(client_frame))
    figure.note("Each payload byte XOR a key byte, in turn:")
    plain = masked[0] ^ key[0]
    figure.note(f"0x{masked[0]:02x} XOR 0x{key[0]:02x} = 0x{plain:02x}, {chr(plain)!r}")
    figure.heading(f"From the server: {len(server_frame)} bytes, unmasked")
    figure.bits(
        server_frame[1],
        [("MASK", 1), ("payload length", 7)],
        f"0x{server_frame[1]:02x}: MASK {server['mask']}; "
        f"{server['length']} bytes of payload",
    )
    figure.bytes_grid(frame_cells(server_frame))
    height = math.ceil(figure.y + 16)
    title = f"The bytes of a WebSocket frame: {text!r} sent and echoed"
    description = (
        f"The client sends the text {text!r} in one frame of "
        f"{len(client_frame)} bytes. Its first byte, "
        f"0x{client_frame[0]:02x}, holds FIN {client['fin']}, three reserved "
        f"bits at {client['rsv']} and opcode {client['opcode']} ({kind}). Its "
        f"second byte, 0x{client_frame[1]:02x}, holds MASK {client['mask']} "
        f"and the payload length, {client['length']}. Then come the masking "
        f"key, {key.hex(' ')}, and the payload XORed with it, "
        f"{masked.hex(' ')}. The server echoes {echo!r} in "
        f"{len(server_frame)} bytes: 0x{server_frame[0]:02x}, then "
        f"0x{server_frame[1]:02x} (MASK {server['mask']}, length "
        f"{server['length']}), then the payload as it is. Recorded by a test "
        "from wire_capture.py."
    )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{name}-title {name}-desc">',
            f'  <title id="{name}-title">{escape(title)}</title>',
            f'  <desc id="{name}-desc">{escape(description)}</desc>',
            "  <!-- A white card: readable on the light and the dark palette. -->",
            f'  <rect width="{WIDTH}" height="{height}" rx="10" fill="{PAPER}"/>',
            f'  <g font-family="{SANS}" font-size="{FONT}" fill="{INK}">',
            *(f"    {part}" for part in figure.parts),
            "  </g>",
            "</svg>",
            "",
        ]
    )
