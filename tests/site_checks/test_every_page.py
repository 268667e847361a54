"""Every page of the built site, opened in Chromium as a reader opens it.

One visit per page checks that it loads with a clean console, that every
request it makes goes to the site on 127.0.0.1 and is answered, that axe-core
finds nothing serious in the light and the dark colour scheme, and that each
copy button copies exactly the code of its block: for an included snippet,
the snippet's file with its section markers removed.

The pages are those of docs/ (and the 404 page), so a new chapter is checked
as soon as it exists; a test fails if the build makes a page not in that list.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
PAGE_SUFFIXES = {".md", ".ipynb"}  # Markdown, and notebooks (mkdocs-jupyter)
# The axe-core rules about colours: all that can differ in the dark scheme.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


def url_path(source: Path) -> str:
    """Where MkDocs builds a page, relative to the site's root: a/b.md -> a/b/."""
    relative = source.relative_to(DOCS).with_suffix("")
    if relative.name in ("index", "README"):
        relative = relative.parent
    return "" if relative == Path() else f"{relative.as_posix()}/"


SOURCES = {
    url_path(source): source
    for source in sorted(DOCS.rglob("*"))
    if source.suffix in PAGE_SUFFIXES
}
PAGES = [*SOURCES, "404.html"]


def page_id(path: str) -> str:
    return path.rstrip("/") or "home"


def test_every_built_page_is_checked(site_pages):
    assert site_pages == set(PAGES), (
        "a page of the build has no source in docs/, or a source no page: "
        "teach url_path() where MkDocs puts it"
    )


# --- What a copy button should copy -----------------------------------------

FENCE = re.compile(r"^\s*(?P<marker>`{3,}|~{3,})")
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<file>[^":]+)(?::(?P<part>[^"]+))?"\s*$')
# pymdownx.snippets removes every line that holds a section marker.
SECTION_MARKER = re.compile(
    r"-+8<-+[ \t]+\[[ \t]*(?P<kind>start|end)[ \t]*:[ \t]*(?P<name>[\w-]+)[ \t]*\]"
)


def snippet_text(file: str, part: str | None) -> str:
    """The text an include shows: the file, or one named section or line range
    of it, with the section markers removed. (Pygments drops the blank lines
    at either end of a block, and a copy button the final newline.)"""
    lines = (SNIPPETS / file).read_text(encoding="utf-8").splitlines()
    if part and re.fullmatch(r"\d+(:\d+)?", part):
        start, _, end = part.partition(":")
        lines = lines[int(start) - 1 : int(end) if end else None]
    elif part:
        inside, kept = False, []
        for line in lines:
            marker = SECTION_MARKER.search(line)
            if marker and marker["name"] == part:
                inside = marker["kind"] == "start"
            elif inside:
                kept.append(line)
        lines = kept
    text = "\n".join(line for line in lines if not SECTION_MARKER.search(line))
    return text.strip("\n")


def included_blocks(source: Path) -> dict[str, str]:
    """{include lines of a code block: the text it shows} for a page's blocks
    made of includes only."""
    blocks, body, fence = {}, [], None
    for line in source.read_text(encoding="utf-8").splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, body = opening["marker"], []
        elif fence is not None and line.strip().startswith(fence):
            includes = [INCLUDE.match(text) for text in body if text.strip()]
            if includes and all(includes):
                name = " + ".join(match.group(0).strip() for match in includes)
                texts = [snippet_text(m["file"], m["part"]) for m in includes]
                blocks[name] = "\n".join(texts)
            fence = None
        elif fence is not None:
            body.append(line)
    return blocks


# --- One visit per page ------------------------------------------------------

PHONE_WIDTH = 390  # px: conftest.PHONE, the viewport of overflow_on_a_phone()


async def read_page(tab, path):
    response = await tab.open(path)
    reading = {
        "status": response.status,
        "heading": await tab.page.locator("h1").first.inner_text(),
        "scrolling code": await tab.code_blocks_that_scroll(),
        "phone": await tab.overflow_on_a_phone(),
        "light": await tab.accessibility_violations(),
        "copy": await tab.copy_every_code_block(),
        "scheme": await tab.switch_colour_scheme(),
    }
    # Only colours differ in the dark scheme: run the rules about colours.
    reading["dark"] = await tab.accessibility_violations(COLOUR_RULES)
    return reading


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_page_as_a_reader_sees_it(path, browse, subtests):
    # No search here (test_reader_actions.py searches): see Reader.visit.
    reading, record = browse(lambda tab: read_page(tab, path), search=False)

    with subtests.test("loads, with a heading"):
        assert reading["status"] == 200
        assert reading["heading"].strip()
    with subtests.test("no console error or warning"):
        assert not record.console, "\n".join(record.console)
    with subtests.test("every request is answered, by the site on 127.0.0.1"):
        assert record.requests, "no request recorded: is the recorder attached?"
        assert not record.off_loopback(), "\n".join(record.off_loopback())
        assert not record.failures, "\n".join(record.failures)
    with subtests.test("a program's code shows whole lines on a 1280 px desktop"):
        assert reading["scrolling code"] == [], "these lines do not fit"
    with subtests.test("nothing overflows a 390 px phone"):
        phone = reading["phone"]
        assert phone["page"] <= PHONE_WIDTH, f"the page is {phone['page']} px wide"
        assert phone["tables"] == [], "tables wider than the screen"
        assert phone["figures"] == [], "figures wider than the screen"
    with subtests.test("axe-core: nothing serious, light scheme"):
        assert not reading["light"], "\n".join(reading["light"])
    with subtests.test("axe-core: nothing serious, dark scheme"):
        assert reading["scheme"] == "slate"
        assert not reading["dark"], "\n".join(reading["dark"])
    with subtests.test("every copy button copies its block"):
        copies = reading["copy"]["copies"]
        wrong = [
            f"{copy['title'] or 'a block'}: copied {copy['copied']!r:.200}"
            for copy in copies
            if copy["copied"] != copy["shown"].rstrip("\n")
        ]
        assert not wrong, "\n".join(wrong)
        if copies:
            assert reading["copy"]["clipboard"] == copies[-1]["copied"]
    if path in SOURCES:
        with subtests.test("every included snippet is copied exactly"):
            copied = {copy["copied"] for copy in reading["copy"]["copies"]}
            expected = included_blocks(SOURCES[path])
            if "--8<--" in SOURCES[path].read_text(encoding="utf-8"):
                assert expected, "the page includes snippets: where are their blocks?"
            missing = [name for name, text in expected.items() if text not in copied]
            assert not missing, "no copy button copies exactly:\n" + "\n".join(missing)
