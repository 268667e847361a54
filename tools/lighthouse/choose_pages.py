"""Lighthouse CI configurations for `make lighthouse`: which pages to score.

    python tools/lighthouse/choose_pages.py site lighthouse-reports    (what make runs)
    python tools/lighthouse/choose_pages.py site lighthouse-reports \\
        --page http/server/ --preset mobile     (make lighthouse PAGE=... PRESET=...)

Lighthouse CI (`lhci autorun`, configured by lighthouserc.yml beside this
script) serves the site, runs Lighthouse three times a page, judges the medians
and writes the reports. What it lacks is choosing the pages worth scoring: the
home page, the heaviest page in bytes and the page with the largest DOM. This
script chooses them and writes, for each preset (mobile, Lighthouse's default,
and desktop), REPORTS/PRESET/lighthouserc.json: lighthouserc.yml with the
pages' URLs, the preset, Chromium's path ($CHROMIUM, else chromium on PATH)
and REPORTS/PRESET as the reports' folder.

Lighthouse CI serves a folder at its root. To score the pages at the path that
GitHub Pages publishes them under (mkdocs.yml's site_url: /site/), it serves
REPORTS/root/, which holds only a link to the built site under that path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml  # PyYAML, which MkDocs needs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PRESETS = ["mobile", "desktop"]


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


def site_path(page: str) -> str:
    """A page's path from the site's root, from either that path or its source
    (as `make page` takes it): docs/http/server.md and http/server are http/server/."""
    page = page.strip("/")
    if page.startswith("docs/") and page.endswith((".md", ".ipynb")):
        source = Path(page).relative_to("docs").with_suffix("")
        parts = (
            source.parts[:-1] if source.name in ("index", "README") else source.parts
        )
        page = "/".join(parts)
    return f"{page}/" if page else ""


def published_path() -> str:
    """The path the site is published under, from mkdocs.yml's site_url: /site/."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    match = re.search(r"^site_url:\s*(\S+)", config, re.MULTILINE)
    return urlsplit(match[1]).path if match else "/"


def chromium() -> str:
    """Chromium's path: $CHROMIUM, else chromium (or google-chrome) on PATH."""
    if named := os.environ.get("CHROMIUM"):
        if found := shutil.which(named):
            return found
        sys.exit(f"CHROMIUM={named} is not an executable")
    for name in ("chromium", "google-chrome"):
        if found := shutil.which(name):
            return found
    sys.exit("Lighthouse needs Chromium: apt-get install chromium, or set CHROMIUM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. site/")
    parser.add_argument(
        "reports", type=Path, help="where LHCI runs, e.g. lighthouse-reports/"
    )
    parser.add_argument("--preset", choices=PRESETS, action="append")
    parser.add_argument(
        "--page",
        action="append",
        help="a page's path from the site's root or its source: http/server/, "
        "docs/http/server.md",
    )
    args = parser.parse_args()
    site = args.site.resolve()
    reports = args.reports.resolve()

    prefix = published_path()  # "/site/"
    served = reports / "root"
    link = served.joinpath(*prefix.strip("/").split("/"))
    if link == served:  # published at the root: serve the site itself
        served = site
    else:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(site, target_is_directory=True)

    pages = (
        [site_path(page) for page in args.page] if args.page else pages_to_score(site)
    )
    for page in pages:
        if not (site / page / "index.html").is_file():
            sys.exit(f"No page {page}: {site / page / 'index.html'} is missing")
    for preset in args.preset or PRESETS:
        config = yaml.safe_load((HERE / "lighthouserc.yml").read_text(encoding="utf-8"))
        collect, upload = config["ci"]["collect"], config["ci"]["upload"]
        collect["staticDistDir"] = str(served)
        # Lighthouse CI puts its own port into these URLs.
        collect["url"] = [f"http://localhost{prefix}{page}" for page in pages]
        collect["chromePath"] = chromium()
        if preset != "mobile":
            collect["settings"]["preset"] = preset
        upload["outputDir"] = str(reports / preset)
        folder = reports / preset
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lighthouserc.json").write_text(
            json.dumps(config, indent=2) + "\n", encoding="utf-8"
        )
        print(f"{folder / 'lighthouserc.json'}: {', '.join(collect['url'])}")


if __name__ == "__main__":
    main()
