"""The built site in Chromium, as a reader sees it.

`browse(scenario)` runs `await scenario(tab)` in a browser tab on the site
(served on loopback by `site_url`), in the browser's thread, and returns what
the scenario returned together with a `BrowserRecord` of everything the
browser did meanwhile: every request, every console message, every failure.
The tests of a process share one tab, which forgets what the site stored when
a test starts (see `Reader`).

A scenario that does not search passes `search=False`: the tab then gets a
search index with no pages (see `Reader.visit`).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.async_api import Error as PlaywrightError

T = TypeVar("T")

# A desktop's window: the navigation and the table of contents beside the page.
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a common phone, in CSS pixels
# Blocks of a program's code (those with a file name as their title: every
# include of a snippet has one) whose lines do not fit and scroll sideways.
# Console transcripts and outputs may be wider: they show what was typed.
SCROLLING_CODE = """() => [...document.querySelectorAll('div.highlight')]
  .filter(block => block.querySelector(':scope > span.filename'))
  .map(block => block.querySelector('pre > code'))
  .filter(code => code && code.offsetParent !== null
                  && code.scrollWidth > code.clientWidth + 1)
  .map(code => code.textContent.split('\\n')
                   .reduce((a, b) => (b.length > a.length ? b : a), ''))"""
# What overflows a phone's width: the page, a table, a figure.
OVERFLOWING = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('.md-typeset__table')]
    .filter(box => box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1)
    .map(box => box.querySelector('th, td')?.textContent ?? 'a table'),
  figures: [...document.querySelectorAll('.md-content img, .md-content svg')]
    .filter(img => img.offsetParent !== null
                   && img.getBoundingClientRect().right > window.innerWidth + 1)
    .map(img => img.getAttribute('src') || 'an inline svg'),
})"""
ACTION_TIMEOUT_MS = 10_000  # for one click or one load; the test's own limit is 60 s
SETTLE_TIMEOUT = 5.0  # seconds for the requests still in flight after a scenario
LOCAL_SCHEMES = {"data", "blob", "about"}  # URLs that never touch the network
SEARCH_INDEX = "search/search_index.json"  # fetched by every page, for search

# axe-core findings of these impacts fail a test; "moderate" and "minor" do not.
BLOCKING_IMPACTS = {"serious", "critical"}

# Runs axe-core on the page. Code blocks hold thousands of coloured tokens,
# and axe's colour-contrast check costs about a millisecond for each. Tokens
# of one colour on one background pass or fail together, so the first visible
# token of each combination stands for all of them: the rules run on the whole
# page except the code blocks' tokens, plus those samples. (A full run finds
# the same rule failing, on more elements, about three times slower.)
RUN_AXE = """
async (options) => {
  const samples = new Map();
  const tokens = document.querySelectorAll('.highlight code span:not(:has(span))');
  for (const token of tokens) {
    if (!token.checkVisibility()) continue;
    const style = getComputedStyle(token);
    const code = getComputedStyle(token.closest('code'));
    const key = [style.color, style.backgroundColor, style.fontWeight, style.fontStyle,
                 code.backgroundColor, Boolean(token.closest('.hll'))].join('|');
    if (!samples.has(key)) samples.set(key, token);
  }
  const context = {
    include: [document, ...samples.values()],
    exclude: [...document.querySelectorAll('.highlight code')],
  };
  const results = await axe.run(context, {...options, resultTypes: ['violations']});
  return results.violations;
}
"""

# Clicks every copy button of the page and records what each put on the
# clipboard: the text selected when the browser copied. A script's click
# reaches the buttons of hidden tabs too (test_reader_actions.py clicks one
# with the mouse). The last copy is read back from the real clipboard, to show
# that what is recorded is what the clipboard got.
COPY_EVERY_BLOCK = """
async () => {
  const copies = [];
  let copied = null;
  await navigator.clipboard.writeText('');  // nothing left from an earlier test
  const record = () => {
    const focused = document.activeElement;
    copied = focused && focused.tagName === 'TEXTAREA'
      ? focused.value.slice(focused.selectionStart, focused.selectionEnd)
      : String(document.getSelection());
  };
  document.addEventListener('copy', record, true);
  try {
    for (const button of document.querySelectorAll('button[data-clipboard-target]')) {
      copied = null;
      // A block inside a collapsed "??? example" is copied once the reader
      // opens it: open it, as they would.
      for (let details = button.closest('details'); details;
           details = details.parentElement.closest('details')) {
        details.open = true;
      }
      button.click();
      const code = document.querySelector(button.dataset.clipboardTarget);
      const block = button.closest('.highlight') || code.closest('.highlight');
      copies.push({
        title: block?.querySelector('.filename')?.textContent ?? '',
        shown: code?.textContent ?? '',
        copied,
      });
    }
  } finally {
    document.removeEventListener('copy', record, true);
  }
  const clipboard = copies.length ? await navigator.clipboard.readText() : null;
  return {copies, clipboard};
}
"""

