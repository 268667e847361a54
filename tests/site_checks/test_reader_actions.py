"""What a reader does on the site, in Chromium: search, switch to the dark
scheme and follow the navigation, copy a program.

Each test runs one scenario in the browser tab that the tests share, started
afresh (see conftest.py), and checks, besides its own result, that the
browser logged no error and asked nothing of any host but the site on
127.0.0.1.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "snippets"


def assert_clean(record):
    """No console error or warning; every request answered, by the site."""
    assert not record.console, "\n".join(record.console)
    assert not record.off_loopback(), "\n".join(record.off_loopback())
    assert not record.failures, "\n".join(record.failures)


def site_path(url: str, site_url: str) -> str:
    """A URL of the site as a path relative to its root, without query or anchor."""
    path = urlsplit(url).path
    root = urlsplit(site_url).path
    assert path.startswith(root), f"{url} is not on the site"
    return path.removeprefix(root)


# --- Search --------------------------------------------------------------------

SEARCH_FIELD = "input[data-md-component=search-query]"
RESULT_LINKS = ".md-search-result__item > a.md-search-result__link"


async def search(tab, query: str) -> dict:
    """Type a query in the header's search field; what the results show."""
    field = tab.page.locator(SEARCH_FIELD)
    await field.click()
    await field.press("Control+A")
    await field.press("Backspace")
    # Material searches on key events, as a reader types: fill() sends none.
    await field.press_sequentially(query)
    results = tab.page.locator(RESULT_LINKS)
    # Results change as each letter arrives: wait for those of the whole query
    # (search.highlight adds the terms a result matched to its link; a result
    # that matched only on its title, say, gets an empty h=).
    whole_query = tab.page.locator(f'{RESULT_LINKS}[href*="h={query}"]')
    await expect(whole_query.first).to_be_attached()
    return {
        "summary": await tab.page.locator(".md-search-result__meta").inner_text(),
        "links": await results.evaluate_all("links => links.map(a => a.href)"),
        "marked": await tab.page.locator(".md-search-result mark").all_inner_texts(),
    }


async def marked_on_page(tab) -> list[str]:
    """The words that search.highlight marks on a page opened from a result."""
    marks = tab.page.locator("article mark")
    await expect(marks.first).to_be_visible()  # marked once the page's script ran
    return await marks.all_inner_texts()


def test_search_finds_what_the_home_page_says(browse, site_pages, site_url, subtests):
    # Material shows the best ten results first (more as the reader scrolls),
    # so the home page, which says each word once, need not be among them.

    async def scenario(tab):
        await tab.open("")
        found = {query: await search(tab, query) for query in ("websocket", "timeout")}
        # A reader clicks the first result of the last search.
        first = tab.page.locator(RESULT_LINKS).first
        async with tab.page.expect_navigation() as navigation:
            await first.click()
        response = await navigation.value
        opened = {
            "status": response.status,
            "url": tab.page.url,
            # search.highlight marks the term on the page it opens
            "marked": await marked_on_page(tab),
        }
        return found, opened

    (found, opened), record = browse(scenario)

    for query, results in found.items():
        with subtests.test(query=query):
            assert re.fullmatch(r"\d+ matching documents?", results["summary"])
            shown = {site_path(link, site_url) for link in results["links"]}
            assert shown <= site_pages
            # The results mark the words they matched (hidden ones are empty).
            marked = [mark.lower() for mark in results["marked"] if mark]
            assert marked, results
            assert all(query in mark for mark in marked), results
    with subtests.test("a result opens its page, with the term marked"):
        assert opened["status"] == 200
        assert opened["url"] == found["timeout"]["links"][0]
        # Marks inside a collapsed block or a hidden tab have no visible text.
        visible = [mark for mark in opened["marked"] if mark]
        assert visible
        assert all("timeout" in mark.lower() for mark in visible)
    with subtests.test("clean console, loopback only"):
        assert_clean(record)


# --- Navigation, light and dark ------------------------------------------------

# The sidebar's links to pages. (It also holds, for small screens, the table of
# contents of the open page: links to its headings, left out here.)
NAV_PAGE_LINKS = "nav.md-nav--primary a.md-nav__link[href]:not(.md-nav--secondary a)"

