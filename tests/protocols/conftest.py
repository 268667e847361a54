"""Fixtures of the protocols chapter."""

import importlib.util
from pathlib import Path

import pytest

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"


@pytest.fixture(scope="session")
def import_snippet_once():
    """Import a snippet as a module, for fixtures that outlive one test.

    The shared `import_snippet` is per test; a module-wide server fixture
    reads the snippet's settings (its demo password, say) with this instead.
    """

    def load(relative_path: str):
        path = SNIPPETS / relative_path
        spec = importlib.util.spec_from_file_location(f"{path.stem}_once", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
