"""Sequence diagrams as SVG files, drawn from what the tests record.

A figure that shows real traffic (an SMTP dialogue, an HTTP exchange, a
WebSocket handshake) is drawn from a transcript that a test records from the
real programs, so it cannot drift from what they do:

    svg = sequence_svg(
        "smtp-dialogue", "An SMTP dialogue", "The client greets...",
        actors=[Actor("Client", "smtp_send.py"), Actor("Server", "Exim")],
        steps=[Message(1, 0, ["220 mail.example ESMTP"]), Note("TLS from here"), ...],
    )
    check_figure(request, DOCS / "protocols/smtp-dialogue.svg", svg)

`check_figure` compares the file with what the transcript draws, and writes it
with `pytest --update-examples` (`make update-outputs`). Every figure of the
site follows tests/test_figures.py: a white card (readable on the light and the
dark palette), a title and a description for screen readers, and text of at
least 12 px on a 390 px phone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest

WIDTH = 400  # phone-sized: on a 390 px phone the figure shows at about 0.9
SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
FONT = 14  # px in the figure: at least 12.5 on the phone
MONO_ADVANCE = 0.6 * FONT  # the width of one monospace character
LINE = 19  # px between two lines of text
COLOURS = ["#3949ab", "#00796b", "#9a3412"]  # the messages of each sender
INK, MUTED, RULE, PAPER = "#1f2937", "#4b5563", "#9ca3af", "#ffffff"
MARGIN = 34  # from the card's edge to the first and last lifeline


@dataclass(frozen=True)
class Actor:
    name: str  # "Client"
    detail: str = ""  # what plays it: "smtp_send.py", "Exim 4.96"


@dataclass(frozen=True)
class Message:
    sender: int  # an index into actors
    receiver: int
    lines: tuple[str, ...] | list[str]  # as sent, one element per line


@dataclass(frozen=True)
class Note:
    text: str  # a remark across the figure, in prose


def lifeline_x(index: int, count: int) -> float:
    if count == 1:
        return WIDTH / 2
    return MARGIN + index * (WIDTH - 2 * MARGIN) / (count - 1)


def wrap(text: str, columns: int) -> list[str]:
    """Cut a line that does not fit; the rest goes on indented lines."""
    if len(text) <= columns:
        return [text]
    return [text[:columns]] + [
        "  " + part for part in wrap(text[columns:], columns - 2)
    ]


def wrap_prose(text: str, columns: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > columns:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current]


class Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y = 0.0

    def text(
        self, x, y, content, *, mono=False, anchor="start", colour=INK, bold=False
    ):
        attributes = [f'x="{x:.1f}"', f'y="{y:.1f}"', f'fill="{colour}"']
        if anchor != "start":
            attributes.append(f'text-anchor="{anchor}"')
        if mono:
            attributes.append(f'font-family="{MONO}" xml:space="preserve"')
        if bold:
            attributes.append('font-weight="600"')
        self.parts.append(f"<text {' '.join(attributes)}>{escape(content)}</text>")


def sequence_svg(
    name: str, title: str, description: str, actors: list[Actor], steps: list
) -> str:
    """The SVG text of a sequence diagram: actors side by side, steps downwards."""
    canvas = Canvas()
    xs = [lifeline_x(index, len(actors)) for index in range(len(actors))]
    for actor, x in zip(actors, xs, strict=True):
        anchor = "start" if x < WIDTH / 3 else "end" if x > 2 * WIDTH / 3 else "middle"
        edge = {"start": 8, "end": WIDTH - 8, "middle": x}[anchor]
        canvas.text(edge, 26, actor.name, anchor=anchor, bold=True)
        if actor.detail:
            canvas.text(edge, 45, actor.detail, anchor=anchor, mono=True, colour=MUTED)
    canvas.y = 62
    top = canvas.y
    for step in steps:
        if isinstance(step, Note):
            for line in wrap_prose(step.text, int((WIDTH - 24) / (0.5 * FONT))):
                canvas.y += LINE
                canvas.text(WIDTH / 2, canvas.y, line, anchor="middle", colour=MUTED)
            canvas.y += 8
            continue
        draw_message(canvas, name, step, xs)
    bottom = canvas.y + 12
    lifelines = [
        f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{bottom:.1f}" '
        f'stroke="{RULE}" stroke-width="1.5" stroke-dasharray="4 4"/>'
        for x in xs
    ]
    height = math.ceil(bottom + 10)
    markers = "".join(
        f'<marker id="{name}-m{index}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="5" markerHeight="5" orient="auto-start-reverse">'
        f'<path d="M0 0 10 5 0 10z" fill="{colour}"/></marker>'
        for index, colour in enumerate(COLOURS)
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
            f"  <defs>{markers}</defs>",  # after the card: it is the first shape
            f'  <g font-family="{SANS}" font-size="{FONT}" fill="{INK}">',
            *(f"    {part}" for part in lifelines + canvas.parts),
            "  </g>",
            "</svg>",
            "",
        ]
    )


def draw_message(canvas: Canvas, name: str, message: Message, xs: list[float]):
    start, end = xs[message.sender], xs[message.receiver]
    left, right = min(start, end), max(start, end)
    colour_index = message.sender % len(COLOURS)
    colour = COLOURS[colour_index]
    box_left, box_right = left + 8, right - 8
    columns = int((box_right - box_left - 16) / MONO_ADVANCE)
    lines = [part for line in message.lines for part in wrap(line, columns)]
    box_top = canvas.y + 8
    box_height = LINE * len(lines) + 10
    canvas.parts.append(
        f'<rect x="{box_left:.1f}" y="{box_top:.1f}" width="{box_right - box_left:.1f}"'
        f' height="{box_height}" rx="6" fill="#f8fafc" stroke="{colour}"/>'
    )
    for number, line in enumerate(lines, start=1):
        canvas.text(box_left + 8, box_top + 2 + LINE * number - 5, line, mono=True)
    arrow_y = box_top + box_height + 12
    tip = end - 2 if end > start else end + 2
    canvas.parts.append(
        f'<line x1="{start:.1f}" y1="{arrow_y:.1f}" x2="{tip:.1f}" y2="{arrow_y:.1f}" '
        f'stroke="{colour}" stroke-width="2" '
        f'marker-end="url(#{name}-m{colour_index})"/>'
    )
    canvas.y = arrow_y + 4


def check_figure(request: pytest.FixtureRequest, path: Path, svg: str) -> None:
    """The figure on the page is the one the transcript draws (or is rewritten)."""
    if request.config.getoption("update_examples"):
        path.write_text(svg, encoding="utf-8")
        return
    assert path.is_file(), f"no {path.name}: run `make update-outputs`"
    assert path.read_text(encoding="utf-8") == svg, (
        f"{path.name} no longer shows what the programs do: run `make update-outputs`"
    )
