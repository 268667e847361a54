"""Tests of the notebook page "Async HTTP in Jupyter" (async-http-in-jupyter.ipynb).

The site shows the outputs stored in the notebook. This test runs the notebook
in a fresh kernel and checks that it prints the same, so those outputs are
real. `make update-outputs` (pytest --update-examples) stores a new run's
outputs instead.
"""

from pathlib import Path

import pytest

NOTEBOOK = (
    Path(__file__).resolve().parents[2]
    / "docs"
    / "async"
    / "async-http-in-jupyter.ipynb"
)

# The kernel comes with mkdocs-jupyter, in the site's dependencies (which need
# Python 3.11.5+), like the other tests marked "site".
pytestmark = pytest.mark.site


def what_it_shows(output) -> tuple:
    """What a reader sees of an output, without what differs between runs.

    A traceback lists file paths of this machine: the exception's type and
    message are compared instead.
    """
    if output.output_type == "stream":
        return (output.name, output.text)
    if output.output_type == "error":
        return ("error", output.ename, output.evalue)
    return (output.output_type, output.data["text/plain"])


def outputs(notebook) -> list[list[tuple]]:
    return [
        [what_it_shows(output) for output in cell.outputs]
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_notebook_prints_what_the_page_shows(request, monkeypatch, tmp_path):
    # jupyter_core warns about its move to platformdirs unless told to use them.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # The kernel runs no file of snippets/: keep coverage out of it, and fast.
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    import nbformat
    from nbclient import NotebookClient

    stored = nbformat.read(NOTEBOOK, as_version=4)
    executed = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        executed,
        kernel_name="python3",
        timeout=30,  # seconds per cell
        record_timing=False,  # no timestamps in the stored notebook
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's cwd
    )
    # A cell tagged raises-exception may fail; any other failing cell fails here.
    client.execute()

    if request.config.getoption("update_examples"):
        nbformat.write(executed, NOTEBOOK)
        return
    assert outputs(executed) == outputs(stored)
    shown = [output for cell in outputs(executed) for output in cell]
    assert not [output for output in shown if output[0] == "stderr"], "a warning?"
    assert (
        "error",
        "RuntimeError",
        "asyncio.run() cannot be called from a running event loop",
    ) in shown


def test_readers_can_download_the_notebook(built_site):
    page = built_site / "async" / "async-http-in-jupyter"
    published = page / NOTEBOOK.name
    assert published.read_bytes() == NOTEBOOK.read_bytes()
    # The page links to it (the link is in the notebook's first cell).
    assert f'href="{NOTEBOOK.name}"' in (page / "index.html").read_text()
