"""Name resolution: each name and path the plan uses, checked against a `Snapshot`.

A pure function of the index and the plan's facts (no I/O, no clock), so it runs anywhere
(the request runs it in a worker thread) and a test can feed it definitions it builds.

For a name, in order:

* introduced by the plan ("new `X`", defined in its own code block): fine, never missing;
* defined in the tree: on the class the plan says (`Client.send`), or on another class only
  (wrong owner: name the class that has it); a call whose argument count no definition
  accepts (arity); the same qualified name defined in several source files (ambiguous);
* a builtin or standard-library name of the tree's language(s): known (`known_names`, the
  last part of this module: what every program of a language may use without defining it);
* not defined, but a definition differs only in case/separators (`HttpTransport`) or by a
  small edit (`HiArg` → `HiArgs`): a wrong name, with the definitions to suggest;
* otherwise missing.

"Wrong name" and "missing" are only claims until ripgrep confirms the plan's spelling is not
a word anywhere in the tree (`Resolution.needs_text`): a name the index does not parse (a
config key, a language it does not know) is not missing, and a failed search proves nothing.
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from typing import Protocol

from rapidfuzz import fuzz, process

from .languages import Definition, Role, source_first
from .languages import fold as _fold
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


# --- names every program may use without defining them ------------------------------------
# Builtins, the standard library's modules, and its common types, functions and methods: a
# plan naming one of them is not naming something missing from the tree. Python's set is read
# from the running interpreter (`sys.stdlib_module_names`, `builtins`, and the public names of
# common standard modules and their classes, harvested once, lazily); the other languages'
# are curated lists of what plans commonly name.

_PY_HARVEST = """abc argparse array asyncio base64 bisect collections collections.abc concurrent.futures
configparser contextlib contextvars copy csv dataclasses datetime decimal enum errno fnmatch
fractions functools gc glob gzip hashlib heapq hmac http http.client http.server importlib
inspect io ipaddress itertools json logging logging.handlers math mimetypes multiprocessing
operator os os.path pathlib pickle platform pprint queue random re secrets selectors shlex shutil
signal socket sqlite3 ssl statistics string struct subprocess sys tarfile tempfile textwrap
threading time timeit traceback types typing unittest unittest.mock urllib.parse urllib.request
uuid warnings weakref zipfile zlib""".split()

_RUST = """std core alloc Vec String str Option Some None Result Ok Err Box Rc Arc Weak RefCell Cell
Mutex MutexGuard RwLock Condvar Once OnceCell OnceLock LazyLock Barrier HashMap HashSet BTreeMap
BTreeSet VecDeque BinaryHeap LinkedList AtomicBool AtomicU8 AtomicU16 AtomicU32 AtomicU64
AtomicUsize AtomicI8 AtomicI16 AtomicI32 AtomicI64 AtomicIsize AtomicPtr Ordering Duration
Instant SystemTime UNIX_EPOCH Path PathBuf OsStr OsString File OpenOptions Metadata DirEntry
BufReader BufWriter Read Write BufRead Seek Cursor Stdin Stdout Stderr stdin stdout stderr
Iterator IntoIterator DoubleEndedIterator ExactSizeIterator Extend FromIterator From Into TryFrom
TryInto AsRef AsMut Borrow BorrowMut ToOwned ToString Display Debug Formatter Clone Copy Default
PartialEq Eq PartialOrd Ord Hash Hasher Send Sync Sized Unpin Drop Fn FnMut FnOnce Deref
DerefMut Index IndexMut Add Sub Mul Div Neg Not Range RangeInclusive Cow PhantomData NonNull
NonZeroU32 NonZeroU64 NonZeroUsize Pin Future Poll Context Waker Error ErrorKind Chars Bytes
Lines Split Peekable Rev Zip Map Filter Thread JoinHandle Builder Sender Receiver SyncSender
TryRecvError RecvError SendError channel sync_channel spawn sleep thread mpsc sync atomic fs io
net env process fmt mem ptr cmp iter ops collections time path ffi hash num slice char vec
println print eprintln eprint format write writeln panic assert assert_eq assert_ne debug_assert
unreachable unimplemented todo matches dbg include_str concat stringify cfg derive new
with_capacity unwrap unwrap_or unwrap_or_else unwrap_or_default expect ok err map map_err
and_then or_else is_some is_none is_ok is_err as_ref as_mut take replace clone to_string
to_owned into iter iter_mut into_iter collect len is_empty push pop insert remove get get_mut
contains contains_key entry or_insert or_insert_with extend drain retain sort sort_by
sort_unstable dedup join split trim lines chars bytes as_str as_bytes parse lock read write
load store fetch_add fetch_sub compare_exchange swap as_secs as_millis elapsed now from_secs
from_millis open create read_to_string read_line flush send recv try_recv u8 u16 u32 u64 u128
usize i8 i16 i32 i64 i128 isize f32 f64 bool Self self crate super anyhow thiserror serde tokio
Serialize Deserialize FusedIterator Sum Product Step TrustedLen Any TypeId Termination
UnwindSafe RefUnwindSafe Unsize CoerceUnsized Error Backtrace BacktraceStatus Location
PanicInfo Infallible Wrapping Saturating Reverse Entry Keys Values Iter IterMut IntoIter Drain
Chain Cycle Enumerate Flatten FlatMap Fuse Inspect Skip SkipWhile StepBy Take TakeWhile Windows
Chunks ChunksExact from_be_bytes from_le_bytes from_ne_bytes to_be_bytes to_le_bytes
to_ne_bytes from_be from_le to_be to_le swap_bytes checked_add checked_sub checked_mul
checked_div wrapping_add wrapping_sub wrapping_mul saturating_add saturating_sub
saturating_mul overflowing_add pow abs min max clamp count_ones leading_zeros trailing_zeros
is_power_of_two next_power_of_two from_str_radix MAX MIN BITS copy_from_slice clone_from_slice
split_at split_at_mut split_off truncate resize reserve capacity shrink_to_fit as_ptr
as_mut_ptr as_slice as_mut_slice to_vec into_boxed_slice into_inner get_ref get_mut
downcast downcast_ref downcast_mut is source description cause provide next next_back
size_hint rev zip chain enumerate filter_map fold for_each any all find position skip
take step_by peekable flatten flat_map cloned copied sum product count last nth min_by_key
max_by_key partition unzip windows chunks first last_mut iter_mut binary_search starts_with
ends_with strip_prefix strip_suffix find rfind trim_start trim_end to_lowercase
to_uppercase from_utf8 from_utf8_lossy into_bytes into_string borrow borrow_mut upgrade
downgrade strong_count weak_count ptr_eq try_unwrap make_mut get_or_insert_with map_or
map_or_else ok_or ok_or_else filter flatten zip unwrap_unchecked expect_err unwrap_err
transpose copied inspect into_raw from_raw leak default partial_cmp cmp eq ne lt le gt ge
hash fmt drop deref deref_mut index index_mut poll wake wake_by_ref from try_from into
try_into as_any type_name size_of align_of transmute forget replace take swap null null_mut
Layout alloc dealloc realloc Global System GlobalAlloc Allocator""".split()

_GO = """append cap clear close complex copy delete imag len make max min new panic print println
real recover bool byte rune string error any comparable int int8 int16 int32 int64 uint uint8
uint16 uint32 uint64 uintptr float32 float64 complex64 complex128 nil true false iota
fmt context sync atomic time net http url io ioutil os errors strings bytes strconv sort slices
maps bufio json encoding filepath path regexp log slog flag exec signal runtime math rand reflect
testing httptest unicode utf8 crypto sha256 hex base64 tls template embed heap list
Context Background TODO WithCancel WithTimeout WithDeadline WithValue CancelFunc Done Err Value
Mutex RWMutex WaitGroup Once Pool Map Cond Lock Unlock RLock RUnlock Add Wait Do Load Store
Int32 Int64 Uint32 Uint64 Bool AddInt64 LoadInt64 StoreInt64 CompareAndSwapInt64
Duration Time Now Since Until Sleep After Tick Ticker Timer NewTimer NewTicker AfterFunc Second
Millisecond Microsecond Nanosecond Minute Hour Unix Parse Format RFC3339
Client Server Request Response ResponseWriter Handler HandlerFunc ServeMux NewServeMux Get Post
Head NewRequest NewRequestWithContext ListenAndServe Handle HandleFunc Header StatusOK
Reader Writer ReadWriter Closer ReadCloser WriteCloser Copy ReadAll EOF Discard NopCloser
Read Write Close Open Create ReadFile WriteFile Remove RemoveAll Mkdir MkdirAll Getenv Setenv
Exit Args Stdin Stdout Stderr File FileInfo FileMode DirEntry ReadDir Stat Lstat IsNotExist
New Is As Unwrap Join Errorf Sprintf Printf Println Print Sprint Sprintln Fprintf Fprintln
Fprint Sscanf Stringer String Error
Contains HasPrefix HasSuffix Split SplitN Fields TrimSpace Trim TrimPrefix TrimSuffix Replace
ReplaceAll ToLower ToUpper Index Repeat EqualFold Builder NewReader NewWriter NewScanner Scanner
Itoa Atoi ParseInt ParseFloat ParseBool FormatInt Quote Slice Sort Strings Ints Search
Marshal Unmarshal MarshalIndent NewEncoder NewDecoder Encode Decode Encoder Decoder RawMessage
MustCompile Compile MatchString FindString FindAllString Regexp Logger Fatal Fatalf Panicf
Printf Command CommandContext Run Output Start Notify Interrupt SIGTERM SIGINT GOOS GOARCH
Intn Float64 Shuffle Seed DeepEqual TypeOf ValueOf Kind T B M Errorf Fatalf Helper Cleanup Run
Parallel Skip Log Logf Equal Compare Fields FieldsFunc Title ToTitle Map Count LastIndex
IndexByte IndexRune ContainsAny ContainsRune TrimLeft TrimRight TrimFunc Cut CutPrefix
CutSuffix NewReplacer Replacer Buffer NewBuffer NewBufferString WriteString WriteByte
WriteRune Len Cap Reset Grow Bytes Truncate Next Peek ReadString ReadLine ReadBytes Scan Text
Err Split ScanLines ScanWords Flush Writer Reader LimitReader MultiReader MultiWriter TeeReader
Pipe SectionReader ReadFull WriteString Seeker ReaderAt WriterAt ByteReader RuneReader
Stringer GoStringer Formatter State Sscan Sscanln Fscan Append Appendf Sprint Errorf
Marshaler Unmarshaler Valid Indent Compact Number Delim Token HTMLEscape
URL Values ParseQuery QueryEscape QueryUnescape PathEscape PathUnescape Query RawQuery
Cookie SetCookie Redirect NotFound Error StatusText StatusNotFound StatusBadRequest
StatusInternalServerError StatusMethodNotAllowed MethodGet MethodPost MethodPut MethodDelete
Transport RoundTripper DefaultClient DefaultServeMux FileServer Dir StripPrefix TimeoutHandler
MaxBytesReader ServeHTTP Context WithContext Clone Hijacker Flusher Pusher CloseNotifier
Listener Conn Dial DialTimeout Listen Addr TCPAddr ParseIP IP SplitHostPort JoinHostPort
Abs Base Clean Dir Ext Glob IsAbs Join Match Rel SplitList Walk WalkDir WalkFunc Separator
Getwd Chdir Hostname Getpid Environ LookupEnv ExpandEnv Executable TempDir UserHomeDir
CreateTemp MkdirTemp Chmod Chown Rename Symlink Readlink Truncate ErrNotExist ErrExist
Signal Kill Process StartProcess FindProcess Pid Sort Stable Slice SliceStable Sort Less Swap
Interface Reverse IsSorted SearchInts Contains Index Insert Delete Compact Equal Max Min
Clip Grow BinarySearch SortFunc IndexFunc ContainsFunc Keys Values Clone Copy DeleteFunc
Pointer Value Type Kind Elem Field Method NumField NumMethod Interface IsNil IsValid IsZero
Set SetInt SetString Call Indirect New MakeSlice MakeMap Zero Uint Int Float Complex
Printf Print Println Panic Panicln Fatalln SetFlags SetOutput SetPrefix Default
NewTextHandler NewJSONHandler Info Warn Debug Attr Group Level LevelInfo LevelDebug
Once OnceFunc OnceValue Locker NewCond Signal Broadcast Swap CompareAndSwap Value
Int32 Int64 Uint32 Uint64 Uintptr AddInt32 AddUint64 LoadPointer StorePointer
Unix UnixNano UnixMilli Date Local UTC LoadLocation Truncate Round Sub Add AddDate Before
After Equal IsZero Year Month Day Weekday Hours Minutes Seconds Milliseconds Stop Reset C
ParseDuration Since ErrUnexpectedEOF ErrShortWrite ErrClosedPipe Usage CommandLine FlagSet
String StringVar Int IntVar Bool BoolVar Duration DurationVar Parse Parsed Arg NArg NFlag
Lookup VisitAll Visit Value Getter Func TextVar""".split()

_JS = """Document Element HTMLElement HTMLInputElement Window Node NodeList XMLHttpRequest
AbortError DOMParser MutationObserver IntersectionObserver ResizeObserver CSSStyleDeclaration
Storage localStorage sessionStorage location history Location History KeyboardEvent
MouseEvent FocusEvent InputEvent PointerEvent Navigator Screen Image Audio Notification
ServiceWorker IndexedDB IDBDatabase Crypto SubtleCrypto Performance console cookie
Array ArrayBuffer AbortController AbortSignal AggregateError Atomics BigInt BigInt64Array
Blob Boolean Buffer DataView Date Error EvalError Event EventTarget EventEmitter FinalizationRegistry
Float32Array Float64Array FormData Function Headers Infinity Int8Array Int16Array Int32Array Intl
JSON Map Math NaN Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Request
Response Set SharedArrayBuffer String Symbol SyntaxError TextDecoder TextEncoder TypeError
URIError URL URLSearchParams Uint8Array Uint8ClampedArray Uint16Array Uint32Array WeakMap
WeakRef WeakSet WebAssembly Worker ReadableStream WritableStream TransformStream
console process require module exports globalThis window document navigator fetch
setTimeout clearTimeout setInterval clearInterval setImmediate clearImmediate queueMicrotask
structuredClone encodeURIComponent decodeURIComponent encodeURI decodeURI parseInt parseFloat
isNaN isFinite undefined null this super arguments async await
Partial Required Readonly Record Pick Omit Exclude Extract NonNullable ReturnType Parameters
InstanceType Awaited PromiseLike Iterable Iterator AsyncIterable AsyncIterator Generator
ReadonlyArray unknown never any void string number boolean object symbol bigint keyof typeof
then catch finally resolve reject all allSettled race withResolvers push pop shift unshift
slice splice concat join reverse sort indexOf lastIndexOf includes find findIndex findLast
filter map reduce reduceRight forEach some every flat flatMap fill keys values entries from of
isArray length get set has delete clear size add toString toJSON valueOf hasOwnProperty
assign create freeze defineProperty getPrototypeOf setPrototypeOf fromEntries parse stringify
log warn error info debug trace emit on off once addListener removeListener removeAllListeners
listeners listenerCount addEventListener removeEventListener dispatchEvent abort signal
bind call apply constructor prototype now floor ceil round min max abs random trim split
replace replaceAll startsWith endsWith padStart padEnd toLowerCase toUpperCase charAt
charCodeAt substring match matchAll test exec json text arrayBuffer nextTick env argv exit
cwd readFile writeFile readFileSync writeFileSync existsSync path fs http https os util events
stream crypto child_process spawn exec Iterator Generator AsyncGenerator Intl DOMException
ErrorEvent CloseEvent MessageEvent CustomEvent EventInit Headers Blob File FileReader
WebSocket Worker MessageChannel MessagePort BroadcastChannel performance queueMicrotask
atob btoa structuredClone Buffer alloc allocUnsafe byteLength isBuffer copy equals
readUInt8 readUInt16BE readUInt32LE writeUInt8 subarray toString slice compare concat
Duplex Readable Writable Transform PassThrough pipeline finished write end destroy pipe
unpipe pause resume read setEncoding cork uncork destroyed writable readable writableEnded
createServer listen close address connect request get setHeader getHeader removeHeader
writeHead statusCode statusMessage headers url method socket setTimeout setNoDelay
setKeepAlive remoteAddress remotePort localAddress bytesWritten bytesRead once prependListener
createHash createHmac randomBytes randomUUID timingSafeEqual update digest inherits
promisify deprecate inspect format isDeepStrictEqual types TextDecoder describe it test
expect beforeEach afterEach beforeAll afterAll jest mock spyOn assert strictEqual deepEqual
deepStrictEqual throws rejects ok equal notEqual fail useFakeTimers advanceTimersByTime
charCodeAt codePointAt fromCharCode localeCompare normalize repeat at trimStart trimEnd
keys getOwnPropertyNames defineProperties entries isFrozen seal is toFixed toPrecision
isInteger isSafeInteger MAX_SAFE_INTEGER EPSILON POSITIVE_INFINITY NEGATIVE_INFINITY
getTime toISOString getFullYear UTC parse now iterator asyncIterator hasInstance
toStringTag description for keyFor next return throw done value""".split()

_JAVA = """Object String StringBuilder Integer Long Double Float Short Byte Character Boolean Number
Math System Thread Runnable Callable Exception RuntimeException Error Throwable
IllegalArgumentException IllegalStateException NullPointerException IndexOutOfBoundsException
UnsupportedOperationException InterruptedException IOException UncheckedIOException
TimeoutException ExecutionException CancellationException Iterable Iterator Comparable
Comparator AutoCloseable Closeable Override Deprecated FunctionalInterface SuppressWarnings
List ArrayList LinkedList Map HashMap LinkedHashMap TreeMap ConcurrentHashMap ConcurrentMap Set
HashSet LinkedHashSet TreeSet Queue Deque ArrayDeque PriorityQueue BlockingQueue
LinkedBlockingQueue ArrayBlockingQueue Collection Collections Arrays Objects Optional
OptionalInt Stream IntStream Collectors Random UUID Locale Scanner Properties
CompletableFuture CompletionStage Future ExecutorService Executors ScheduledExecutorService
Executor ThreadPoolExecutor ForkJoinPool TimeUnit CountDownLatch Semaphore CyclicBarrier
AtomicInteger AtomicLong AtomicBoolean AtomicReference ReentrantLock ReadWriteLock
ReentrantReadWriteLock Lock Condition Duration Instant LocalDate LocalDateTime ZonedDateTime
Clock ChronoUnit Function BiFunction Supplier Consumer BiConsumer Predicate BiPredicate
UnaryOperator BinaryOperator Path Paths Files File InputStream OutputStream Reader Writer
BufferedReader BufferedWriter Charset StandardCharsets Pattern Matcher var void int long double
float short byte char boolean null this super new equals hashCode toString compareTo getClass
get put set add remove contains containsKey size isEmpty clear of ofNullable orElse orElseGet
orElseThrow ifPresent isPresent map flatMap filter collect stream forEach toList toMap
toSet joining groupingBy sleep currentThread interrupt start run join call submit execute
shutdown awaitTermination supplyAsync thenApply thenCompose thenAccept exceptionally
complete completedFuture incrementAndGet getAndIncrement compareAndSet acquire release
tryAcquire lock unlock tryLock ofMillis ofSeconds toMillis now currentTimeMillis nanoTime
println printf format valueOf parseInt length charAt substring split trim append close
Logger LoggerFactory Iterator ListIterator Enumeration Spliterator Stream Builder
Collector BiConsumer ToIntFunction IntFunction LongSupplier BooleanSupplier Runnable
Annotation Retention Target Documented Inherited ElementType RetentionPolicy Class Enum
Record Void Cloneable Serializable CharSequence Appendable Readable StringJoiner
StringBuffer Process ProcessBuilder Runtime ThreadLocal InheritableThreadLocal ClassLoader
StackTraceElement SecurityException ClassCastException ArithmeticException
NumberFormatException ConcurrentModificationException NoSuchElementException
ArrayIndexOutOfBoundsException CloneNotSupportedException ReflectiveOperationException
ClassNotFoundException DateTimeException Flow Publisher Subscriber Subscription
DelayQueue SynchronousQueue LinkedTransferQueue ConcurrentLinkedQueue
ConcurrentLinkedDeque CopyOnWriteArrayList CopyOnWriteArraySet ConcurrentSkipListMap
StampedLock LongAdder DoubleAdder Phaser Exchanger ThreadFactory RejectedExecutionHandler
ScheduledFuture RunnableFuture FutureTask ForkJoinTask RecursiveTask RecursiveAction
EnumMap EnumSet BitSet WeakHashMap IdentityHashMap Hashtable Vector Stack SortedMap
NavigableMap SortedSet NavigableSet AbstractMap AbstractList AbstractSet
LocalTime OffsetDateTime ZoneId ZoneOffset Period DateTimeFormatter TemporalUnit Year
YearMonth DayOfWeek Month schedule scheduleAtFixedRate scheduleWithFixedDelay invokeAll
invokeAny isDone isCancelled cancel getNow join thenRun thenCombine whenComplete handle
allOf anyOf orTimeout completeOnTimeout addAndGet getAndAdd decrementAndGet getAndSet
updateAndGet accumulateAndGet lazySet availablePermits countDown await signal signalAll
newFixedThreadPool newCachedThreadPool newSingleThreadExecutor newScheduledThreadPool
newVirtualThreadPerTaskExecutor toArray addAll removeAll retainAll containsAll iterator
hasNext next putIfAbsent computeIfAbsent computeIfPresent compute merge getOrDefault
entrySet keySet values replaceAll removeIf sort subList indexOf lastIndexOf asList
unmodifiableList emptyList singletonList copyOf requireNonNull isNull nonNull hash
ofEpochMilli plusMillis plusSeconds minus isBefore isAfter between toNanos toSeconds
getMessage getCause printStackTrace addSuppressed getSuppressed getStackTrace getName
getSimpleName isInstance cast getAnnotation ordinal name values valueOf""".split()

_C = """std vector string map unordered_map set unordered_set list deque array pair tuple optional
variant any shared_ptr unique_ptr weak_ptr make_shared make_unique move forward swap mutex
lock_guard unique_lock scoped_lock condition_variable thread atomic future promise async
chrono duration steady_clock system_clock milliseconds seconds function bind string_view
span cout cerr endl ostream istream stringstream ifstream ofstream size_t ssize_t uint8_t
uint16_t uint32_t uint64_t int8_t int16_t int32_t int64_t uintptr_t intptr_t ptrdiff_t bool
nullptr NULL FILE malloc calloc realloc free memcpy memmove memset memcmp strlen strcmp
strncmp strcpy strncpy strdup strchr strrchr strstr printf fprintf sprintf snprintf vsnprintf
puts fputs fopen fclose fread fwrite fgets fflush fseek ftell perror errno exit abort atexit
assert qsort bsearch atoi atol strtol strtoul strtod getenv time clock sleep usleep open
close read write pthread_create pthread_join pthread_mutex_t pthread_mutex_lock
pthread_mutex_unlock push_back emplace_back pop_back begin end size empty clear insert erase
find count reserve resize data front back at lock unlock load store fetch_add exchange
compare_exchange_strong get reset release sort min max""".split()

CURATED: dict[str, frozenset[str]] = {
    "rust": frozenset(_RUST),
    "go": frozenset(_GO),
    "javascript": frozenset(_JS),
    "typescript": frozenset(_JS),
    "java": frozenset(_JAVA),
    "c": frozenset(_C),
    "cpp": frozenset(_C),
}
LANGUAGES = ("python", *CURATED)


@cache
def python_names() -> frozenset[str]:
    """Builtins, keywords, standard module names (and their dotted parts), and the public
    names of common standard modules and of the classes they define."""
    names: set[str] = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
    for mod in sys.stdlib_module_names:
        names.update(mod.split("."))
    for t in (str, bytes, list, dict, set, frozenset, tuple, int, float, object, BaseException):
        names.update(n for n in dir(t) if not n.startswith("_"))
    for modname in _PY_HARVEST:
        names.update(modname.split("."))
        try:
            module = importlib.import_module(modname)
        except Exception:
            continue
        for n in getattr(module, "__all__", None) or dir(module):
            if n.startswith("_"):
                continue
            names.add(n)
            obj = getattr(module, n, None)
            if isinstance(obj, type):
                names.update(m for m in vars(obj) if not m.startswith("_"))
    names.update(("self", "cls", "__init__", "__call__", "__enter__", "__exit__", "__aenter__",
                  "__aexit__", "__iter__", "__next__", "__len__", "__getitem__", "__repr__"))  # fmt: skip
    return frozenset(names)


def names_for(language: str) -> frozenset[str]:
    if language == "python":
        return python_names()
    return CURATED.get(language, frozenset())


# the web platform: every web framework's docs name it, whatever the tree's language
_WEB = frozenset(
    """Document Element HTMLElement Window Node XMLHttpRequest AbortError DOMException fetch
    localStorage sessionStorage cookie navigator ETag WebSocket EventSource ServiceWorker
    FormData Blob URLSearchParams""".split()
)


def known_names(languages: Iterable[str]) -> frozenset[str]:
    """The union of what the given languages know without a definition (and the web
    platform's names, which documentation of any web code names)."""
    out: set[str] = set(_WEB)
    for lang in languages:
        out |= names_for(lang)
    return frozenset(out)


# the standard library's modules (what `const fs = require('fs')` or `import os` aliases)
STANDARD_MODULES = frozenset(sys.stdlib_module_names) | frozenset(
    """fs http https http2 path os util events stream crypto child_process net dgram dns tls
    url zlib assert buffer readline cluster querystring timers worker_threads perf_hooks
    process v8 vm""".split()
)
