"""The reader's own test suite, snippets/building_an_app/test_drop_app.py,
run here as part of this one: its tests and its fixture are imported, and
pytest collects them as this module's (under this suite's stricter rules:
warnings are errors, loopback only)."""

from __future__ import annotations

import sys

import pytest
from test_drop_app import *  # noqa: F403

READER_TESTS = "building_an_app/test_drop_app.py"


def test_running_the_file_runs_pytest_on_it(import_snippet, monkeypatch):
    module = import_snippet(READER_TESTS)
    ran = []
    monkeypatch.setattr(pytest, "main", lambda args: ran.append(args) or 0)
    monkeypatch.setattr(sys, "argv", ["test_drop_app.py", "-q"])
    with pytest.raises(SystemExit) as exit:
        module.main()
    assert exit.value.code == 0
    assert ran == [[module.__file__, "-q"]]
