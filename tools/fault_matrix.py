"""The fault matrix: every server snippet against every hostile-input fault.

Runs the hostile tests (those marked `hostile`, see tests/hostile/plugin.py)
with FAULT_REPORT set, then prints a Markdown table: one row per server, one
column per fault, each cell the number of tests that passed (and failed), and
the longest time a well-behaved client waited while that fault went on.

    .venv/bin/python tools/fault_matrix.py            # runs the tests
    .venv/bin/python tools/fault_matrix.py --report FILE   # an existing report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from hostile.plugin import FAULTS  # noqa: E402 (after the path is set)


def run_hostile_tests(report: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "hostile and not site", "-p", "no:cov",
         "-q", "-n", "2", "--no-header", "tests"],
        cwd=ROOT, env={**os.environ, "FAULT_REPORT": str(report)}, check=False,
    )  # fmt: skip


def matrix(rows: list[dict]) -> str:
    cells: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"passed": 0, "failed": 0, "waited": 0.0}
    )
    for row in rows:
        server, fault, _limit = row["hostile"]
        cell = cells[server, fault]
        cell["passed" if row["outcome"] == "passed" else "failed"] += 1
        cell["waited"] = max(cell["waited"], row.get("waited", 0.0))
    servers = sorted({server for server, _ in cells})
    lines = [
        "| server | " + " | ".join(FAULTS) + " |",
        "| --- |" + " --- |" * len(FAULTS),
    ]
    for server in servers:
        shown = []
        for fault in FAULTS:
            cell = cells.get((server, fault))
            if cell is None:
                shown.append("n/a")
                continue
            text = f"{cell['passed']} ok"
            if cell["failed"]:
                text += f", {cell['failed']} FAILED"
            if cell["waited"]:
                text += f" ({cell['waited']:.2f} s)"
            shown.append(text)
        lines.append(f"| `{server}` | " + " | ".join(shown) + " |")
    total = sum(c["passed"] + c["failed"] for c in cells.values())
    lines.append("")
    lines.append(f"{total} hostile tests, {len(cells)} server x fault cells.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="a FAULT_REPORT file to read")
    args = parser.parse_args()
    report = args.report
    if report is None:
        report = Path(tempfile.mkdtemp()) / "faults.jsonl"
        run_hostile_tests(report)
    rows = [json.loads(line) for line in report.read_text().splitlines() if line]
    print(matrix(rows))


if __name__ == "__main__":
    main()
