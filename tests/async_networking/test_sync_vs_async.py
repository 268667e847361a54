"""Tests of the page "Sync versus async, measured" (docs/async/sync-vs-async.md).

The script runs with two connections, a few requests and a tiny delay: the
tests check what it prints, saves and draws, never how fast anything was.
The page's tables and chart are drawn by the script's own functions from
the figures it saved (sync-vs-async.json), so they cannot drift from them.
"""

import asyncio
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sequence_figures import check_figure

SCRIPT = "async_networking/sync_vs_async.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "async"
PAGE = DOCS / "sync-vs-async.md"
FIGURES = DOCS / "sync-vs-async.json"
CHART = DOCS / "sync-vs-async.svg"
SVG = "{http://www.w3.org/2000/svg}"
ROW = re.compile(r"\| ([\d,]+) \| (.+) \| (.+) \|")


@pytest.fixture
def script(import_snippet, monkeypatch):
    module = import_snippet(SCRIPT)

    async def in_a_thread(function, *args):
        # The script's way, a new process per measurement, costs a second of
        # imports each: here, a thread of the test's process does the same.
        return await asyncio.to_thread(function, *args)

    monkeypatch.setattr(module, "in_new_process", in_a_thread)
    return module


def test_script_prints_saves_and_draws_its_figures(
    script, monkeypatch, capsys, tmp_path
):
    saved, chart = tmp_path / "figures.json", tmp_path / "chart.svg"
    arguments = ["--connections", "2", "3", "--requests-each", "2"]
    arguments += ["--delay", "0.01", "--repeat", "2"]
    arguments += ["--json", str(saved), "--svg", str(chart)]
    monkeypatch.setattr(sys, "argv", ["sync_vs_async.py", *arguments])

    script.main()

    printed = capsys.readouterr().out.split("\n\n")
    progress, machine, *tables = printed
    assert [line.split(":")[0] for line in progress.splitlines()] == [
        "threads, 2 at once",
        "asyncio, 2 at once",
        "threads, 3 at once",
        "asyncio, 3 at once",
    ]
    figures = json.loads(saved.read_text())
    results = [script.Result(**result) for result in figures["results"]]
    assert machine.splitlines() == [
        *script.described(figures["machine"]).splitlines(),
        "Each request waits 0.01 s at the server.",
        script.server_cost(results),
    ]
    assert figures["machine"]["cores"] == os.cpu_count()
    # Five tables, each a title and a row per number of connections.
    titles, bodies = tables[0::2], tables[1::2]
    assert titles == list(script.TABLES)
    for body in bodies:
        header, rule, *rows = body.strip().splitlines()
        assert header == "| connections | threads | asyncio |"
        assert rule == "| ---: | ---: | ---: |"
        assert [ROW.fullmatch(row)[1] for row in rows] == ["2", "3"]
    assert [(r.method, r.connections, r.requests) for r in results] == [
        ("threads", 2, 4),
        ("asyncio", 2, 4),
        ("threads", 3, 6),
        ("asyncio", 3, 6),
    ]
    assert all(result.server_cpu_seconds > 0 for result in results)
    assert chart.read_text() == script.bar_chart(results, 0.01)


def test_each_bar_is_as_long_as_its_figure(import_snippet):
    script = import_snippet(SCRIPT)
    results = [
        script.Result("threads", 20, 200, 1.0, 0.2, 0.1, 0.2, 1024),
        script.Result("asyncio", 20, 200, 0.5, 0.1, 0.1, 0.2, 0),
        script.Result("threads", 1000, 10_000, 20.0, 9.0, 1.5, 2.0, 48_000),
        script.Result("asyncio", 1000, 10_000, 4.0, 2.0, 0.4, 0.5, 14_000),
    ]
    svg = ET.fromstring(script.bar_chart(results, 0.1))  # noqa: S314 (ours)
    bars = [float(bar.get("width")) for bar in svg.iter(f"{SVG}rect")][1:]
    rates = [result.per_second for result in results]
    assert bars == [round(script.BAR * rate / max(rates), 1) for rate in rates]
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    assert labels[2:] == [
        "20 connections", "threads", "200/s", "asyncio", "400/s",
        "1,000 connections", "threads", "500/s", "asyncio", "2,500/s",
    ]  # fmt: skip
    memory = script.tables(results)[list(script.TABLES)[-1]]
    assert memory.splitlines()[2:] == ["| 20 | 0 | 0 |", "| 1,000 | 0 | 0 |"]


def test_a_measurement_runs_in_a_new_process(import_snippet):
    script = import_snippet(SCRIPT)
    assert asyncio.run(script.in_new_process(os.getpid)) != os.getpid()


def test_the_page_shows_the_figures_the_script_saved(request, import_snippet):
    """The tables on the page, and its chart, are the script's own output
    for the figures in sync-vs-async.json (`--update-examples` rewrites
    them from that file)."""
    script = import_snippet(SCRIPT)
    figures = json.loads(FIGURES.read_text(encoding="utf-8"))
    results = [script.Result(**result) for result in figures["results"]]
    page = PAGE.read_text(encoding="utf-8")
    shown = dict(re.findall(r"<!-- table: (.+?) -->\n((?:\|.*\n)+)", page))
    expected = {title: table + "\n" for title, table in script.tables(results).items()}
    machine = "<!-- machine -->\n```text\n" + script.described(figures["machine"])
    machine += "\n" + script.server_cost(results)
    described = re.compile(r"<!-- machine -->\n```text\n.*?(?=\n```)", re.DOTALL)
    chart = script.bar_chart(results, figures["delay"])
    height = re.search(r'height="(\d+)"', chart)[1]  # the page reserves it
    embedded = re.compile(r'(sync-vs-async\.svg\)\{ width="400" height=")(\d+)"')
    if request.config.getoption("update_examples"):
        for title, table in expected.items():
            page = page.replace(
                f"<!-- table: {title} -->\n{shown[title]}",
                f"<!-- table: {title} -->\n{table}",
            )
        page = embedded.sub(rf'\g<1>{height}"', page)
        page = described.sub(lambda _: machine, page)
        PAGE.write_text(page, encoding="utf-8")
    else:
        assert shown == expected
        assert described.search(page)[0] == machine  # as the script said it
        assert embedded.search(page)[2] == height
    check_figure(request, CHART, chart)
