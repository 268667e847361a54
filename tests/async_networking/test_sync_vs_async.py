"""Tests of the page "Sync versus async, measured" (docs/async/sync-vs-async.md).

The script runs with a handful of requests and a tiny delay: the test checks
what it prints and draws, never how fast anything was.
"""

import re
import sys
import xml.etree.ElementTree as ET

SCRIPT = "async_networking/sync_vs_async.py"
SVG = "{http://www.w3.org/2000/svg}"
METHODS = ["requests, one by one", "requests, 3 threads", "aiohttp, 4 connections"]


def test_script_prints_a_table_and_draws_a_chart(
    import_snippet, monkeypatch, capsys, tmp_path
):
    script = import_snippet(SCRIPT)
    chart = tmp_path / "chart.svg"
    arguments = [
        "--requests",
        "7",
        "--delay",
        "0.01",
        "--threads",
        "3",
        "--repeat",
        "2",
    ]
    arguments += ["--connections", "4", "--svg", str(chart)]
    monkeypatch.setattr(sys, "argv", ["sync_vs_async.py", *arguments])

    script.main()

    heading, *table = capsys.readouterr().out.splitlines()
    assert heading.startswith(
        "7 requests, each answered after 0.01 s; best of 2 runs; Python 3."
    )
    assert table[:2] == [
        "| method | requests | seconds | requests/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    rows = [
        re.fullmatch(r"\| (.+) \| (\d+) \| (\d+\.\d\d) \| (\d+) \|", row)
        for row in table[2:]
    ]
    assert all(rows), table
    assert [(row[1], row[2]) for row in rows] == [(method, "7") for method in METHODS]

    svg = ET.parse(chart).getroot()  # noqa: S314 (the file the script just wrote)
    bars = svg.findall(f"{SVG}rect[@class='bar']")
    labels = [text.text for text in svg.findall(f"{SVG}text")]
    assert len(bars) == 3
    assert labels[0] == "7 requests of 0.01 s: seconds in all (lower is better)"
    assert labels[1::2] == METHODS
    # Each bar's length is its time over the longest time: the chart does not
    # lie. (The labels are rounded to 0.01 s, so allow for that.)
    seconds = [float(label.removesuffix(" s")) for label in labels[2::2]]
    widths = [float(bar.get("width")) for bar in bars]
    assert max(widths) == 330
    for width, time in zip(widths, seconds, strict=True):
        assert abs(width / 330 * max(seconds) - time) <= 0.011
