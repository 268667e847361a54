"""MkDocs hook: notebook pages keep only the CSS rules their HTML can use.

mkdocs-jupyter inlines JupyterLab's whole stylesheet (about 570 KB) into every
notebook page, most of it for widgets and editors that a static page never
shows. Parsing it made the notebook page the slowest of the site (Lighthouse,
phone: performance 79). A rule is kept when one of its selectors names only
classes that occur in the page; rules without a class selector (element
styles) and at-rules other than @media and @supports stay. Of the custom
properties (--jp-...: some 90 KB, icons included), only those that a kept rule
uses, directly or through another property, stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import tinycss2

LARGE_STYLE = 50_000  # characters: the inlined stylesheet, not the small ones
STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL)
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
VARIABLE_USE = re.compile(r"var\(\s*(--[\w-]+)")


def used_classes(html: str) -> set[str]:
    return {name for value in CLASS_ATTRIBUTE.findall(html) for name in value.split()}


def selector_can_match(selector: str, classes: set[str]) -> bool:
    # Commas inside :is(...) or :not(...) make this split too fine, which only
    # keeps more rules: a part with a class the page lacks drops nothing alone.
    return any(
        set(CLASS_SELECTOR.findall(part)) <= classes for part in selector.split(",")
    )


@dataclass
class Block:
    """An @media or @supports rule, with the rules inside it that are kept."""

    at_rule: Any  # tinycss2.ast.AtRule
    rules: list


def kept_rules(rules, classes: set[str]) -> list:
    """The rules the page can use: tinycss2 rules, and a Block for each @media
    or @supports that holds some."""
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            if selector_can_match(tinycss2.serialize(rule.prelude), classes):
                kept.append(rule)
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports"):
            inner = tinycss2.parse_rule_list(
                rule.content or [], skip_comments=True, skip_whitespace=True
            )
            if inner_kept := kept_rules(inner, classes):
                kept.append(Block(rule, inner_kept))
        elif rule.type == "at-rule":
            kept.append(rule)
    return kept


def style_rules(rules: list):
    """Every qualified rule (selector { declarations }), inside blocks too."""
    for rule in rules:
        if isinstance(rule, Block):
            yield from style_rules(rule.rules)
        elif rule.type == "qualified-rule":
            yield rule


def declarations(rule) -> list:
    return [
        item
        for item in tinycss2.parse_blocks_contents(rule.content)
        if item.type == "declaration"
    ]


def as_text(declaration) -> str:
    value = tinycss2.serialize(declaration.value)
    return f"{declaration.name}:{value}{' !important' if declaration.important else ''}"


def used_variables(rules: list, used_elsewhere: set[str]) -> set[str]:
    """Custom properties that the rules use, followed through other properties."""
    defined, used = {}, set(used_elsewhere)
    for rule in style_rules(rules):
        for declaration in declarations(rule):
            value = tinycss2.serialize(declaration.value)
            if declaration.name.startswith("--"):
                defined.setdefault(declaration.name, []).append(value)
            else:
                used.update(VARIABLE_USE.findall(value))
    pending = list(used)
    while pending:
        for value in defined.get(pending.pop(), []):
            for name in VARIABLE_USE.findall(value):
                if name not in used:
                    used.add(name)
                    pending.append(name)
    return used


def serialized(rules: list, used_variables: set[str]) -> str:
    """The rules as CSS, without the custom properties that nothing uses."""
    parts = []
    for rule in rules:
        if isinstance(rule, Block):
            body = serialized(rule.rules, used_variables)
            if body:
                prelude = tinycss2.serialize(rule.at_rule.prelude)
                parts.append(f"@{rule.at_rule.at_keyword}{prelude}{{{body}}}")
        elif rule.type == "qualified-rule":
            body = [
                as_text(declaration)
                for declaration in declarations(rule)
                if not declaration.name.startswith("--")
                or declaration.name in used_variables
            ]
            if body:
                parts.append(f"{tinycss2.serialize(rule.prelude)}{{{';'.join(body)}}}")
        else:
            parts.append(tinycss2.serialize([rule]))
    return "\n".join(parts)


def slim(html: str) -> str:
    classes = used_classes(html)
    # Properties that the page's other styles use must stay defined.
    small_styles = STYLE_BLOCK.sub(
        lambda match: "" if len(match.group(2)) >= LARGE_STYLE else match.group(0), html
    )
    used_elsewhere = set(VARIABLE_USE.findall(small_styles))

    def replace(match: re.Match) -> str:
        opening, css, closing = match.groups()
        if len(css) < LARGE_STYLE:
            return match.group(0)
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        kept = kept_rules(rules, classes)
        slimmer = serialized(kept, used_variables(kept, used_elsewhere))
        return f"{opening}{slimmer}{closing}"

    return STYLE_BLOCK.sub(replace, html)


def on_post_page(output: str, page, config) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        return slim(output)
    return output
