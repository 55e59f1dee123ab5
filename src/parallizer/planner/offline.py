"""The offline planner: what a plan talks about, as a ranked list of names and code searches.

No LLM, no network. It takes the plan's mentions from the document reader (`read(doc)`: one
Markdown parse; code spans, paths, calls with their arity, dotted names with their owner,
code-like identifiers, quoted phrases, key phrases) and weighs each by its kind (a code span
beats bare prose), by how close it is to the cursor (`Document.proximity` for sections, and a
bonus that fades with the line distance to the cursor) and, with diminishing returns, by how
often it recurs. A keyword is never a term and a lone common word in backticks (`data`) is a
weak one; a name the plan introduces ranks lower (it cannot be missing, but may still be
searched for something to reuse). Mentions of the same thing merge: case variants, a name
another name's search would find anyway (`Limiter` and `Limiter.slot`), near-duplicates by
rapidfuzz (`fan_out` / `fan out` / `fanout`). Ties go to the term nearest the cursor.

`Plan.names` holds every name worth resolving, ranked (for cheap index look-ups);
`Plan.queries` the strongest few as ripgrep searches. How each kind is searched is decided
here, once, so every fulfiller runs the same query (and the request's memo runs it once):

* identifiers and calls: a fixed string with word boundaries, case-sensitive (case-
  insensitive when the plan itself writes it in several cases);
* dotted names: a regex, because `Settings.timeout` is written `settings.timeout` in code:
  the first part matches in any case, the rest exactly; every part is escaped;
* file paths: the file's top-level definitions (our own outline regex, the path an escaped
  glob), which both proves the file exists and says what it holds;
* other code spans (`--serial`, `make run`) and quoted phrases: fixed substrings;
* key phrases: a case-insensitive regex joining the escaped words with an optional space,
  `_` or `-`, so "retry policy" also finds `RetryPolicy` and `retry_policy`.

The service has all of it computed in a worker process of the plan's lane (`read_and_plan`),
off the event loop and off the GIL, into the same per-document caches.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from rapidfuzz import fuzz

from ..backends.base import CodeQuery
from ..code.extract.lines import OUTLINE_REGEX
from ..document import WINDOW, WINDOW_CHARS, Document, Mention, OpenSpot, read, window
from ..document.markdown import Blocks
from ..document.mentions import last_part
from ..document.reader import PlanFacts, remember
from ..text import is_common, is_keyword

if TYPE_CHECKING:
    from ..limits import Lanes

__all__ = ["WINDOW", "WINDOW_CHARS", "Plan", "PlannedQuery", "Term", "plan", "plan_for", "window"]

Kind = Literal["path", "call", "dotted", "identifier", "code", "quoted", "phrase"]
NAME_KINDS = frozenset({"identifier", "call", "dotted"})

# names carry a plan's substance; a path says where, other code spans (`--flag`, `make x`)
# and quoted text are weaker hints, key phrases the weakest
KIND_WEIGHT: dict[str, float] = {
    "call": 3.0,
    "identifier": 2.5,
    "dotted": 2.5,
    "path": 2.0,
    "code": 1.5,
    "quoted": 1.5,
    "phrase": 1.0,
}
CODE_SPAN_FACTOR = 1.5  # written in backticks: the writer says "this is code"
CURSOR_LINE_FACTOR = 1.25  # on the cursor's line
LINE_BONUS = 0.04  # elsewhere a nudge fading with the distance in lines: of two equal
LINE_FADE = 8.0  # mentions the nearer wins (it halves over LINE_FADE lines)
COMMON_WORD_FACTOR = 0.3  # `data`, `head` in backticks: a role more than a definition
INTRODUCED_FACTOR = 0.6  # a name the plan introduces cannot be missing: less to check
MERGED_FACTOR = 0.5  # share of a merged term's score its survivor inherits
NEAR_DUPLICATE = 90  # rapidfuzz ratio of normalised forms at or above which terms merge

NAME_MAX_RESULTS = 200  # enough to see a name's definitions and how widely it is used
MERGE_POOL = 100  # only the strongest terms are merged and ranked for searches
MAX_NAMES = 400  # names handed on for resolution (index look-ups are cheap; rg runs are not)

_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Weighted:
    mention: Mention
    kind: Kind
    """The term kind it counts as (a call on a dotted name searches as a dotted name)."""
    weight: float


@dataclass(frozen=True, slots=True)
class Term:
    """One thing the plan talks about, merged from all its mentions."""

    text: str
    """As the plan writes it (a call without its parentheses)."""
    kind: Kind
    lines: tuple[int, ...]
    """0-based plan lines it is mentioned on."""
    score: float
    coded: bool = False
    """Written in backticks at least once."""
    ignore_case: bool = False
    """The plan writes it in several cases."""
    args: int | None = None
    """Arguments written in its call nearest the cursor (`f(a, b)` → 2); None if never
    called with a countable argument list."""
    owner: str | None = None
    """`Client` for `Client.send` (None for `self.x` and plain names)."""
    introduced: bool = False
    """The plan introduces it ("we add `X` (new)", defined in its own code block)."""
    near: int = 0
    """Lines between the cursor and its nearest mention."""

    @property
    def name(self) -> str:
        """The name a definition of it would carry (the last part of a dotted name)."""
        return last_part(self.text) if self.kind == "dotted" else self.text

    @property
    def is_name(self) -> bool:
        return self.kind in NAME_KINDS


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    term: Term
    query: CodeQuery
    label: str


@dataclass(frozen=True, slots=True)
class Plan:
    queries: tuple[PlannedQuery, ...]
    """Ranked, best first, at most `max_queries`."""
    paths: tuple[Term, ...]
    """Every file path the plan names (existence is checked against the file list)."""
    open_spots: tuple[OpenSpot, ...]
    names: tuple[Term, ...] = ()
    """Every name worth resolving (identifiers, calls, dotted names; never a keyword nor a
    lone common word), ranked best first: the searched ones and all the others."""


# --- mentions --------------------------------------------------------------------------------


def _line_factor(line: int, cursor: int) -> float:
    if line == cursor:
        return CURSOR_LINE_FACTOR
    return 1.0 + LINE_BONUS / (1.0 + abs(line - cursor) / LINE_FADE)


def mentions(doc: Document) -> list[Weighted]:
    """Every mention worth a search, with its weight (kind × proximity × line distance)."""
    facts = read(doc)
    cur = doc.cursor[0]
    near: dict[int, float] = {}
    out: list[Weighted] = []
    for m in facts.mentions:
        kind: Kind
        if m.kind == "url" or (m.kind == "code" and is_keyword(m.text)):
            continue
        qualified = m.kind == "call" and last_part(m.text) != m.text
        kind = "dotted" if qualified else m.kind
        if m.line not in near:
            near[m.line] = doc.proximity(m.line) * _line_factor(m.line, cur)
        w = KIND_WEIGHT[kind] * (CODE_SPAN_FACTOR if m.coded else 1.0) * near[m.line]
        if m.kind == "code" and is_common(m.text):
            w *= COMMON_WORD_FACTOR
        if m.is_name and facts.is_introduced(m.text):
            w *= INTRODUCED_FACTOR
        out.append(Weighted(m, kind, w))
    return out


# --- terms -----------------------------------------------------------------------------------


_FAMILIES = {
    "identifier": "name",
    "call": "name",
    "dotted": "name",
    "quoted": "text",
    "phrase": "text",
}


def _family(kind: str) -> str:
    """Mentions of one family may be the same thing: names, texts, paths, code."""
    return _FAMILIES.get(kind, kind)


@lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def _score(weights: list[float]) -> float:
    """Strongest mention counts fully, the k-th strongest 1/k: frequency with diminishing returns."""
    return sum(w / (k + 1) for k, w in enumerate(sorted(weights, reverse=True)))


def _rank_key(t: Term) -> tuple[float, int, int, str]:
    """Best first; on a tie the term nearest the cursor, then the earlier one."""
    return (-t.score, t.near, t.lines[0], t.text)


def _spellings(ws: list[Weighted]) -> dict[str, int]:
    """How many of the mentions write each spelling, in the order first written (what
    `Counter` counts, without its cost: `_group` asks once per term)."""
    counts: dict[str, int] = {}
    for w in ws:
        counts[w.mention.text] = counts.get(w.mention.text, 0) + 1
    return counts


def _group(doc: Document, found: list[Weighted]) -> list[Term]:
    groups: dict[tuple[str, str], list[Weighted]] = defaultdict(list)
    for w in found:
        if not w.mention.text.strip():
            continue  # nothing to search for (a search pattern is never empty)
        fam = _family(w.kind)
        key = w.mention.text.lower() if fam in ("name", "text") else w.mention.text
        groups[(fam, key)].append(w)
    facts = read(doc)
    cur = doc.cursor[0]
    terms = []
    for ws in groups.values():
        best = max(ws, key=lambda w: w.weight)
        spellings = _spellings(ws)
        text = max(spellings, key=spellings.__getitem__)  # the first most written, on a tie
        calls = [w.mention for w in ws if w.mention.args is not None]
        call = min(calls, key=lambda m: abs(m.line - cur), default=None)
        lines = tuple(sorted({w.mention.line for w in ws}))
        terms.append(
            Term(
                text=text,
                kind=best.kind,
                lines=lines,
                score=_score([w.weight for w in ws]),
                coded=any(w.mention.coded for w in ws),
                ignore_case=len(spellings) > 1 and _family(best.kind) == "name",
                args=call.args if call else None,
                owner=best.mention.owner,
                introduced=(best.mention.is_name or best.kind == "path")
                and facts.is_introduced(text),
                near=min(abs(i - cur) for i in lines),
            )
        )
    return sorted(terms, key=_rank_key)


def _finds(short: Term, long: Term) -> bool:
    """Would a search for `short` also find `long`'s text (so one query serves both)?"""
    if short.kind == "path" or long.kind == "path":
        return (
            short.kind == long.kind == "path"
            and len(long.text) > len(short.text)
            and long.text.endswith("/" + short.text)
        )
    if len(short.text) >= len(long.text) or _family(short.kind) != _family(long.kind):
        return False
    if short.text.lower() not in long.text.lower():
        return False
    flags = re.IGNORECASE if short.ignore_case or _family(short.kind) != "name" else 0
    return re.search(rf"(?<!\w){re.escape(short.text)}(?!\w)", long.text, flags) is not None


