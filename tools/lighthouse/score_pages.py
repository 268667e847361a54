"""Lighthouse scores of the built site: the home page and the heaviest pages.

    python tools/lighthouse/score_pages.py site/        (what `make lighthouse` runs)
    python tools/lighthouse/score_pages.py site/ --page http/server/ --preset mobile

Serves the site on a free loopback port, compressed with gzip as GitHub Pages
serves it, and runs Lighthouse (the npm package pinned in this folder) on the
system Chromium, for a phone (Lighthouse's default: a mid-range phone on a slow
4G network, simulated) and for a desktop. Each page is scored three times
(--runs) and the median counts: one run's performance score moves by a few
points from run to run, and Lighthouse's own guide to variability recommends
the median of several. It prints a table of the scores and of each page's
total transfer size, writes every run's report to lighthouse-reports/, and
exits with 1 if a median score is under 95 or if Chromium asked for anything
but the site.

Not a test: the scores depend on this machine's speed. Run it by hand after a
change to the theme, the stylesheets or the scripts, and on a quiet machine.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
MINIMUM_SCORE = 95
CATEGORIES = ["performance", "accessibility", "best-practices"]
PRESETS = ["mobile", "desktop"]
# The flags of the browser tests (tests/conftest.py), for chrome-launcher.
# --host-resolver-rules keeps Chromium from looking up Google's hostnames.
CHROMIUM_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage"
    " --disable-background-networking --disable-component-update --no-first-run"
    " --disable-quic --disable-sync"
    " --host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'"
)
# What GitHub Pages compresses: text, not images or fonts that are already so.
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg")


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files over HTTP/1.1 with keep-alive, gzipped when the client asks."""

    protocol_version = "HTTP/1.1"

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path /= "index.html"
        if not path.is_file():
            return super().send_head()  # redirects (a/ -> a/) and 404s
        body = path.read_bytes()
        content_type = self.guess_type(str(path))
        accepted = self.headers.get("Accept-Encoding", "")
        compress = "gzip" in accepted and content_type.startswith(COMPRESSED_TYPES)
        if compress:
            body = gzip.compress(body, compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")  # GitHub Pages' default
        self.send_header("Vary", "Accept-Encoding")
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format, *args):
        pass