# The theme fades colours in over a fraction of a second after a change of
# scheme: without the fade, the checks that follow see the final colours.
NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; }"


@dataclass
class BrowserRecord:
    """What the browser did: requests, failures, console messages."""

    site_url: str
    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # no answer, or HTTP >= 400
    console: list[str] = field(default_factory=list)  # errors, warnings, exceptions
    made: set = field(default_factory=set)  # the requests, as Playwright objects
    in_flight: set = field(default_factory=set)
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # nothing in flight

    def started(self, request) -> None:
        self.requests.append(request.url)
        self.made.add(request)
        self.in_flight.add(request)
        self.settled.clear()

    def ended(self, request) -> None:
        self.in_flight.discard(request)
        if not self.in_flight:
            self.settled.set()

    def failed(self, request) -> None:
        if request not in self.made:
            return  # a request of the previous test (see Reader)
        self.ended(request)
        # The browser cancels what a page no longer needs when it leaves it,
        # such as a favicon it fetches late: the site did not fail to answer.
        if request.failure != "net::ERR_ABORTED":
            self.failures.append(f"{request.url}: {request.failure}")

    def answered(self, response) -> None:
        if response.request in self.made and response.status >= 400:
            self.failures.append(f"{response.url}: HTTP {response.status}")

    def off_loopback(self) -> list[str]:
        """Requests to anything but the site's server on 127.0.0.1."""
        site = urlsplit(self.site_url)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in LOCAL_SCHEMES
            and urlsplit(url).netloc != site.netloc
        ]


def summarise_violations(violations: list[dict]) -> list[str]:
    """One line per element that fails a serious or critical axe rule."""
    return [
        f"{rule['id']} ({rule['impact']}): {', '.join(map(str, node['target']))}: "
        + " ".join(node["failureSummary"].split())
        for rule in violations
        if rule["impact"] in BLOCKING_IMPACTS
        for node in rule["nodes"]
    ]


@dataclass
class Tab:
    """One browser tab on the built site, with what a reader does in it."""

    page: Any  # playwright.async_api.Page

    async def open(self, path: str):
        """Go to a page of the site (a path relative to its root) and wait for it."""
        response = await self.page.goto(path, wait_until="load")
        assert response is not None, f"no response for {path!r}"
        return response

    async def accessibility_violations(self, rules: list[str] | None = None):
        """axe-core's serious and critical findings on the page, one line each."""
        if not await self.page.evaluate("typeof axe !== 'undefined'"):
            await self.page.evaluate(AXE_SCRIPT)
        options = {"runOnly": {"type": "rule", "values": rules}} if rules else {}
        return summarise_violations(await self.page.evaluate(RUN_AXE, options))

    async def code_blocks_that_scroll(self) -> list[str]:
        """The longest line of each visible program block that scrolls sideways."""
        return await self.page.evaluate(SCROLLING_CODE)

    async def overflow_on_a_phone(self) -> dict:
        """The page's width, and its tables and figures too wide, on a phone."""
        await self.page.set_viewport_size(PHONE)
        try:
            return await self.page.evaluate(OVERFLOWING)
        finally:
            await self.page.set_viewport_size(VIEWPORT)

    async def copy_every_code_block(self) -> dict:
        """Click every copy button; what each block shows, and what it copied."""
        return await self.page.evaluate(COPY_EVERY_BLOCK)

    async def colour_scheme(self) -> str:
        return await self.page.locator("body").get_attribute("data-md-color-scheme")

    async def switch_colour_scheme(self) -> str:
        """Click the light/dark toggle in the header; return the new scheme."""
        before = await self.colour_scheme()
        await self.page.add_style_tag(content=NO_TRANSITIONS)
        await self.page.locator("form[data-md-component=palette] label:visible").click()
        await self.page.wait_for_function(
            "(before) => document.body.dataset.mdColorScheme !== before", arg=before
        )
        return await self.colour_scheme()


