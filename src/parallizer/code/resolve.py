"""Name resolution: each name and path the plan uses, checked against a `Snapshot`.

A pure function of the index and the plan's facts (no I/O, no clock), so it runs anywhere
(the request runs it in a worker thread) and a test can feed it definitions it builds.

For a name, in order:

* introduced by the plan ("new `X`", defined in its own code block): fine, never missing;
* defined in the tree: on the class the plan says (`Client.send`), or on another class only
  (wrong owner: name the class that has it); a call whose argument count no definition
  accepts (arity); the same qualified name defined in several source files (ambiguous);
* a builtin or standard-library name of the tree's language(s): known;
* not defined, but a definition differs only in case/separators (`HttpTransport`) or by a
  small edit (`HiArg` → `HiArgs`): a wrong name, with the definitions to suggest;
* otherwise missing.

"Wrong name" and "missing" are only claims until ripgrep confirms the plan's spelling is not
a word anywhere in the tree (`Resolution.needs_text`): a name the index does not parse (a
config key, a language it does not know) is not missing, and a failed search proves nothing.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from rapidfuzz import fuzz, process

from .known import STANDARD_MODULES, known_names
from .model import Definition, Role, source_first
from .model import fold as _fold
from .sources.base import Package

# --- paths: the file list indexed once per snapshot ---------------------------------------

SUGGEST_CUTOFF = 60.0
CLOSE_SPREAD = 8.0  # suggestions scoring this far below the best are not worth showing


class FileIndex:
    """A file list indexed once: existence by basename, directories as a set, and "did you
    mean" by a C-level shortlist of close basenames (rapidfuzz.process) before the finer
    score, never a Python loop per file."""

    SHORTLIST = 25

    def __init__(self, files: Iterable[str]) -> None:
        self.by_base: dict[str, list[str]] = {}
        self.dirs: set[str] = set()
        self.stems: set[str] = set()
        """Every file's name without its suffix, and every directory's name: what a module
        may be called (`_termui_impl`, `utils`)."""
        for f in files:
            head, _, base = f.rpartition("/")
            self.by_base.setdefault(base, []).append(f)
            self.stems.add(base.rsplit(".", 1)[0])
            while head and head not in self.dirs:
                self.dirs.add(head)
                self.stems.add(head.rpartition("/")[2])
                head = head.rpartition("/")[0]

    def exists(self, path: str) -> bool:
        path = path.strip("/").removeprefix("./")
        base = path.rpartition("/")[2]
        if any(f == path or f.endswith("/" + path) for f in self.by_base.get(base, ())):
            return True
        return self.has_dir(path)  # a directory the plan names exists too

    def has_dir(self, path: str) -> bool:
        path = path.strip("/")
        return path in self.dirs or any(d.endswith("/" + path) for d in self.dirs)

    def closest(self, path: str, n: int = 3) -> list[str]:
        """Up to n files whose name is close, in a directory that is close."""
        base = path.rpartition("/")[2]
        near = process.extract(
            base, list(self.by_base), scorer=fuzz.ratio, limit=self.SHORTLIST,
            score_cutoff=SUGGEST_CUTOFF / 2,
        )  # fmt: skip
        scored = sorted(
            (
                (0.6 * score + 0.4 * fuzz.WRatio(path, f), f)
                for name, score, _ in near
                for f in self.by_base[name]
            ),
            key=lambda x: (-x[0], x[1]),
        )
        if not scored:
            return []
        floor = max(SUGGEST_CUTOFF, scored[0][0] - CLOSE_SPREAD)
        out = [f for s, f in scored[:n] if s >= floor]
        if "/" not in path.strip("/"):  # a file name alone: a slip of a file of that kind
            stem, _, ext = base.rpartition(".")
            out = [
                f
                for f in out
                if (b := f.rpartition("/")[2]).rpartition(".")[2] == ext
                and fuzz.ratio(stem, b.rpartition(".")[0]) >= 80
            ]
        return out


# --- names ---------------------------------------------------------------------------------


class Tables(Protocol):
    """What resolution reads of a snapshot (a test may hand it its own definitions)."""

    @property
    def file_index(self) -> FileIndex: ...
    def languages(self, share: float = ...) -> list[str]: ...
    def has_file(self, relpath: str) -> bool: ...
    def lookup(self, name: str) -> list[Definition]: ...
    def qualified(self, qualname: str) -> list[Definition]: ...
    def folded(self, name: str) -> list[Definition]: ...
    def members(self, owner: str) -> list[Definition]: ...
    def definitions(self) -> Iterator[Definition]: ...
    @property
    def type_tails(self) -> dict[str, list[Definition]]: ...
    def near(
        self, name: str, limit: int = ..., cutoff: float = ...
    ) -> list[tuple[Definition, float]]: ...

NEAR_CUTOFF = 80.0  # rapidfuzz ratio at or above which a definition is a "did you mean"
SUGGESTIONS = 3
MIN_RELATED = 4  # characters of the shortest trailing part suggested for a missing name
NEAR_BUDGET = 60  # absent names compared with the whole index per plan (the nearest first)
SUGGEST_SPREAD = 8.0  # suggestions this far below the best match are left out
MAX_AMBIGUOUS_FILES = 6  # a name defined in more files than this is a convention, not a choice
TYPE_KINDS = frozenset({"class", "type", "interface", "trait", "enum", "struct"})
VALUE_KINDS = frozenset({"constant", "variable", "field"})
CALLABLE_KINDS = frozenset({"function", "method", "class"})  # a class: its constructor
SOURCE = "source"
_SELF = frozenset({"self", "this", "cls", "Self", "super"})
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_OWNER_SPLIT = re.compile(r"::|\.|#|->")
# words a plan may write in backticks that are never worth resolving
_LANG_WORDS = frozenset(keyword.kwlist).union(
    """fn func let const var mut pub impl struct enum trait interface type package import
    return if else for while match switch case break continue true false null nil None True
    False void new delete this self super static async await yield defer go chan select map
    string int bool any object""".split()
)


class Verdict(StrEnum):
    found = "found"
    introduced = "introduced"
    known = "known"
    wrong_owner = "wrong_owner"
    wrong_name = "wrong_name"
    missing = "missing"
    arity = "arity"
    ambiguous = "ambiguous"
    path_ok = "path_ok"
    missing_path = "missing_path"
    skipped = "skipped"
    undeclared = "undeclared"
    """A package the plan relies on that the project neither declares nor has installed
    (the dependency pass, `deps.py`)."""


# the verdicts that are mistakes in the plan (once `needs_text` is confirmed)
MISTAKES = frozenset(
    {Verdict.wrong_owner, Verdict.wrong_name, Verdict.missing, Verdict.arity, Verdict.missing_path,
     Verdict.undeclared}
)  # fmt: skip


class UseLike(Protocol):
    """What resolution needs of a plan mention (the document reader's `Mention` fits);
    read-only, so frozen dataclasses fit too."""

    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def coded(self) -> bool: ...
    @property
    def args(self) -> int | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def col(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def what(self) -> str: ...
    @property
    def context(self) -> str: ...
    @property
    def lang(self) -> str: ...


@dataclass(frozen=True, slots=True)
class NameUse:
    text: str
    kind: str  # identifier | call | dotted | path
    line: int  # 0-based plan line
    coded: bool = False
    args: int | None = None
    owner: str | None = None
    name: str = ""
    col: int = -1
    """Where it stands on its plan line (code points), -1 when unknown."""
    end: int = -1
    what: str = ""
    """What the name is when not simply a code name (the reader's `Mention.what`)."""
    context: str = ""
    """What its sentence says of it (the reader's `Mention.context`)."""
    lang: str = ""
    """The language of the plan's code block it was read from ('' for prose)."""

    @classmethod
    def of(cls, text: str, line: int = 0, *, kind: str | None = None, args: int | None = None,
           coded: bool = True) -> NameUse:  # fmt: skip
        """A use from its text: `Client.send`, `HiArgs::new`, `src/x.py`."""
        parts = [p for p in _OWNER_SPLIT.split(re.sub(r"\(.*$", "", text)) if p]
        if kind is None:
            kind = (
                "call"
                if args is not None and len(parts) == 1
                else "dotted"
                if len(parts) > 1
                else "identifier"
            )
        if kind == "path":
            return cls(text, "path", line, coded, None, None, text)
        owner = parts[-2] if len(parts) > 1 else None
        return cls(text, kind, line, coded, args, owner, parts[-1] if parts else text)


@dataclass(frozen=True)
class Resolution:
    text: str
    """As the plan writes it."""
    name: str
    owner: str | None
    kind: str
    lines: tuple[int, ...]
    """0-based plan lines it is used on."""
    verdict: Verdict
    args: int | None = None
    definitions: tuple[Definition, ...] = ()
    """Where it is defined (found, arity, ambiguous), or where the name lives on other
    classes (wrong_owner)."""
    suggestions: tuple[Definition, ...] = ()
    """wrong_name: the definitions it probably means, best first."""
    near_paths: tuple[str, ...] = ()
    """missing_path: the closest real files."""
    needs_text: tuple[str, ...] = ()
    """A claim (wrong_name, missing) holds only if ripgrep finds none of these words in the
    tree's code outside the plan (the name; for `pytest.warns`, the owner too: a module the
    code imports is not the tree's to define)."""
    owners: tuple[Definition, ...] = field(default=())
    """wrong_owner: the definitions of the class the plan names (to check its bases)."""
    coded: bool = True
    """Written in backticks at least once (a bare word of prose is weaker evidence)."""
    spans: tuple[tuple[int, int, int], ...] = ()
    """Where the plan writes it: (line, start, end) per use whose place is known, code points."""
    package: Package | None = None
    """The dependency the verdict is about (its API at the version installed), set by the
    dependency pass; its definitions cite `package==version:path:line`."""
    note: str = ""
    """What the dependency pass adds for the reader (the project has no environment; a
    missing name is no package of the project either)."""
    what: str = ""
    """What the name is, when not simply a code name (`Mention.what` of its uses)."""
    contexts: frozenset[str] = frozenset()
    """What the sentences it stands in say of it, one per use ('' where they say nothing)."""
    langs: frozenset[str] = frozenset()
    """The languages of the plan's code blocks it is read from ('' for prose)."""

    @property
    def mistake(self) -> bool:
        return self.verdict in MISTAKES

    def holds(self, words: dict[str, bool]) -> bool:
        """Does the claim stand, given the text check (`word -> found`)? A word not checked
        (or whose search failed) leaves no claim."""
        return all(words.get(w) is False for w in self.needs_text)

    @property
    def citation(self) -> str | None:
        """Where a reader should look: the suggestion, else the definition."""
        d = (self.suggestions or self.definitions or (None,))[0]
        return d.citation if d is not None else None


def _is_source(d: Definition) -> bool:
    return d.role is Role.source


def _fits(params: tuple[int, int | None], args: int, language: str = "") -> bool:
    """Does a call with `args` arguments fit? In JavaScript every parameter may be left out,
    so only too many arguments is a mistake there, and not for a function that declares
    none: an interface's stub (`close () { throw new Error('not implemented') }`), or one
    that reads `arguments`."""
    lo, hi = params
    if language == "javascript":
        lo = 0
        if hi == 0:
            return True
    return args >= lo and (hi is None or args <= hi)


def _is_type(index: Tables, name: str) -> list[Definition]:
    return [d for d in index.lookup(name) if d.kind in TYPE_KINDS]


_TAIL = re.compile(r"[A-Z][a-z0-9]+$")


def type_tails(index: Tables) -> dict[str, list[Definition]]:
    """The last word of each source or declared type's name, lower-case -> those types
    (`FastifyRequest` -> "request"): worked out once per snapshot (`Snapshot.type_tails`)."""
    tails: dict[str, list[Definition]] = {}
    for d in index.definitions():
        if d.kind in TYPE_KINDS and d.role in ("source", "stub") and (m := _TAIL.search(d.name)):
            tails.setdefault(m.group(0).lower(), []).append(d)
    return tails


def _typed_variable(index: Tables, owner: str) -> list[Definition]:
    """The types a variable is named after: `request` -> the tree's `Request` or
    `FastifyRequest` (a source or declared type whose last word it is), `websocket` ->
    `WebSocket`. A one-word lower-case name only; the exact name first."""
    if not re.fullmatch(r"[a-z][a-z0-9]{2,}", owner):
        return []
    exact = [d for d in index.folded(owner) if d.kind in TYPE_KINDS and d.role in ("source", "stub")]
    return exact or index.type_tails.get(owner, [])


class Resolver:
    """Resolution of many uses against one index snapshot (the known names and the file list
    are worked out once).

    `introduced`: what the plan says it adds (never missing, and never a wrong name either).
    `proposed`: names in sentences that add or create something, a weaker sign: they are not
    "missing" when nothing close exists, but a near existing name still makes them a wrong
    name (a misspelling in a sentence that happens to say "add" is still a misspelling).
    """

    def __init__(self, index: Tables, introduced: Iterable[str] = (),
                 languages: Sequence[str] | None = None,
                 proposed: Iterable[str] = ()) -> None:  # fmt: skip
        self.index = index
        self.introduced = frozenset(introduced)
        self._introduced_folded = frozenset(_fold(n) for n in self.introduced)
        self._proposed_folded = frozenset(_fold(n) for n in proposed)
        self._families = _families(self.introduced | frozenset(proposed))
        self.languages = list(languages) if languages is not None else index.languages()
        self.known = known_names(self.languages)
        self._near_left = NEAR_BUDGET

    @property
    def files(self) -> FileIndex:
        return self.index.file_index

    # --- entry points -----------------------------------------------------------------------

    def resolve_all(self, uses: Iterable[UseLike]) -> list[Resolution]:
        """One resolution per distinct text, carrying every line it is used on; the first
        call's argument count written is kept for the arity check. The owner of a dotted
        name written like a type (`HelpFormater.write_dl`) is resolved as a name too."""
        groups: dict[tuple[str, str], list[UseLike]] = {}
        for u in uses:
            if u.kind not in ("identifier", "call", "dotted", "path"):
                continue
            groups.setdefault(("path" if u.kind == "path" else "name", u.text), []).append(u)
            owner = u.owner
            if u.kind != "path" and owner and owner[:1].isupper() and owner not in _SELF:
                at = u.col + u.text.find(owner) if u.col >= 0 and owner in u.text else -1
                as_name = NameUse(owner, "identifier", u.line, u.coded, None, None, owner,
                                  at, at + len(owner) if at >= 0 else -1, "", u.context,
                                  u.lang)  # fmt: skip
                groups.setdefault(("owner", owner), []).append(as_name)
        out = []
        for (what, text), ms in groups.items():
            if what == "owner" and ("name", text) in groups:
                continue  # the plan also writes it on its own
            lines = tuple(sorted({m.line for m in ms}))
            calls = [m for m in ms if m.args is not None]
            use = calls[0] if calls else ms[0]
            r = self.resolve(use, lines)
            coded = any(m.coded for m in ms)
            spans = tuple(sorted({(m.line, m.col, m.end) for m in ms if m.col >= 0}))
            r = replace(
                r,
                spans=spans,
                what=use.what,
                contexts=frozenset(m.context for m in ms),
                langs=frozenset(m.lang for m in ms),
            )
            if r.verdict is Verdict.missing and not coded:
                r = replace(r, verdict=Verdict.skipped, needs_text=())  # a word of prose
            out.append(replace(r, coded=coded) if r.coded != coded else r)
        return out

    def resolve(self, use: UseLike, lines: tuple[int, ...] | None = None) -> Resolution:
        lines = lines or (use.line,)
        if use.kind == "path":
            return self._path(use, lines)
        return self._name(use, lines)

    # --- paths ------------------------------------------------------------------------------

    def _path(self, use: UseLike, lines: tuple[int, ...]) -> Resolution:
        path = use.text.strip().removeprefix("./").lstrip("/")
        base = Resolution(text=use.text, name=path, owner=None, kind="path", lines=lines,
                          verdict=Verdict.path_ok)  # fmt: skip
        if self.index.has_file(path) or self.files.exists(path):
            return base
        parent, _, file = path.rpartition("/")
        if self._is_introduced(path) or self._is_introduced(file):
            return replace(base, verdict=Verdict.introduced)
        if self._is_proposed(path) and (not parent or self.files.has_dir(parent)):
            return replace(base, verdict=Verdict.introduced)  # created in a known place
        same = [p for p in _module_twins(path) if self.index.has_file(p)]
        near = list(dict.fromkeys([*same, *self.files.closest(path)]))[:3]
        return replace(base, verdict=Verdict.missing_path, near_paths=tuple(near))

    # --- names ------------------------------------------------------------------------------

    def _is_module(self, name: str) -> bool:
        """A file or directory of the tree is called `name` (`_termui_impl`, `utils`)."""
        return name in self.files.stems

    def _is_introduced(self, text: str) -> bool:
        return (
            text in self.introduced
            or _fold(text) in self._introduced_folded
            or (self._families is not None and self._families.fullmatch(text) is not None)
        )

    def _is_proposed(self, text: str) -> bool:
        return _fold(text) in self._proposed_folded

    def _name(self, use: UseLike, lines: tuple[int, ...]) -> Resolution:
        name = use.name or use.text
        owner = use.owner if use.owner not in _SELF else None
        # every verdict below is this with its own verdict and evidence
        base = Resolution(text=use.text, name=name, owner=owner, kind=use.kind, lines=lines,
                          verdict=Verdict.skipped, args=use.args)  # fmt: skip

        if len(name) < 2 or not any(c.isalpha() for c in name) or (
            owner is None and name in _LANG_WORDS
        ):  # `_1`, `42`: no name
            return replace(base, verdict=Verdict.skipped)
        if self._is_introduced(use.text) or self._is_introduced(name) or (
            owner is not None and self._is_introduced(owner)
        ):  # fmt: skip
            return replace(base, verdict=Verdict.introduced)
        index = self.index
        defs = index.lookup(name)
        dunder = name.startswith("__") and name.endswith("__")
        if dunder and not defs:
            return replace(base, verdict=Verdict.skipped)  # made at run time (`__attrs_attrs__`)
        owner_types = _is_type(index, owner) if owner else []
        typed = (  # `request.routerPath`: a variable named after a type of the tree
            _typed_variable(index, owner)
            if owner and not owner_types and owner not in STANDARD_MODULES and not any(
                _is_source(d) and d.kind not in VALUE_KINDS for d in index.lookup(owner)
            )
            else []
        )  # fmt: skip
        if typed and (member := self._member_of(use, name, typed, defs, base)) is not None:
            return member
        if owner and not owner_types and owner in self.known and owner[:1].islower():
            # `http.Agent`, `std::backtrace`: a standard module, though the tree may name a
            # variable after it (`const http = require('http')`)
            if not any(d.owner == owner or d.kind == "module" for d in defs):
                return replace(base, verdict=Verdict.known)
        if owner and owner_types:
            own = list(index.qualified(f"{owner}.{name}")) or [
                d for d in index.members(owner) if d.name == name
            ]
            elsewhere = [d for d in defs if d.owner and d.owner != owner and _is_source(d)]
            if any(map(_is_source, own)) or (own and not any(map(_is_source, elsewhere))):
                return self._found(use, own, base)  # a stub or test alone does not count
            if elsewhere and not dunder:
                return replace(
                    base,
                    verdict=Verdict.wrong_owner,
                    definitions=tuple(source_first(elsewhere)[:SUGGESTIONS]),
                    owners=tuple(source_first(owner_types)),
                )
            if defs:
                return self._found(use, defs, base)
            if name in self.known:
                # maybe inherited from the standard library
                return replace(base, verdict=Verdict.known)
            members = [d for d in index.members(owner) if _close(name, d.name) and _alike(name, d.name)]
            if members:
                return replace(base, verdict=Verdict.wrong_name, suggestions=tuple(_rank(name, members)),
                               needs_text=(name,))  # fmt: skip
            return self._absent(name, base, (name,))
        if defs:
            return self._found(use, defs, base)
        if name in self.known:
            return replace(base, verdict=Verdict.known)
        if owner is not None and not index.lookup(owner):
            if owner in self.known:
                return replace(base, verdict=Verdict.known)  # `asyncio.Semaphore`, `os.environ`
            if owner[:1].islower() and not self._is_module(owner):
                # `websocket._closeTimeout`: an attribute of a variable, which code may create
                # by assigning it; no claim
                return replace(base, verdict=Verdict.skipped)
            # `pytest.warns`: the owner is not the tree's either; if the code uses it (imports
            # it), the member is someone else's to define
            return self._absent(name, base, (name, owner))
        return self._absent(name, base, (name,))

    def _member_of(
        self, use: UseLike, name: str, types: list[Definition], defs: list[Definition],
        base: Resolution,
    ) -> Resolution | None:  # fmt: skip
        """`request.x`, the variable read as an instance of `types`: found when one of them
        has `x`, on the wrong class when only other classes have it, else a near member or
        missing. None (resolve it as any dotted name): `x` is defined outside any class
        (`semver.diff`: the module's function, not the class's) or is a standard name.
        Inherited members are the writer's (`_owner_may_have` reads the class's bases)."""
        index = self.index
        own = [d for t in types for d in index.members(t.name) if d.name == name]
        if own:
            return self._found(use, own, base)
        if any(not d.owner for d in defs) or name in self.known:
            return None
        elsewhere = [d for d in defs if d.owner]
        if elsewhere and not any(_is_source(d) for d in elsewhere):
            return None  # only declared elsewhere: too weak to say it is on the wrong class
        if elsewhere:
            return replace(base, verdict=Verdict.wrong_owner,
                           definitions=tuple(source_first(elsewhere)[:SUGGESTIONS]),
                           owners=tuple(source_first(types)))  # fmt: skip
        members = [d for t in types for d in index.members(t.name)
                   if _close(name, d.name) and _alike(name, d.name)]  # fmt: skip
        if members:
            return replace(base, verdict=Verdict.wrong_name, suggestions=tuple(_rank(name, members)),
                           needs_text=(name,))  # fmt: skip
        if self._near_left <= 0:
            return replace(base, verdict=Verdict.skipped)
        self._near_left -= 1
        return replace(base, verdict=Verdict.missing, needs_text=(name,),
                       owners=tuple(source_first(types)))  # fmt: skip

    def _absent(self, name: str, base: Resolution, words: tuple[str, ...]) -> Resolution:
        """Not defined anywhere: a wrong name if something close is, else missing. Only the
        first NEAR_BUDGET such names (uses come nearest the cursor first) are compared with
        every name of the index; later ones make no claim."""
        if self._near_left <= 0:
            return replace(base, verdict=Verdict.skipped)
        self._near_left -= 1
        index = self.index
        close = [d for d in index.folded(name) if d.name != name]
        close += [
            d
            for d, _ in index.near(name, limit=SUGGESTIONS + 2, cutoff=NEAR_CUTOFF)
            if _alike(name, d.name)
        ]
        # `PoolOptions` for the declared `Pool.Options`: the same type, written as one word
        same = [d for d in close if d.owner and _fold(d.owner + d.name) == _fold(name)]
        if same:
            return replace(base, verdict=Verdict.found, definitions=tuple(source_first(same)))
        if close:
            return replace(base, verdict=Verdict.wrong_name, suggestions=tuple(_rank(name, close)),
                           needs_text=words)  # fmt: skip
        if self._is_proposed(name):
            # nothing like it exists, and the plan adds things
            return replace(base, verdict=Verdict.introduced)
        return replace(
            base, verdict=Verdict.missing, needs_text=words, suggestions=self._related(name)
        )

    def _related(self, name: str) -> tuple[Definition, ...]:
        """For a missing `RateLimiter`: the tree's `Limiter`, the longest trailing part of the
        name that a source type or function is called (what the plan may mean, or build on)."""
        parts = _WORDS.findall(name)
        for k in range(1, len(parts)):
            tail = parts[k:]
            for cand in ("".join(tail), "_".join(tail)):
                if len(cand) < MIN_RELATED:
                    continue
                defs = [
                    d
                    for d in self.index.lookup(cand)
                    if _is_source(d) and (d.kind in TYPE_KINDS or d.kind in ("function", "trait"))
                ]
                if defs:
                    return tuple(defs[:1])
        return ()

    def _found(self, use: UseLike, defs: list[Definition], base: Resolution) -> Resolution:
        if use.name in STANDARD_MODULES and all(d.kind in VALUE_KINDS for d in defs):
            # `const fs = require('fs')` in four files: the standard module, aliased
            return replace(base, verdict=Verdict.known)
        main = sorted(source_first(defs), key=lambda d: d.kind in VALUE_KINDS)  # aliases last
        if use.args is not None:
            callables = [d for d in main if d.kind in CALLABLE_KINDS and d.params is not None]
            if callables and len(callables) == len([d for d in main if d.kind in CALLABLE_KINDS]):
                args = use.args
                if not any(
                    d.params is not None and _fits(d.params, args, d.language) for d in callables
                ):
                    return replace(
                        base, verdict=Verdict.arity, definitions=tuple(callables[:SUGGESTIONS])
                    )
        src = [d for d in main if _is_source(d)]
        if use.owner is None:  # a bare name: its top-level definitions only
            src = [d for d in src if d.owner is None]
        by_qual: dict[str, list[Definition]] = {}
        for d in src:
            by_qual.setdefault(d.qualname, []).append(d)
        for group in by_qual.values():
            # `attrs.asdict`, `_termui_impl.getchar`: the module named says where to look
            group = _in_module(group, use.owner) or group
            if rivals := _competing(group):
                return replace(
                    base, verdict=Verdict.ambiguous, definitions=tuple(rivals[:MAX_AMBIGUOUS_FILES])
                )
        return replace(base, verdict=Verdict.found, definitions=tuple(main[:SUGGESTIONS]))


def _in_module(defs: list[Definition], module: str | None) -> list[Definition]:
    """The definitions that live in a module (a directory or a file) named `module`."""
    if not module or module[:1].isupper():
        return []
    out = []
    for d in defs:
        parts = d.path.split("/")
        if module in parts[:-1] or parts[-1].rsplit(".", 1)[0] == module:
            out.append(d)
    return out


_PACKAGE_FILES = {"mod.rs": ".rs", "__init__.py": ".py", "index.js": ".js", "index.ts": ".ts"}


def _module_twins(path: str) -> list[str]:
    """The other spelling of one module: `a/b/mod.rs` ↔ `a/b.rs`, `a/b/__init__.py` ↔
    `a/b.py`, `a/b/index.ts` ↔ `a/b.ts`."""
    head, _, base = path.rpartition("/")
    if base in _PACKAGE_FILES and head:
        return [head + _PACKAGE_FILES[base]]
    stem, dot, ext = base.rpartition(".")
    return [
        f"{head + '/' if head else ''}{stem}/{pkg}"
        for pkg, e in _PACKAGE_FILES.items()
        if dot and e == "." + ext
    ]


def _families(names: frozenset[str]) -> re.Pattern[str] | None:
    """Families of names the plan adds: a glob (`put_*_ne`), or a fragment (`_ne`) that an
    introduced name ends or starts with (`get_u16_ne`): `get_f64_ne` belongs to it. One
    pattern for all of them (None: no family), asked once per name."""
    out: list[str] = []
    for n in names:
        if "*" in n and re.fullmatch(r"[\w*]+", n) and n.strip("*"):
            out.append(".+".join(re.escape(p) for p in n.split("*")))
        elif len(n) >= 2 and re.fullmatch(r"_\w+|\w+_", n) and not n.startswith("__"):
            others = [m for m in names if m != n and len(m) > len(n)]
            if n.startswith("_") and any(m.endswith(n) for m in others):
                out.append(r"\w+" + re.escape(n))
            elif n.endswith("_") and any(m.startswith(n) for m in others):
                out.append(re.escape(n) + r"\w+")
    return re.compile("|".join(f"(?:{p})" for p in sorted(out))) if out else None


# languages where one name defined twice in a file is an overload or a declaration beside
# its definition, not a choice
_OVERLOADING = frozenset({"java", "typescript", "c", "cpp"})


def _competing(defs: list[Definition]) -> list[Definition]:
    """The source definitions of one qualified name that a reader must choose between (none
    when there is no choice): in different files, or twice in one file in a language without
    overloading (a platform branch: `if sys.platform == ...: def getchar()`)."""
    real = [d for d in defs if d.kind not in VALUE_KINDS]
    if real:  # `const WebSocket = require('./lib/websocket')`: an alias, not a rival
        defs = real
    paths = {d.path for d in defs}
    if len(paths) > MAX_AMBIGUOUS_FILES:
        return []  # a convention (`main`, `New`), not a choice
    if len(paths) >= 2:
        first: dict[str, Definition] = {}
        for d in defs:
            first.setdefault(d.path, d)
        return list(first.values())
    if len(defs) >= 2 and defs[0].language not in _OVERLOADING and defs[0].kind != "field":
        return defs
    return []


MIN_NEAR = 4  # characters of the shortest name a near (not folded) name is suggested for


def _alike(a: str, b: str) -> bool:
    """Could `a` be a slip for `b`: the same name but for case and separators, or, for a name
    of MIN_NEAR+ characters, one that starts the same (a slip rarely changes the first
    letter: `Either` is no `iter`, `_1` no `_T1`)."""
    fa, fb = _fold(a), _fold(b)
    if fa == fb:
        return True
    if len(fa) < MIN_NEAR or fa[:1] != fb[:1]:
        return False
    # a slip changes a letter or two, not a word (`browserify` is no `browser`)
    return abs(len(fa) - len(fb)) <= max(2, len(fa) // 8) and fuzz.ratio(fa, fb) >= NEAR_CUTOFF


def _close(a: str, b: str) -> bool:
    return a != b and (_fold(a) == _fold(b) or fuzz.ratio(_fold(a), _fold(b)) >= NEAR_CUTOFF)


def _rank(name: str, defs: Iterable[Definition]) -> list[Definition]:
    """Distinct suggested names, the closest first; for each, its best definition (source
    before tests/docs/stubs); names only defined outside source come last."""
    best: dict[str, Definition] = {}
    for d in defs:
        key = d.qualname if d.owner else d.name
        cur = best.get(key)
        if cur is None or (_is_source(d) and not _is_source(cur)):
            best[key] = d
    target = _fold(name)

    def score(d: Definition) -> tuple[int, float, str]:
        same = _fold(d.name) == target
        return (
            0 if _is_source(d) else 1,
            -(200.0 if same else fuzz.ratio(target, _fold(d.name))),
            d.qualname,
        )

    ranked = sorted(best.values(), key=score)
    if ranked and _is_source(ranked[0]):
        ranked = [d for d in ranked if _is_source(d)]  # tests, docs, stubs only if nothing else
    if ranked:  # far weaker matches than the best are not worth a reader's time
        top = -score(ranked[0])[1]
        ranked = [d for d in ranked if -score(d)[1] >= min(top, 100.0) - SUGGEST_SPREAD]
    return ranked[:SUGGESTIONS]


def resolve(index: Tables, uses: Iterable[UseLike], introduced: Iterable[str] = (),
            languages: Sequence[str] | None = None,
            proposed: Iterable[str] = ()) -> list[Resolution]:  # fmt: skip
    """Every distinct name and path of `uses`, resolved against `index`."""
    return Resolver(index, introduced, languages, proposed).resolve_all(uses)