def _near_duplicate(a: Term, b: Term) -> bool:
    if "path" in (a.kind, b.kind):
        return False
    na, nb = _norm(a.text), _norm(b.text)
    if na == nb:
        return True
    return min(len(na), len(nb)) >= 6 and fuzz.ratio(na, nb) >= NEAR_DUPLICATE


def _merge(kept: Term, other: Term) -> Term | None:
    """`kept` (the stronger) absorbs `other` if they are the same thing; None if not."""
    a, b = kept.text.lower(), other.text.lower()
    if a not in b and b not in a and not _near_duplicate(kept, other):
        return None  # neither search could find the other's text (the common case, cheaply)
    if _finds(other, kept) and other.kind != "path":
        survivor = other  # the shorter name: its search finds both
    elif _finds(kept, other) and kept.kind != "path":
        survivor = kept
    elif _finds(kept, other) or _finds(other, kept):  # paths: the longer is more precise
        survivor = kept if len(kept.text) > len(other.text) else other
    elif _near_duplicate(kept, other):
        survivor = (
            other if KIND_WEIGHT[other.kind] > KIND_WEIGHT[kept.kind] and not kept.coded else kept
        )
    else:
        return None
    return replace(
        survivor,
        lines=tuple(sorted(set(kept.lines) | set(other.lines))),
        score=kept.score + MERGED_FACTOR * other.score,
        coded=kept.coded or other.coded,
        near=min(kept.near, other.near),
        args=survivor.args
        if survivor.args is not None
        else (kept.args if kept.args is not None else other.args),
    )


