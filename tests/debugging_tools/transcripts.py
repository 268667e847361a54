"""Console transcripts on a page, checked against what a test recorded.

A page marks each console block that a test records with a comment:

    <!-- transcript: tcpdump-echo -->
    ```console
    $ sudo tcpdump -i lo -nn -c 10 'tcp port 8765'
    ...
    ```

`check_transcript(request, PAGE, "tcpdump-echo", recorded)` compares the block
with `recorded` (the command and its output, with what changes from run to
run already replaced by fixed values), and rewrites the block with
`pytest --update-examples` (`make update-outputs`). A `same` function can
make the comparison tolerant of what differs between machines and Python
versions (a window size, a line number inside the standard library): the page
shows one real run, and any run that differs from it only there agrees.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>\s*)```")


def _locate(text: str, name: str) -> tuple[int, int, str]:
    """(first line, end line, indent) of the block after the named marker."""
    lines = text.splitlines()
    marker = f"<!-- transcript: {name} -->"
    starts = [index for index, line in enumerate(lines) if line.strip() == marker]
    assert len(starts) == 1, f"{len(starts)} markers {marker!r}: one expected"
    opening = FENCE.match(lines[starts[0] + 1])
    assert opening, f"{marker} is not followed by a block"
    assert lines[starts[0] + 1].strip() == "```console", f"{marker}: not console"
    indent = opening["indent"]
    first = starts[0] + 2
    for end in range(first, len(lines)):
        if lines[end].startswith(indent + "```"):
            return first, end, indent
    pytest.fail(f"the block after {marker} never closes")


def page_transcript(page: Path, name: str) -> str:
    text = page.read_text(encoding="utf-8")
    first, end, indent = _locate(text, name)
    lines = text.splitlines()[first:end]
    return "".join(line.removeprefix(indent) + "\n" for line in lines)


def write_transcript(page: Path, name: str, transcript: str) -> None:
    text = page.read_text(encoding="utf-8")
    first, end, indent = _locate(text, name)
    lines = text.splitlines()
    body = [indent + line if line else "" for line in transcript.splitlines()]
    lines[first:end] = body
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_transcript(
    request: pytest.FixtureRequest,
    page: Path,
    name: str,
    recorded: str,
    same: Callable[[str], str] = lambda text: text,
) -> None:
    """The page's transcript `name` is `recorded` (or is rewritten to be)."""
    recorded = "".join(line.rstrip() + "\n" for line in recorded.splitlines())
    shown = page_transcript(page, name)
    if same(shown) == same(recorded):
        return
    if request.config.getoption("update_examples"):
        write_transcript(page, name, recorded)
        return
    diff = "\n".join(
        difflib.unified_diff(
            same(shown).splitlines(),
            same(recorded).splitlines(),
            f"{page.name} ({name})",
            "recorded",
            lineterm="",
        )
    )
    pytest.fail(
        f"the page no longer shows what the programs do "
        f"(`make update-outputs` rewrites it):\n{diff}",
        pytrace=False,
    )


def replace_numbers(text: str, mapping: dict[str, str]) -> str:
    """Replace whole numbers (ports, say) that `mapping` names, nothing else."""
    if not mapping:
        return text
    pattern = "|".join(re.escape(key) for key in sorted(mapping, key=len)[::-1])
    return re.sub(rf"(?<!\d)(?:{pattern})(?!\d)", lambda m: mapping[m[0]], text)
