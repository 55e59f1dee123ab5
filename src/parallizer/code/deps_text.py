"""What the dependency pass reads from text: the imports of the project's code
(`scan_imports`), the calls chained in a plan's code (`chains`), where a plan treats a name as
a package (`package_evidence`), and, from a dependency's declarations, a class's bases
(`class_bases`) and what a function returns (`returns`). Pure functions of strings."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..text import IDENTIFIER

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
_RS_USE = re.compile(r"^\s*(?:pub(?:\([\w ]+\))?\s+)?use\s+(\w+)|^\s*extern\s+crate\s+(\w+)(?:\s+as\s+(\w+))?")
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