def _merge_candidates(low: str, size: int, lowers: list[str], sizes: list[int]) -> list[int]:
    """The kept terms (by index, in order) `_merge` may merge a term into (`low`: its text
    lowercased, `size`: its `_norm` length; `lowers`, `sizes`: the kept terms'): one's text
    holds the other's, or their lengths are near enough for `fuzz.ratio` (200 x longest common
    subsequence / sum of lengths: at most 200 x shorter / sum) to reach NEAR_DUPLICATE. Most
    pairs are told apart here, in one comprehension, instead of one `_merge` call each."""
    return [
        k
        for k, (other, n) in enumerate(zip(lowers, sizes, strict=True))
        if low in other or other in low or 200 * min(size, n) >= NEAR_DUPLICATE * (size + n)
    ]


def _terms(doc: Document) -> tuple[list[Term], list[Term]]:
    """The strongest terms merged and ranked, and the weaker rest as they are."""
    grouped = _group(doc, mentions(doc))
    kept: list[Term] = []
    lowers: list[str] = []  # kept's texts lowercased and `_norm` lengths, in step
    sizes: list[int] = []
    for t in grouped[:MERGE_POOL]:
        for k in _merge_candidates(t.text.lower(), len(_norm(t.text)), lowers, sizes):
            merged = _merge(kept[k], t)
            if merged is not None:
                kept[k], lowers[k], sizes[k] = merged, merged.text.lower(), len(_norm(merged.text))
                break
        else:
            kept.append(t)
            lowers.append(t.text.lower())
            sizes.append(len(_norm(t.text)))
    return sorted(kept, key=_rank_key), grouped[MERGE_POOL:]


def terms(doc: Document) -> list[Term]:
    """What the plan talks about, merged and ranked (best first)."""
    return _terms(doc)[0]


# --- queries ---------------------------------------------------------------------------------


def glob_escape(path: str) -> str:
    return re.sub(r"([*?\[\]{}!\\])", r"\\\1", path)


def exclude_globs(path: str | None) -> tuple[str, ...]:
    """rg globs that leave out one file (relative to the search root)."""
    return ("!/" + glob_escape(path),) if path else ()


