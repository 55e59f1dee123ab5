"""The regex fallback of the index: what one line of code defines, for what ripgrep hands back
and for languages tree-sitter does not read.

`definition(path, text)` says what a single line defines, if anything (Python def/class/
assignment, JS/TS function/class/const, Go func/type, Rust fn/struct/enum/trait, Java/C#
class/interface, C/C++ struct/#define, shell function, Makefile target, YAML/TOML/JSON key,
Ruby def/class). It works line by line on purpose: that is what ripgrep hands back, and a
wrong answer costs little (a mention shown as a mention).
"""

from __future__ import annotations

import re

from ..languages import Definition, language, role_of

_N = r"(?P<name>[A-Za-z_$][\w$]*)"

_PY = [
    ("function", rf"^\s*(?:async\s+)?def\s+{_N}\s*[\(\[]"),
    ("class", rf"^\s*class\s+{_N}\b"),
    ("variable", rf"^{_N}\s*(?::[^=]+)?=(?!=)"),  # top level only: indented is a local
    # a class-body field `name: T = ...` (one level in; a parameter line ends with a comma)
    ("attribute", rf"^(?: {{4}}|\t){_N}\s*:\s*[^\s=][^=]*(?:=(?!=).*)?(?<![,(\[{{])\s*$"),
]
_JS = [
    ("function", rf"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*{_N}\b"),
    ("class", rf"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+{_N}\b"),
    ("variable", rf"^\s*(?:export\s+)?(?:const|let|var)\s+{_N}\b"),
    ("type", rf"^\s*(?:export\s+)?(?:declare\s+)?(?:interface|type|enum)\s+{_N}\b"),
]
_GO = [
    ("method", rf"^func\s+\([^)]*\)\s*{_N}\s*[\(\[]"),
    ("function", rf"^func\s+{_N}\s*[\(\[]"),
    ("type", rf"^(?:type\s+|\s+){_N}\s+(?:struct|interface)\b"),
    ("type", rf"^type\s+{_N}\b"),
    ("variable", rf"^(?:var|const)\s+{_N}\b"),
]
_RS = [
    (
        "function",
        rf"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
        rf'(?:extern\s+"[^"]*"\s+)?fn\s+{_N}\b',
    ),
    (
        "type",
        rf"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum|trait|union|type|mod)\s+{_N}\b",
    ),
    ("variable", rf"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const|static)\s+(?:mut\s+)?{_N}\s*:"),
]
_JAVA = [
    (
        "class",
        r"^\s*(?:(?:public|private|protected|internal|static|abstract|final|sealed|partial|"
        rf"data|open)\s+)*(?:class|interface|enum|record|struct|object)\s+{_N}\b",
    ),
]
_C = [
    ("type", rf"^\s*(?:typedef\s+)?(?:struct|class|union|enum)\s+{_N}\s*(?:[{{:]|$)"),
    ("macro", rf"^\s*#\s*define\s+{_N}\b"),
    ("type", rf"^\}}\s*{_N}\s*;"),  # the name of a `typedef struct { ... } name;`
    (
        "function",  # `type name(args)` at column 0, not a declaration ending in `;`
        rf"^(?!(?:return|if|while|for|switch|else|case|do)\b)[A-Za-z_][\w\s\*&:<>,]*?"
        rf"[\s\*&]{_N}\s*\([^;]*$",
    ),
]
_SH = [
    ("function", rf"^\s*(?:function\s+)?{_N}\s*\(\)"),
    ("function", rf"^\s*function\s+{_N}\b"),
    ("variable", rf"^(?:export\s+)?{_N}=(?!=)"),
]
_MAKE = [("target", r"^(?P<name>[A-Za-z_.][\w.-]*)\s*:(?!=)"), ("variable", rf"^{_N}\s*[:?+]?=")]
_YAML = [("key", r"^\s*(?:-\s+)?[\"']?(?P<name>[\w.-]+)[\"']?\s*:(?:\s|$)")]
_TOML = [
    ("table", r"^\s*\[\[?\s*(?P<name>[\w.\"-]+?)\s*\]\]?"),
    ("key", r"^\s*[\"']?(?P<name>[\w.-]+)[\"']?\s*=(?!=)"),
]
_JSON = [("key", r"^\s*\"(?P<name>[^\"]+)\"\s*:")]
_RUBY = [
    ("function", rf"^\s*def\s+(?:self\.)?{_N}"),
    ("class", rf"^\s*(?:class|module)\s+{_N}\b"),
]

_RULES: dict[str, list[tuple[str, str]]] = {
    "python": _PY,
    "javascript": _JS,
    "go": _GO,
    "rust": _RS,
    "java": _JAVA,
    "c": _C,
    "shell": _SH,
    "make": _MAKE,
    "yaml": _YAML,
    "toml": _TOML,
    "json": _JSON,
    "ruby": _RUBY,
}
_COMPILED = {key: [(kind, re.compile(rx)) for kind, rx in rules] for key, rules in _RULES.items()}

OUTLINE_REGEX = (
    r"^(?:(?:export|default|declare|pub(?:\([^)]*\))?|abstract|async|unsafe|static)\s+)*"
    r"(?:def|class|function|fn|func|struct|enum|trait|interface|type|const|let|var|union|mod)"
    r"[\s*]|^[A-Za-z_]\w*\s*(?::[^=]+)?=[^=]"
)
"""An rg regex (ours, not user text) for lines that may start a top-level definition;
`definition()` confirms each line and extracts the name."""


def definition(path: str, text: str, line: int = 0) -> Definition | None:
    """What `text` (line `line` of the file at `path`) defines, or None. A definition found
    here has no known owner: None when the line starts at the margin (top level), `""` when it
    is indented (inside something the line alone does not say)."""
    lang = language(path)
    if lang is None or lang.rules is None:
        return None
    for kind, rx in _COMPILED[lang.rules]:
        m = rx.match(text)
        if m:
            name = m.group("name").strip("\"'")
            top = not text[:1].isspace() and not (lang.rules == "go" and kind == "method")
            return Definition(name, name, None if top else "", kind, lang.name, path, line,
                              role_of(path))  # fmt: skip
    return None


def defines(path: str, text: str, name: str) -> bool:
    """Is this line (of the file at `path`) a definition of `name`? For a dotted name the
    last part counts, and a YAML/TOML key may be written with its full dotted path."""
    d = definition(path, text)
    if d is None:
        return False
    last = name.rsplit(".", 1)[-1]
    return d.name in (name, last) or name.endswith("." + d.name) or d.name.endswith("." + name)
