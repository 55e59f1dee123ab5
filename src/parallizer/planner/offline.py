"""The offline planner: what a plan talks about, as a short ranked list of code searches.

No LLM, no network. Reading the plan's prose (fenced code is skipped), it collects
mentions: inline code spans, file paths, calls `foo()`, dotted names `a.b.c`, code-like
identifiers (CamelCase, camelCase, snake_case), quoted phrases, and key phrases (two content
words that recur or head a section). Each mention weighs by its kind (a code span beats bare
prose), by how close it is to the cursor (`Document.proximity`, a bonus on the cursor's own
line) and, with diminishing returns, by how often it recurs. Mentions of the same thing
merge: case variants, a name another name's search would find anyway (`Limiter` and
`Limiter.slot`), near-duplicates by rapidfuzz (`fan_out` / `fan out` / `fanout`).

How each kind is searched is decided here, once, so every fulfiller runs the same query
(and the request's memo runs it once):

* identifiers and calls: a fixed string with word boundaries, case-sensitive (case-
  insensitive when the plan itself writes it in several cases);
* dotted names: a regex, because `Settings.timeout` is written `settings.timeout` in code:
  the first part matches in any case, the rest exactly; every part is escaped;
* file paths: the file's top-level definitions (our own outline regex, the path an escaped
  glob), which both proves the file exists and says what it holds;
* other code spans (`--serial`, `make run`) and quoted phrases: fixed substrings;
* key phrases: a case-insensitive regex joining the escaped words with an optional space,
  `_` or `-`, so "retry policy" also finds `RetryPolicy` and `retry_policy`.
"""

from __future__ import annotations

import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from rapidfuzz import fuzz

from ..backends.base import CodeQuery
from ..codefacts import OUTLINE_REGEX
from ..document import Document
from .vague import MAX_LINE, OpenSpot, open_spots

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
CURSOR_LINE_FACTOR = 1.25
MERGED_FACTOR = 0.5  # share of a merged term's score its survivor inherits
NEAR_DUPLICATE = 90  # rapidfuzz ratio of normalised forms at or above which terms merge

NAME_MAX_RESULTS = 200  # enough to see a name's definitions and how widely it is used
MAX_MENTION = 200  # characters; longer "names" are noise (and would not make a valid query)
MERGE_POOL = 100  # only the strongest terms are merged and ranked: the rest cannot win
WINDOW = 600  # lines read around the cursor in a long document (far sections weigh little)
WINDOW_CHARS = 64 * 1024  # and characters

_EXTS = (
    "py|pyi|ts|tsx|js|jsx|mjs|cjs|go|rs|java|kt|cs|c|h|cc|cpp|hpp|rb|php|swift|sh|bash|"
    "md|rst|txt|toml|yaml|yml|json|ini|cfg|sql|html|css|scss|proto|lock"
)
_PATH = re.compile(r"(?<![\w./-])(?:\.{1,2}/)?(?:[\w.-]+/)+[\w-][\w.-]*\.[A-Za-z0-9]{1,8}(?![\w/])")
_FILE = re.compile(rf"(?<![\w./-])[\w-]+\.(?:{_EXTS})(?![\w.])")
# inside backticks a path may hold what prose cannot: `app/[id]/page.tsx`, `(group)/x.ts`
_SPAN_PATH = re.compile(r"(?:\.{1,2}/)?(?:[\w.@()\[\]+-]+/)+[\w.@()\[\]+-]*\.[A-Za-z0-9]{1,8}")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_URL = re.compile(r"(?:https?|ftp)://\S+|\]\([^)\s]*\)|\bwww\.\S+")
_QUOTED = re.compile(r'"([^"\n]{2,80})"|“([^”\n]{2,80})”')
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*\w|[A-Za-z_])\(([^()]{0,60})\)")
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?![\w(])")
# a word with an inner `_` or a case hump: the only bare words that may be code
_WORD = re.compile(r"(?<![\w.])(?=\w*(?:_|[a-z0-9][A-Z]|[A-Z]{2}[a-z]))[A-Za-z_]\w*(?![\w(])")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_DOTTED_FULL = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CALL_FULL = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\(.*\)")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
_PROSE_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CLAUSE = re.compile(r"[^\w\s'-]+")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_NOT_ALNUM = re.compile(r"[\W_]+")

