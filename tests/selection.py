"""Run the tests of one page or one snippet: `--page` and `--snippet`.

    pytest --page docs/sockets/tcp.md      # its snippets' tests and its browser check
    pytest --snippet sockets/tcp_echo_client.py

A test belongs to a snippet when its module names the snippet's path (as the
tests do: CLIENT = "sockets/tcp_echo_client.py"); a page's tests are those of
the snippets it includes, plus the browser check of that page. `make page`
and `make update-outputs` pass these options.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::[^"]*)?"\s*$', re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("selection", "run the tests of one page or snippet")
    group.addoption(
        "--page", action="append", default=[], metavar="docs/PAGE.md",
        help="only the tests of the snippets this page includes, and its browser check",
    )  # fmt: skip
    group.addoption(
        "--snippet", action="append", default=[], metavar="CHAPTER/FILE.py",
        help="only the tests that run this snippet (a path under snippets/)",
    )  # fmt: skip


def snippets_of(page: str) -> set[str]:
    path = ROOT / page
    if not path.is_file():
        raise pytest.UsageError(f"--page {page}: no such file")
    return set(INCLUDE.findall(path.read_text(encoding="utf-8")))


def browser_check_id(page: str) -> str:
    """The id test_every_page.py gives a page: docs/sockets/tcp.md -> sockets/tcp."""
    relative = Path(page).relative_to("docs").with_suffix("")
    if relative.name in ("index", "README"):
        relative = relative.parent
    return relative.as_posix() if relative != Path() else "home"


@functools.cache
def module_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def selected_snippets(config: pytest.Config) -> set[str]:
    snippets = set(config.getoption("snippet"))
    for page in config.getoption("page"):
        snippets |= snippets_of(page)
    for snippet in snippets:
        if not (ROOT / "snippets" / snippet).is_file():
            raise pytest.UsageError(f"--snippet {snippet}: no such file in snippets/")
    return snippets


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Not even collected: a test module that runs none of the snippets asked for."""
    if not (config.getoption("page") or config.getoption("snippet")):
        return None
    name = collection_path.name
    if not (name.startswith("test_") and name.endswith(".py")):
        return None
    if name == "test_every_page.py" and config.getoption("page"):
        return None
    text = module_text(collection_path)
    return not any(f'"{s}"' in text for s in selected_snippets(config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    pages = config.getoption("page")
    if not pages and not config.getoption("snippet"):
        return
    snippets = selected_snippets(config)
    checks = {f"test_page_as_a_reader_sees_it[{browser_check_id(p)}]" for p in pages}

    def wanted(item: pytest.Item) -> bool:
        if item.name in checks:
            return True
        if item.path.parent.name == "site_checks":
            return False
        text = module_text(item.path)
        return any(f'"{snippet}"' in text for snippet in snippets)

    selected = [item for item in items if wanted(item)]
    config.hook.pytest_deselected(items=[item for item in items if not wanted(item)])
    items[:] = selected
