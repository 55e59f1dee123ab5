"""The one table of languages, what a file is for (its `Role`, and the role ranks), and the
index's values: one `Definition`, the fold of a name.

Every place that asks "what language is this file" asks here: the index (which files
tree-sitter parses, with which grammar), the line fallback (which regex rules read a line),
a card's code fence (its info string) and the editor (Monaco's language id). A new language is
one row of `_TABLE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import PurePosixPath


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    """Our name, and the editor's (Monaco) language id."""
    fence: str
    """The info string of a Markdown code fence holding it ('' for none)."""
    parsed: bool = False
    """The index parses it with tree-sitter (an extractor in `extract/`)."""
    rules: str | None = None
    """Which line rules of the regex fallback (`extract/lines.py`) read its lines."""
    config: bool = False
    """Configuration (keys are its definitions, but a plan's names rarely mean them)."""


# name, fence, parsed, rules, config; then the suffixes (and file names) that are it
_TABLE: list[tuple[Language, tuple[str, ...]]] = [
    (Language("python", "python", True, "python"), (".py", ".pyi", ".pyw")),
    (Language("javascript", "js", True, "javascript"), (".js", ".mjs", ".cjs", ".jsx")),
    (Language("typescript", "ts", True, "javascript"), (".ts", ".mts", ".cts", ".tsx")),
    (Language("rust", "rust", True, "rust"), (".rs",)),
    (Language("go", "go", True, "go"), (".go",)),
    (Language("java", "java", True, "java"), (".java",)),
    (Language("c", "c", True, "c"), (".c", ".h")),
    (Language("cpp", "cpp", True, "c"),
     (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".inl")),
    (Language("csharp", "csharp", False, "java"), (".cs",)),
    (Language("kotlin", "kotlin", False, "java"), (".kt", ".kts")),
    (Language("scala", "scala", False, "java"), (".scala",)),
    (Language("shell", "bash", False, "shell"), (".sh", ".bash", ".zsh")),
    (Language("makefile", "make", False, "make"), (".mk", "Makefile", "GNUmakefile", "makefile")),
    (Language("yaml", "yaml", False, "yaml", True), (".yml", ".yaml")),
    (Language("toml", "toml", False, "toml", True), (".toml",)),
    (Language("json", "json", False, "json", True), (".json",)),
    (Language("ruby", "ruby", False, "ruby"), (".rb",)),
    (Language("markdown", "markdown"), (".md", ".markdown")),
    (Language("ini", "ini", config=True), (".ini", ".cfg")),
    (Language("xml", "xml"), (".xml",)),
    (Language("html", "html"), (".html", ".htm")),
    (Language("css", "css"), (".css",)),
    (Language("scss", "scss"), (".scss",)),
    (Language("less", "less"), (".less",)),
    (Language("sql", "sql"), (".sql",)),
    (Language("php", "php"), (".php",)),
    (Language("swift", "swift"), (".swift",)),
    (Language("lua", "lua"), (".lua",)),
    (Language("r", "r"), (".r",)),
    (Language("restructuredtext", "rst"), (".rst",)),
    (Language("plaintext", ""), (".txt", ".log")),
    (Language("dockerfile", "dockerfile"), (".dockerfile", "Dockerfile")),
]  # fmt: skip

LANGUAGES: dict[str, Language] = {lang.name: lang for lang, _ in _TABLE}
_BY_SUFFIX = {s: lang for lang, keys in _TABLE for s in keys if s.startswith(".")}
_BY_NAME = {s: lang for lang, keys in _TABLE for s in keys if not s.startswith(".")}


@lru_cache(maxsize=16384)
def language(path: str) -> Language | None:
    """The language of a file by its name or suffix (cached: asked for every match of every
    search), or None."""
    # string work, not PurePosixPath: that was most of what an update with no change cost
    name = path.rstrip("/").rpartition("/")[2]
    by_name = _BY_NAME.get(name)
    if by_name is not None:
        return by_name
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:  # `.bashrc`, `name.`: no suffix (as pathlib says)
        return None
    return _BY_SUFFIX.get(name[dot:].lower())


