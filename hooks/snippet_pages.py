"""MkDocs hook: with --dirty (make serve), a changed snippet rebuilds its pages.

`mkdocs serve --dirty` rebuilds only the pages whose Markdown changed since
they were last written, which takes a fraction of a second instead of a whole
build. But a page's code comes from files in snippets/: when one of those
changes, the page's Markdown does not. This hook marks a page as modified when
a snippet it includes is newer than the page it last built. A full build
(`make build`, CI) rebuilds everything and is not affected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^":]+)(?::[^"]*)?"\s*$', re.MULTILINE)
SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"


def newest_snippet(page_source: str) -> float:
    times = [
        os.path.getmtime(path)
        for name in INCLUDE.findall(page_source)
        if (path := SNIPPETS / name).is_file()
    ]
    return max(times, default=0.0)


def on_files(files, config):
    for file in files.documentation_pages():
        if not file.abs_src_path or not os.path.isfile(file.abs_dest_path):
            continue  # never built: a dirty build builds it anyway
        source = Path(file.abs_src_path).read_text(encoding="utf-8")
        if newest_snippet(source) > os.path.getmtime(file.abs_dest_path):
            file.is_modified = lambda: True  # rebuild it, as if its Markdown changed
    return files
