"""docs/interop.md: the table of examples proven against real peers.

The table is generated from the `interop` markers of the tests (see
tests/peers/interop.py) and the versions of the peers installed here; this
test fails when the page says anything else. `make update-outputs` rewrites
the table from the markers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from peers import programs
from peers.interop import Record, grouped
from suite_markers import marker_uses

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "interop.md"
TABLE = re.compile(
    r"(<!-- interop-table:start -->\n)(?P<table>.*?)(<!-- interop-table:end -->)",
    re.DOTALL,
)


def all_records(request: pytest.FixtureRequest) -> list[Record]:
    """The interop records of the whole suite, however this run was started."""
    records = []
    for use in marker_uses(request, "interop"):
        example, peer, proves = use.args
        assert (ROOT / "snippets" / example).is_file(), f"{use.test}: {example}?"
        records.append(Record(example, peer, proves, use.test))
    return records


def peer_name(peer: str) -> str:
    """How the table names a peer: its name and the version installed here."""
    if peer.startswith("node:"):
        package = peer.removeprefix("node:")
        node = programs.version("node").split(".")[0]
        return f"Node.js {node} with {package} {programs.node_package_version(package)}"
    program = programs.PROGRAMS[peer]
    version = programs.version(peer)
    if program.rolling:
        version = version.split(".")[0]
    return f"{program.name} {version}"


CHAPTERS = {  # snippets/ folder -> the heading of its part of the list
    "sockets": "Sockets",
    "tls_sockets": "TLS",
    "http_examples": "HTTP",
    "async_networking": "Asynchronous networking",
    "websocket_apps": "WebSockets",
    "building_an_app": "Build an application",
    "protocols": "SMTP, FTP and SSH",
    "debugging_tools": "Debugging and testing",
    "testing_network_code": "Debugging and testing",
}


def page_of(example: str) -> str | None:
    """The page that teaches a snippet: the one that includes it most often
    (excerpts and the whole file), relative to docs/; None if none does."""
    include = f'--8<-- "{example}'
    counts = {
        page.relative_to(ROOT / "docs").as_posix(): text.count(include)
        for page in sorted((ROOT / "docs").rglob("*.md"))
        if include in (text := page.read_text(encoding="utf-8"))
    }
    return max(counts, key=counts.get) if counts else None


def render_table(records: list[Record]) -> str:
    """One section per chapter; each example, then each peer and what it proves.

    A definition list rather than a table: it reads on a 390 px phone.
    """
    by_chapter: dict[str, list[str]] = {}
    previous = None
    for (example, peer), proofs in grouped(records).items():
        folder, name = example.split("/", 1)
        lines = by_chapter.setdefault(CHAPTERS[folder], [])
        if example != previous:
            page = page_of(example)
            term = f"[`{name}`]({page})" if page else f"`{name}`"
            lines += ["", term] if lines else [term]
            previous = example
        proves = "; ".join(sorted({record.proves for record in proofs}))
        count = f"{len(proofs)} test{'s' if len(proofs) > 1 else ''}"
        lines.append(f":   **{peer_name(peer)}**: {proves} ({count})")
    sections = []
    for chapter in dict.fromkeys(CHAPTERS.values()):
        if chapter in by_chapter:
            sections.append(f"### {chapter}\n\n" + "\n".join(by_chapter[chapter]))
    return "\n\n".join(sections) + "\n"


def rolling_peers_are_not_older(page_table: str, expected: str) -> str:
    """Accept a newer major version of Chromium or Node.js than the page names."""
    for program in programs.PROGRAMS.values():
        if not program.rolling:
            continue
        pattern = re.escape(program.name) + r" (\d+)"
        for named, installed in zip(
            re.findall(pattern, page_table), re.findall(pattern, expected), strict=False
        ):
            if int(installed) >= int(named):
                expected = expected.replace(
                    f"{program.name} {installed}", f"{program.name} {named}"
                )
    return expected


def test_the_interop_page_lists_exactly_what_the_tests_prove(request):
    records = all_records(request)
    assert records, "no test carries an interop marker"
    page = PAGE.read_text(encoding="utf-8")
    match = TABLE.search(page)
    assert match, f"{PAGE.name} has no interop-table markers"
    expected = render_table(records)
    if request.config.getoption("update_examples"):
        start, end = match.span("table")
        PAGE.write_text(page[:start] + expected + page[end:], encoding="utf-8")
        return
    assert match["table"] == rolling_peers_are_not_older(match["table"], expected), (
        "docs/interop.md is out of date: run `make update-outputs`"
    )


# Snippets that talk to no peer: they compute, or talk only to themselves.
NOTHING_TO_TALK_TO = {
    "async_networking/coroutines.py": "no network: coroutines and tasks",
    "sockets/address_lookup.py": "name resolution only",
    "sockets/bytes_and_text.py": "no network: encoding and decoding",
    "sockets/stream_boundaries.py": "a socket pair within one process",
    "sockets/udp_limits.py": "a datagram to itself, to measure the limits",
    "sockets/socket_errors.py": "provokes each error with sockets of its own",
    "sockets/nagle_delay.py": "times its own client against its own server",
    "sockets/tcp_keepalive.py": "sets options on a connection to itself",
    "sockets/udp_broadcast.py": "broadcasts to its own sockets on loopback",
    "building_an_app/drop_protocol.py": "no network: frames to and from bytes",
    "building_an_app/test_drop_app.py": "a reader's tests, against its own server",
    # A reader's tests of their clients: against servers of their own
    # (http.server, fake ones that misbehave), run by
    # tests/testing_network_code/; the clients themselves meet nginx.
    "testing_network_code/conftest.py": "a reader's fixtures: servers of its own",
    "testing_network_code/test_json_client.py": "a reader's tests, own servers",
    "testing_network_code/test_async_json_client.py": "a reader's tests, own servers",
    "testing_network_code/test_loopback_only.py": "a reader's tests of the guards",
    "http_examples/make_local_ca.py": "writes certificate files",
    "websocket_apps/legacy_two_argument_handler.py": "shows what fails on purpose",
    "websocket_apps/wire_capture.py": "its own server and client, to show the bytes",
    "async_networking/sync_vs_async.py": "a benchmark of its own servers",
    # Find your error (docs/errors.md): each program makes its errors happen
    # with servers of its own; the pages it links to meet the real peers.
    **{
        f"error_index/{name}.py": "provokes each error with servers of its own"
        for name in (
            "socket_messages",
            "tls_messages",
            "requests_messages",
            "aiohttp_messages",
            "asyncio_messages",
            "websocket_messages",
            "smtp_ftp_messages",
            "ssh_messages",
        )
    },
    "error_index/message_text.py": "no network: rewrites a message",
    "error_index/legacy_event_loop.py": "no network: an old asyncio start",
}


def test_every_networked_snippet_meets_a_real_peer(request):
    proven = {use.args[0] for use in marker_uses(request, "interop")}
    snippets = {
        path.relative_to(ROOT / "snippets").as_posix()
        for path in (ROOT / "snippets").rglob("*.py")
    }
    unproven = sorted(snippets - proven - set(NOTHING_TO_TALK_TO))
    assert unproven == [], "run each against a real server or client (tests/peers/)"
