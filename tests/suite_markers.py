"""The uses of the `interop` and `hostile` markers across the whole suite.

Pages are checked against them (docs/interop.md, the limits tables), so a
check needs every test's markers, even when the run selects a few tests:
`marker_uses(request, "interop")` reads them from this run's collection when
it was the whole suite, and otherwise collects the suite in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INDEXED = ("interop", "hostile")
USES = pytest.StashKey[dict]()
DUMP_VARIABLE = "SUITE_MARKERS_FILE"  # set: collection writes the uses there


@dataclass(frozen=True)
class MarkerUse:
    args: list
    kwargs: dict
    test: str


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect anything
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    uses = {name: [] for name in INDEXED}
    for item in items:
        for name in INDEXED:
            for marker in item.iter_markers(name):
                uses[name].append(
                    MarkerUse(list(marker.args), dict(marker.kwargs), item.nodeid)
                )
    config.stash[USES] = uses
    if dump := os.environ.get(DUMP_VARIABLE):
        serialised = {
            name: [asdict(use) for use in found] for name, found in uses.items()
        }
        Path(dump).write_text(json.dumps(serialised), encoding="utf-8")


COLLECTED = pytest.StashKey[dict]()  # the whole suite's uses, collected once


def marker_uses(request: pytest.FixtureRequest, name: str) -> list[MarkerUse]:
    config = request.config
    if [Path(arg).resolve() for arg in config.args] == [ROOT / "tests"]:
        return config.stash[USES][name]
    if COLLECTED not in config.stash:
        config.stash[COLLECTED] = collect_whole_suite(request)
    return config.stash[COLLECTED][name]


def collect_whole_suite(request: pytest.FixtureRequest) -> dict[str, list[MarkerUse]]:
    """Collect every test (running none) in a subprocess: the uses of each marker."""
    dump = request.getfixturevalue("tmp_path") / "markers.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
         "-p", "no:xdist", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT, env={**os.environ, DUMP_VARIABLE: str(dump)},
        capture_output=True, check=True, timeout=50,
    )  # fmt: skip
    found = json.loads(dump.read_text(encoding="utf-8"))
    return {key: [MarkerUse(**use) for use in uses] for key, uses in found.items()}
