"""Every figure can be read: on a phone, in both colour schemes, by a screen reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = sorted((ROOT / "docs").rglob("*.svg"))
PHONE_COLUMN = 364  # px of content width on a 390 px phone (Material's margins)
SMALLEST_TEXT = 12  # px, as the phone shows it
FONT_SIZE = re.compile(r'font-size(?:="|:\s*)(?P<size>[\d.]+)(?:px)?')
VIEW_BOX = re.compile(r'viewBox="0 0 (?P<width>[\d.]+) (?P<height>[\d.]+)"')


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("figure", FIGURES, ids=relative)
def test_a_figure_reads_on_a_phone_in_both_schemes(figure):
    svg = figure.read_text(encoding="utf-8")
    view_box = VIEW_BOX.search(svg)
    assert view_box, "a viewBox, so the figure scales to the column"
    width = float(view_box["width"])
    scale = min(PHONE_COLUMN, width) / width
    sizes = [float(match["size"]) for match in FONT_SIZE.finditer(svg)]
    assert sizes, "font sizes set in the figure, not left to the browser"
    assert min(sizes) * scale >= SMALLEST_TEXT, (
        f"text of {min(sizes)} px shows at {min(sizes) * scale:.1f} px on a phone"
    )
    assert 'role="img"' in svg
    assert re.search(r"<title[^>]*>[^<]+</title>", svg), "a title for screen readers"
    assert re.search(r"<desc[^>]*>[^<]+</desc>", svg), "a description too"
    # A white card under everything: dark text stays readable in the dark scheme.
    first_shape = re.search(r"<(rect|path|circle|line|text)\b[^>]*>", svg)
    assert first_shape, "the figure draws something"
    assert first_shape[1] == "rect", "the card comes first"
    assert re.search(r'fill="#(fff|ffffff)"', first_shape[0]), "a white card"
