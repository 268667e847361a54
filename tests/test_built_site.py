"""Checks of the built HTML: every example shows, nothing loads from elsewhere."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parent.parent


# (element, attribute) pairs whose URL the browser loads by itself.
LOADING_ATTRIBUTES = {("script", "src"), ("img", "src"), ("iframe", "src")}
# <link rel="alternate"> and the like are links; these rel values are loads.
LOADING_LINKS = {"stylesheet", "icon", "preload", "modulepreload"}


class PageParser(HTMLParser):
    """Collects the code blocks of a page and the URLs it loads by itself."""

    def __init__(self):
        super().__init__()
        self.code_blocks: list[str] = []
        self.loaded_urls: list[str] = []
        self._in_code_block = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "pre":
            self._in_code_block = True
            self.code_blocks.append("")
        for element, attribute in LOADING_ATTRIBUTES:
            if tag == element and attributes.get(attribute):
                self.loaded_urls.append(attributes[attribute])
        rel = set((attributes.get("rel") or "").split())
        if tag == "link" and rel & LOADING_LINKS:
            self.loaded_urls.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_code_block = False

    def handle_data(self, data):
        if self._in_code_block:
            self.code_blocks[-1] += data


@pytest.fixture(scope="module")
def parsed_pages(built_site) -> dict[str, PageParser]:
    """Every built page, parsed once for all the tests of this module."""
    pages = {}
    for page in sorted(built_site.rglob("*.html")):
        parser = PageParser()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.relative_to(built_site).as_posix()] = parser
    return pages


def test_every_page_in_docs_is_built(built_site):
    pages = sorted((ROOT / "docs").rglob("*.md"))
    for page in pages:
        relative = page.relative_to(ROOT / "docs").with_suffix("")
        built = (
            relative.parent / "index.html"
            if relative.name == "index"
            else relative / "index.html"
        )
        assert (built_site / built).is_file(), f"{page} was not built"


def test_no_code_block_is_empty(parsed_pages):
    # An include that matched nothing would render as an empty block.
    empty = [
        name
        for name, page in parsed_pages.items()
        for code in page.code_blocks
        if not code.strip()
    ]
    assert empty == []


def test_no_include_is_left_unexpanded(built_site, parsed_pages):
    leftovers = [
        name
        for name in parsed_pages
        if re.search(r"--8&lt;--|--8<--", (built_site / name).read_text())
    ]
    assert leftovers == []


def test_pages_load_nothing_from_another_host(parsed_pages):
    # Fonts, scripts and images come from the site itself: a reader's browser
    # makes no request to a third party. (The browser tests record requests.)
    foreign = [
        f"{name}: {url}"
        for name, page in parsed_pages.items()
        for url in page.loaded_urls
        if urlsplit(url).netloc or url.startswith("//")
    ]
    assert foreign == []
