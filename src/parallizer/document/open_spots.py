"""Where a plan leaves something open: TBD/TODO, open questions, "maybe", "etc.", "and/or",
either/or, and vague amounts ("fast", "large", "many", "soon", "some") with no number nearby.

One `OpenSpot` per sentence (its strongest cue), each with its plan line. A sentence may wrap
across the lines of a paragraph, a list item or a heading (Markdown blocks, from the reader);
code spans, quoted text, URLs and code blocks are not prose and are never flagged.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from .markdown import ProseLine

# strongest first: a spot is reported under the strongest cue its sentence has
KINDS = ("todo", "question", "either_or", "and_or", "maybe", "etc", "vague")

_CUES: list[tuple[str, re.Pattern[str]]] = [
    (
        "todo",
        re.compile(
            r"\b(?:TODO|FIXME|XXX)\b|\b(?i:TBD|TBC)\b|\b(?i:to be (?:decided|determined|confirmed))\b"
        ),
    ),
    ("question", re.compile(r"\?(?=\s|$|[)\"'”*_])")),
    ("either_or", re.compile(r"(?i)\beither\b.+?\bor\b")),
    ("and_or", re.compile(r"(?i)\band\s*/\s*or\b")),
    ("maybe", re.compile(r"(?i)\b(?:maybe|perhaps|possibly)\b")),
    ("etc", re.compile(r"(?i)\betc\b\.?|\band so (?:on|forth)\b|\band the like\b")),
    (
        "vague",
        re.compile(
            r"(?i)\b(?:fast(?:er)?|quick(?:ly|er)?|slow(?:er)?|large(?:r)?|big(?:ger)?|huge|"
            r"small(?:er)?|many|few|several|soon|some|lots\s+of|a\s+lot)\b"
        ),
    ),
]
_NUMBER = re.compile(
    r"\d|\b(?i:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|fifty|"
    r"hundred|thousand|million|dozen|half|twice|double|triple)\b"
)
_NEARBY = 40  # characters either side of a vague word where a number quantifies it

_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')
# a sentence ends at "." before a capital (so "etc. go" and "e.g. this" do not end one),
# at "!", "?" or ";"
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.(?=\s+[^\sa-z])|[!?;](?=\s+\S)")
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
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(prose):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(prose)))
    return [(a, b) for a, b in spans if prose[a:b].strip()]


def _quote(text: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", _TASK_BOX.sub("", text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quantified(prose: str, start: int, end: int, lo: int, hi: int) -> bool:
    window = prose[max(lo, start - _NEARBY) : min(hi, end + _NEARBY)]
    return bool(_NUMBER.search(window))


def block_spots(block: list[ProseLine]) -> list[OpenSpot]:
    """The open spots of one block of prose (a paragraph, list item or heading): its lines
    joined, so a sentence may wrap."""
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
    for a, b in _sentences(prose):
        found: dict[str, tuple[str, int]] = {}
        for kind, rx in _CUES:
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
