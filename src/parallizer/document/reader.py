"""`read(doc)`: every fact the fulfillers take from a plan, from the one Markdown parse: its
mentions, introduced and proposed names, URLs, headings, code blocks, and where it leaves
something open (`OpenSpot`: TBD, open questions, either/or, vague promises).

The facts cover the reading window (`window`): the whole plan up to 64 KiB, else the lines
around the cursor (600 lines, 64 KiB), so a 1 MiB plan costs about what 64 KiB does; headings
and code blocks cover the whole plan. Computed once per document (thread-safe: the service
reads the plan in a worker thread before any fulfiller runs).
"""

from __future__ import annotations

import re
import threading
import weakref
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal

from ..text import (
    IDENTIFIER,
    STOP_WORDS,
    ascii_lowered,
    clip,
    may_hold,
    sentence_spans,
    single_line,
)
from .markdown import Blocks, CodeBlock, Document, ProseLine, Section, inline_lines, window
from .mentions import (
    Mention,
    PlacedMention,
    arity,
    contexts_in,
    introduced_in,
    introduced_names,
    line_mentions,
    locate,
    name_kind,
    placed,
    proposed_in,
    split_name,
    written_arity,
)

_PROSE_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CLAUSE = re.compile(r"[^\w\s'-]+")


@dataclass(frozen=True)
class PlanFacts:
    lines: range
    """The plan lines these facts were read from (`window(doc)`)."""
    prose: tuple[ProseLine, ...]
    """Each line of prose read, Markdown gone (code spans and URLs apart), in order."""
    mentions: tuple[Mention, ...]
    """In plan order; the word being typed at the cursor is left out."""
    headings: tuple[Section, ...]
    """Every section of the plan with a heading."""
    urls: tuple[str, ...]
    open_decisions: tuple[OpenSpot, ...]
    """TBD/TODO, unanswered questions, maybe, etc., and/or, either/or, vague amounts."""
    introduced: frozenset[str]
    """Names and paths the plan introduces (see `mentions.introduced_in`), with the last part of a
    qualified one, and every name its code blocks define."""
    proposed: frozenset[str]
    """Weaker: names and paths in sentences that add, create or replace something (not
    those called existing), with the parts of qualified names. Not missing when nothing like
    them exists; a near existing name may still make one a misspelling."""
    code_blocks: tuple[CodeBlock, ...]
    """Every code block of the plan, fenced or indented."""
    code_languages: tuple[str, ...] = ()
    """The languages of the plan's labelled code blocks (normalised: `py` is python), most
    used first: what the plan is written about."""
    uses: tuple[Mention, ...] = ()
    """Every name and path the plan uses, placed on its line: the mentions that are names or
    paths, the names in code spans the reader leaves as code (`HiArgs::new`, `new
    Server(opts)`), and the calls of a type's function in the plan's own code blocks
    (`Error::msg("x", e)`), with the argument counts they write. What name resolution reads."""

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file path named, once each, in plan order."""
        return tuple(dict.fromkeys(m.text for m in self.mentions if m.kind == "path"))

    def names(self) -> list[Mention]:
        """The mentions that are names (identifiers, calls, dotted names), in plan order."""
        return [m for m in self.mentions if m.is_name]

    def is_introduced(self, text: str) -> bool:
        """Does the plan introduce this name or path (as written, or its last part)?"""
        return text in self.introduced or text.removeprefix("./") in self.introduced


def _typing(doc: Document) -> str:
    """The word being typed at the cursor (the cursor right after it), else ''."""
    line, col = doc.cursor
    after = doc.lines[line][col : col + 1]
    return "" if after.isalnum() or after == "_" else doc.word_at_cursor


def _half_typed(m: Mention, doc: Document, word: str) -> bool:
    return (
        bool(word)
        and m.line == doc.cursor[0]
        and not m.coded
        and (m.text == word or m.text.endswith("." + word))
    )


def _phrases(lines: list[tuple[ProseLine, str]]) -> list[Mention]:
    """Key phrases: two content words that recur, or head a section."""
    bigrams: dict[tuple[str, str], list[int]] = defaultdict(list)
    heading: set[tuple[str, str]] = set()
    for pl, rest in lines:
        for clause in _CLAUSE.split(rest):
            words = [w.lower() for w in _PROSE_WORD.findall(clause)]
            for a, b in pairwise(words):
                if len(a) > 2 and len(b) > 2 and a not in STOP_WORDS and b not in STOP_WORDS:
                    bigrams[(a, b)].append(pl.line)
                    if pl.heading:
                        heading.add((a, b))
    return [
        Mention(" ".join(pair), "phrase", i, False)
        for pair, where in bigrams.items()
        if len(where) >= 2 or pair in heading
        for i in where
    ]


def _about_another_site(read: list[ProseLine]) -> bool:
    """Does the paragraph open with a link to another site? An ecosystem list's item
    (`[fastify-ravendb](https://…) … exposes the same `DocumentStore``) is about that
    project: the names in it are its own."""
    for pl in read[:1]:
        for s in pl.segments:
            if s.kind == "text" and not s.text.strip(" \t-*+>0123456789.)"):
                continue  # a list marker, a blank
            return s.external
    return False


def _read(doc: Document) -> PlanFacts:
    lines = window(doc)
    blocks = doc.blocks
    prose: list[ProseLine] = []
    spots: list[OpenSpot] = []
    mentions: list[Mention] = []
    intro: list[Mention] = []
    proposing: list[Mention] = []
    rests: list[tuple[ProseLine, str]] = []
    word = _typing(doc)
    history = _history_lines(doc)
    for block in blocks.prose:
        if block.line >= lines.stop or block.line + block.content.count("\n") < lines.start:
            continue
        read = inline_lines(block, blocks.references, lines)
        prose += read
        spots += [  # a past release's "either sync or async" is no decision left open
            s for s in block_spots(read, goals=goal_section(doc.section_at(block.line).title))
            if not history.intersection(s.lines)
        ]
        shown: list[tuple[str, list[PlacedMention]]] = []
        for pl in read:
            found, rest = line_mentions(pl)
            found = [f for f in found if not _half_typed(f[0], doc, word)]
            found = placed(doc.lines[pl.line], found)
            rests.append((pl, rest))
            shown.append((pl.shown, found))
        intro += introduced_in(shown)
        proposing += proposed_in(shown)
        said = contexts_in(shown)
        showing = _EXAMPLES.search(doc.section_at(block.line).title) is not None
        away = _about_another_site(read)
        for _, found in shown:
            for m, _, _ in found:
                context = "history" if m.line in history else m.context or said.get(id(m), "")
                if not context and showing:
                    context = "example"  # a Tests or Examples section's own data
                elif not context and away:
                    context = "external"
                mentions.append(replace(m, context=context) if context else m)
    mentions += _phrases(rests)
    mentions.sort(key=lambda m: m.line)  # stable: in line order as found
    uses = [m for m in mentions if m.kind in ("identifier", "call", "dotted", "path")]
    uses += [u for m in mentions if m.kind == "code" and (u := _code_use(m, doc.lines)) is not None]
    for code in blocks.code:
        if code.line < lines.stop and code.lines.stop > lines.start:
            uses += _block_uses(code, doc.lines)
    return PlanFacts(
        lines=lines,
        prose=tuple(prose),
        mentions=tuple(mentions),
        headings=tuple(s for s in doc.sections if s.level),
        urls=tuple(
            dict.fromkeys([*(m.text for m in mentions if m.kind == "url"), *blocks.reference_urls])
        ),
        open_decisions=tuple(spots),
        introduced=introduced_names(
            intro,
            sorted(blocks.code, key=lambda b: abs(b.line - doc.cursor[0])),
            (content for pl in prose for _, content in pl.codes),
        ),
        proposed=frozenset(
            part for m in proposing for part in (m.text, *(split_name(m.text) if m.is_name else ()))
        ),
        code_blocks=blocks.code,
        code_languages=_code_languages(blocks.code),
        uses=tuple(uses),
    )


# --- where a plan leaves something open (`OpenSpot`) ------------------------------------------
#
# Where a plan leaves something open: TBD/TODO, open questions, "maybe", "etc.", "and/or",
# either/or, and vague promises ("must be fast", "should stay cheap") with no number nearby.
#
# A cue counts only where the plan decides or promises something, not where prose describes:
# a question asks what to do ("should we", "which", "or"), not "How does it work?" in a
# heading; either/or, maybe and etc. stand in a sentence that decides (a modal, "we"); a vague
# word stands in a promise a test could check ("must", "should", "has to", or a Goals section).
#
# One `OpenSpot` per sentence (its strongest cue), each with its plan line. A sentence may wrap
# across the lines of a paragraph, a list item or a heading (the Markdown blocks `_read` walks);
# code spans, quoted text, URLs and code blocks are not prose and are never flagged.

# strongest first: a spot is reported under the strongest cue its sentence has
KINDS = ("todo", "question", "either_or", "and_or", "maybe", "etc", "vague")

# (kind, the gate that says where it counts, the cue)
_CUES: list[tuple[str, str, re.Pattern[str]]] = [
    (
        "todo",
        "todo",
        re.compile(
            r"\b(?:TODO|FIXME|XXX)\b|\b(?i:TBD|TBC)\b|\b(?i:to be (?:decided|determined|confirmed))\b"
        ),
    ),
    ("question", "question", re.compile(r"\?(?=\s|$|[)\"'”*_])")),
    ("either_or", "either_or", re.compile(r"(?i)\beither\b.+?\bor\b")),
    ("and_or", "and_or", re.compile(r"(?i)\band\s*/\s*or\b")),
    ("maybe", "maybe", re.compile(r"(?i)\b(?:maybe|perhaps|possibly)\b")),
    ("etc", "etc", re.compile(r"(?i)\betc\b\.?|\band so (?:on|forth)\b|\band the like\b")),
    (
        "vague",
        "vague",
        re.compile(
            r"(?i)\b(?:fast(?:er)?(?:\s+enough)?|quick(?:ly|er)?|slow(?:er)?|cheap(?:er)?|"
            r"negligible|noticeabl[ey]|measurabl[ey]|reasonable|robust|instant(?:ly)?|"
            r"efficient(?:ly)?|scalable|responsive|lightweight|snappy|acceptable|significant(?:ly)?|"
            r"minimal|little\s+(?:memory|overhead|time)|intuitive|seamless(?:ly)?|"
            r"high[- ]performance|low[- ]latency|large(?:r)?|big(?:ger)?|huge|small(?:er)?|"
            r"(?<!as\s)soon(?!\s+as))\b"
        ),
    ),
    # amounts without a number: only where the plan states its goals
    (
        "vague",
        "amount",
        re.compile(r"(?i)\b(?:many|few|several|lots\s+of|a\s+lot(?!\s+(?:more|less|\w+er)\b))\b"),
    ),
]
# What every match of a cue holds, lowercased (by the cue's gate): a block of ASCII prose
# holding none of these has no such cue, and skips that cue's scan (`text.may_hold`: a regex
# scan of prose costs ~40 ns a character a cue; most blocks hold few cues).
_CUE_WORDS: dict[str, tuple[str, ...]] = {
    "todo": ("todo", "fixme", "xxx", "tbd", "tbc", "to be "),
    "question": ("?",),
    "either_or": ("either",),
    "and_or": ("/",),
    "maybe": ("maybe", "perhaps", "possibly"),
    "etc": ("etc", "and so ", "and the like"),
    "vague": tuple(
        """fast quick slow cheap negligible noticeabl measurabl reasonable robust instant
        efficient scalable responsive lightweight snappy acceptable significant minimal little
        intuitive seamless high low large big huge small soon""".split()
    ),
    "amount": ("many", "few", "several", "lot"),
}
assert set(_CUE_WORDS) == {gate for _, gate, _ in _CUES}


# a sentence that decides: the writers themselves, or a decision's own words ("can" and
# "could" alone describe what a reader may do: "you can either instantiate it or set it")
_DECIDES = re.compile(
    r"(?i)\b(?:we|I|us|our|let's|decide[sd]?|choose|pick|undecided|TBD|or\s+should)\b"
)
# a sentence addressed to the reader: documentation, not a plan's decision or promise
_TO_READER = re.compile(r"(?i)\byou(?:r|rs|rself)?\b")
_FIRST_PERSON = re.compile(r"(?i)\b(?:we|I|us|our|let's)\b")
# a question that asks what to do, not a heading's or an FAQ's "How does it work?"
_ASKS = re.compile(
    r"(?i)\b(?:should|shall|do\s+we|does\s+(?:it|this|that|the)|is\s+it|are\s+we|can\s+we|"
    r"could\s+we|would\s+(?:we|it|that)|which|whether|or|what\s+about|"
    r"how\s+(?:many|much|long|often|big|large|should)|when\s+(?:do|should)|what\s+happens|open|"
    r"decide|choose|pick)\b"
)
# "Does `Checkout.get` stay?": a yes/no question about the plan
_YES_NO = re.compile(r"(?i)\s*(?:[-*]\s*)?(?:do|does|is|are|can|will|should|must)\b")
# a heading that is itself an open question: "## Open: what about retries?"
_OPEN_LABEL = re.compile(r"(?i)\b(?:open|undecided|unresolved|decide|TBD)\b")
# a promise a test could check
_PROMISES = re.compile(
    r"(?i)\b(?:must|should|shall|has\s+to|have\s+to|need(?:s)?\s+to|is\s+expected\s+to|"
    r"are\s+expected\s+to|guarantee[sd]?)\b"
)
# a plan's imperative: "Log hits and/or misses", "Support JSON, YAML, etc."
_IMPERATIVE = re.compile(
    r"(?i)\s*(?:[-*]\s*|\d+[.)]\s*)?(?:add|use|log|emit|return|call|make|keep|store|send|check|"
    r"write|read|print|show|validate|support|handle|allow|run|create|update|remove|drop|rename|"
    r"move|pass|accept|reject|raise|throw|retry|cache|skip|ignore|count|track|record|report|"
    r"expose|document|test|ship|warn|fail|parse|load|save|merge|split|limit|reuse|wrap|replace)\b"
)
# a question that explains rather than asks: "Why do we need them?", "So what do we pin?"
_RHETORICAL = re.compile(
    r"(?i)\s*(?:why\b|but\b|so\b|well\b|now\b|the\s+first\s+question|how\s+do\s+(?:we|I)\b|"
    r"what\s+do\s+(?:we|I)\b|do\s+you\b|see\b)"
)
_GOALS = re.compile(
    r"(?i)\b(?:goals?|requirements?|acceptance|success|criteria|non-functional|"
    r"expectations?|definition\s+of\s+done|open\s+(?:questions?|issues?|points?)|"
    r"unresolved|undecided|to\s+(?:decide|be\s+decided))\b"
)
_NUMBER = re.compile(
    r"\d|\b(?i:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|fifty|"
    r"hundred|thousand|million|dozen|half|twice|double|triple)\b"
)
_NEARBY = 40  # characters either side of a vague word where a number quantifies it

_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')
_TASK_BOX = re.compile(r"^\s*\[[ xX]\]\s+")  # "- [ ] Decide": the list marker is gone already


@dataclass(frozen=True, slots=True)
class OpenSpot:
    line: int
    """0-based plan line of the cue."""
    kind: str
    """The strongest cue in the sentence, one of KINDS."""
    cue: str
    """The words that leave it open, as written."""
    sentence: str
    """The sentence around the cue, as written (clipped), for quoting."""
    lines: tuple[int, ...]
    """The plan lines the sentence spans."""


def _blank(text: str, rx: re.Pattern[str]) -> str:
    return rx.sub(lambda m: " " * len(m.group(0)), text)


def _sentences(prose: str) -> list[tuple[int, int]]:
    """Sentences and clauses (a ";" ends one: each half may leave its own thing open)."""
    return [(a, b) for a, b in sentence_spans(prose, clauses=True) if prose[a:b].strip()]


def _quote(text: str, limit: int = 160) -> str:
    return clip(single_line(_TASK_BOX.sub("", text)), limit)


def _quantified(prose: str, start: int, end: int, lo: int, hi: int) -> bool:
    window = prose[max(lo, start - _NEARBY) : min(hi, end + _NEARBY)]
    return bool(_NUMBER.search(window))


def goal_section(title: str) -> bool:
    """A section whose sentences state goals, requirements or open questions."""
    return bool(_GOALS.search(title))


def _counts(kind: str, sentence: str, heading: bool, goals: bool) -> bool:
    """Whether a cue of `kind` leaves something open in this sentence (see the docstring)."""
    if kind == "todo":
        return True
    if _TO_READER.search(sentence) and not _FIRST_PERSON.search(sentence):
        return False  # "you can either …", "you should avoid lots of …", "Do you have …?"
    if heading:
        return kind == "and_or" or (kind == "question" and bool(_OPEN_LABEL.search(sentence)))
    if kind == "question":
        if _RHETORICAL.match(sentence):
            return False
        return goals or bool(_ASKS.search(sentence) or _YES_NO.match(sentence))
    if kind == "vague":
        return goals or bool(_PROMISES.search(sentence))
    if kind == "amount":
        return goals
    if kind in ("either_or", "maybe", "etc", "and_or"):
        return goals or bool(_DECIDES.search(sentence) or _IMPERATIVE.match(sentence))
    return True


def _cue_ahead(rx: re.Pattern[str], prose: str, at: int) -> int:
    """Where `rx` first matches in `prose` at or after `at` (past the end: nowhere). A match
    within a sentence (`finditer(prose, a, b)`) is also one in the whole text at the same
    place: a sentence ends after its punctuation, before a space, so the cues' edges
    (`\\b`, `$`, look-arounds) read the same there; so where this is past a sentence's end,
    the sentence has no match."""
    m = rx.search(prose, at)
    return m.start() if m is not None else len(prose) + 1


def _first_cue(kind: str, rx: re.Pattern[str], prose: str, a: int, b: int) -> re.Match[str] | None:
    """The first match of a cue in the sentence `prose[a:b]` (a vague word: the first with no
    number nearby)."""
    for m in rx.finditer(prose, a, b):
        if kind == "vague" and _quantified(prose, m.start(), m.end(), a, b):
            continue
        return m
    return None


def block_spots(block: list[ProseLine], *, goals: bool = False) -> list[OpenSpot]:
    """The open spots of one block of prose (a paragraph, list item or heading): its lines
    joined, so a sentence may wrap. `goals`: the block stands in a goals, requirements or
    open-questions section (`goal_section`), where every cue counts."""
    lines = [pl.shown for pl in block]
    raw = " ".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    numbers = [pl.line for pl in block]

    def line_of(pos: int) -> int:
        return numbers[bisect_right(starts, pos) - 1]

    prose = _blank(" ".join(pl.prose for pl in block), _QUOTED)
    out = []
    heading = any(pl.heading for pl in block)
    # where each cue next matches in the whole block: a sentence before it has no such cue
    # (see `_cue_ahead`), so a block costs about one scan per cue, not one per sentence
    lowered = ascii_lowered(prose)
    ahead = [-1 if may_hold(lowered, _CUE_WORDS[gate]) else len(prose) + 1 for _, gate, _ in _CUES]
    for a, b in _sentences(prose):
        found: dict[str, tuple[str, int]] = {}
        for k, (kind, gate, rx) in enumerate(_CUES):
            if kind in found:
                continue
            if ahead[k] < a:
                ahead[k] = _cue_ahead(rx, prose, a)
            if ahead[k] >= b:
                continue
            # the cue first, the gate only where it stands: most sentences have no cue, and
            # the gate's regexes cost more than the cue's
            m = _first_cue(kind, rx, prose, a, b)
            if m is not None and _counts(gate, prose[a:b], heading, goals):
                found[kind] = (m.group(0) if kind != "either_or" else "either … or", m.start())
        if not found:
            continue
        kind = next(k for k in KINDS if k in found)
        cue, pos = found[kind]
        first = line_of(a + len(prose[a:b]) - len(prose[a:b].lstrip()))
        last = line_of(b - 1)
        out.append(
            OpenSpot(
                line=line_of(pos),
                kind=kind,
                cue=cue,
                sentence=_quote(raw[a:b]),
                lines=tuple(i for i in numbers if first <= i <= last),
            )
        )
    return out


# --- what a document is about: its past releases, its code's languages -----------------------

# sections whose names are examples' and tests' data (`user_id` in "keeps `user_id`")
_EXAMPLES = re.compile(r"(?i)\b(?:tests?|testing|test\s+plan|examples?|usage|demos?|samples?)\b")
_RELEASE = re.compile(
    r"(?i)^\W*(?:v(?:ersion)?\s*|release\s+|\[)?\d+\.\d+(?:\.\d+)*\b|\b\d{4}-\d{2}-\d{2}\b"
)


# a section about what is gone: "## Removed APIs", or it opens by saying so ("All deprecated
# properties ... have been removed", "are no longer supported")
_REMOVED_TITLE = re.compile(r"(?i)\b(?:removed|removals?|deleted|dropped)\b")
_REMOVED_SAID = re.compile(
    r"(?i)\b(?:has|have|had|were|was|are|is)\s+(?:now\s+)?(?:been\s+)?(?:removed|deleted|dropped)\b"
    r"|\bno\s+longer\s+(?:available|supported|exists?|exported|part\s+of)\b"
)


def _history_lines(doc: Document) -> frozenset[int]:
    """The lines of sections headed by a release (`## 1.2.3`, `## [0.5.0] - 2021-03-04`,
    `# Version 2.0`), subsections included: a changelog's past, where names are what they
    were then; and of a section about what was removed (its title, or its first paragraph,
    says so: a migration guide's table of what is gone)."""
    out: set[int] = set()
    level = 0  # the level of the release heading we are under (0: none)
    firsts: dict[int, str] = {}
    for block in doc.blocks.prose:
        if block.kind == "paragraph":
            firsts.setdefault(doc.section_at(block.line).start, block.content)
    for sec in doc.sections:
        if sec.level and level and sec.level <= level:
            level = 0
        if sec.level and _RELEASE.search(sec.title):
            level = sec.level
        if level or (sec.level and (
            _REMOVED_TITLE.search(sec.title) or _REMOVED_SAID.search(firsts.get(sec.start, ""))
        )):  # fmt: skip
            out.update(range(sec.start, sec.end))
    return frozenset(out)


_FENCE_LANGUAGE = {
    **dict.fromkeys(("python", "py", "python3", "pycon", "ipython"), "python"),
    **dict.fromkeys(("js", "javascript", "jsx", "mjs", "cjs", "node"), "javascript"),
    **dict.fromkeys(("ts", "typescript", "tsx"), "typescript"),
    **dict.fromkeys(("rust", "rs"), "rust"),
    **dict.fromkeys(("go", "golang"), "go"),
    **dict.fromkeys(("java",), "java"),
    **dict.fromkeys(("kotlin", "kt"), "kotlin"),
    **dict.fromkeys(("c", "h"), "c"),
    **dict.fromkeys(("cpp", "c++", "cc", "cxx", "hpp"), "cpp"),
    **dict.fromkeys(("csharp", "cs", "c#"), "csharp"),
    **dict.fromkeys(("ruby", "rb"), "ruby"),
    **dict.fromkeys(("elixir", "ex", "exs"), "elixir"),
    **dict.fromkeys(("php",), "php"),
    **dict.fromkeys(("swift",), "swift"),
    **dict.fromkeys(("scala",), "scala"),
}


def code_language(fence: str) -> str:
    """The programming language of a code fence's label ('' for shell, data, or none)."""
    return _FENCE_LANGUAGE.get(fence.lower(), "")


def _code_languages(code: tuple[CodeBlock, ...]) -> tuple[str, ...]:
    counts = Counter(lang for b in code if (lang := code_language(b.lang)))
    return tuple(lang for lang, _ in counts.most_common())


# --- names in code spans and code blocks ---------------------------------------------------

_QUALIFIER = re.compile(r"::|\.")
_OWNER_SPLIT = re.compile(r"::|\.|#|->")
_LEADING_WORD = re.compile(r"^(?:(?:new|await|return|yield|throw|raise|go|defer)\s+)+")
_TURBOFISH = re.compile(r"::<[^()]*?>")
_CODE_CALL = re.compile(
    rf"(?P<name>{IDENTIFIER}(?:(?:::|\.){IDENTIFIER})*)\s*(?:\((?P<args>.*)\))?;?"
)
_BLOCK_CALL = re.compile(r"(?<![\w.:])([A-Z]\w*)(?:::|\.)([a-z_]\w*)\s*(?:::<[^()]*?>)?\(")


def _named(text: str, line: int, args: int | None, coded: bool) -> Mention:
    """A name as a use: `Client.send` (dotted, owner Client), `f` with arguments (a call)."""
    parts = [p for p in _OWNER_SPLIT.split(text) if p]
    kind: Literal["call", "dotted", "identifier"] = (
        "dotted" if len(parts) > 1 else "call" if args is not None else "identifier"
    )
    what = name_kind(parts[-1]) if kind == "identifier" else ""
    owner = parts[-2] if len(parts) > 1 else None
    return Mention(text, kind, line, coded, args, owner, what=what)


def _code_use(m: Mention, lines: list[str]) -> Mention | None:
    """A name in a code span the reader does not take for one: `HiArgs::new`,
    `Chain::downcast_ref::<E>()`, `backtrace_if_absent!`, `new WebSocketServer({...})`."""
    text = _LEADING_WORD.sub("", m.text.strip())
    member = text.startswith(".") and text[1:2].isidentifier()
    if member:
        # `- .getResponseTime()`, `### .raw`: an API reference lists a member without its
        # owner; inside a sentence ("keep them with `.passThrough()` on `ServiceSchema`") it is
        # a link of a chain the dependency pass reads from the line
        raw = lines[m.line] if m.line < len(lines) else ""
        if m.col < 0 or raw[: m.col].strip(" \t-*+>#0123456789.)`"):
            return None
        text = text[1:]
    macro = text.endswith("!") or "!(" in text
    text = _TURBOFISH.sub("", text).replace("!(", "(").removesuffix("!")
    found = _CODE_CALL.fullmatch(text)
    if found is None:
        return None
    args = written_arity(found.group("args")) if found.group("args") is not None else None
    if args is None and not macro and not member and not _QUALIFIER.search(found.group("name")):
        return None  # a lone word in backticks: the reader's call (a common word, a keyword)
    use = replace(_named(found.group("name"), m.line, args, m.coded), context=m.context)
    where = locate(lines[m.line], use.text, max(m.col, 0)) if m.line < len(lines) else None
    return replace(use, col=where[0], end=where[1]) if where else use


def _block_uses(block: CodeBlock, lines: list[str]) -> list[Mention]:
    """Calls of a type's function in the plan's own code (`Error::msg("x", e)`,
    `Client.send(a)`): the plan relies on them, with these argument counts."""
    out = []
    for k, text in enumerate(block.text.split("\n")):
        line = block.line + k
        raw = lines[line] if line < len(lines) else ""
        shift = raw.find(text) if text else -1  # a fence inside a list is indented
        for m in _BLOCK_CALL.finditer(text):
            inner = _balanced(text, m.end() - 1)
            args = arity(inner) if inner is not None else None
            if m.group(1).isupper():
                continue  # `RE.is_match(x)`: a constant's method, not a type's
            use = Mention(f"{m.group(1)}.{m.group(2)}", "dotted", line, True, args, m.group(1),
                          lang=code_language(block.lang))  # fmt: skip
            if shift >= 0:
                use = replace(use, col=shift + m.start(1), end=shift + m.end(2))
            out.append(use)
    return out


def _balanced(text: str, at: int) -> str | None:
    """The text inside the parenthesis opening at `at`, or None if it does not close."""
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i]
    return None


_FACTS: weakref.WeakKeyDictionary[Document, PlanFacts] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def remember(doc: Document, blocks: Blocks, facts: PlanFacts) -> None:
    """Take `doc`'s Markdown blocks and facts as read elsewhere (a worker process), so that
    `doc.blocks` and `read(doc)` return them instead of reading again."""
    doc.__dict__.setdefault("blocks", blocks)  # where functools.cached_property keeps it
    with _LOCK:
        _FACTS.setdefault(doc, facts)


def read(doc: Document) -> PlanFacts:
    """The plan's facts, read once per document. Reading happens outside the lock, so one
    big plan never holds up another's; two threads racing on one document keep the first."""
    with _LOCK:
        facts = _FACTS.get(doc)
    if facts is not None:
        return facts
    facts = _read(doc)
    with _LOCK:
        return _FACTS.setdefault(doc, facts)


__all__ = ["PlanFacts", "code_language", "read", "remember"]
