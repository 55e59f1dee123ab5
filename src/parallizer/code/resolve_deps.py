"""The dependency pass of name resolution: the project's resolutions, checked again against
the packages it has installed (`DependencyPass`), and what it needs (`PackageIndex`, `PlanText`,
`wanted`).

What it reads from text, pure functions of strings: the imports of the project's code
(`scan_imports`), the calls chained in a plan's code (`chains`), where a plan treats a name
as a package (`package_evidence`), and, from a dependency's declarations, a class's bases
(`class_bases`) and what a function returns (`returns`).

A pure function of the project's index, the environments, the packages' indexes and the plan's
text (no I/O but reading a few lines of the indexed files), so it runs in a worker thread.

The project's own definitions come first: a name the project defines keeps its verdict. Then:

* a name written with a package's prefix (`httpx.Limit`, `redis.asyncio.Redis.from_pool`,
  `z.deepMerge`, `uuid.NewV7`; the prefix is an import name of an installed package, or a name
  the project's code imports from one): looked up in that package, module by module, then
  on the class (with the classes it derives from);
* a member of a class the project does not define (`TypeAdapter.model_validate_json`), of a
  project class deriving from a dependency's (`Quote.model_validate_json`), or of a variable
  whose class the project's code or its name says (`self._client = httpx.Client(...)`,
  `console` -> `Console`): looked up on that class;
* a chain of calls in a code span (`z.string().cidr()`, `new Option(...).requiredOption()`):
  followed through the return types the package declares;
* any other name the project lacks: looked up in every package indexed for the plan.

Each gives: found (a real dependency API: never "missing"), a wrong name (a close real name),
a wrong owner (the member is on another class of the package), or missing (the installed
version lacks it; a claim only when the name is not even a word of the package's files). A
package the plan relies on (an import, an install command, "the `x` package", a `pkg.attr`
use) that the project neither declares nor has installed is `Verdict.undeclared`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from ..text import IDENTIFIER
from .languages import Definition, Role, fold
from .resolve import (
    NEAR_CUTOFF,
    TYPE_KINDS,
    Resolution,
    Tables,
    UseLike,
    Verdict,
    known_names,
)
from .snapshot import Snapshot
from .sources import Environment, Package

FAR_CUTOFF = 86.0
"""A name the plan writes with no package: a near name of some package is a suggestion only
this close (every indexed package is searched, so chance matches are likelier)."""
SUGGESTIONS = 3
MAX_BASES = 24
"""Classes visited up a class's bases (within and across packages)."""
MEDIUM = 0.6
"""How sure the plan relies on a package it does not have when it writes `pkg.attr` for a
name nothing else explains (an import or an install is STRONG)."""

_SELF = frozenset({"self", "this", "cls", "Self", "super"})
_SPLIT = re.compile(r"::|\.|#|->")
_LANGUAGE = {"python": "python", "npm": "typescript", "go": "go", "cargo": "rust", "maven": "java"}


STRONG = 0.8
"""How sure a plan relies on a package when it imports it, installs it or calls it "the `x`
package"."""

# --- what the project's code imports ----------------------------------------------------------


@dataclass
class Imports:
    modules: dict[str, int] = field(default_factory=dict)
    """Imported module (`redis.asyncio`, `zod`, `github.com/google/uuid`) -> importing lines."""
    names: dict[str, str] = field(default_factory=dict)
    """A local name -> the module it comes from (`Redis` -> `redis.asyncio`, `z` -> `zod`,
    `uuid` -> `github.com/google/uuid`)."""
    derived: dict[tuple[int, ...], Any] = field(default_factory=dict, compare=False, repr=False)
    """What is worked out from these imports and one set of environments (keyed by their
    ids), kept with them: the same for every request until the code or the environment
    changes (a new snapshot, a new discovery, a new `Imports`)."""

    def add(self, module: str, local: str | None = None) -> None:
        self.modules[module] = self.modules.get(module, 0) + 1
        if local:
            self.names.setdefault(local, module)