def query_for(term: Term, exclude: str | None = None) -> CodeQuery:
    """The one code search for a term (see the module docstring for why each kind is so).
    `exclude`: a file (relative to the search root) never to search, the plan itself."""
    skip = exclude_globs(exclude)
    if term.kind in ("identifier", "call"):
        return CodeQuery(
            pattern=term.text,
            mode="word",
            ignore_case=term.ignore_case,
            max_results=NAME_MAX_RESULTS,
            globs=skip,
        )
    if term.kind == "dotted":
        head, *rest = re.split(r"(\.|::)", term.text)  # separators kept: Client.send, A::new
        pattern = rf"\b(?i:{re.escape(head)})" + "".join(re.escape(p) for p in rest)
        return CodeQuery(
            pattern=pattern + r"\b",
            mode="regex",
            ignore_case=term.ignore_case,
            max_results=NAME_MAX_RESULTS,
            globs=skip,
        )
    if term.kind == "path":
        return CodeQuery(
            pattern=OUTLINE_REGEX,
            mode="regex",
            globs=("**/" + glob_escape(term.text.lstrip("/")), *skip),
            context=0,
            max_results=100,
            max_per_file=100,
        )
    if term.kind == "phrase":
        words = term.text.split()
        return CodeQuery(
            pattern=r"[\s_-]?".join(re.escape(w) for w in words),
            mode="regex",
            ignore_case=True,
            globs=skip,
        )
    return CodeQuery(
        pattern=term.text, mode="literal", ignore_case=term.kind == "quoted", globs=skip
    )


def _label(term: Term, query: CodeQuery) -> str:
    return f"outline of {term.text}" if term.kind == "path" else query.pattern


def plan(doc: Document, max_queries: int = 5, exclude: str | None = None) -> Plan:
    ranked, rest = _terms(doc)
    queries = tuple(
        PlannedQuery(term=t, query=(q := query_for(t, exclude)), label=_label(t, q))
        for t in ranked[:max_queries]
    )
    names = [t for t in ranked if t.is_name] + [t for t in rest if t.is_name]
    return Plan(
        queries=queries,
        paths=tuple(t for t in ranked if t.kind == "path"),
        open_spots=read(doc).open_decisions,
        names=tuple(names[:MAX_NAMES]),
    )


_PLANS: weakref.WeakKeyDictionary[Document, dict[tuple[int, str | None], Plan]] = (
    weakref.WeakKeyDictionary()
)


def remember_plan(doc: Document, max_queries: int, exclude: str | None, plan: Plan) -> None:
    """Take `doc`'s plan as computed elsewhere (a worker process) for `plan_for` to return."""
    _PLANS.setdefault(doc, {}).setdefault((max_queries, exclude), plan)


def plan_for(doc: Document, max_queries: int = 5, exclude: str | None = None) -> Plan:
    """`plan()`, computed once per document: every fulfiller of a request gets the very same
    `PlannedQuery` and `CodeQuery` objects (and the request's memo runs each search once)."""
    per_doc = _PLANS.setdefault(doc, {})
    key = (max_queries, exclude)
    if key not in per_doc:
        per_doc[key] = plan(doc, max_queries, exclude)
    return per_doc[key]


# --- reading off the event loop ---------------------------------------------------------
# The Markdown parse, the plan's facts and its ranked queries (`plan_for`) computed in a
# worker process of the plan's lane (`limits.Lanes`, the `Runtime`'s: a big plan is read
# in a lane of its own, so it never holds up a small one). Reading the example plan costs
# ~10 ms of Python; in a thread it holds the GIL that the event loop needs, so under a burst
# of requests every request's first remote call waited for the others' reading. In a process
# it runs on another core, and what comes back (the blocks, the facts and the plan, ~13 KB
# pickled) takes under a millisecond to load. The results go into the same per-document
# caches `read()` and `plan_for()` fill in process, so the fulfillers find the very objects
# they would have computed. Without worker processes (PARALLIZER_READ_WORKERS=0, none can
# start, or one died) the plan is read in a thread of its lane.


def _read_text(
    text: str, cursor: tuple[int, int], max_queries: int, exclude: str | None
) -> tuple[Blocks, PlanFacts, Plan]:
    """In the worker: what `plan_for` computes for this document."""
    doc = Document(text, cursor)
    plan = plan_for(doc, max_queries, exclude)
    return doc.blocks, read(doc), plan


async def read_and_plan(
    doc: Document, max_queries: int, exclude: str | None, *, lanes: Lanes
) -> None:
    """Fill `doc`'s reading caches (`read(doc)`, `plan_for(doc, max_queries, exclude)`): in
    a worker process of its lane, or in a thread of its lane when `lanes` has none."""
    blocks, facts, plan = await lanes.in_process(
        len(doc.text), _read_text, doc.text, doc.cursor, max_queries, exclude
    )
    remember(doc, blocks, facts)
    remember_plan(doc, max_queries, exclude, plan)
