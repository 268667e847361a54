"""Draw DROP frames, byte by byte, as the SVG of the protocol page.

The bytes come from a real exchange that a test records (test_drop_protocol.py),
so the picture cannot drift from what the code sends. 352 px wide, text of
12 px or more: on a 390 px phone it is shown at full size.
"""

from __future__ import annotations

import struct
from html import escape

WIDTH = 352  # the content column of a 390 px phone is 358 px: no scaling
CELL_W, CELL_H = 40, 36
LEFT = 16
PER_ROW = 8
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK, MUTED = "#1f2937", "#4b5563"
HEADER_FILL, HEADER_LINE = "#e8eaf6", "#3949ab"
PAYLOAD_FILL, PAYLOAD_LINE = "#e0f2f1", "#00796b"


class Drawing:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y = 16

    def text(self, x, y, content, *, size=12, anchor="start", mono=False,
             colour=MUTED, weight=None) -> None:  # fmt: skip
        family = f' font-family="{MONO}"' if mono else ""
        bold = f' font-weight="{weight}"' if weight else ""
        self.parts.append(
            f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}"'
            f' fill="{colour}"{family}{bold}>{escape(content)}</text>'
        )

    def title(self, content: str) -> None:
        self.y += 20
        self.text(LEFT, self.y, content, size=14, colour=INK, weight="600")
        self.y += 10

    def cells(self, data: bytes, fill: str, line: str) -> None:
        """One row of up to 8 bytes: hex above, the character below."""
        for index, byte in enumerate(data):
            x = LEFT + index * CELL_W
            self.parts.append(
                f'<rect x="{x}" y="{self.y}" width="{CELL_W}" height="{CELL_H}"'
                f' fill="{fill}" stroke="{line}"/>'
            )
            middle = x + CELL_W // 2
            self.text(middle, self.y + 15, f"{byte:02x}", size=13, anchor="middle",
                      mono=True, colour=INK)  # fmt: skip
            shown = chr(byte) if 0x21 <= byte < 0x7F else "·"
            self.text(middle, self.y + 30, shown, anchor="middle", mono=True)
        self.y += CELL_H

    def labels(self, spans: list[tuple[int, int, str]]) -> None:
        """Under the row just drawn: a bracket and a label per span of cells."""
        for first, last, label in spans:
            x1 = LEFT + first * CELL_W + 3
            x2 = LEFT + (last + 1) * CELL_W - 3
            top = self.y + 4
            self.parts.append(
                f'<path d="M{x1} {top}v5H{x2}v-5" fill="none" stroke="{MUTED}"/>'
            )
            self.text((x1 + x2) // 2, top + 20, label, anchor="middle")
        self.y += 32

    def bytes_with_labels(self, data, spans, fill, line) -> None:
        """Rows of 8 bytes; spans are (first, last, label) over all of `data`."""
        for start in range(0, len(data), PER_ROW):
            row = data[start : start + PER_ROW]
            self.cells(row, fill, line)
            inside = [
                (max(first, start) - start, min(last, start + len(row) - 1) - start,
                 label)
                for first, last, label in spans
                if first < start + len(row) and last >= start
            ]  # fmt: skip
            self.labels(inside)

    def svg(self, title: str, description: str) -> str:
        height = self.y + 8
        return "\n".join([
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
            f' width="{WIDTH}" height="{height}" role="img"'
            ' aria-labelledby="drop-frames-title drop-frames-desc">',
            f'  <title id="drop-frames-title">{escape(title)}</title>',
            f'  <desc id="drop-frames-desc">{escape(description)}</desc>',
            "  <!-- A white card: readable on the light and the dark palette. -->",
            f'  <rect width="{WIDTH}" height="{height}" rx="10" fill="#ffffff"/>',
            f'  <g font-family="{SANS}">',
            *(f"    {part}" for part in self.parts),
            "  </g>",
            "</svg>",
            "",
        ])  # fmt: skip


def header_spans(frame: bytes) -> list[tuple[int, int, str]]:
    magic, version, kind, length = struct.unpack("!2sBcI", frame[:8])
    return [
        (0, 1, f"magic {magic.decode()}"),
        (2, 2, f"v{version}"),
        (3, 3, kind.decode()),
        (4, 7, f"length {length}"),
    ]


def draw(put: bytes, stored: bytes, error: bytes) -> str:
    """The SVG of a PUT request, its STORED reply, and an ERROR reply."""
    drawing = Drawing()
    name_length = put[8]
    name = put[9 : 9 + name_length].decode()
    content = put[9 + name_length :]

    drawing.title(f"Client → server: PUT {name}")
    drawing.bytes_with_labels(put[:8], header_spans(put), HEADER_FILL, HEADER_LINE)
    payload_spans = [
        (0, 0, f"len {name_length}"),
        (1, name_length, f"name: {name}"),
        (name_length + 1, len(put) - 9, f"content, {len(content)} bytes"),
    ]
    drawing.bytes_with_labels(put[8:], payload_spans, PAYLOAD_FILL, PAYLOAD_LINE)

    drawing.title("Server → client: STORED")
    drawing.bytes_with_labels(
        stored[:8], header_spans(stored), HEADER_FILL, HEADER_LINE
    )
    drawing.bytes_with_labels(
        stored[8:16], [(0, 7, f"SHA-256, first 8 of {len(stored) - 8} bytes")],
        PAYLOAD_FILL, PAYLOAD_LINE,
    )  # fmt: skip

    (code,) = struct.unpack("!H", error[8:10])
    text = error[10:].decode()
    drawing.title("Server → client: ERROR")
    drawing.bytes_with_labels(error[:8], header_spans(error), HEADER_FILL, HEADER_LINE)
    drawing.bytes_with_labels(
        error[8:16], [(0, 1, f"code {code}"), (2, 7, "text, UTF-8…")],
        PAYLOAD_FILL, PAYLOAD_LINE,
    )  # fmt: skip
    drawing.y += 8
    drawing.text(LEFT, drawing.y, f"“{text}”", mono=True, colour=INK)
    drawing.y += 8

    description = (
        f"Three DROP frames as bytes. Each starts with an 8-byte header: the "
        f"magic bytes D P, the version 1, a type letter, and the payload length "
        f"as 4 bytes, big-endian. The PUT request's payload is the name's length "
        f"({name_length}), the name {name}, and {len(content)} bytes of content. "
        f"The STORED reply's payload is the 32-byte SHA-256 of what the server "
        f"wrote. The ERROR reply's payload is a 2-byte code, {code}, then the "
        f"text: {text}."
    )
    return drawing.svg("DROP frames, byte by byte", description)
