"""Checks of the built HTML: every example shows, nothing loads from elsewhere."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parent.parent


# (element, attribute) pairs whose URL the browser loads by itself.
LOADING_ATTRIBUTES = {("script", "src"), ("img", "src"), ("iframe", "src")}
# <link rel="alternate"> and the like are links; these rel values are loads.
LOADING_LINKS = {"stylesheet", "icon", "preload", "modulepreload"}
# Any other attribute may hold a URL that a script loads (a data-* attribute
# with JSON in it, say): every absolute URL in one counts as a load.
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[\w.-]+(?::\d+)?[^\s\"'<>]*")


class PageParser(HTMLParser):
    """Collects the code blocks of a page and the URLs it loads by itself."""

    def __init__(self):
        super().__init__()
        self.code_blocks: list[str] = []
        self.loaded_urls: list[str] = []
        self.links: list[str] = []  # every <a href>
        self.ids: set[str] = set()  # every anchor a link can point at
        self._in_code_block = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "pre":
            self._in_code_block = True
            self.code_blocks.append("")
        for element, attribute in LOADING_ATTRIBUTES:
            if tag == element and attributes.get(attribute):
                self.loaded_urls.append(attributes[attribute])
        rel = set((attributes.get("rel") or "").split())
        if tag == "link" and rel & LOADING_LINKS:
            self.loaded_urls.append(attributes["href"])
        for name, value in attrs:
            if value and not self._names_only_or_followed_on_click(tag, name, rel):
                self.loaded_urls.extend(ABSOLUTE_URL.findall(value))

    @staticmethod
    def _names_only_or_followed_on_click(tag: str, name: str, rel: set[str]) -> bool:
        if name.startswith("xmlns"):  # an SVG namespace is a name, never loaded
            return True
        if (tag, name) in LOADING_ATTRIBUTES:  # already counted above
            return True
        return name == "href" and (
            tag == "a" or (tag == "link" and not rel & LOADING_LINKS)
        )

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


def published_path() -> str:
    """The path GitHub Pages serves the site under (mkdocs.yml's site_url): /site/."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return urlsplit(re.search(r"^site_url:\s*(\S+)", config, re.MULTILINE)[1]).path


def link_target(page: str, href: str) -> tuple[str, str] | None:
    """The built file and anchor an internal link points at; None if external.

    The page is read as published, under the site's path: a link to /assets/
    (outside it) is as broken as a link to a missing file.
    """
    base = f"http://site{published_path()}"
    url = urlsplit(urljoin(base + page, href))
    if url.netloc != "site":
        return None  # another host, mailto:, and the like: not fetched here
    path = unquote(url.path)
    if not path.startswith(published_path()):
        return f"(outside {published_path()}) {path}", ""
    path = path.removeprefix(published_path())
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path, unquote(url.fragment)


def test_the_sitemap_lists_every_page_where_it_is_published(built_site):
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    site_url = re.search(
        r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE
    )[1]
    pages = {
        site_url + page.relative_to(built_site).parent.as_posix() + "/"
        for page in built_site.rglob("index.html")
    }
    pages = {page.replace("/./", "/") for page in pages}
    assert listed == pages


def test_every_internal_link_and_anchor_exists(built_site, parsed_pages):
    # MkDocs' own validation (mkdocs.yml) checks the links written in Markdown;
    # this checks the built HTML itself: theme, navigation, raw HTML links.
    broken = []
    for page, parsed in parsed_pages.items():
        for href in parsed.links:
            target = link_target(page, href)
            if target is None:
                continue
            path, anchor = target
            if not (built_site / path).is_file():
                broken.append(f"{page}: {href} (no such file)")
            elif anchor and anchor not in parsed_pages.get(path, PageParser()).ids:
                broken.append(f"{page}: {href} (no such anchor)")
    assert broken == []
