"""Every networked snippet meets at least one real peer (joins tests/test_interop_page.py)."""

from pathlib import Path

from suite_markers import marker_uses

ROOT = Path(__file__).resolve().parent.parent
# Snippets that talk to no peer: they compute, or talk only to themselves.
NOTHING_TO_TALK_TO = {
    "async_networking/coroutines.py": "no network: coroutines and tasks",
    "sockets/address_lookup.py": "name resolution only",
    "sockets/bytes_and_text.py": "no network: encoding and decoding",
    "sockets/stream_boundaries.py": "a socket pair within one process",
    "sockets/udp_limits.py": "a datagram to itself, to measure the limits",
    "http_examples/make_local_ca.py": "writes certificate files",
    "websocket_apps/legacy_two_argument_handler.py": "shows what fails on purpose",
    "websocket_apps/wire_capture.py": "its own server and client, to show the bytes",
    "async_networking/sync_vs_async.py": "a benchmark of its own servers",
}


def test_every_networked_snippet_meets_a_real_peer(request):
    proven = {use.args[0] for use in marker_uses(request, "interop")}
    snippets = {
        path.relative_to(ROOT / "snippets").as_posix()
        for path in (ROOT / "snippets").rglob("*.py")
    }
    unproven = sorted(snippets - proven - set(NOTHING_TO_TALK_TO))
    assert unproven == [], "run each against a real server or client (tests/peers/)"
