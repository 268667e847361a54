"""MkDocs hook: no page loads MathJax from a CDN.

mkdocs-jupyter 0.27 (Python 3.12 and newer) appends to every page a loader
that fetches MathJax from cdn.jsdelivr.net when a notebook page opens: a
request to a third party, which this site never makes. No page of the site
has math, so the loader is removed. A notebook that needs math would ship
MathJax with the site and point the plugin's `custom_mathjax_url` at it; the
build fails here until then, rather than load it from elsewhere.
"""

from __future__ import annotations

import re

LOADER = re.compile(
    r"<script data-mkdocs-jupyter-mathjax=\"(?P<config>[^\"]*)\">.*?</script>\s*",
    re.DOTALL,
)
MATH_OUTPUT = re.compile(r"text/latex|\\\(|\\\[|\$\$")


def on_post_page(output: str, page, config) -> str:
    loader = LOADER.search(output)
    if loader is None:
        return output
    notebook = page.file.src_uri.endswith(".ipynb")
    if notebook and MATH_OUTPUT.search(LOADER.sub("", output)):
        raise ValueError(
            f"{page.file.src_uri} has math: ship MathJax with the site "
            "(custom_mathjax_url) instead of loading it from a CDN"
        )
    return LOADER.sub("", output)
