"""Format the snippets with ruff, keeping their `#>` output comments intact.

ruff would rewrite `#> output` as `# > output`, which pytest-examples no
longer recognises, so each `#>` is masked while ruff formats the file.

    python tests/format_snippets.py          # format snippets/ in place
    python tests/format_snippets.py --check  # fail if a snippet needs formatting
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
# A code block in the content column of the site shows 79 columns whole.
LINE_LENGTH = 79
OUTPUT_COMMENT = re.compile(r"^( *)#> ", flags=re.MULTILINE)
MASKED_COMMENT = re.compile(r"^( *)# ⁣> ", flags=re.MULTILINE)  # U+2063 marks ours


def ruff_format(source: str, path: Path) -> str:
    masked = OUTPUT_COMMENT.sub(r"\1# ⁣> ", source)
    result = subprocess.run(  # noqa: S603 (ruff from this environment)
        [sys.executable, "-m", "ruff", "format", "--line-length", str(LINE_LENGTH),
         "--stdin-filename", str(path), "-"],
        input=masked, capture_output=True, text=True, encoding="utf-8", check=True,
    )  # fmt: skip
    return MASKED_COMMENT.sub(r"\1#> ", result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing")
    args = parser.parse_args()

    unformatted = []
    for path in sorted(SNIPPETS.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        formatted = ruff_format(source, path)
        if formatted != source:
            unformatted.append(path.relative_to(SNIPPETS.parent))
            if not args.check:
                path.write_text(formatted, encoding="utf-8")
    verb = "would reformat" if args.check else "reformatted"
    for path in unformatted:
        print(f"{verb} {path}")
    return 1 if args.check and unformatted else 0


if __name__ == "__main__":
    sys.exit(main())