class PageParser(HTMLParser):
    """The images a page loads from the site, and how many elements it has."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.elements = 0

    def handle_starttag(self, tag, attrs):
        self.elements += 1
        source = dict(attrs).get("src")
        if tag == "img" and source and not urlsplit(source).netloc:
            self.images.append(unquote(urlsplit(source).path))


def parsed(html: Path) -> PageParser:
    parser = PageParser()
    parser.feed(html.read_text(encoding="utf-8"))
    return parser


def page_weight(site: Path, html: Path) -> int:
    """Bytes a page adds to what every page loads: its gzipped HTML and its images.
    (The theme's CSS and scripts are the same on every page.)"""
    images = {(html.parent / image).resolve() for image in parsed(html).images}
    return len(gzip.compress(html.read_bytes())) + sum(
        image.stat().st_size
        for image in images
        if image.is_file() and image.is_relative_to(site)
    )


def element_count(html: Path) -> int:
    """How many elements a page has: what the browser styles and lays out."""
    return parsed(html).elements


def pages_to_score(site: Path) -> list[str]:
    """The home page, the heaviest page (bytes) and the page with the largest
    DOM (which costs the most main-thread time), as paths from the site's root."""
    pages = {
        html.parent.relative_to(site).as_posix(): html
        for html in site.rglob("index.html")
    }
    heaviest = max(pages, key=lambda page: page_weight(site, pages[page]))
    largest = max(pages, key=lambda page: element_count(pages[page]))
    chosen = ["."] + [page for page in (heaviest, largest) if page != "."]
    return ["" if page == "." else f"{page}/" for page in dict.fromkeys(chosen)]


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    sys.exit("Lighthouse needs Chromium: apt-get install chromium, or set CHROMIUM")


def run_lighthouse(url: str, preset: str, report: Path) -> dict:
    command = [
        str(LIGHTHOUSE),
        url,
        f"--chrome-flags={CHROMIUM_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        "--output=html",
        f"--output-path={report}",
        "--no-enable-error-reporting",
        "--quiet",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    environment = {**os.environ, "CHROME_PATH": chromium()}
    subprocess.run(command, check=True, env=environment)  # noqa: S603 (our own command)
    return json.loads(report.with_suffix(".report.json").read_text(encoding="utf-8"))


def off_loopback(result: dict, site_url: str) -> list[str]:
    requests = result["audits"]["network-requests"]["details"]["items"]
    netloc = urlsplit(site_url).netloc
    return [
        item["url"]
        for item in requests
        if urlsplit(item["url"]).scheme != "data"
        and urlsplit(item["url"]).netloc != netloc
    ]


@dataclass
class PageScore:
    """A page's scores over several Lighthouse runs, for one preset."""

    runs: list[dict[str, int]]  # {category: score} of each run
    transfer: int  # bytes the page loaded
    off_loopback: list[str]  # requests to anything but the site, in any run

    def median(self, category: str) -> int:
        return statistics.median_low(run[category] for run in self.runs)

    def spread(self, category: str) -> str:
        """The median score, with the lowest and the highest: "95 (94-97)"."""
        scores = [run[category] for run in self.runs]
        return f"{self.median(category):3} ({min(scores)}-{max(scores)})"


def score_page(site_url: str, path: str, preset: str, runs: int, reports: Path):
    name = (path.strip("/").replace("/", "-") or "home") + f"-{preset}"
    results = [
        run_lighthouse(site_url + path, preset, reports / f"{name}-{run}")
        for run in range(1, runs + 1)
    ]
    return PageScore(
        runs=[
            {
                category: round(100 * result["categories"][category]["score"])
                for category in CATEGORIES
            }
            for result in results
        ],
        transfer=int(results[0]["audits"]["total-byte-weight"]["numericValue"]),
        off_loopback=[
            url for result in results for url in off_loopback(result, site_url)
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. site/")
    parser.add_argument("--reports", type=Path, default=ROOT / "lighthouse-reports")
    parser.add_argument("--preset", choices=PRESETS, action="append")
    parser.add_argument(
        "--page", action="append", help="a path from the site's root, e.g. http/server/"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of each page and preset (median)"
    )
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit(f"{LIGHTHOUSE} is missing: run `npm ci` in {HERE} (make does)")
    site = args.site.resolve()
    args.reports.mkdir(exist_ok=True)

    handler = functools.partial(GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site_url = f"http://127.0.0.1:{server.server_address[1]}/"

    failures = []
    print(f"Median of {args.runs} runs (lowest and highest in brackets)")
    print(
        f"{'page':24} {'preset':8} {'perf':13} {'a11y':13} {'best':13} transfer (bytes)"
    )
    try:
        for path in args.page or pages_to_score(site):
            page = path or "(home)"
            for preset in args.preset or PRESETS:
                score = score_page(site_url, path, preset, args.runs, args.reports)
                print(
                    f"{page:24} {preset:8} {score.spread('performance'):13}"
                    f" {score.spread('accessibility'):13}"
                    f" {score.spread('best-practices'):13} {score.transfer:>9,}"
                )
                failures += [
                    f"{page} {preset}: {category} {score.median(category)} < "
                    f"{MINIMUM_SCORE}"
                    for category in CATEGORIES
                    if score.median(category) < MINIMUM_SCORE
                ]
                failures += [
                    f"{page} {preset}: requested {url}" for url in score.off_loopback
                ]
    finally:
        server.shutdown()
        server.server_close()
    print(f"Reports: {args.reports}/")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