_PY_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+\(?\s*(.*)$")
_PY_IMPORT = re.compile(r"^\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)")
_JS_FROM = re.compile(r"""^\s*(?:import|export)\s+(.*?)\s*from\s+['"]([^'"]+)['"]""")
_JS_BARE = re.compile(r"""^\s*import\s+['"]([^'"]+)['"]""")
_JS_REQUIRE = re.compile(
    r"""(?:(?:const|let|var)\s+(\{[^}]*\}|[\w$]+)\s*=\s*)?require\(\s*['"]([^'"]+)['"]\s*\)"""
)
_GO_IMPORT = re.compile(r"""^\s*(?:import\s+)?(?:([\w.]+)\s+)?"([^"\s]+)"\s*\)?\s*$""")
_RS_USE = re.compile(
    r"^\s*(?:pub(?:\([\w ]+\))?\s+)?use\s+(\w+)|^\s*extern\s+crate\s+(\w+)(?:\s+as\s+(\w+))?"
)
_RS_LOCAL = frozenset({"crate", "self", "super", "std", "core", "alloc"})


def js_package(spec: str) -> str | None:
    """The package of an import specifier (`lodash/fp` -> lodash, `@scope/x/y` -> @scope/x);
    None for relative paths and Node's own modules."""
    if not spec or spec.startswith((".", "/", "node:", "bun:", "#")):
        return None
    parts = spec.split("/")
    return "/".join(parts[:2]) if spec.startswith("@") and len(parts) > 1 else parts[0]


def go_alias(path: str) -> str:
    """The name Go code uses for an import path: its last element, without a major-version
    element (`/v2`), a `.vN` suffix (`yaml.v3`) or a `go-` prefix."""
    parts = [p for p in path.split("/") if p]
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()
    last = re.sub(r"\.v\d+$", "", parts[-1] if parts else path)
    return last.removeprefix("go-").replace("-", "_")


def scan_imports(lines: Iterable[tuple[str, str]]) -> Imports:
    """The imports of (path, line text) pairs (what an rg pass over the project found)."""
    out = Imports()
    for path, text in lines:
        suffix = path.rsplit(".", 1)[-1]
        if suffix in ("py", "pyi"):
            _py_line(out, text)
        elif suffix in ("js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts"):
            _js_line(out, text)
        elif suffix == "go":
            m = _GO_IMPORT.match(text)
            if m and "." in m.group(2).split("/")[0]:
                out.add(m.group(2), m.group(1) or go_alias(m.group(2)))
        elif suffix == "rs":
            m = _RS_USE.match(text)
            if m:
                crate = m.group(1) or m.group(2)
                if crate and crate not in _RS_LOCAL:
                    out.add(crate, m.group(3) or crate)
    return out


def _py_line(out: Imports, text: str) -> None:
    m = _PY_FROM.match(text)
    if m:
        module = m.group(1)
        if module.startswith("."):
            return
        out.add(module)
        for part in m.group(2).split(","):
            bits = part.strip().strip("()").split()
            if bits and bits[0].isidentifier():
                out.names.setdefault(bits[-1] if len(bits) == 3 else bits[0], module)
        return
    m = _PY_IMPORT.match(text)
    if m:
        for part in m.group(1).split(","):
            bits = part.split()
            if not bits:
                continue
            module = bits[0]
            out.add(module, bits[-1] if len(bits) == 3 else module.split(".")[0])
            if len(bits) != 3:
                out.names.setdefault(module.split(".")[0], module.split(".")[0])


def _js_line(out: Imports, text: str) -> None:
    for locals_, spec in [(m.group(1), m.group(2)) for m in [_JS_FROM.match(text)] if m] + [
        (m.group(1), m.group(2)) for m in _JS_REQUIRE.finditer(text)
    ]:
        pkg = js_package(spec)
        if pkg is None:
            continue
        out.add(pkg)
        for local in _js_locals(locals_ or ""):
            out.names.setdefault(local, pkg)
    m = _JS_BARE.match(text)
    if m and (pkg := js_package(m.group(1))):
        out.add(pkg)


def _js_locals(clause: str) -> list[str]:
    """`X`, `* as X`, `{ a, b as c }`, `X, { a }`, `type { T }` -> the local names."""
    clause = clause.replace("type ", " ")
    names: list[str] = []
    inner = re.search(r"\{([^}]*)\}", clause)
    if inner:
        for part in inner.group(1).split(","):
            bits = part.split()
            if bits:
                names.append(bits[-1])
        clause = clause[: inner.start()] + clause[inner.end() :]
    star = re.search(r"\*\s+as\s+([\w$]+)", clause)
    if star:
        names.append(star.group(1))
        clause = clause[: star.start()] + clause[star.end() :]
    names += re.findall(r"[A-Za-z_$][\w$]*", clause)
    return [n for n in names if n not in ("as", "default")]


# --- plan text: chains of calls, package evidence -----------------------------------------------


@dataclass(frozen=True)
class Chain:
    """`z.string().cidr()` in a code span or a code block: a root and the members after it."""

    line: int
    col: int
    """Where it starts in the plan (code points)."""
    root: str | None
    new: bool
    called: bool
    """The root itself is called (`stop_after_attempt(4)`)."""
    members: tuple[tuple[str, bool], ...]
    """(name, called) per member."""
    texts: tuple[str, ...]
    """The chain as the plan writes it up to each member, the last call's arguments left out
    (`z.string().cidr()`); the root alone when it has no member."""
    args: str = ""
    """The arguments of the root's call (`ConfigDict(frozen=True)`: `frozen=True`)."""

    def span(self, k: int, lines: Sequence[str]) -> tuple[tuple[int, int, int], ...]:
        """Where text `k` stands on its line (cut at the line's end when it wraps)."""
        end = min(self.col + len(self.texts[k]), len(lines[self.line]))
        return ((self.line, self.col, end),)


IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def chains(lines: Sequence[str]) -> list[Chain]:
    """Calls in the plan's code (spans, possibly wrapped over lines, and code blocks):
    `root.a(...).b(...)`, `new X(...).m()`, a leading `.m()`, a plain call `f(...)`; calls
    inside another's arguments too."""
    text = "\n".join(lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    regions: list[tuple[int, int]] = []
    fenced = False
    prose: list[int] = []
    for ln, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            regions.append((starts[ln], starts[ln] + len(line)))
        else:
            prose.append(ln)
    # code spans of prose, a paragraph at a time (a span may wrap, never leave its paragraph)
    para: list[int] = []
    for ln in [*prose, -1]:
        if ln >= 0 and lines[ln].strip() and (not para or para[-1] == ln - 1):
            para.append(ln)
            continue
        if para:
            a = starts[para[0]]
            chunk = text[a : starts[para[-1]] + len(lines[para[-1]])]
            regions += [(a + m.start(1), a + m.end(1)) for m in _SPAN.finditer(chunk)]
        para = [ln] if ln >= 0 and lines[ln].strip() else []
    out: list[Chain] = []
    for a, b in sorted(regions):
        for start, root, new, called, members, args in _chains_in(text, a, b):
            ln = bisect.bisect_right(starts, start) - 1
            texts = []
            for _name, end, mcalled in members:
                texts.append(" ".join(text[start:end].split()) + ("()" if mcalled else ""))
            if not members:
                texts.append(root or "")
            out.append(Chain(ln, start - starts[ln], root, new, called,
                             tuple((n, c) for n, _, c in members), tuple(texts),
                             " ".join(args.split())))  # fmt: skip
    return out


def _skip_space(text: str, i: int, end: int) -> int:
    """Past spaces and line breaks (a chain written over several lines)."""
    while i < end and text[i] in " \t\n":
        i += 1
    return i


def _skip_parens(text: str, i: int, end: int) -> int:
    depth = 0
    while i < end:
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


RawChain = tuple[int, str | None, bool, bool, list[tuple[str, int, bool]], str]


def _chains_in(text: str, a: int, b: int) -> list[RawChain]:
    """(start, root, new, root called, [(member, end of its name, called)], the root call's
    arguments) for each chain in text[a:b]. Scanning goes on inside the arguments, so `z.array(z.string().cidr())` gives
    both chains."""
    out: list[RawChain] = []
    i = a
    while i < b:
        m = IDENT.match(text, i)
        after_word = i > a and (text[i - 1].isalnum() or text[i - 1] in "_$")
        before = text[a:i].rstrip()[-1:]  # what precedes, line breaks and spaces skipped
        lead = text.startswith(".", i) and not after_word and (not before or (before not in ")]_$"
                                                              and not before.isalnum()))  # fmt: skip
        if (m and (after_word or (i > a and text[i - 1] == "."))) or (not m and not lead):
            i = m.end() if m else i + 1
            continue
        start = i
        new, called = False, False
        root: str | None = None
        if m:
            root, i = m.group(0), m.end()
            if root == "new":
                nxt = IDENT.match(text, i + 1) if text.startswith(" ", i) else None
                if nxt is None:
                    continue
                new, root, i = True, nxt.group(0), nxt.end()
        resume = i
        args = ""
        if text.startswith("(", i):
            j = _skip_parens(text, i, b)
            if j < 0:
                i = resume
                continue
            args = text[i + 1 : j - 1]
            i, called = j, True
        members: list[tuple[str, int, bool]] = []
        while text.startswith(".", _skip_space(text, i, b)):
            i = _skip_space(text, i, b)
            mm = IDENT.match(text, i + 1)
            if mm is None:
                break
            i = mm.end()
            mcalled = text.startswith("(", i)
            if mcalled:
                j = _skip_parens(text, i, b)
                if j < 0:
                    break
                i = j
            members.append((mm.group(0), mm.end(), mcalled))
        if members or (root is not None and called and not new):
            out.append((start, root, new, called, members, args))
        i = max(resume, start + 1)  # on inside the arguments
    return out


_FENCE = re.compile(r"^\s*(```|~~~)")
_PY_IMPORT_LINE = re.compile(
    rf"^\s*(?:from\s+({IDENTIFIER})[\w.]*\s+import\b|import\s+({IDENTIFIER}))"
)
_JS_SPEC = re.compile(r"""(?:\bfrom\s+|\brequire\(\s*|\bimport\s*\(\s*)['"]([^'"]+)['"]""")
_GO_PATH = re.compile(r'"((?:[a-z0-9\-]+\.)+[a-z]+/[\w\-./]+)"')
_INSTALL = re.compile(
    r"\b(pip3?|uv|poetry|pipenv|npm|pnpm|yarn|bun|cargo|go)\s+(?:pip\s+)?"
    r"(?:install|add|get|i)\s+((?:-{1,2}[\w-]+\s+)*)([@\w][\w@./\-\[\]]*)"
)
_CALLED = r"`([@\w][\w@/.\-]*)`"
_PROSE = [
    re.compile(_CALLED + r"\s+(?:package|library|module|crate|dependency|gem)\b"),
    re.compile(r"\b(?:package|library|crate|dependency)\s+" + _CALLED),
]
# "we resample with `pandas`", "spawns the binary with `execa`": a tool the plan works with,
# weaker evidence (MEDIUM_EVIDENCE: the word must be nowhere in the project's code); not an
# argument, option or field "with `retries`" names, nor a call "with `parse()`"
_WORKS_WITH = re.compile(
    r"(?<!argument )(?<!option )(?<!parameter )(?<!flag )(?<!field )(?<!key )(?<!value )"
    r"\b(?:with|using|via)\s+(?:the\s+)?`(@?[a-z][a-z0-9\-]*(?:/[a-z0-9][a-z0-9\-.]*)?)`"
    r"(?!\s*(?:argument|option|parameter|flag|field|key|value|set|=))"
)
MEDIUM_EVIDENCE = 0.6
NEGATED = r"`{name}`\s+(?:is|are)\s+not\s+(?:a\s+|an\s+)?(?:dependency|dependencies|installed|needed|required|used)"
_TOOL_ECOSYSTEM = {
    "pip": "python", "pip3": "python", "uv": "python", "poetry": "python", "pipenv": "python",
    "npm": "npm", "pnpm": "npm", "yarn": "npm", "bun": "npm", "cargo": "cargo", "go": "go",
}  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    name: str
    ecosystem: str | None
    """The ecosystem the evidence speaks of (an import's syntax, an install tool), or None."""
    confidence: float
    line: int


def package_evidence(lines: Sequence[str]) -> list[Evidence]:
    """Where the plan treats a name as a package: an import in a code block (or a JS import
    anywhere), an install command, "the `x` package/library/crate"; weaker, "with `x`"."""
    out: list[Evidence] = []
    fenced = False
    for ln, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            m = _PY_IMPORT_LINE.match(line)
            if m:
                out.append(Evidence(m.group(1) or m.group(2), "python", STRONG, ln))
            for g in _GO_PATH.findall(line):
                out.append(Evidence(g, "go", STRONG, ln))
        for spec in _JS_SPEC.findall(line):
            pkg = js_package(spec)
            if pkg:
                out.append(Evidence(pkg, "npm", STRONG, ln))
        for tool, _flags, name in _INSTALL.findall(line):
            name = re.sub(r"\[.*$", "", name).split("==")[0]
            if tool == "go" or "@" not in name[1:]:
                pass
            else:
                name = name[: name.index("@", 1)]
            out.append(Evidence(name, _TOOL_ECOSYSTEM[tool], STRONG, ln))
        for rx in _PROSE:
            for name in rx.findall(line):
                out.append(Evidence(name, None, STRONG, ln))
        if not fenced:
            for name in _WORKS_WITH.findall(line):
                out.append(Evidence(name, None, MEDIUM_EVIDENCE, ln))
    return out


# --- declarations ---------------------------------------------------------------------------

_BASES_PY = re.compile(r"^\s*class\s+\w+\s*(?:\[[^\]]*\])?\s*\((.*)")
_BASES_TS = re.compile(r"\bextends\s+([^{]*)|\bimplements\s+([^{]*)")


def _split_top(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        elif depth == 0:
            cur += ch
    out.append(cur)
    return [c.strip() for c in out if c.strip()]


def class_bases(head: str) -> list[str]:
    """The classes a class's first lines name as its bases (`class A(B, metaclass=M)`,
    `class A<T> extends B<T> implements C`): last parts of their names."""
    m = _BASES_PY.match(head)
    if m:
        parts = _split_top(m.group(1))
        names = [re.match(r"[\w.]+", p) for p in parts if "=" not in p]
        return [n.group(0).split(".")[-1] for n in names if n]
    out: list[str] = []
    m2 = _BASES_TS.search(head)
    if m2:
        for p in _split_top(re.sub(r"\bimplements\b", ",", m2.group(1) or m2.group(2) or "")):
            n = re.match(r"[\w$.]+", p)
            if n:
                out.append(n.group(0).split(".")[-1])
    return out


def top_level(args: str) -> str:
    """The arguments with what nests inside them (calls, literals) blanked."""
    out, depth = [], 0
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        out.append(ch if depth == 0 and ch not in ")]}" else " ")
    return "".join(out)


def returns(text: str, name: str) -> str | None:
    """The type a declaration says a function or method returns: `name(...): T`,
    `name: (...) => T`, `def name(...) -> T`; `this` for a fluent method."""
    at = text.find(name)
    if at < 0:
        return None
    open_ = text.find("(", at)
    if open_ < 0:
        return None
    depth = 0
    for i in range(open_, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            rest = text[i + 1 :]
            m = re.match(r"\s*(?::|=>|->)\s*([\w$.]+)", rest)
            return m.group(1).split(".")[-1] if m else None
    return None


# --- a package's index ------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageIndex:
    package: Package
    snapshot: Snapshot
    words: frozenset[str] = field(repr=False)
    """Every identifier in its indexed files."""
    aliases: dict[str, str] = field(repr=False)
    """Exported name -> the definition's name (`string` -> `stringType`)."""
    build_ms: float = 0.0
    _bodies: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict, repr=False)

    def cite(self, d: Definition) -> Definition:
        """`d` as a card shows it: its path prefixed with `package==version:`, its role the
        package's API (a typings file is the API of an npm package)."""
        role = Role.source if d.role in (Role.stub, Role.vendored) else d.role
        return replace(d, path=f"{self.package.pin}:{d.path}", role=role)

    def lookup(self, name: str) -> list[Definition]:
        defs = self.snapshot.lookup(name)
        real = self.aliases.get(name)
        if real and real != name:
            defs = defs + self.snapshot.lookup(real)
        return defs

    def has(self, word: str) -> bool:
        return word in self.words or word in self.aliases

    def body_words(self, cls: Definition) -> frozenset[str]:
        """Every word of a class's body (read once, kept: the package does not change)."""
        key = (cls.path, cls.line)
        words = self._bodies.get(key)
        if words is None:
            body = self.snapshot.lines.bodies({key}).get(key, "")
            words = self._bodies[key] = frozenset(IDENT.findall(body))
        return words


@dataclass(frozen=True)
class PlanText:
    lines: tuple[str, ...]
    uses: tuple[UseLike, ...]
    introduced: frozenset[str]
    proposed: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Derived:
    """What follows from the project's imports and environments alone, whatever the plan:
    worked out once per imports and environments (a venv of a hundred packages costs ms per
    request otherwise); callers must not change it."""

    envs: list[Environment]
    local: dict[str, list[Package]]
    """A name a plan may write as a prefix -> the installed packages it means."""
    typings: dict[str, list[Package]]
    """A module -> the packages of its typings (`@types/x`)."""
    imported: list[Package]
    """The packages the project's code imports, most used first, each with its typings."""


def _derived(envs: Sequence[Environment], imports: Imports) -> _Derived:
    key = tuple(id(e) for e in envs)
    got = imports.derived.get(key)
    if got is None or any(a is not b for a, b in zip(got.envs, envs, strict=True)):
        # (an id reused by a new environment: worked out afresh)
        imports.derived.clear()  # only the latest environments' (no older ones kept alive)
        typings: dict[str, list[Package]] = {}
        for env in envs:
            for t in env.packages:
                if t.types_for is not None:
                    typings.setdefault(t.types_for, []).append(t)
        imported: dict[str, Package] = {}
        for module, _n in sorted(imports.modules.items(), key=lambda kv: -kv[1]):
            for env in envs:
                _take(imported, env.by_module(module), typings)
        got = imports.derived[key] = _Derived(
            [*envs], _work_out_local_names(envs, imports), typings, list(imported.values())
        )
    return got


def _local_names(envs: Sequence[Environment], imports: Imports) -> dict[str, list[Package]]:
    """A name a plan may write as a prefix -> the installed packages it means: what the
    project's code imports it as first, then each package's own import names."""
    return _derived(envs, imports).local


def _take(
    out: dict[str, Package], pkgs: Iterable[Package], typings: dict[str, list[Package]]
) -> None:
    """Add `pkgs` to `out` (by key, first kept), each followed by its typings."""
    for p in pkgs:
        out.setdefault(p.key, p)
        for m in p.modules:
            for t in typings.get(m, ()):
                out.setdefault(t.key, t)


def _work_out_local_names(
    envs: Sequence[Environment], imports: Imports
) -> dict[str, list[Package]]:
    out: dict[str, list[Package]] = {}
    for local, module in imports.names.items():
        for env in envs:
            found = env.by_module(module)
            if found:
                out.setdefault(local, found)
    for env in envs:
        for p in env.packages:
            for m in p.modules:
                names = [m.split(".")[0]] if env.ecosystem == "python" else [m]
                if env.ecosystem == "go":
                    names = [go_alias(m)]
                for n in names:
                    found = env.by_module(m)
                    if n not in out and found:
                        out[n] = found
    return out


def _parts(text: str) -> list[str]:
    text = re.sub(r"\(.*?\)", "", text)
    parts = [p.strip() for p in _SPLIT.split(text) if p.strip()]
    while parts and parts[0] in _SELF:
        parts.pop(0)
    return parts


def wanted(
    envs: Sequence[Environment], imports: Imports, plan: PlanText, limit: int
) -> tuple[list[Package], list[Package]]:
    """The packages a plan may be naming, at most `limit`: (those it names: a prefix it
    writes, a name the project imports from one; the others the project's code imports, most
    used first), each with its typings (`@types/x`)."""
    derived = _derived(envs, imports)
    local = derived.local
    out: dict[str, Package] = {}

    def take(pkgs: Iterable[Package]) -> None:
        _take(out, pkgs, derived.typings)

    for u in plan.uses:
        parts = _parts(u.text)
        if parts and parts[0] in local:
            take(local[parts[0]])
    for line in plan.lines:
        for m in _CODE_HEAD.finditer(line):
            if m.group(1) in local:
                take(local[m.group(1)])
    named = len(out)
    for p in derived.imported:
        out.setdefault(p.key, p)
    if not imports.modules:  # no import read: what the project declares
        for env in envs:
            take(p for p in env.packages if env.is_declared(p.name))
    chosen = list(out.values())[:limit]
    return chosen[:named], chosen[named:]


_CODE_HEAD = re.compile(r"`(?:new\s+)?([A-Za-z_$][\w$]*)\s*[.(]")


# --- the pass ---------------------------------------------------------------------------------

_FILE_SUFFIXES = frozenset(
    "json js mjs cjs ts tsx jsx py pyi go rs java md txt yaml yml toml ini cfg conf html css "
    "png jpg jpeg gif svg exe dll so sh bat csv xml lock log env sql zip gz tar db".split()
)
# names of variables more often than of packages: a plan writing `response.json()` means one
_VARIABLE_WORDS = frozenset(
    """app args body buf buffer cache cfg cli client config conn connection console context ctx
    cursor data db doc e err error event evt exc fh file handler item items job kwargs log
    logger manifest message model msg obj opts options params parser payload pipe pipeline
    program queue reader req request res resp response result results router schema server
    session settings state store stream task user value values worker writer""".split()
)
_SKIP = frozenset({Verdict.path_ok, Verdict.missing_path, Verdict.wrong_owner, Verdict.undeclared})
_WORD_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _tokens(name: str) -> list[str]:
    """`stop_after_delay` -> stop, after, delay; `getRemainingTTL` -> get, remaining, ttl."""
    return [w.lower() for w in _WORD_PARTS.findall(name)]


def _related(pis: Iterable[PackageIndex], name: str, module: str) -> list[Hit]:
    """Public top-level names of `module` (a path prefix) that hold a word of `name` (of four
    letters or more), those sharing most first."""
    words = [t for t in _tokens(name) if len(t) >= 4]
    if not words:
        return []
    scored: list[tuple[int, float, Hit]] = []
    for pi in pis:
        for d in pi.snapshot.definitions():
            if d.owner is not None or d.name.startswith("_") or not d.path.startswith(module):
                continue
            key = fold(d.name)
            shared = sum(1 for t in words if t in key)
            if shared:
                scored.append((shared, fuzz.ratio(fold(name), key), (pi, d)))
    scored.sort(key=lambda x: (-x[0], -x[1], x[2][1].name))
    seen: set[str] = set()
    out: list[Hit] = []
    for _, _, h in scored:
        if h[1].name not in seen:
            seen.add(h[1].name)
            out.append(h)
    return out[:SUGGESTIONS]


def _siblings(pis: Iterable[PackageIndex], name: str) -> list[Hit]:
    """Names of the same family (`stop_after_delay` for `stop_before_delay`): as many words,
    the same first and last ones (three words at least), one word different."""
    words = _tokens(name)
    if len(words) < 3:
        return []
    out: list[Hit] = []
    for pi in pis:
        # one word different costs a ratio of 25 at most: a C-level shortlist first
        for d, _ in pi.snapshot.near(name, limit=20, cutoff=65):
            if d.owner is not None:
                continue
            other = _tokens(d.name)
            if (len(other) == len(words) and other[0] == words[0] and other[-1] == words[-1]
                    and sum(a != b for a, b in zip(other, words, strict=True)) == 1):  # fmt: skip
                out.append((pi, d))
    return out[:SUGGESTIONS]


def _close(a: str, b: str) -> bool:
    """Close enough to suggest: the same but for case and separators, a ratio at or above
    NEAR_CUTOFF, or (for a short name, where one letter costs a ratio of 75) one edit."""
    if a == b:
        return False
    fa, fb = fold(a), fold(b)
    return (
        fa == fb
        or fuzz.ratio(fa, fb) >= NEAR_CUTOFF
        or (min(len(fa), len(fb)) >= 4 and Levenshtein.distance(fa, fb) <= 1)
    )


def _score(name: str, d: Definition) -> float:
    if fold(d.name) == fold(name):
        return 200.0
    return float(fuzz.ratio(fold(name), fold(d.name)))


Hit = tuple[PackageIndex, Definition]


class DependencyPass:
    def __init__(
        self,
        project: Tables,
        envs: Sequence[Environment],
        imports: Imports,
        indexes: dict[str, PackageIndex],
        plan: PlanText,
    ) -> None:
        self.project = project
        self.envs = list(envs)
        self.imports = imports
        self.indexes = indexes
        self.plan = plan
        self.local = _local_names(envs, imports)
        self.pis = list(indexes.values())
        self.known = known_names({_LANGUAGE.get(e.ecosystem, "") for e in envs} - {""})
        self._near_left = 60

    # --- entry ----------------------------------------------------------------------------

    def variable_names(self, resolutions: Sequence[Resolution]) -> list[str]:
        """The lower-case heads of dotted names (`pipe.zadd`, `this.cache.peak`): whose class
        the project's code may say."""
        out: list[str] = []
        for r in resolutions:
            parts = _parts(r.text)
            if len(parts) >= 2 and parts[0][:1].islower() and parts[0] not in self.local:
                out.append(parts[0])
        return list(dict.fromkeys(out))

    def run(
        self, resolutions: Sequence[Resolution], variables: dict[str, list[str]] | None = None
    ) -> list[Resolution]:
        self.variables = variables or {}
        self.context = self._context(resolutions)
        out = [self._unread(self._one(r) or r) for r in resolutions]
        have = {(r.name, line) for r in out for line in r.lines} | {(r.text, -1) for r in out}
        for r in self._chains():  # what the reader's uses do not already hold
            if (r.text, -1) not in have and not any((r.name, ln) in have for ln in r.lines):
                out.append(r)
                have.update((r.name, ln) for ln in r.lines)
        return self._undeclared(out)

    # --- one resolution ---------------------------------------------------------------------

    def _one(self, r: Resolution) -> Resolution | None:
        if r.kind == "path" or r.verdict in _SKIP:
            return None
        if self._negated(r.text):
            return replace(r, verdict=Verdict.skipped, needs_text=())
        parts = _parts(r.text)
        if not parts:
            return None
        head = parts[0]
        pkgs = self.local.get(head) if not self._own(head) else None
        if r.verdict in (Verdict.found, Verdict.arity, Verdict.ambiguous):
            # the project's: kept, unless the plan writes a package's prefix, or only the
            # copies of dependencies inside the tree (node_modules/) define it
            vendored = r.definitions and all(d.role is Role.vendored for d in r.definitions)
            if not ((pkgs and len(parts) >= 2) or vendored):
                return None
        if r.verdict is Verdict.introduced:
            strong = r.text in self.plan.introduced or r.name in self.plan.introduced
            if len(parts) > 1:
                # a plan adds nothing to a package it does not own: `uuid.NewV7` in a sentence
                # that adds something is still uuid's to have
                pkgs = self.local.get(head) if not self._own(head) else None
                return self._in_package(r, pkgs, head, parts[1:]) if pkgs and not strong else None
            if strong:
                # new, but called like a library's function of a family the plan uses
                # (`stop_before_delay(30)` beside tenacity's `stop_after_delay`)
                if r.args is None:
                    return None
                return self._anywhere(r, head, near_only=True, family_only=True)
            return self._anywhere(r, head, near_only=True)  # proposed: only a near name
        if (r.verdict is Verdict.known and not pkgs and not self.variables.get(head)
                and not (len(parts) > 1 and head[:1].isupper())):  # fmt: skip
            return None  # the standard library's, unless a package or a class says otherwise
        if len(parts) >= 2 and pkgs:
            return self._in_package(r, pkgs, head, parts[1:])
        if len(parts) >= 2 and head[:1].isupper():
            return self._typed(r, head, parts[1:])
        if len(parts) >= 2:
            cls = self._variable_class(head)
            if cls is not None:
                return self._typed(r, cls, parts[1:], via=head)
            if len(parts) == 2 and self.variables.get(head):
                # a variable of the project's code whose class it does not say
                return self._anywhere(r, parts[1], member=True)
            return None  # maybe a package the project lacks (`tenacity.retry`): see below
        if pkgs:  # a package the project has, or a name its code imports from one
            pis = self._pis(pkgs)
            hits = [(pi, d) for pi in pis for d in pi.lookup(head)]
            if hits:
                return self._found(r, hits)
            return replace(r, verdict=Verdict.known, needs_text=(), package=pkgs[0])
        return self._anywhere(r, head)

    def _own(self, name: str) -> list[Definition]:
        """The project's own definitions of `name` (not the copies of its dependencies a
        tree may hold, such as an unignored node_modules/)."""
        return [d for d in self.project.lookup(name) if d.role is not Role.vendored]

    def _unread(self, r: Resolution) -> Resolution:
        """A claim of the project's own (a name it lacks) in a scope whose dependencies could
        not be read says so: the name may be a dependency's."""
        if r.package is not None or r.note or r.verdict is not Verdict.missing:
            return r
        unread = [e for e in self.envs if e.note and not e.found]
        if not unread:
            return r
        e = unread[0]
        why = (e.note or "").split(":")[0]
        return replace(r, note=f"(The project's dependencies were not checked: {why}.)")

    def _context(self, resolutions: Sequence[Resolution]) -> set[str]:
        """The packages the plan is about: those defining (top level) a distinctive name it
        uses. A near name of theirs is a suggestion at the usual cutoff, others' only when
        closer (FAR_CUTOFF)."""
        out: set[str] = set()
        for r in resolutions:
            parts = _parts(r.text)
            if parts and parts[0] in self.local and not self._own(parts[0]):
                out.update(p.key for p in self.local[parts[0]])
            if len(r.name) < 6 or self._own(r.name):
                continue
            for pi in self.pis:
                if any(d.owner is None for d in pi.lookup(r.name)):
                    out.add(pi.package.key)
        return out

    def _negated(self, name: str) -> bool:
        rx = re.compile(NEGATED.format(name=re.escape(name)), re.I)
        return any(rx.search(line) for line in self.plan.lines)

    # --- in a package -------------------------------------------------------------------------

    def _pis(self, pkgs: Iterable[Package]) -> list[PackageIndex]:
        return [self.indexes[p.key] for p in pkgs if p.key in self.indexes]

    def _in_package(
        self, r: Resolution, pkgs: list[Package], head: str, rest: list[str]
    ) -> Resolution | None:
        pis = self._pis(pkgs)
        if not pis:
            return None
        pi = pis[0]
        pkg = pi.package
        module = self.imports.names.get(head, head)
        if module.split(".")[-1] != head and module.split("/")[-1] != head:
            # a name the project imports from the package (`from pydantic import TypeAdapter`,
            # `import { z } from "zod"`): a class's members, or a namespace's names
            types = [(p, d) for p in pis for d in p.lookup(head) if d.kind in TYPE_KINDS]
            if types:
                return self._member(r, types, rest[0]) if len(rest) == 1 else None
            if pkg.ecosystem == "python":
                return None
        mod = module.split(".") if pkg.ecosystem == "python" else []
        i = 0
        while i < len(rest) and self._submodule(pi, [*mod, rest[i]]):
            mod.append(rest[i])
            i += 1
        if i == len(rest):
            return replace(r, verdict=Verdict.known, needs_text=(), package=pkg)
        name = rest[i]
        hits = [
            (p, d) for p in pis for d in p.lookup(name) if d.owner is None or d.kind in TYPE_KINDS
        ]
        prefix = "/".join(mod) + "/"
        hits.sort(key=lambda h: not h[1].path.startswith(prefix))
        if not hits:
            if any(p.has(name) for p in pis):
                return replace(r, verdict=Verdict.known, needs_text=(), package=pkg)
            if pkg.ecosystem == "python" and i + 1 < len(rest) and name[:1].islower():
                return replace(r, verdict=Verdict.missing, needs_text=(), package=pkg,
                               name=".".join([*mod, name]), suggestions=(),
                               definitions=())  # fmt: skip
            return self._absent_in(r, pis, name, cutoff=NEAR_CUTOFF, module=prefix)
        if i + 1 >= len(rest):
            return self._found(r, hits)
        if i + 2 < len(rest):
            return self._found(r, hits)
        types = [h for h in hits if h[1].kind in TYPE_KINDS]
        if not types:
            return self._found(r, hits)
        return self._member(r, types, rest[i + 1])

    def _submodule(self, pi: PackageIndex, parts: list[str]) -> bool:
        if not parts or not all(p.isidentifier() for p in parts):
            return False
        path = "/".join(parts)
        files = pi.snapshot.file_index
        return (
            files.has_dir(path)
            or pi.snapshot.has_file(path + ".py")
            or pi.snapshot.has_file(path + ".pyi")
        )

    def _found(self, r: Resolution, hits: Sequence[Hit]) -> Resolution:
        return replace(
            r,
            verdict=Verdict.found,
            definitions=tuple(pi.cite(d) for pi, d in hits[:SUGGESTIONS]),
            suggestions=(),
            needs_text=(),
            package=hits[0][0].package,
        )

    def _absent_in(
        self, r: Resolution, pis: list[PackageIndex], name: str, *, cutoff: float,
        words: tuple[str, ...] = (), module: str = "",
    ) -> Resolution:  # fmt: skip
        """`name` is not in these packages: a wrong name when one of them has a close public
        name, else missing from the installed version (with the names of the module it was
        looked for in that share a word with it: `parse` for `parse_iso8601`)."""
        close = self._near(pis, name, cutoff)
        pkg = (close[0][0] if close else pis[0]).package
        if close:
            return replace(r, verdict=Verdict.wrong_name, needs_text=words, package=pkg,
                           suggestions=tuple(pi.cite(d) for pi, d in close),
                           definitions=())  # fmt: skip
        related = _related(pis, name, module) if module else []
        return replace(r, verdict=Verdict.missing, needs_text=words, package=pkg,
                       suggestions=tuple(pi.cite(d) for pi, d in related),
                       definitions=())  # fmt: skip

    def _near(self, pis: Iterable[PackageIndex], name: str, cutoff: float) -> list[Hit]:
        found: dict[str, Hit] = {}
        for pi in pis:
            cands = [d for d in pi.snapshot.folded(name) if d.name != name]
            cands += [d for d, _ in pi.snapshot.near(name, limit=SUGGESTIONS + 2, cutoff=cutoff)]
            for d in cands:
                if d.name.startswith("_") and not name.startswith("_"):
                    continue
                if d.role is Role.test or d.role is Role.docs:
                    continue
                key = d.qualname if d.owner else d.name
                found.setdefault(key, (pi, d))
        ranked = sorted(found.values(), key=lambda h: (-_score(name, h[1]), h[1].qualname))
        if not ranked:
            return []
        top = _score(name, ranked[0][1])
        return [h for h in ranked if _score(name, h[1]) >= min(top, 100.0) - 8.0][:SUGGESTIONS]

    # --- on a class ---------------------------------------------------------------------------

    def _classes(self, name: str) -> list[Hit]:
        """Dependency classes (types) called `name`: those the project imports under that
        name first."""
        module = self.imports.names.get(name)
        pis = self.pis
        if module is not None:
            mine = [pi for pi in pis if any(pi.package is p for env in self.envs
                                               for p in env.by_module(module))]  # fmt: skip
            pis = mine + [pi for pi in pis if pi not in mine]
        out: list[Hit] = []
        for pi in pis:
            out += [(pi, d) for d in pi.lookup(name) if d.kind in TYPE_KINDS]
            if out and module is not None:
                break
        return out

    def _bases(self, lines_of: Snapshot, d: Definition) -> list[str]:
        text = lines_of.lines.read({(d.path, d.line)}, span=3).get((d.path, d.line), "")
        return class_bases(text.replace("\n", " "))

    def _members(self, classes: Sequence[Hit]) -> tuple[list[Hit], set[str], list[Hit]]:
        """Every member of these classes and of the classes they derive from (within the
        package, then across the indexed packages), the names of the classes visited, and
        the classes visited."""
        out: list[Hit] = []
        names: set[str] = set()
        visited: list[Hit] = []
        queue = list(classes)
        seen: set[tuple[str, str, int]] = set()
        while queue and len(seen) < MAX_BASES:
            pi, c = queue.pop(0)
            key = (pi.package.key, c.path, c.line)
            if key in seen:
                continue
            seen.add(key)
            if c.name not in names:  # every class of that name's members, once
                out += [(pi, m) for m in pi.snapshot.members(c.name)]
            names.add(c.name)
            visited.append((pi, c))
            for base in self._bases(pi.snapshot, c):
                if base in names:
                    continue
                same = [(pi, d) for d in pi.lookup(base) if d.kind in TYPE_KINDS]
                queue += same or self._classes(base)
        return out, names, visited

    def _typed(
        self, r: Resolution, cls: str, rest: list[str], via: str | None = None
    ) -> Resolution | None:
        if len(rest) != 1:
            return None
        own = [d for d in self._own(cls) if d.kind in TYPE_KINDS]
        if own:
            if via is None and r.verdict not in (Verdict.missing, Verdict.wrong_name,
                                                 Verdict.skipped, Verdict.known):  # fmt: skip
                return None
            if not isinstance(self.project, Snapshot):
                return None
            bases: list[Hit] = []
            for d in own[:2]:
                for b in self._bases(self.project, d):
                    bases += self._classes(b)
            if not bases:
                return None  # a class of the project's own: its verdict stands
            got = self._member(r, bases, rest[0], project_class=own[0])
            if got.verdict is Verdict.found:
                return got  # inherited from the dependency's class
            if got.verdict is Verdict.wrong_name and not r.suggestions:
                return got
            return None  # the project's class lacks it: the project's verdict stands
        classes = self._classes(cls)
        if not classes:
            return None
        return self._member(r, classes, rest[0])

    def _member(
        self, r: Resolution, classes: Sequence[Hit], member: str,
        project_class: Definition | None = None,
    ) -> Resolution:  # fmt: skip
        members, names, visited = self._members(classes)
        hits = [h for h in members if h[1].name == member]
        if hits:
            return self._found(r, hits)
        pis = list({id(pi): pi for pi, _ in classes}.values())
        pkg = classes[0][0].package
        owners = tuple(pi.cite(c) for pi, c in classes[:2])
        if project_class is not None:
            owners = (project_class, *owners)
        elsewhere = [
            (pi, d) for pi in pis for d in pi.lookup(member)
            if d.owner and d.owner not in names and d.role not in (Role.test, Role.docs)
        ]  # fmt: skip
        close = sorted((h for h in members if _close(member, h[1].name)),
                       key=lambda h: -_score(member, h[1]))  # fmt: skip
        if elsewhere:
            return replace(r, verdict=Verdict.wrong_owner, needs_text=(), package=pkg,
                           definitions=tuple(pi.cite(d) for pi, d in elsewhere[:SUGGESTIONS]),
                           owners=owners,
                           suggestions=tuple(pi.cite(d) for pi, d in close[:2]))  # fmt: skip
        if any(member in pi.body_words(c) for pi, c in visited):
            # an attribute the class sets, a property the index does not see
            return replace(r, verdict=Verdict.known, needs_text=(), package=pkg)
        if close:
            return replace(r, verdict=Verdict.wrong_name, needs_text=(), package=pkg,
                           suggestions=tuple(pi.cite(d) for pi, d in close[:SUGGESTIONS]),
                           owners=owners, definitions=())  # fmt: skip
        return replace(r, verdict=Verdict.missing, needs_text=(), package=pkg, owners=owners,
                       suggestions=(), definitions=())  # fmt: skip

    def _variable_class(self, var: str) -> str | None:
        """The class of a variable the plan writes (`self._client`, `console`): as the
        project's code declares or assigns it, else a dependency class its name folds to."""
        for text in self.variables.get(var, []):
            m = re.search(
                rf"\b{re.escape(var)}\s*(?::\s*(?:readonly\s+)?([\w$.]+)|=\s*(?:await\s+)?(?:new\s+)?([\w$.]+)\s*[(<])",
                text,
            )
            if m:
                cls = (m.group(1) or m.group(2)).split(".")[-1]
                if cls[:1].isupper() and (self._classes(cls) or self.project.lookup(cls)):
                    return cls
        key = fold(var)
        for pi in self.pis:
            for d in pi.snapshot.folded(var):
                if d.kind in TYPE_KINDS and fold(d.name) == key and d.owner is None:
                    return d.name
        return None

    # --- anywhere ---------------------------------------------------------------------------

    def _anywhere(
        self, r: Resolution, name: str, *, member: bool = False, near_only: bool = False,
        family_only: bool = False,
    ) -> Resolution | None:  # fmt: skip
        if not self.pis or len(name) < 3:
            return None
        hits = [(pi, d) for pi in self.pis for d in pi.lookup(name)
                if d.role not in (Role.test, Role.docs)]  # fmt: skip
        if hits and not near_only:
            if not member:
                top = [h for h in hits if h[1].owner is None] or hits
                return self._found(r, top)
            return self._found(r, hits)
        if any(pi.has(name) for pi in self.pis):
            return None if near_only else replace(r, verdict=Verdict.known, needs_text=(),
                                                  package=self.pis[0].package)  # fmt: skip
        if self._near_left <= 0:
            return None
        self._near_left -= 1
        about = [pi for pi in self.pis if pi.package.key in self.context]
        others = [pi for pi in self.pis if pi.package.key not in self.context]
        close = [] if family_only else (
            self._near(about, name, NEAR_CUTOFF) or self._near(others, name, FAR_CUTOFF)
        )  # fmt: skip
        if not member:  # `Report` (a type the plan writes) is not rich's function `report`
            close = [h for h in close if h[1].name[:1].isupper() == name[:1].isupper()]
        close = close or _siblings(about, name)
        if not close:
            return None
        if r.verdict is Verdict.wrong_name and r.suggestions:
            own = r.suggestions[0]
            if own.role is Role.source and _score(name, own) >= _score(name, close[0][1]):
                return None  # the project's own near name is at least as close
        return replace(r, verdict=Verdict.wrong_name, package=close[0][0].package,
                       suggestions=tuple(pi.cite(d) for pi, d in close), definitions=(),
                       needs_text=(name,))  # fmt: skip

    # --- chains in code spans -------------------------------------------------------------------

    def _chains(self) -> list[Resolution]:
        out: list[Resolution] = []
        for ch in chains(self.plan.lines):
            r = self._chain(ch)
            if r is not None:
                out.append(r)
        return out

    def _chain(self, ch: Chain) -> Resolution | None:
        def base(k: int, name: str, owner: str | None, kind: str = "dotted") -> Resolution:
            return Resolution(text=ch.texts[k], name=name, owner=owner, kind=kind,
                              lines=(ch.line,), verdict=Verdict.skipped,
                              spans=ch.span(k, self.plan.lines))  # fmt: skip

        if not ch.members:  # `stop_after_attempt(4)`: a name the project may lack
            assert ch.root is not None
            if ch.root in _SELF or ch.root in self.known or self._own(ch.root):
                return None
            pkgs = self.local.get(ch.root)
            if pkgs:
                hits = [(pi, d) for pi in self._pis(pkgs) for d in pi.lookup(ch.root)]
                if not hits:
                    return None
                return self._keywords(ch, hits) or self._found(base(0, ch.root, None, "call"), hits)
            return self._anywhere(base(0, ch.root, None, "call"), ch.root)
        names = [n for n, _ in ch.members]
        calls_before = ch.called or any(c for _, c in ch.members[:-1])
        pkgs = self.local.get(ch.root) if ch.root and not self._own(ch.root) else None
        if pkgs and not ch.new and not calls_before:  # `httpx.Limit(...)`: a package's name
            owner = names[-2] if len(names) > 1 else ch.root
            k = len(names) - 1
            return self._in_package(base(k, names[-1], owner), pkgs, ch.root or "", names)
        if not calls_before and not ch.new and ch.root is not None:
            return None  # `a.b.c`: a dotted name the reader gives
        pis: list[PackageIndex] = []
        classes: list[Hit] = []
        if ch.root is not None and ch.root not in _SELF:
            if pkgs and not ch.new:
                pis = self._pis(pkgs)
            elif ch.root[:1].isupper() and not self._own(ch.root):
                classes = self._classes(ch.root) if ch.new else []  # static members: not followed
            else:
                return None
        if not pis and not classes and ch.root is not None:
            return None
        for k, name in enumerate(names):
            here = base(k, name, None)
            if classes:
                got = self._member(here, classes, name)
                if got.verdict is not Verdict.found:
                    return got if got.verdict is not Verdict.known else None
                classes = self._next(got)
                if not classes:
                    return None
                continue
            if pis:
                hits = [(pi, d) for pi in pis for d in pi.lookup(name)]
                if hits:
                    classes = self._next(self._found(here, hits), hits)
                    pis = [] if classes else pis
                    continue
                if any(pi.has(name) for pi in pis) or name in self.known:
                    continue
                return self._absent_in(here, pis, name, cutoff=NEAR_CUTOFF)
            # no root: `.passThrough()`, a method of some dependency's class: a claim only
            # when one differs from it by case alone, and its package lacks even the word
            if not self.pis:
                return None
            hits = [(pi, d) for pi in self.pis for d in pi.lookup(name) if d.owner]
            if hits or name in self.known:
                return None
            close = [h for h in self._near(self.pis, name, FAR_CUTOFF)
                     if fold(h[1].name) == fold(name) and not h[0].has(name)]  # fmt: skip
            if not close:
                return None
            return replace(here, verdict=Verdict.wrong_name, package=close[0][0].package,
                           suggestions=tuple(pi.cite(d) for pi, d in close))  # fmt: skip
        return None

    def _keywords(self, ch: Chain, hits: Sequence[Hit]) -> Resolution | None:
        """A keyword argument of a call to a dependency's class or function that its package
        does not even have as a word (`ConfigDict(validate_by_name=True)` in a pydantic that
        predates it): missing from the installed version, with the class's close members."""
        pi, d = hits[0]
        for kw in re.findall(rf"(?:^|,)\s*({IDENTIFIER})\s*=(?!=)", top_level(ch.args)):
            if any(p.has(kw) for p, _ in hits) or kw in self.known:
                continue
            line = self.plan.lines[ch.line]
            at = line.find(kw + "=", ch.col)
            spans = ((ch.line, at, at + len(kw)),) if at >= 0 else ()
            members = pi.snapshot.members(d.name) if d.kind in TYPE_KINDS else []
            close = sorted((m for m in members if _close(kw, m.name)),
                           key=lambda m: -_score(kw, m))  # fmt: skip
            return Resolution(
                text=f"{ch.root}({kw}=…)", name=kw, owner=d.name, kind="identifier",
                lines=(ch.line,), verdict=Verdict.wrong_name if close else Verdict.missing,
                spans=spans, package=pi.package, owners=(pi.cite(d),),
                suggestions=tuple(pi.cite(m) for m in close[:SUGGESTIONS]),
            )  # fmt: skip
        return None

    def _next(self, found: Resolution, hits: Sequence[Hit] | None = None) -> list[Hit]:
        """The classes a found member returns (`z.string()` -> `ZodString`)."""
        pairs = list(hits) if hits is not None else []
        if not pairs:
            for d in found.definitions:
                for pi in self.pis:
                    if d.path.startswith(pi.package.pin + ":"):
                        raw = d.path[len(pi.package.pin) + 1 :]
                        pairs += [(pi, x) for x in pi.snapshot.lookup(d.name) if x.path == raw
                                  and x.line == d.line]  # fmt: skip
        for pi, d in pairs[:3]:
            if d.kind in TYPE_KINDS:
                continue
            text = pi.snapshot.lines.read({(d.path, d.line)}, span=12).get((d.path, d.line), "")
            ret = returns(text, d.name)
            if ret == "this" and d.owner:
                ret = d.owner
            if ret and ret[:1].isupper():
                same = [(pi, x) for x in pi.lookup(ret) if x.kind in TYPE_KINDS]
                return same or self._classes(ret)
        return []

    # --- packages the project does not have -------------------------------------------------------

    def _undeclared(self, resolutions: list[Resolution]) -> list[Resolution]:
        claims: dict[str, tuple[Evidence, Environment]] = {}
        for ev in package_evidence(self.plan.lines):
            if ev.confidence < STRONG and (
                ev.name in self.plan.introduced or ev.name in self.plan.proposed
                or ev.name in self.local or self._assigned(ev.name)
            ):  # fmt: skip
                continue  # the plan's own name: "call it with `retries`"
            env = self._lacks(ev.name, ev.ecosystem)
            if env is not None and not self._negated(ev.name):
                claims.setdefault(ev.name, (ev, env))
        by_text = {r.text: r for r in resolutions}
        out: list[Resolution] = []
        for r in resolutions:
            parts = _parts(r.text)
            if r.kind == "path" or not parts or (r.verdict is Verdict.found and (
                r.package is not None or len(parts) < 2
                or any(d.owner and fold(d.owner) == fold(parts[-2]) for d in r.definitions)
            )):  # fmt: skip
                out.append(r)  # found (not merely a member of that name on some class)
                continue
            head = parts[0]
            if head in claims:
                ev, env = claims[head]
                out.append(self._undeclared_of(r, head, ev.confidence, env))
                continue
            medium = self._medium(r, parts)
            if medium is not None:
                out.append(medium)
                continue
            if r.verdict is Verdict.missing and r.package is None and len(parts) == 1:
                out.append(self._not_a_package_either(r))
                continue
            out.append(r)
        taken = {
            _parts(r.text)[0] for r in out if r.verdict is Verdict.undeclared and _parts(r.text)
        }
        for name, (ev, env) in claims.items():
            if name in taken or name in by_text:
                continue
            spans = tuple(
                (ln, m.start() + 1, m.end() - 1)
                for ln, line in enumerate(self.plan.lines)
                for m in re.finditer(rf"`{re.escape(name)}`", line)
            )
            base = Resolution(text=name, name=name, owner=None, kind="identifier",
                              lines=tuple(sorted({s[0] for s in spans} or {ev.line})),
                              verdict=Verdict.skipped, spans=spans)  # fmt: skip
            out.append(self._undeclared_of(base, name, ev.confidence, env))
        return out

    def _undeclared_of(
        self, r: Resolution, name: str, confidence: float, env: Environment
    ) -> Resolution:
        return replace(r, verdict=Verdict.undeclared, name=name, package=None,
                       needs_text=() if confidence >= STRONG else (name,),
                       note=self._where(env), args=None,
                       definitions=(), suggestions=())  # fmt: skip

    def _where(self, env: Environment) -> str:
        """Why the package is not the project's, and what to do: "not in pyproject.toml and
        not installed in .venv (Python 3.11). Add it to pyproject.toml, or do without it (the
        project has httpx, pydantic)?"."""
        manifest = env.manifest or "the project's manifest"
        if env.found:
            why = f"not in {manifest} and not installed in {env.where or env.location}"
        else:
            why = f"not in {manifest}" + (f" ({env.note})" if env.note else "")
        has = sorted({p.name for p in env.packages if env.is_declared(p.name)}, key=str.lower)
        if not has:
            has = sorted(env.declared)
        listed = ", ".join(has[:5]) + (", …" if len(has) > 5 else "")
        return f"{why}. Add it to {manifest}, or do without it" + (
            f" (the project has {listed})?" if listed else "?"
        )

    def _lacks(self, name: str, ecosystem: str | None) -> Environment | None:
        """The environment that should have package `name` but neither declares nor has it
        installed (None: some environment has it, or none applies)."""
        envs = [e for e in self.envs if (ecosystem is None or e.ecosystem == ecosystem) and e.found]
        if not envs:
            return None  # nothing installed here: what the project has is not known
        if name in self.known or name.split("/")[0].split(".")[0] in self.known:
            return None  # the standard library's
        if isinstance(self.project, Snapshot) and name in self.project.file_index.stems:
            return None  # a module of the project's own
        for env in self.envs:
            if env.installed(name) or env.is_declared(name) or env.by_module(name):
                return None
            if env.own and (env.key(env.own) == env.key(name) or go_alias(env.own) == name):
                return None
            if env.ecosystem == "go" and any(go_alias(p) == name or p.endswith("/" + name)
                                             for p in env.declared):  # fmt: skip
                return None
            if (
                env.ecosystem == "python"
                and not env.found
                and any(name.lower() in d or d in name.lower() for d in env.declared)
            ):
                return None  # an import name we cannot map to a declared one without the install
        if name in self.imports.names or name in self.imports.modules:
            return None
        if self._own(name):
            return None
        return envs[0]

    def _medium(self, r: Resolution, parts: list[str]) -> Resolution | None:
        """`feedparser.parse(...)`: a lower-case head nothing explains (not the project's, not
        the standard library's, not a package or module the project has, not a variable the
        plan's code assigns) reads as a package: a claim once the text check confirms the
        word is nowhere in the project's code."""
        if len(parts) < 2 or r.verdict not in (Verdict.skipped, Verdict.missing, Verdict.known,
                                               Verdict.wrong_name, Verdict.found):  # fmt: skip
            return None
        head = parts[0]
        if not re.fullmatch(r"[a-z][a-z0-9]{2,}", head) or head in self.known:
            return None  # `wrapped_logger.info`: a variable's name, by its look
        if parts[1].lower() in _FILE_SUFFIXES:
            return None  # `cmd.exe`, `myimage.jpg`: a file
        if head in _VARIABLE_WORDS or self._prose_word(head):
            return None  # `response.json()`: an ordinary word, so a variable
        if head in self.local or head in self.imports.names or head in self.plan.introduced:
            return None
        if self._own(head) or self._module_word(head):
            return None
        if self._assigned(head) or self._negated(head):
            return None
        go = any(e.ecosystem == "go" for e in self.envs)
        ecosystem = "go" if go and parts[1][:1].isupper() else None
        env = self._lacks(head, ecosystem)
        if env is None:
            return None
        confidence = 0.7 if ecosystem == "go" else MEDIUM
        return self._undeclared_of(r, head, confidence, env)

    def _module_word(self, name: str) -> bool:
        """A file, directory or class of the project or an indexed package is called so
        (`progress` is `rich.progress`, `console` a `Console`)."""
        if isinstance(self.project, Snapshot) and name in self.project.file_index.stems:
            return True
        key = fold(name)
        for pi in self.pis:
            if name in pi.snapshot.file_index.stems:
                return True
            if any(fold(d.name) == key for d in pi.snapshot.folded(name)):
                return True
        return False

    def _prose_word(self, name: str) -> bool:
        """The plan writes `name` as a plain word of its prose somewhere (outside code spans:
        "the response"), as one writes an ordinary word, not a package."""
        rx = re.compile(rf"(?<![\w`.]){re.escape(name)}(?![\w`.(])")
        return any(rx.search(re.sub(r"`[^`]*`", " ", line)) for line in self.plan.lines)

    def _assigned(self, name: str) -> bool:
        rx = re.compile(
            rf"(?:\b(?:const|let|var|val)\s+{re.escape(name)}\b|\b{re.escape(name)}\s*(?::=|=(?!=)))"
        )
        return any(rx.search(line) for line in self.plan.lines)

    def _not_a_package_either(self, r: Resolution) -> Resolution:
        """A lower-case name nothing defines: say it is no package of the project either."""
        if not re.fullmatch(r"[a-z][a-z0-9\-]{2,}", r.name):
            return r
        env = self._lacks(r.name, None)
        if env is None:
            return r
        manifest = env.manifest or "the manifest"
        where = f", nor installed in {env.where}" if env.found else ""
        return replace(r, note=f"Nor is `{r.name}` a dependency of the project: it is not in "
                               f"{manifest}{where}.")  # fmt: skip