# The top-level entries of the sidebar: chapters, and pages such as Home. For
# each, its name and the position of its first page among NAV_PAGE_LINKS.
CHAPTERS = """
(links) => {
  const entries = document.querySelectorAll('nav.md-nav--primary > ul > li');
  return [...entries].map((entry) => ({
    name: entry.querySelector('.md-ellipsis').textContent.trim(),
    first_page: links.findIndex((link) => entry.contains(link)),
  }));
}
"""
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def test_a_reader_in_dark_mode_reaches_every_chapter(browse, site_pages, site_url):
    """The navigation leads to every page, and the colour scheme a reader
    picks holds on every page they go to, until they switch back."""

    async def scenario(tab):
        await tab.open("")
        links = tab.page.locator(NAV_PAGE_LINKS)
        targets = await links.evaluate_all("links => links.map(a => a.href)")
        chapters = await links.evaluate_all(CHAPTERS)
        light = (await tab.colour_scheme(), await tab.page.evaluate(BACKGROUND))
        await tab.switch_colour_scheme()
        dark = (await tab.colour_scheme(), await tab.page.evaluate(BACKGROUND))
        # From chapter to chapter through the sidebar, which lists the same
        # pages on every page.
        for chapter in chapters:
            async with tab.page.expect_navigation() as navigation:
                await links.nth(chapter["first_page"]).click()
            chapter["status"] = (await navigation.value).status
            chapter["reached"] = tab.page.url
            chapter["heading"] = await tab.page.locator("h1").first.inner_text()
            chapter["scheme"] = await tab.colour_scheme()
        await tab.switch_colour_scheme()
        back = (await tab.colour_scheme(), await tab.page.evaluate(BACKGROUND))
        return targets, chapters, [light, dark, back]

    # No search in this scenario: the tab needs no search index (Reader.visit).
    (targets, chapters, schemes), record = browse(scenario, search=False)

    in_navigation = {site_path(target, site_url) for target in targets}
    assert in_navigation == site_pages - {"404.html"}, (
        "every page is in the navigation, and only pages"
    )
    assert len(chapters) >= 2, chapters  # Home, and at least one chapter
    for chapter in chapters:
        assert chapter["first_page"] >= 0, f"{chapter['name']} has no page"
        assert chapter["status"] == 200, chapter
        assert chapter["reached"] == targets[chapter["first_page"]], chapter
        assert chapter["heading"].strip(), chapter
        assert chapter["scheme"] == "slate", chapter
    light, dark, back = schemes
    assert (light[0], dark[0], back[0]) == ("default", "slate", "default")
    assert light[1] == back[1] != dark[1]  # the page's background changed, and back
    assert_clean(record)


# --- Where the site is published ---------------------------------------------------


def test_a_missing_page_deep_in_the_site_shows_the_404_page_whole(browse):
    # GitHub Pages serves a project site under /<repository>/ and answers any
    # missing path with the site's 404.html. That page must load its styles,
    # scripts and icons from wherever the reader mistyped a URL: with links
    # relative to the root of the host, they would all be missing.
    async def scenario(tab):
        response = await tab.open("no/such/chapter/page/")
        return {
            "status": response.status,
            "heading": await tab.page.locator("h1").first.inner_text(),
            "styled": await tab.page.evaluate(
                "getComputedStyle(document.querySelector('.md-header')).position"
            ),
            "home": await tab.page.locator("a.md-logo").first.evaluate("a => a.href"),
        }

    seen, record = browse(scenario, search=False)

    assert seen["status"] == 404
    assert seen["heading"] == "404 - Not found"
    assert seen["styled"] in {"sticky", "fixed"}  # Material's stylesheet applied
    assert urlsplit(seen["home"]).path == "/site/"  # the logo leads home
    # Only the page itself is missing (and the console says so, once).
    missing = [url for url in record.failures if "/no/such/chapter/" in url]
    assert len(missing) == 1, record.failures
    assert record.failures == missing
    assert len(record.console) == 1, record.console
    assert "404 (Not Found)" in record.console[0], record.console
    assert not record.off_loopback(), record.off_loopback()


# --- Copying a program -----------------------------------------------------------


def test_copy_button_copies_the_tcp_client_exactly(browse):
    # The page shows the client whole in its "Client" tab, in a collapsed
    # block: the copy is the file without its section markers (and without
    # the final newline, which no copy button copies).
    snippet = (SNIPPETS / "sockets/tcp_echo_client.py").read_text(encoding="utf-8")
    expected = "\n".join(
        line for line in snippet.splitlines() if "# --8<--" not in line
    )

    async def scenario(tab):
        await tab.open("sockets/tcp/")
        await tab.page.evaluate("navigator.clipboard.writeText('')")
        await tab.page.locator("summary", has_text="tcp_echo_client.py").click()
        await tab.page.get_by_text("Client", exact=True).first.click()
        block = tab.page.locator(".highlight").filter(
            has=tab.page.get_by_text(re.compile(r"^tcp_echo_client\.py$"))
        )
        await block.hover()  # the button shows on hover
        await block.locator("button[data-clipboard-target]").click()
        await expect(tab.page.locator(".md-dialog")).to_be_visible()
        return await tab.page.evaluate("navigator.clipboard.readText()")

    copied, record = browse(scenario, search=False)

    assert copied == expected.rstrip("\n")
    assert_clean(record)
