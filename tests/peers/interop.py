"""Which example each test proves against which real peer.

A test that runs a snippet against software this project did not write says
so with a marker:

    @pytest.mark.interop("http_examples/raw_http_get.py", "nginx", "GET over IPv6")
    def test_raw_get_against_nginx(nginx_static): ...

The first argument is the snippet (as under snippets/), the second the peer (a
key of `programs.PROGRAMS`, or `node:ws` for an npm package that a Node.js
peer uses), the third what the test proves, in a few words. The table on
docs/interop.md is generated from these markers (`make update-outputs`), and
tests/test_interop_page.py fails if the page and the markers disagree: the
page claims nothing that no test runs, and every test it counts is in the
suite that must pass before the site is published.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Record:
    example: str
    peer: str
    proves: str
    test: str


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interop(example, peer, proves): this test runs a snippet against a real peer;"
        " docs/interop.md lists it",
    )


def grouped(records: list[Record]) -> dict[tuple[str, str], list[Record]]:
    """(example, peer) -> the records of the tests that prove it."""
    pairs: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        pairs[record.example, record.peer].append(record)
    return dict(sorted(pairs.items()))
