"""The promises the site makes to its readers, checked over every page and snippet.

- every Python block on a page is included from snippets/, and every snippet
  is shown on some page;
- no snippet is named after a module a reader imports;
- importing a snippet opens no socket, and running it starts at `main()`;
- no snippet teaches a pattern the site promises never to teach.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
TESTS = ROOT / "tests"

PAGES = sorted(DOCS.rglob("*.md"))
SNIPPET_FILES = sorted(
    path
    for path in SNIPPETS.rglob("*")
    if path.is_file() and "__pycache__" not in path.parts
)
PYTHON_SNIPPETS = [path for path in SNIPPET_FILES if path.suffix == ".py"]

FENCE = re.compile(r"^(?P<indent>\s*)(?P<marker>`{3,}|~{3,})\s*(?P<info>.*)$")
PYTHON_LANGUAGES = {"py", "python", "python3", "pycon", "ipython"}
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::[^"]*)?"\s*$')


def fenced_blocks(page: Path):
    """Yield (line number, language, body lines) for each fenced block."""
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        marker, info = opening["marker"], opening["info"].strip()
        language = info.lstrip("{.").split()[0].rstrip("}") if info else ""
        start, body = index, []
        while index < len(lines) and not lines[index].strip().startswith(marker):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        yield start, language.lower(), body


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_every_python_block_is_included_from_a_snippet(page):
    inline = [
        f"{relative(page)}:{line}"
        for line, language, body in fenced_blocks(page)
        if language in PYTHON_LANGUAGES
        and not all(INCLUDE.match(text) for text in body if text.strip())
    ]
    assert inline == [], "write these blocks as files in snippets/ and include them"


def included_snippets() -> set[Path]:
    return {
        SNIPPETS / match["path"]
        for page in PAGES
        for _, _, body in fenced_blocks(page)
        for text in body
        if (match := INCLUDE.match(text))
    }


def test_every_snippet_is_shown_on_a_page():
    missing = sorted(relative(p) for p in set(SNIPPET_FILES) - included_snippets())
    assert missing == [], "include these files in a page, or delete them"


def importable_names() -> set[str]:
    """Modules a reader may import: the standard library and installed packages."""
    installed = importlib.metadata.packages_distributions()
    return set(sys.stdlib_module_names) | set(installed)


def test_no_snippet_or_test_shadows_a_module():
    names = importable_names()
    shadows = sorted(
        relative(path)
        for folder in (SNIPPETS, TESTS)
        for path in folder.rglob("*")
        if "__pycache__" not in path.parts
        and (path.stem if path.is_file() and path.suffix == ".py" else path.name)
        in names
    )
    assert shadows == [], "rename these: each hides a module that readers import"


@pytest.mark.disable_socket
@pytest.mark.parametrize("path", PYTHON_SNIPPETS, ids=relative)
def test_importing_a_snippet_opens_no_socket(path, import_snippet):
    # Sockets are disabled in this test: a snippet that connects or listens
    # at import time, instead of in main(), fails here.
    module = import_snippet(path.relative_to(SNIPPETS).as_posix())
    if path.name == "conftest.py" or path.name.startswith("test_"):
        return  # a reader's tests: pytest runs them, not `python3 file.py`
    assert callable(getattr(module, "main", None)), "a snippet starts at main()"
    assert 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")


# Patterns the site promises never to teach. A file whose name starts with
# legacy_ shows old code on purpose, to explain what breaks and why.
FORBIDDEN = {
    r"get_event_loop\(\)": "asyncio.get_event_loop() is deprecated: use asyncio.run()",
    r"verify\s*=\s*False": "never switch TLS verification off: use a local CA",
    r"CERT_NONE|check_hostname\s*=\s*False": "never switch TLS verification off",
    r"0\.0\.0\.0": "bind to loopback, not to every interface",
    r"def \w+\(websocket, path\)": "websockets handlers take one argument",
    r"known_hosts\s*=\s*None": "never accept any SSH host key: list the server's",
    r"AutoAddPolicy": "never trust an SSH host key on first sight",
    r"\bssl\s*=\s*False": "never switch TLS off where the library would verify",
    r"shell\s*=\s*True": "a shell would run what the network sent: pass a list",
    r"\b(eval|exec)\(": "never run text as code",
    r"\b(pickle|marshal|shelve)\b": "unpickling network data runs the sender's code",
}


def code_without_comments(path: Path) -> str:
    """The source with its comments removed: a comment may name what not to do."""
    with path.open("rb") as file:
        tokens = [
            token
            for token in tokenize.tokenize(file.readline)
            if token.type != tokenize.COMMENT
        ]
    return tokenize.untokenize(tokens).decode("utf-8")


@pytest.mark.parametrize(
    "path",
    [path for path in PYTHON_SNIPPETS if not path.name.startswith("legacy_")],
    ids=relative,
)
def test_no_snippet_teaches_a_forbidden_pattern(path):
    source = code_without_comments(path)
    found = [
        reason for pattern, reason in FORBIDDEN.items() if re.search(pattern, source)
    ]
    assert found == []


def test_lines_left_out_of_coverage_say_why():
    # "# pragma: no cover" must be followed by the reason, e.g.
    # "# pragma: no cover (Windows only)".
    bare = [
        f"{relative(path)}:{number}"
        for path in PYTHON_SNIPPETS
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"pragma: no cover\s*$", line)
    ]
    assert bare == []


@pytest.mark.site  # tomllib: Python 3.11+, like the site's build
def test_versions_on_the_home_page_are_the_tested_ones():
    # The home page tells readers what to install: exactly what the tests ran.
    import tomllib

    pinned = {}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in project["project"]["dependencies"]:
        match = re.match(r"([\w-]+)==([\w.]+)(?:\s*;\s*(.*))?$", requirement)
        if match and "< '3.11'" not in (match[3] or ""):
            pinned[match[1].lower()] = match[2]
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    named = {
        name.lower(): version
        for name, version in re.findall(r'"([\w-]+)==([\w.]+)"', home)
    }
    assert named == pinned


# --- Console commands on the pages -------------------------------------------
# A page tells the reader how to start each program: `$ python tcp_echo_server.py
# --port 9000`. Each such command must name a snippet that exists and options
# that its command line accepts (parsed by the program's own argparse; the
# program does not run), and every `pip install "name==version"` the version
# the tests ran.

CONSOLE_COMMAND = re.compile(r"^\s*\$ python3? (?P<script>[\w/.-]+\.py)(?P<args>.*)$")
PIP_PIN = re.compile(r'"(?P<name>[\w-]+)==(?P<version>[\w.]+)"')


def console_commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for page in PAGES:
        for line_number, language, body in fenced_blocks(page):
            if language != "console":
                continue
            for offset, line in enumerate(body):
                if match := CONSOLE_COMMAND.match(line):
                    where = f"{relative(page)}:{line_number + offset + 1}"
                    found.append((where, match["script"], shlex.split(match["args"])))
    return found


def snippet_named(script: str) -> Path:
    """The file a command runs: a path from the root, or a snippet's name."""
    if (ROOT / script).is_file():
        return ROOT / script
    named = [path for path in PYTHON_SNIPPETS if path.name == Path(script).name]
    assert len(named) == 1, f"{script}: {len(named)} snippets have that name"
    return named[0]


