"""Every server's limits table, on its page, against the tests that break each limit.

A server page states what its server allows, in a table after a marker that
names the snippet:

    <!-- limits: sockets/tcp_echo_server.py -->
    | Limit | Value | A client that breaks it |
    | --- | --- | --- |
    | Idle time | 10 s without a byte | is disconnected |

Each row must be broken on purpose by a test marked
`@pytest.mark.hostile(server, fault, limit="Idle time")`, and each limit that
a test breaks must be in the table: a page states no limit that no test
checks, and a test checks no limit that the page hides.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from suite_markers import marker_uses

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LIMITS = re.compile(r"<!-- limits: (?P<server>\S+) -->\n+(?P<table>(?:\|.*\n)+)")
SERVERS = sorted(
    path.relative_to(ROOT / "snippets").as_posix()
    for path in (ROOT / "snippets").rglob("*server*.py")
    if not path.name.startswith("legacy_")
)


def tables_on_pages() -> dict[str, list[tuple[str, set[str]]]]:
    """server -> [(page, the limits its table names)]"""
    tables = defaultdict(list)
    for page in sorted(DOCS.rglob("*.md")):
        for match in LIMITS.finditer(page.read_text(encoding="utf-8")):
            rows = match["table"].strip().splitlines()[2:]  # after header and rule
            names = {row.strip("|").split("|")[0].strip() for row in rows}
            tables[match["server"]].append((page.relative_to(DOCS).as_posix(), names))
    return tables


def limits_broken_by_tests(request) -> dict[str, set[str]]:
    broken = defaultdict(set)
    for use in marker_uses(request, "hostile"):
        server, _fault = use.args
        if limit := use.kwargs.get("limit"):
            broken[server].add(limit)
    return broken


@pytest.mark.parametrize("server", SERVERS)
def test_the_server_page_states_its_limits_and_tests_break_each(server, request):
    tables = tables_on_pages().get(server, [])
    assert len(tables) == 1, f"{server}: one limits table on its page, found {tables}"
    page, stated = tables[0]
    broken = limits_broken_by_tests(request).get(server, set())
    assert sorted(stated - broken) == [], f"{page}: rows no test breaks"
    assert sorted(broken - stated) == [], f"{page}: limits the table does not state"
