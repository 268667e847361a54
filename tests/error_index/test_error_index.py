"""Tests of the page "Find your error" (docs/errors.md).

Every message on the page is in a text block marked with the program that
prints it, and possibly the versions it is printed on:

    <!-- printed by socket_messages.py -->
    <!-- printed by socket_messages.py on Python 3.13 and later -->
    <!-- printed by tls_messages.py with OpenSSL before 3.2 -->

Each program runs here as a reader runs it, and what it printed must be
exactly the lines of the blocks marked for it that hold on this Python and
this OpenSSL: a message the page shows and no program printed, or one a
program printed and the page misses, fails. The messages are long (up to
300 characters), which is why they live in the page's blocks instead of
`#>` comments in 79-column programs.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "errors.md"
FOLDER = ROOT / "snippets" / "error_index"
MESSAGE_TEXT = "error_index/message_text.py"
LEGACY = "error_index/legacy_event_loop.py"
PROGRAMS = [
    "error_index/socket_messages.py",
    "error_index/tls_messages.py",
    "error_index/requests_messages.py",
    "error_index/aiohttp_messages.py",
    "error_index/asyncio_messages.py",
    "error_index/websocket_messages.py",
    "error_index/smtp_ftp_messages.py",
    "error_index/ssh_messages.py",
]

MARKER = re.compile(r"^<!-- printed by (?P<what>.+?) -->$")
VERSIONS = re.compile(
    r"(?P<low>\d+\.\d+)(?: to (?P<high>\d+\.\d+)| (?P<later>and later))?"
    r"|before (?P<before>\d+\.\d+)"
)
HEADING = re.compile(r"^### (?P<title>.+?)(?: \{ #[\w-]+ \})?$")
CODE_SPAN = re.compile(r"`([^`]+)`")


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def holds(versions: str, running: tuple[int, ...]) -> bool:
    """Whether "3.10", "3.11 and later", "3.10 to 3.12", "before 3.2" hold."""
    match = VERSIONS.fullmatch(versions)
    assert match, f"cannot read the versions {versions!r}"
    if match["before"]:
        return running < version(match["before"])
    low = version(match["low"])
    high = version(match["high"] or match["low"])
    return low <= running[: len(low)] and (
        match["later"] is not None or running[: len(high)] <= high
    )


@dataclass
class MessageBlock:
    programs: list[str]  # file names, as the marker gives them
    python: str | None  # "3.13 and later", or None for every version
    openssl: str | None
    lines: list[str]
    heading: str

    def holds_here(self) -> bool:
        python = sys.version_info[:2]
        openssl = ssl.OPENSSL_VERSION_INFO[:2]
        return (self.python is None or holds(self.python, python)) and (
            self.openssl is None or holds(self.openssl, openssl)
        )


def read_marker(text: str) -> tuple[list[str], str | None, str | None]:
    programs_part, _, rest = text.partition(" on Python ")
    programs_part, _, openssl = programs_part.partition(" with OpenSSL ")
    python, _, openssl_after = rest.partition(" with OpenSSL ")
    programs = re.findall(r"[\w.]+\.py", programs_part)
    assert programs, f"no program named in {text!r}"
    return programs, python or None, openssl or openssl_after or None


def message_blocks() -> list[MessageBlock]:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    blocks, heading = [], ""
    for index, line in enumerate(lines):
        if match := HEADING.match(line):
            heading = match["title"]
        if not (match := MARKER.match(line)):
            continue
        assert lines[index + 1] == "```text", f"{line}: no text block after it"
        end = lines.index("```", index + 2)
        programs, python, openssl = read_marker(match["what"])
        blocks.append(
            MessageBlock(programs, python, openssl, lines[index + 2 : end], heading)
        )
    return blocks


def shown_for(program: str) -> set[str]:
    """The lines that the page says `program` prints, here."""
    name = Path(program).name
    return {
        line
        for block in message_blocks()
        if name in block.programs and block.holds_here()
        for line in block.lines
    }


def compare(printed: list[str], program: str) -> None:
    shown = shown_for(program)
    missing = sorted(set(printed) - shown)
    not_printed = sorted(shown - set(printed))
    assert (missing, not_printed) == ([], []), (
        f"{program} printed lines that the page does not show (first list), "
        "and the page shows lines it did not print (second list)"
    )


# --- Each program prints what the page shows --------------------------------


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_page_shows_what_each_program_prints(
    program, import_snippet, capsys, caplog
):
    caplog.set_level(logging.WARNING)
    import_snippet(program).main()
    printed = capsys.readouterr()
    compare(printed.out.splitlines(), program)
    # Nothing else: no error logged by a server, no warning on stderr.
    assert printed.err == ""
    assert [record.getMessage() for record in caplog.records] == []


def run_as_a_reader(path: Path, *args: str) -> subprocess.CompletedProcess:
    """`python3 FILE ARGS` in its folder, with Python's default warnings."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONWARNINGS", "PYTHONDEVMODE"}
    }
    return subprocess.run(  # noqa: S603 (our own snippet)
        [sys.executable, path.name, *args], cwd=path.parent, env=environment,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def warnings_and_errors(stderr: str) -> list[str]:
    """`Category: message` for each warning, and the traceback's last line.

    A warning is printed as `FILE:LINE: Category: message`, followed by the
    source line; a traceback ends with `Class: message`.
    """
    found = []
    for line in stderr.splitlines():
        line = re.sub(r"^\S+\.py:\d+: ", "", line)
        if re.match(r"^[\w.]+(Warning|Error): ", line):
            found.append(line)
    return found


def test_the_old_way_to_start_asyncio_fails_as_the_page_says():
    result = run_as_a_reader(FOLDER / "legacy_event_loop.py")
    compare(warnings_and_errors(result.stderr), LEGACY)
    if sys.version_info >= (3, 14):  # get_event_loop() raises
        assert result.returncode == 1
        assert result.stdout == ""
    else:  # it makes a loop, with a warning or without one
        assert (result.returncode, result.stdout) == (0, "Hello\n")


# --- The page -----------------------------------------------------------------


def test_every_block_names_a_program_of_the_page():
    named = {name for block in message_blocks() for name in block.programs}
    programs = {Path(program).name for program in [*PROGRAMS, LEGACY]}
    assert named == programs


def test_every_message_block_is_marked_with_its_program():
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    the_programs = lines.index("## The programs")
    unmarked = [
        number + 1
        for number, line in enumerate(lines[:the_programs])
        if line == "```text" and not MARKER.match(lines[number - 1])
    ]
    assert unmarked == [], "lines of docs/errors.md"


def test_each_heading_names_words_of_its_messages():
    by_heading: dict[str, list[str]] = {}
    for block in message_blocks():
        by_heading.setdefault(block.heading, []).extend(block.lines)
    for heading, messages in by_heading.items():
        for words in CODE_SPAN.findall(heading):
            parts = [part.strip() for part in words.split("...")]
            assert any(
                all(part in message for part in parts) for message in messages
            ), heading


def test_every_error_heading_has_its_messages():
    text = PAGE.read_text(encoding="utf-8")
    index = text[: text.index("## The programs")]
    headings = [m["title"] for m in map(HEADING.match, index.splitlines()) if m]
    with_blocks = {block.heading for block in message_blocks()}
    assert [title for title in headings if title not in with_blocks] == []
    # And an anchor of its own, for other pages to link to.
    assert len(re.findall(r"^### .+ \{ #[\w-]+ \}$", index, re.M)) == len(headings)


def test_message_text_rewrites_a_message_as_the_page_shows(capsys, monkeypatch):
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("<!-- transcript: normalise -->\n```console\n")[1]
    command, shown = block.split("\n```")[0].split("\n")
    arguments = shlex.split(command.removeprefix("$ python3 "))
    assert arguments[0] == "message_text.py"
    result = run_as_a_reader(FOLDER / "message_text.py", *arguments[1:])
    assert (result.stdout, result.stderr) == (shown + "\n", "")
    assert "PORT" in shown