class ParsedCommandLine(Exception):
    """Raised in place of running the program once its arguments parsed."""


@pytest.mark.disable_socket
@pytest.mark.parametrize(
    ("where", "script", "args"), console_commands(), ids=lambda value: str(value)
)
def test_a_command_on_a_page_is_one_its_program_accepts(
    where, script, args, monkeypatch, capsys
):
    import argparse
    import importlib.util

    path = snippet_named(script)
    if "ArgumentParser" not in path.read_text(encoding="utf-8"):
        assert args == [], f"{where}: {script} takes no command-line arguments"
        return
    monkeypatch.syspath_prepend(str(path.parent))  # it may import neighbours
    spec = importlib.util.spec_from_file_location(f"command_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, *a, **k):
        raise ParsedCommandLine(parse_args(parser, *a, **k))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [path.name, *args])
    try:
        module.main()
    except ParsedCommandLine:
        return  # accepted
    except SystemExit:  # argparse refused the command line
        pytest.fail(f"{where}: {capsys.readouterr().err.strip()}")
    pytest.fail(f"{where}: {script} ran without parsing a command line")


def test_versions_a_page_installs_are_the_tested_ones():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = {
        match[1].lower(): match[2]
        for requirement in project["project"]["dependencies"]
        if (match := re.match(r"([\w-]+)==([\w.]+)(?:\s*;\s*(.*))?$", requirement))
        and "< '3.11'" not in (match[3] or "")
    }
    wrong = [
        f"{relative(page)}: {pin['name']}=={pin['version']}"
        for page in PAGES
        for pin in PIP_PIN.finditer(page.read_text(encoding="utf-8"))
        if pinned.get(pin["name"].lower()) != pin["version"]
    ]
    assert wrong == [], f"the tests run {pinned}"


# --- Ports ---------------------------------------------------------------------
# The home page lists the default port of every server, and no two share one:
# a reader may leave several running at once.

PORT_ROW = re.compile(r"^\| (?P<port>\d+) \| (?P<server>[^|]+?) \|", re.MULTILINE)
DEFAULT_PORT = re.compile(r"^PORT = (?P<port>\d+)\b", re.MULTILINE)
CONFIG_PORT = re.compile(r"^\s*(?:listen [^\s:]+:|Port )(?P<port>\d+)", re.MULTILINE)


def listening_defaults() -> set[tuple[int, str]]:
    """(port, file) for each server snippet's PORT and each config's listen."""
    found = set()
    for path in SNIPPET_FILES:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py" and "server" in path.stem:
            found |= {(int(m["port"]), path.name) for m in DEFAULT_PORT.finditer(text)}
        elif path.suffix == ".conf":
            found |= {(int(m["port"]), path.name) for m in CONFIG_PORT.finditer(text)}
    return {(port, name) for port, name in found if port != 0}


def test_every_server_has_a_port_of_its_own_listed_on_the_home_page():
    rows = PORT_ROW.findall((DOCS / "index.md").read_text(encoding="utf-8"))
    ports = [int(port) for port, _ in rows]
    assert len(ports) == len(set(ports)), "two rows name the same port"
    listed = {(int(port), server) for port, server in rows}
    missing = sorted(
        f"{name}: {port}"
        for port, name in listening_defaults()
        if not any(p == port and name in server for p, server in listed)
    )
    assert missing == [], "add these to the table of ports on docs/index.md"
