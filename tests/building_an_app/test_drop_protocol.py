"""drop_protocol.py, its page's tables and picture, and the reader's own
test suite (test_drop_app.py), run as a reader runs it."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import drop_protocol
import pytest
from drop_client import get, put

from .frames_diagram import draw

PROTOCOL = "building_an_app/drop_protocol.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "application"
DIAGRAM = DOCS / "drop-frames.svg"


def test_the_protocol_module_shows_a_request(run_example):
    run_example(PROTOCOL)


def test_the_byte_diagram_is_drawn_from_a_real_exchange(
    shared_drop, monkeypatch, tmp_path, request
):
    """Record what drop_client.py sends and receives, and draw it."""
    sent, received = [], []
    real_sendall, real_recv = socket.socket.sendall, socket.socket.recv

    def sendall(sock, data, *args):
        sent.append(bytes(data))
        return real_sendall(sock, data, *args)

    def recv(sock, size, *args):
        data = real_recv(sock, size, *args)
        received.append(data)
        return data

    monkeypatch.setattr(socket.socket, "sendall", sendall)
    monkeypatch.setattr(socket.socket, "recv", recv)
    hello = tmp_path / "hello.txt"
    hello.write_bytes(b"Hello, DROP!")
    put(hello, "hello.txt", shared_drop.host, shared_drop.port)
    put_request, stored = sent.pop(), b"".join(received)
    received.clear()
    with pytest.raises(Exception, match="NOT_FOUND"):
        get("missing.txt", tmp_path, shared_drop.host, shared_drop.port)
    error = b"".join(received)

    drawn = draw(put_request, stored, error)
    if request.config.getoption("update_examples"):
        DIAGRAM.write_text(drawn, encoding="utf-8")
    assert DIAGRAM.read_text(encoding="utf-8") == drawn, (
        "the exchange changed: redraw with pytest --update-examples"
    )
    # The page reserves the picture's size, so that nothing jumps as it loads.
    width, height = re.search(r'width="(\d+)" height="(\d+)"', drawn).groups()
    page = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert f'(drop-frames.svg){{ width="{width}" height="{height}"' in page


def page_table(page: str, heading: str) -> list[list[str]]:
    """The rows of the first table under `heading` on a page, as cells."""
    lines = (DOCS / page).read_text(encoding="utf-8").split(heading, 1)[1]
    rows = []
    for line in lines.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip().strip("`") for cell in line[1:-1].split("|")])
        elif rows:
            break
    return rows[2:]  # after the header and the rule


def test_the_pages_tables_of_types_and_codes_are_the_modules():
    types = {row[0]: row[1] for row in page_table("protocol.md", "### Message types")}
    assert types == {
        name: getattr(drop_protocol, name).decode()
        for name in ("PUT", "GET", "LIST", "STORED", "FILE", "NAMES", "ERROR")
    }
    codes = {row[1]: int(row[0]) for row in page_table("protocol.md", "### Errors")}
    assert codes == {code.name: code.value for code in drop_protocol.Code}