_NOT_DOTTED_END = frozenset({"com", "org", "net", "io", "ai", "dev", "app", "co", "edu", "gov"})
_PROPER_NOUNS = frozenset(
    w.lower()
    for w in (
        "GitHub GitLab JavaScript TypeScript PyPI OpenAI FastAPI OpenRouter PostgreSQL MySQL "
        "SQLite MongoDB GraphQL YouTube LinkedIn WebSocket WebSockets macOS iOS iPhone iPad "
        "DevOps VSCode PyTorch NumPy SciPy LaTeX DuckDB ChatGPT DeepSeek OAuth gRPC SearXNG "
        "LlamaIndex LangChain HuggingFace CloudFlare DynamoDB BigQuery PowerShell McDonald"
    ).split()
)
# English words that never make a key phrase (nor do the vague words of vague.py)
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can cannot could did do does doing done down during
    each else even ever every for from further get gets got had has have having he her here
    hers him his how however i if in into is isn it its itself just least less let like make
    makes made may me might more most much must my need needs no nor not now of off on once one
    only or other our ours out over own per put rather same say says see should so such than
    that the their theirs them then there these they this those though through to too under
    until up upon us use used uses using very via want was way we well were what when where
    whether which while who whom why will with within without would yet you your new add adds
    added adding keep keeps take takes give gives go goes going thing things first second last
    next still already always never often instead e g ie eg etc maybe perhaps possibly fast
    faster large larger many few several soon some quick quickly slow big small lot lots""".split()
)


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    kind: Kind
    line: int
    weight: float
    coded: bool


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

    @property
    def name(self) -> str:
        """The name a definition of it would carry (the last part of a dotted name)."""
        return self.text.rsplit(".", 1)[-1] if self.kind == "dotted" else self.text

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


# --- mentions --------------------------------------------------------------------------------


def _code_like(word: str) -> str | None:
    """The identifier if a bare word of prose is clearly code (snake_case, CamelCase,
    camelCase, _private), else None. Markdown `_emphasis_` is prose."""
    if word.startswith("_") and word.endswith("_") and not word.startswith("__"):
        word = word[1:-1]
    if len(word) < 3 or word.lower() in _PROPER_NOUNS or not any(c.isalpha() for c in word):
        return None
    if "_" in word.strip("_") or (word.startswith("_") and not word.endswith("_")):
        return word
    return word if _CAMEL.search(word) else None


def _plain_file_name(name: str) -> bool:
    stem = name.rsplit(".", 1)[0]
    return stem.islower() or stem.isupper() or "_" in stem or "-" in stem


def _dotted_ok(text: str) -> bool:
    parts = text.split(".")
    if any(len(p) < 2 for p in parts):
        return False  # e.g., i.e., a.b
    if parts[-1] == "js" and not text.islower():
        return False  # Node.js, Vue.js: products
    return not (parts[-1] in _NOT_DOTTED_END and text.islower())


def _classify_span(content: str) -> tuple[Kind, str] | None:
    """What a backtick span holds (and the text to search for it)."""
    content = content.strip()
    if len(content) < 2 or len(content) > 80:
        return None
    if _SPAN_PATH.fullmatch(content) or _FILE.fullmatch(content):
        return "path", content.removeprefix("./")
    if m := _CALL_FULL.fullmatch(content):
        name = m.group(1)
        return ("dotted" if "." in name else "call"), name
    if _IDENT.fullmatch(content):
        return "identifier", content
    if _DOTTED_FULL.fullmatch(content):
        return "dotted", content
    if content.endswith("/") or not any(c.isalnum() for c in content):
        return None  # a directory or punctuation: nothing to grep for
    return "code", content


def _span(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    found = _classify_span(m.group(2))
    return (found[1], found[0], True) if found else None


def _quoted(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    return (m.group(1) or m.group(2)).strip(), "quoted", False


def _path(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    return m.group(0).removeprefix("./"), "path", False


def _file(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    # "Node.js" is a product; node.js, setup.py or README.md are files
    return (m.group(0), "path", False) if _plain_file_name(m.group(0)) else None


def _call(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    name, args = m.group(1), m.group(2).strip()
    if args in ("s", "es") or ("." in name and not _dotted_ok(name)):
        return None  # "limit(s)" is prose
    return name, ("dotted" if "." in name else "call"), False


def _dotted(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    return (m.group(0), "dotted", False) if _dotted_ok(m.group(0)) else None


def _word(m: re.Match[str]) -> tuple[str, Kind, bool] | None:
    name = _code_like(m.group(0))
    return (name, "identifier", False) if name else None


# in this order: each pass blanks what it found, so later passes see only the rest
_Read = Callable[[re.Match[str]], tuple[str, Kind, bool] | None]
_Add = Callable[[str, Kind, bool, int], None]

_PASSES: tuple[tuple[re.Pattern[str], _Read], ...] = (
    (_CODE_SPAN, _span),
    (_QUOTED, _quoted),
    (_PATH, _path),
    (_FILE, _file),
    (_CALL, _call),
    (_DOTTED, _dotted),
    (_WORD, _word),
)


def _line_mentions(doc: Document, i: int, add: _Add) -> str:
    """Report mentions of line `i` through `add(text, kind, coded, end)`; return the line
    with everything found blanked out (what is left is prose, for key phrases)."""
    text = _URL.sub(lambda m: " " * len(m.group(0)), doc.lines[i][:MAX_LINE])
    for rx, read in _PASSES:

        def found(m: re.Match[str], read: _Read = read, spans: bool = rx is _CODE_SPAN) -> str:
            mention = read(m)
            if mention is not None:
                add(*mention, m.end())
            elif not spans:
                return m.group(0)  # not a mention: leave it to the later passes
            return " " * len(m.group(0))

        text = rx.sub(found, text)
    return text


def window(doc: Document, size: int = WINDOW, chars: int = WINDOW_CHARS) -> range:
    """The lines worth reading: all of them, or the lines around the cursor, growing on both
    sides, up to `size` lines and `chars` characters (so a 1 MiB plan costs what 64 KiB
    does: planning runs on the event loop)."""
    n = len(doc.lines)
    lo, hi = doc.cursor[0], doc.cursor[0] + 1
    budget = chars - min(len(doc.lines[lo]), MAX_LINE)
    while hi - lo < size and (lo > 0 or hi < n):
        grew = False
        for below in (True, False):
            i = hi if below else lo - 1
            if not 0 <= i < n:
                continue
            cost = min(len(doc.lines[i]), MAX_LINE) + 1
            if cost > budget:
                continue
            budget -= cost
            lo, hi = (lo, hi + 1) if below else (lo - 1, hi)
            grew = True
        if not grew:
            break
    return range(lo, hi)


def mentions(doc: Document) -> list[Mention]:
    """Every mention in the plan's prose, with its weight (kind × proximity × cursor line)."""
    out: list[Mention] = []
    cur_line, cur_col = doc.cursor
    bigrams: dict[tuple[str, str], list[int]] = defaultdict(list)
    heading_bigrams: set[tuple[str, str]] = set()
    for i in window(doc):
        if i in doc.fenced or not doc.lines[i].strip():
            continue
        near = doc.proximity(i) * (CURSOR_LINE_FACTOR if i == cur_line else 1.0)

        def add(
            text: str, kind: Kind, coded: bool, end: int, i: int = i, near: float = near
        ) -> None:
            if i == cur_line and end == cur_col and not coded:
                return  # the word being typed at the cursor is not finished
            if len(text) > MAX_MENTION:
                return
            w = KIND_WEIGHT[kind] * (CODE_SPAN_FACTOR if coded else 1.0) * near
            out.append(Mention(text, kind, i, w, coded))

        prose = _line_mentions(doc, i, add)
        for clause in _CLAUSE.split(prose):
            words = [w.lower() for w in _PROSE_WORD.findall(clause)]
            for a, b in pairwise(words):
                if len(a) > 2 and len(b) > 2 and a not in STOP_WORDS and b not in STOP_WORDS:
                    bigrams[(a, b)].append(i)
                    if _HEADING.match(doc.lines[i]):
                        heading_bigrams.add((a, b))
    for pair, lines in bigrams.items():
        if len(lines) >= 2 or pair in heading_bigrams:
            for i in lines:
                near = doc.proximity(i) * (CURSOR_LINE_FACTOR if i == cur_line else 1.0)
                out.append(
                    Mention(" ".join(pair), "phrase", i, KIND_WEIGHT["phrase"] * near, False)
                )
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