class Reader:
    """One browser context and tab on the site, shared by the tests of a process.

    A context per test would start a renderer process per test, which doubles
    the CPU time of a visit on this machine. Each test starts afresh instead:
    the site's storage (a reader's colour choice, the chosen tab of a code
    block) is cleared, and the test sets the colour scheme it starts with.
    """

    def __init__(self, browser, site_url: str, built_site: Path):
        self.browser = browser
        self.site_url = site_url
        self.record = BrowserRecord(site_url)
        self.context = None
        self.page = None
        self.devtools = None  # the page's DevTools session (see visit)
        self.answering: set[asyncio.Task] = set()
        index = json.loads((built_site / SEARCH_INDEX).read_text(encoding="utf-8"))
        pageless = json.dumps({"config": index["config"], "docs": []})
        self.pageless_index = base64.b64encode(pageless.encode()).decode()  # for Fetch

    async def open(self) -> None:
        self.context = await self.browser.new_context(
            base_url=self.site_url, viewport=VIEWPORT
        )
        self.context.set_default_timeout(ACTION_TIMEOUT_MS)
        site = urlsplit(self.site_url)
        await self.context.grant_permissions(
            ["clipboard-read", "clipboard-write"],
            origin=f"{site.scheme}://{site.netloc}",
        )
        # No route() here: intercepting requests would switch the HTTP cache
        # off and cost a fifth more CPU per visit. Chromium's flags already
        # refuse any host but loopback (tests/conftest.py); the record shows
        # every request that was tried. The handlers write to the record of
        # the test that runs.
        context = self.context
        context.on("request", lambda request: self.record.started(request))
        context.on("requestfinished", lambda request: self.record.ended(request))
        context.on("requestfailed", lambda request: self.record.failed(request))
        context.on("response", lambda response: self.record.answered(response))
        context.on("console", self._logged)
        context.on(
            "weberror", lambda error: self.record.console.append(str(error.error))
        )
        self.page = await context.new_page()
        await self._attach_devtools()

    async def _attach_devtools(self) -> None:
        self.devtools = await self.context.new_cdp_session(self.page)
        self.devtools.on("Fetch.requestPaused", self._answer_search_index)

    def _answer_search_index(self, event: dict) -> None:
        answer = self.devtools.send(
            "Fetch.fulfillRequest",
            {
                "requestId": event["requestId"],
                "responseCode": 200,
                "responseHeaders": [
                    {"name": "Content-Type", "value": "application/json"}
                ],
                "body": self.pageless_index,
            },
        )
        # Playwright calls this handler synchronously: the answer is a task,
        # kept until done (an unreferenced task may be garbage-collected).
        task = asyncio.ensure_future(answer)
        self.answering.add(task)
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task) -> None:
        self.answering.discard(task)
        # The answer fails when the page has already left (a scenario that
        # clicks on quickly): nothing is lost. Had the page still waited for
        # the index, the record would say so ("still loading").
        if not task.cancelled():
            task.exception()

    def _logged(self, message) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.record.console.append(f"{message.type}: {message.text} ({where})")

    async def visit(self, scenario, color_scheme: str, search: bool):
        await self._start_afresh()
        self.record = record = BrowserRecord(self.site_url)
        await self.page.emulate_media(color_scheme=color_scheme)
        # Every page fetches the search index, and Material builds the search
        # from it in a worker: a quarter of a second of CPU per page, for a
        # search that only test_reader_actions.py uses. Without `search`, the
        # tab gets the index with its configuration and no page: the page and
        # its scripts run as for a reader; a search would find nothing. This
        # is done through DevTools (Fetch), not page.route(): a route turns
        # the browser's HTTP cache off for every request.
        if search:
            await self.devtools.send("Fetch.disable")
        else:
            pattern = {"urlPattern": f"{self.site_url}{SEARCH_INDEX}"}
            await self.devtools.send("Fetch.enable", {"patterns": [pattern]})
        result = await scenario(Tab(self.page))
        # Requests the page started late (the search index, an image) belong
        # to the record too: wait until none is left in flight.
        if record.in_flight:
            try:
                await asyncio.wait_for(record.settled.wait(), SETTLE_TIMEOUT)
            except asyncio.TimeoutError:  # TimeoutError from Python 3.11 on
                record.failures += [f"{r.url}: still loading" for r in record.in_flight]
        return result, record

    async def _start_afresh(self) -> None:
        """Forget what the site stored; a new tab if the last test broke this one."""
        try:
            if self.page.url.startswith(self.site_url):
                await self.page.evaluate("localStorage.clear(); sessionStorage.clear()")
        except PlaywrightError:
            await self.page.close()
            self.page = await self.context.new_page()
            await self._attach_devtools()

    async def close(self) -> None:
        await self.context.close()


@pytest.fixture(scope="session")
def site_pages(built_site) -> set[str]:
    """The pages of the built site, as paths from its root: "", "sockets/tcp/"...
    and "404.html"."""
    return {
        "" if html.parent == built_site else f"{html.parent.relative_to(built_site)}/"
        for html in built_site.rglob("index.html")
    } | {html.name for html in built_site.glob("404.html")}


@pytest.fixture(scope="session")
def reader(chromium, site_url, built_site):
    """The tab on the site that the tests of this process share (see Reader)."""
    reader = Reader(chromium.browser, site_url, built_site)
    chromium.run(reader.open())
    yield reader
    chromium.run(reader.close())


@pytest.fixture
def browse(chromium, reader):
    """Run `await scenario(tab)` on the site; return (its result, BrowserRecord).

    The tab starts in the given colour scheme, with nothing stored; with
    `search=False`, the site's search finds nothing (see Reader.visit).
    """

    def run(
        scenario: Callable[[Tab], Awaitable[T]],
        color_scheme: str = "light",
        search: bool = True,
    ) -> tuple[T, BrowserRecord]:
        return chromium.run(reader.visit(scenario, color_scheme, search))

    return run
