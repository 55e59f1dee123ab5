"""Small facts about lines of code, shared by the fulfillers that read ripgrep matches.

`definition(path, line)` says what a single line defines, if anything (Python def/class/
assignment, JS/TS function/class/const, Go func/type, Rust fn/struct/enum/trait, Java/C#
class/interface, C/C++ struct/#define, shell function, Makefile target, YAML/TOML/JSON key,
Ruby def/class). It works line by line on purpose: that is what ripgrep hands back, and a
wrong answer costs little (a mention shown as a mention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

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

_LANGS: dict[str, list[tuple[str, str]]] = {
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
_COMPILED = {lang: [(kind, re.compile(rx)) for kind, rx in rules] for lang, rules in _LANGS.items()}

_BY_SUFFIX = {
    **dict.fromkeys((".py", ".pyi"), "python"),
    **dict.fromkeys((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"), "javascript"),
    ".go": "go",
    ".rs": "rust",
    **dict.fromkeys((".java", ".cs", ".kt", ".kts", ".scala"), "java"),
    **dict.fromkeys((".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx"), "c"),
    **dict.fromkeys((".sh", ".bash", ".zsh"), "shell"),
    ".mk": "make",
    **dict.fromkeys((".yml", ".yaml"), "yaml"),
    ".toml": "toml",
    ".json": "json",
    ".rb": "ruby",
}
_BY_NAME = {"Makefile": "make", "GNUmakefile": "make", "makefile": "make"}
_FENCE_LANG = {
    "python": "python",
    "javascript": "ts",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "shell": "bash",
    "make": "make",
    "yaml": "yaml",
    "toml": "toml",
    "json": "json",
    "ruby": "ruby",
}

OUTLINE_REGEX = (
    r"^(?:(?:export|default|declare|pub(?:\([^)]*\))?|abstract|async|unsafe|static)\s+)*"
    r"(?:def|class|function|fn|func|struct|enum|trait|interface|type|const|let|var|union|mod)"
    r"[\s*]|^[A-Za-z_]\w*\s*(?::[^=]+)?=[^=]"
)
"""An rg regex (ours, not user text) for lines that may start a top-level definition;
`definition()` confirms each line and extracts the name."""


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    kind: str
    language: str
    top_level: bool


@lru_cache(maxsize=8192)
def language(path: str) -> str | None:
    """The language of a file by its name (cached: called for every match of every search)."""
    p = PurePosixPath(path)
    return _BY_NAME.get(p.name) or _BY_SUFFIX.get(p.suffix.lower())


def fence_language(path: str) -> str:
    """The info string of a Markdown code fence for this file ('' when unknown)."""
    lang = language(path)
    return _FENCE_LANG.get(lang, "") if lang else ""


def definition(path: str, line: str) -> Definition | None:
    """What `line` (one line of the file at `path`) defines, or None."""
    lang = language(path)
    if lang is None:
        return None
    for kind, rx in _COMPILED[lang]:
        m = rx.match(line)
        if m:
            name = m.group("name").strip("\"'")
            top = not line[:1].isspace()
            if lang == "go" and kind == "method":
                top = False
            return Definition(name=name, kind=kind, language=lang, top_level=top)
    return None


def defines(path: str, line: str, name: str) -> bool:
    """Is this line (of the file at `path`) a definition of `name`? For a dotted name the
    last part counts, and a YAML/TOML key may be written with its full dotted path."""
    d = definition(path, line)
    if d is None:
        return False
    last = name.rsplit(".", 1)[-1]
    return d.name in (name, last) or name.endswith("." + d.name) or d.name.endswith("." + name)


_TEST_PART = re.compile(
    r"(?:^|/)(?:tests?|testing|spec|specs|__tests__|fixtures?|testdata|examples?)(?:/|$)"
)
_TEST_FILE = re.compile(
    r"(?:^|/)(?:test_[^/]*|[^/]*_test\.\w+|[^/]*\.(?:test|spec)\.\w+|conftest\.py)$"
)


def is_config_path(path: str) -> bool:
    """YAML/TOML/JSON: their keys are definitions, but a plan's names rarely mean them."""
    return language(path) in ("yaml", "toml", "json")


@lru_cache(maxsize=8192)
def is_test_path(path: str) -> bool:
    """Tests, fixtures and examples: real code, but not where a plan's names usually live."""
    return bool(_TEST_PART.search(path) or _TEST_FILE.search(path))
