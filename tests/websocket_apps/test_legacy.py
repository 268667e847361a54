"""Tests of the page "Coming from an older tutorial" (docs/websockets/legacy.md).

The page shows what the old tutorial's code does today, as tracebacks; these
tests run the code and check each traceback against what really happens.
"""

import asyncio
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from websockets.exceptions import ConnectionClosedError

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "websockets" / "legacy.md"
OLD_CODE = ROOT / "snippets" / "websocket_apps" / "legacy_hello_server.py.txt"
HALF_UPDATED = ROOT / "snippets" / "websocket_apps" / "legacy_two_argument_handler.py"
GREETING_CLIENT = "websocket_apps/greeting_client.py"
HALF_UPDATED_SNIPPET = "websocket_apps/legacy_two_argument_handler.py"


def shown_tracebacks() -> list[list[str]]:
    """The lines of each ```pytb block on the page, in order."""
    blocks = re.findall(r"```pytb\n(.*?)\n```", PAGE.read_text("utf-8"), re.DOTALL)
    return [block.splitlines() for block in blocks]


def assert_shows(shown: list[str], output: str) -> None:
    """Each line shown is in the output, in order; "  ..." stands for any lines."""
    real = iter(output.splitlines())
    for line in shown:
        if line.strip() != "...":
            assert any(line == candidate for candidate in real), (line, output)


def test_old_code_fails_at_once_with_no_running_event_loop(tmp_path):
    # Run it as a reader does: saved as a .py file, started with python.
    script = tmp_path / "legacy_hello_server.py"
    script.write_text(OLD_CODE.read_text("utf-8"), "utf-8")
    # Coverage does not measure this file: start it without coverage's hook.
    env = {name: value for name, value in os.environ.items() if "COVERAGE" not in name}
    result = subprocess.run(  # noqa: S603 (the page's code)
        [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True,
        timeout=30, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    errors = result.stderr.replace(f"{tmp_path}{os.sep}", "")
    assert errors.splitlines()[-1] == "RuntimeError: no running event loop"
    assert_shows(shown_tracebacks()[0], errors)


def shown_client_line() -> str:
    """What the page says the client prints, against the half-fixed server."""
    return re.search(r"says:\n\n```text\n(.*?)\n```", PAGE.read_text("utf-8"))[1]


def test_half_updated_code_fails_on_every_connection(import_snippet, monkeypatch):
    command = [sys.executable, "-W", "error", str(HALF_UPDATED), "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(  # noqa: S603 (our own snippet)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        client = import_snippet(GREETING_CLIENT)
        with pytest.raises(ConnectionClosedError) as closed:
            asyncio.run(client.hello("Ada", f"ws://127.0.0.1:{port}/"))
        # The program, as the page runs it.
        monkeypatch.setattr(sys, "argv", [GREETING_CLIENT, "--port", str(port)])
        with pytest.raises(SystemExit) as exit_info:
            client.main()
    finally:
        server.send_signal(signal.SIGINT)
        output, errors = server.communicate(timeout=10)
    assert output == "Server stopped\n"
    # The server logs the failure, the client sees 1011 (internal error).
    assert_shows(shown_tracebacks()[1], errors)
    assert closed.value.rcvd.code == 1011
    # The page's line names the half-fixed server's own default port.
    legacy_port = import_snippet(HALF_UPDATED_SNIPPET).PORT
    shown = shown_client_line().replace(f":{legacy_port}/", f":{port}/")
    assert exit_info.value.code == shown


# --- The versions the page names --------------------------------------------


def stated_versions() -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """(websockets version, first Python, last Python) as the page states them."""
    text = PAGE.read_text("utf-8")
    pattern = r"websockets\s+([\d.]+)\s+on\s+Python\s+3\.(\d+)(?:\s+to\s+3\.(\d+))?"
    return [
        (version, (3, int(low)), (3, int(high or low)))
        for version, low, high in re.findall(pattern, text)
    ]


def test_page_names_the_websockets_installed_on_this_python():
    running = sys.version_info[:2]
    versions = [
        version for version, low, high in stated_versions() if low <= running <= high
    ]
    assert versions == [importlib.metadata.version("websockets")]


def test_page_names_the_websockets_pinned_for_each_python():
    pins = re.findall(
        r'"websockets==([\d.]+); (python_version [^"]+)"',
        (ROOT / "pyproject.toml").read_text("utf-8"),
    )
    stated = stated_versions()
    assert len(stated) == len(pins) >= 2
    for version, low, high in stated:
        for minor in range(low[1], high[1] + 1):
            python = {"python_version": f"3.{minor}"}
            assert [pin for pin, marker in pins if Marker(marker).evaluate(python)] == [
                version
            ], f"Python 3.{minor}"
