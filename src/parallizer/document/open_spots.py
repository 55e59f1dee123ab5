"""Where a plan leaves something open: TBD/TODO, open questions, "maybe", "etc.", "and/or",
either/or, and vague promises ("must be fast", "should stay cheap") with no number nearby.

A cue counts only where the plan decides or promises something, not where prose describes:
a question asks what to do ("should we", "which", "or"), not "How does it work?" in a
heading; either/or, maybe and etc. stand in a sentence that decides (a modal, "we"); a vague
word stands in a promise a test could check ("must", "should", "has to", or a Goals section).

One `OpenSpot` per sentence (its strongest cue), each with its plan line. A sentence may wrap
across the lines of a paragraph, a list item or a heading (Markdown blocks, from the reader);
code spans, quoted text, URLs and code blocks are not prose and are never flagged.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ..text import clip, sentence_spans, single_line
from .markdown import ProseLine

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
    for a, b in _sentences(prose):
        found: dict[str, tuple[str, int]] = {}
        for kind, gate, rx in _CUES:
            if kind in found or not _counts(gate, prose[a:b], heading, goals):
                continue
            for m in rx.finditer(prose, a, b):
                if kind == "vague" and _quantified(prose, m.start(), m.end(), a, b):
                    continue
                found[kind] = (m.group(0) if kind != "either_or" else "either … or", m.start())
                break
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