def _group(found: list[Mention]) -> list[Term]:
    groups: dict[tuple[str, str], list[Mention]] = defaultdict(list)
    for m in found:
        fam = _family(m.kind)
        key = m.text.lower() if fam in ("name", "text") else m.text
        groups[(fam, key)].append(m)
    terms = []
    for ms in groups.values():
        best = max(ms, key=lambda m: m.weight)
        spellings = Counter(m.text for m in ms)
        terms.append(
            Term(
                text=spellings.most_common(1)[0][0],
                kind=best.kind,
                lines=tuple(sorted({m.line for m in ms})),
                score=_score([m.weight for m in ms]),
                coded=any(m.coded for m in ms),
                ignore_case=len(spellings) > 1 and _family(best.kind) == "name",
            )
        )
    return sorted(terms, key=lambda t: (-t.score, t.lines[0], t.text))


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
    )


def terms(doc: Document) -> list[Term]:
    """What the plan talks about, merged and ranked (best first)."""
    kept: list[Term] = []
    for t in _group(mentions(doc))[:MERGE_POOL]:
        for k, other in enumerate(kept):
            merged = _merge(other, t)
            if merged is not None:
                kept[k] = merged
                break
        else:
            kept.append(t)
    return sorted(kept, key=lambda t: (-t.score, t.lines[0], t.text))


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
        head, *rest = term.text.split(".")
        pattern = rf"\b(?i:{re.escape(head)})" + "".join(rf"\.{re.escape(p)}" for p in rest)
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
    ranked = terms(doc)
    queries = tuple(
        PlannedQuery(term=t, query=(q := query_for(t, exclude)), label=_label(t, q))
        for t in ranked[:max_queries]
    )
    return Plan(
        queries=queries,
        paths=tuple(t for t in ranked if t.kind == "path"),
        open_spots=tuple(open_spots(doc, window(doc))),
    )


_PLANS: weakref.WeakKeyDictionary[Document, dict[tuple[int, str | None], Plan]] = (
    weakref.WeakKeyDictionary()
)


def plan_for(doc: Document, max_queries: int = 5, exclude: str | None = None) -> Plan:
    """`plan()`, computed once per document: every fulfiller of a request gets the very same
    `PlannedQuery` and `CodeQuery` objects (and the request's memo runs each search once)."""
    per_doc = _PLANS.setdefault(doc, {})
    key = (max_queries, exclude)
    if key not in per_doc:
        per_doc[key] = plan(doc, max_queries, exclude)
    return per_doc[key]
