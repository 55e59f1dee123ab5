"""Small text helpers every layer uses: one way to cut a text short and to put it on a single
line, one identifier pattern, one way to find where a sentence ends.

A cut is marked with one `…`, inside the limit: `clip("abcdef", 4) == "abc…"`.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"


def single_line(text: str) -> str:
    """Every run of whitespace (newlines too) as one space, none at the ends."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and `…` in that many."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def clip_around(text: str, focus: int, width: int, *, before: float = 1 / 3) -> str:
    """A window of `width` characters of `text` that shows position `focus` (with `before`
    of the window ahead of it), `…` at each end that was cut."""
    if len(text) <= width:
        return text
    start = max(0, min(focus - int(width * before), len(text) - width))
    end = start + width
    return (ELLIPSIS if start else "") + text[start:end] + (ELLIPSIS if end < len(text) else "")


IDENTIFIER = r"[A-Za-z_]\w*"
r"""A name as most languages write it (a letter or `_`, then word characters), as pattern text
to build regexes with: `rf"(?<![\w.]){IDENTIFIER}"`."""
IDENTIFIER_RE = re.compile(IDENTIFIER)

# "." ends a sentence before a capital, a digit, a quote or a bracket (so "etc. go" and
# "e.g. this" do not end one), as do "!" and "?"; `clauses`: ";" too
_SENTENCE_END = r"(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s+[^\sa-z])"
SENTENCE_END = re.compile(_SENTENCE_END)
CLAUSE_END = re.compile(rf"{_SENTENCE_END}|;(?=\s+\S)")


def sentence_spans(text: str, *, clauses: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` (each ends after its punctuation; the
    whitespace between two belongs to the next); with `clauses`, a ";" ends one too."""
    spans, start = [], 0
    for m in (CLAUSE_END if clauses else SENTENCE_END).finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def sentences(text: str, *, clauses: bool = False) -> list[str]:
    """The sentences of `text`, stripped, empty ones left out."""
    return [s for a, b in sentence_spans(text, clauses=clauses) if (s := text[a:b].strip())]