def language_of(path: str) -> str | None:
    """The name of the language the index parses `path` in, or None (not parsed)."""
    lang = language(path)
    return lang.name if lang is not None and lang.parsed else None


def editor_language(path: str) -> str:
    """The editor's (Monaco's) language id; plaintext when unknown."""
    lang = language(path)
    return lang.name if lang is not None else "plaintext"


def fence_language(path: str) -> str:
    """The info string of a Markdown code fence for this file ('' when unknown)."""
    lang = language(path)
    return lang.fence if lang is not None else ""


def is_config_path(path: str) -> bool:
    lang = language(path)
    return lang is not None and lang.config


def grammar_of(path: str, language: str) -> str:
    """The tree-sitter grammar that reads the file: TSX for .tsx, C++ for C headers (a .h
    file may hold either; the C++ grammar reads both)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".tsx":
        return "tsx"
    if suffix == ".h":
        return "cpp"
    return language


# --- roles -----------------------------------------------------------------------------------


class Role(StrEnum):
    """What a file is for. Only `source` files define a tree's API; the others are kept so a
    resolver can say "only a test defines it" or rank them last."""

    source = "source"
    test = "test"
    docs = "docs"  # documentation, examples, benchmarks
    stub = "stub"  # typing stubs: .pyi, .d.ts
    vendored = "vendored"  # vendor/, third_party/, node_modules/, site-packages/
    generated = "generated"  # *_pb2.py, *.min.js, "Code generated ... DO NOT EDIT" headers


ROLE_RANK = {r: i for i, r in enumerate(Role)}
"""Lookup order: source first, generated last."""


_VENDORED_DIRS = frozenset(
    "vendor vendored _vendor vendors third_party third-party thirdparty 3rdparty node_modules "
    "bower_components site-packages dist-packages".split()
)
_TEST_DIRS = frozenset(
    "test tests testing __tests__ __test__ spec specs testdata test_data testsuite e2e "
    "fixture fixtures".split()
)
_DOCS_DIRS = frozenset(
    "doc docs documentation example examples sample samples demo demos bench benches "
    "benchmark benchmarks tutorial tutorials docs_src doc_src docs_examples".split()
)
_SOURCE_DIRS = frozenset("src lib source sources main java kotlin pkg internal cmd".split())
_GENERATED_NAME = re.compile(
    r"(_pb2(_grpc)?\.pyi?|\.pb\.go|\.pb\.(cc|h)|_generated\.\w+|\.generated\.\w+|\.gen\.go"
    r"|\.min\.js|\.bundle\.js|-min\.js|\.min\.css)$",
    re.IGNORECASE,
)
_STUB_NAME = re.compile(r"(\.pyi|\.d\.[mc]?ts)$", re.IGNORECASE)
_TEST_NAME = re.compile(
    r"(^test_.*\.py$|_test\.py$|^conftest\.py$|_test\.go$|\.(test|spec)\.[cm]?[jt]sx?$"
    r"|^Test\w*\.java$|\w(Test|Tests|IT)\.java$|_test\.(c|cc|cpp)$|_tests?\.rs$)"
)
_GENERATED_HEAD = re.compile(
    rb"(@generated\b|\bDO NOT EDIT\b|\bauto-?generated\b|\bgenerated by\b|\bCode generated\b"
    rb"|\bautomatically generated\b)",
    re.IGNORECASE,
)
GENERATED_HEAD_BYTES = 1024
"""How much of a file's start is searched for a "generated" marker."""
MINIFIED_LINE = 1000
"""A line this long in a file's first kilobytes: minified or bundled output, not source."""


@lru_cache(maxsize=16384)
def role_of(path: str) -> Role:
    """The role of a file from its relative posix path (before its content is read): the one
    classifier (tests, fixtures, docs and examples, stubs, vendored, generated, source)."""
    parts = path.split("/")
    dirs, name = parts[:-1], parts[-1]
    if any(d.lower() in _VENDORED_DIRS for d in dirs):
        return Role.vendored
    if _GENERATED_NAME.search(name):
        return Role.generated
    if _STUB_NAME.search(name):
        return Role.stub
    if _TEST_NAME.search(name) or any(
        (low := d.lower()) in _TEST_DIRS or low.endswith(("_test", "_tests")) for d in dirs
    ):
        return Role.test
    for d in dirs:
        low = d.lower()
        if low in _SOURCE_DIRS:
            break  # `src/main/java/com/example/`: a package named like a docs folder
        if low in _DOCS_DIRS:
            return Role.docs
    return Role.source


