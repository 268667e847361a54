"""Tests of "Seeing the traffic" (docs/guides/seeing-the-traffic.md): what
Python's development mode reports, run as a reader runs it (`python3 -X dev`).

The transcripts on the page come from Python 3.11; another version prints the
same lines, except inside the standard library (its frames, their line
numbers) and in how 3.10 names a socket's family: `same_python` leaves those
out of the comparison.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from debugging_tools.captures import PAGE_CLIENT_PORTS, PAGE_SERVER_PORT
from debugging_tools.transcripts import DOCS, check_transcript, replace_numbers

PAGE = DOCS / "guides" / "seeing-the-traffic.md"
FOLDER = Path(__file__).resolve().parents[2] / "snippets" / "debugging_tools"
UNCLOSED = "debugging_tools/unclosed_socket.py"
MISTAKES = "debugging_tools/asyncio_mistakes.py"
STDLIB = sysconfig.get_path("stdlib")
SHORT_STDLIB = ".../lib/python{}.{}".format(*sys.version_info[:2])


def run_python(*arguments: str) -> str:
    """python3 ARGUMENTS in the snippets' folder: its output, as a terminal shows it.

    Unbuffered, so that what it prints and its warnings stay in order.
    """
    result = subprocess.run(  # noqa: S603 (our own snippets)
        [sys.executable, *arguments], cwd=FOLDER, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=30, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    return result.stdout


def page_form(output: str, port: int) -> str:
    """Paths shortened, and the ports the page uses."""
    output = output.replace(f"{FOLDER}{os.sep}", "")
    output = output.replace(
        STDLIB, f".../lib/python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    output = re.sub(
        r"laddr=\('127\.0\.0\.1', (\d+)\)",
        f"laddr=('127.0.0.1', {PAGE_CLIENT_PORTS[0]})",
        output,
    )
    return replace_numbers(output, {str(port): PAGE_SERVER_PORT})


LIBRARY_FRAME = re.compile(r'^(?P<indent>\s+)File "\.\.\./')


def same_python(text: str) -> str:
    """What every Python from 3.10 on prints alike.

    The standard library's own frames (a run of them becomes "..."), the
    place and duration in asyncio's report of a slow step, and 3.10's names
    for a socket's family and type (2 and 1 from 3.11 on) are left out.
    """
    text = text.replace("family=AddressFamily.AF_INET,", "family=2,")
    text = text.replace("type=SocketKind.SOCK_STREAM,", "type=1,")
    text = re.sub(r"created at \.\.\./\S+:\d+>", "created at ...>", text)
    text = re.sub(r"took \d+\.\d+ seconds", "took N seconds", text)
    kept, skipping = [], None
    for line in text.splitlines():
        if match := LIBRARY_FRAME.match(line):
            if skipping is None:
                kept.append(match["indent"] + "...")
            skipping = len(match["indent"])
            continue
        if skipping is not None and len(line) - len(line.lstrip()) > skipping:
            continue  # the source line of a library frame
        skipping = None
        kept.append(line)
    return "\n".join(kept)


@pytest.mark.interop(UNCLOSED, "socat", "an echo, then the leak that -X dev names")
def test_dev_mode_names_the_socket_left_open(socat_echo, request):
    port = str(socat_echo.port)
    script = Path(UNCLOSED).name
    quiet = run_python(script, "--port", port)
    dev = run_python("-X", "dev", script, "--port", port)
    traced = run_python("-X", "dev", "-X", "tracemalloc=5", script, "--port", port)
    # Without -X dev, Python ignores ResourceWarning: nothing but the echo.
    assert quiet == "Hello\n"
    assert "ResourceWarning: unclosed <socket.socket" in dev
    assert "Enable tracemalloc to get the object allocation traceback" in dev
    allocated = traced.split("Object allocated at (most recent call last):\n")[1]
    assert "sock = socket.create_connection((host, port)" in allocated
    transcript = (
        f"$ python3 {script}\n{quiet}"
        f"$ python3 -X dev {script}\n{page_form(dev, socat_echo.port)}"
        f"$ python3 -X dev -X tracemalloc=5 {script}\n"
        f"{page_form(traced, socat_echo.port)}"
    )
    check_transcript(request, PAGE, "dev-mode-unclosed", transcript, same_python)


@pytest.mark.interop(MISTAKES, "socat", "a missing await and a blocking call, named")
def test_asyncio_debug_mode_names_the_missing_await_and_the_slow_step(
    socat_echo, import_snippet, request
):
    port = str(socat_echo.port)
    script = Path(MISTAKES).name
    blocking = import_snippet(MISTAKES).BLOCKING_TIME
    output = run_python("-X", "dev", script, "--port", port)
    assert "RuntimeWarning: coroutine 'StreamWriter.drain' was never awaited" in output
    took = re.search(r"Executing <Task .*> took (\d+\.\d+) seconds", output)
    assert took, output
    assert float(took[1]) >= blocking
    assert output.endswith("Hello\n")  # both mistakes, and no exception
    transcript = f"$ python3 -X dev {script}\n{page_form(output, socat_echo.port)}"
    check_transcript(request, PAGE, "dev-mode-asyncio", transcript, same_python)
