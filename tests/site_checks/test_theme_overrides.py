"""The theme's templates that overrides/ replaces stay copies of Material's.

An override is Material's template plus a change of ours. When Material
changes its template (a new version), the copy must follow, or the site
silently keeps an old piece of the theme: this test says which file to update.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = ROOT / "overrides"
# Each override, with our changes to Material's template: (ours, Material's).
CHANGES = {
    "partials/search.html": [
        ('role="dialog" aria-label="{{ lang.t(\'search\') }}">', 'role="dialog">'),
    ],
}
LEADING_COMMENT = re.compile(r"\A\{#-.*?-#\}\n", re.DOTALL)


def test_every_override_is_listed():
    overrides = {
        path.relative_to(OVERRIDES).as_posix()
        for path in OVERRIDES.rglob("*")
        if path.is_file()
    }
    assert overrides == set(CHANGES)


@pytest.mark.parametrize("template", sorted(CHANGES))
def test_override_is_materials_template_plus_our_change(template):
    import material  # here, not at the top: the snippet-only runs lack the docs group

    theirs = Path(material.__file__).parent / "templates" / template
    ours = (OVERRIDES / template).read_text(encoding="utf-8")
    for changed, original in CHANGES[template]:
        assert ours.count(changed) == 1, f"{template} lost our change {changed!r}"
        ours = ours.replace(changed, original)
    # Material's header says the file is generated; ours says what it changes.
    theirs = LEADING_COMMENT.sub("", theirs.read_text(encoding="utf-8"))
    assert LEADING_COMMENT.sub("", ours) == theirs, (
        f"Material's {template} changed: copy it into overrides/, redo our change"
    )