def minified(head: bytes) -> bool:
    """Minified or bundled output: a line of over MINIFIED_LINE characters at its start."""
    lines = head[: max(GENERATED_HEAD_BYTES, 4 * MINIFIED_LINE)].split(b"\n")
    return any(len(line) > MINIFIED_LINE for line in lines[:-1] or lines)


def generated_header(head: bytes) -> bool:
    """A "generated, do not edit" marker in the first lines of a file, or minified output
    (a line of over MINIFIED_LINE characters at its start)."""
    if minified(head):
        return True
    return any(
        _GENERATED_HEAD.search(line) for line in head[:GENERATED_HEAD_BYTES].split(b"\n")[:5]
    )


# --- what the index does not parse ------------------------------------------------------------

_INSTALLED_DIRS = frozenset("node_modules bower_components site-packages dist-packages".split())
"""Where a package manager installs dependencies: each is indexed as its own package, once
per version (`deps.py`), not again as part of the tree that holds it."""
_BUILD_DIRS = frozenset("dist target _build .next .nuxt .svelte-kit coverage htmlcov".split())
"""Build output, at the top of a scope: copies of the tree's code (or bundles of it). Not
`build/` or `out/`: fastify's `build/` holds its build scripts (output there is usually
ignored by .gitignore, which the listing honours)."""
_BUNDLE_NAME = re.compile(
    r"(\.min\.[cm]?js|\.bundle\.[cm]?js|-min\.js|\.chunk\.js)$", re.IGNORECASE
)


@lru_cache(maxsize=16384)
def not_indexed(path: str) -> str | None:
    """Why the index does not parse a file of a parsed language, by its path alone (it stays
    in the file list): `installed` (a package manager's directory), `build_output`,
    `minified` (a bundle's name); None: parse it. Minified content is found when the file is
    read (`minified`)."""
    parts = path.split("/")
    if len(parts) > 1 and parts[0] in _BUILD_DIRS:
        return "build_output"
    if any(d in _INSTALLED_DIRS for d in parts[:-1]):
        return "installed"
    if _BUNDLE_NAME.search(parts[-1]):
        return "minified"
    return None


# --- the index's values: one definition, the fold of a name -----------------------------------

KINDS = frozenset(
    "class function method constant variable field type interface trait enum module macro".split()
)

Params = tuple[int, int | None]


@dataclass(frozen=True, slots=True)
class Definition:
    """One named definition in a file of the scope.

    `params` is (min, max) for functions and methods (and Python classes, from `__init__`):
    how many arguments a call writes. `min` counts the parameters a call must give
    (required positional and, in Python, required keyword-only ones); `max` counts every
    parameter a call may give, None when unbounded (`*args`, `**kwargs`, JS rest, Go and
    Java varargs, C `...`). Python's `self`/`cls` and Rust's `self` are not counted.
    None when not callable or unknown.

    `owner` is the enclosing class, impl, type or namespace; None at top level. The line
    fallback, which sees one line, says `""` for an indented definition (inside something).
    """

    name: str
    qualname: str
    owner: str | None
    kind: str
    language: str
    path: str
    line: int
    role: Role
    params: Params | None = None

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.line}"


def source_first(defs: Iterable[Definition]) -> list[Definition]:
    """Source definitions if there are any, else all (tests, docs, stubs only as a last
    resort)."""
    defs = list(defs)
    src = [d for d in defs if d.role is Role.source]
    return src or defs


_FOLD_DROP = str.maketrans("", "", "_-. ")


def fold(name: str) -> str:
    """Case- and separator-insensitive key: `HTTP_Transport`, `http-transport` and
    `HttpTransport` all fold to `httptransport`."""
    return name.lower().translate(_FOLD_DROP)
