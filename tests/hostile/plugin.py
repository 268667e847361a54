"""The `hostile` marker: which fault a test inflicts on which server.

    @pytest.mark.hostile(
        "sockets/tcp_echo_server.py", "slow drip", limit="Time to send a message"
    )

`fault` is one of FAULTS; `limit` names the row of the server's limits table
(on its page) that the test breaks, if the fault breaks one. A test that
measures how long a well-behaved client waited records it with
`record_wait(seconds)`. Run pytest with FAULT_REPORT=path to write every
hostile test's outcome there (tools/fault_matrix.py turns it into a table).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_WRITES_REPORT = True
FAULTS = (
    "silent",  # connects and sends nothing
    "slow drip",  # one byte every few seconds, for ever
    "reset",  # a TCP reset in the middle of a message
    "oversize",  # a line, frame or body over the limit
    "garbage",  # invalid UTF-8, malformed protocol
    "flood",  # a few hundred connections at once
    "non-reading",  # stops reading while the server writes to it
    "fd exhaustion",  # the server runs out of file descriptors
    "confinement",  # a name, path or host outside what the server serves
)


def pytest_configure(config: pytest.Config) -> None:
    global _WRITES_REPORT
    # Under xdist, each worker and the controller all see every report: only
    # the controller (or a run without workers) writes it, once.
    _WRITES_REPORT = not hasattr(config, "workerinput")
    config.addinivalue_line(
        "markers",
        "hostile(server, fault, limit=None): a test that attacks a server snippet",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("hostile"):
            server, fault = marker.args
            assert fault in FAULTS, f"{item.nodeid}: unknown fault {fault!r}"
            limit = marker.kwargs.get("limit")
            item.user_properties.append(("hostile", [server, fault, limit]))


@pytest.fixture
def record_wait(request: pytest.FixtureRequest):
    """Record how long a well-behaved client waited while the fault went on."""

    def record(seconds: float) -> None:
        request.node.user_properties.append(("waited", round(seconds, 3)))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    destination = os.environ.get("FAULT_REPORT")
    if not destination or not _WRITES_REPORT or report.when != "call":
        return
    properties = dict(report.user_properties)
    if "hostile" not in properties:
        return
    with Path(destination).open("a", encoding="utf-8") as file:
        # One row per fault: a test may inflict several at once.
        for name, value in report.user_properties:
            if name == "hostile":
                row = {"test": report.nodeid, "outcome": report.outcome,
                       **properties, "hostile": value}  # fmt: skip
                file.write(json.dumps(row) + "\n")
