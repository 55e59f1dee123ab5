"""The plan being written, read once: `Document` (lines, cursor, sections, proximity) and
`read(doc)` → `PlanFacts` (mentions, paths, URLs, headings, open decisions, introduced names,
code blocks), all from one markdown-it-py parse."""

from .markdown import (
    WINDOW,
    WINDOW_CHARS,
    CodeBlock,
    Document,
    ProseLine,
    Section,
    Segment,
    inline_text,
    window,
)
from .mentions import NAME_KINDS, Mention
from .reader import OpenSpot, PlanFacts, read

__all__ = [
    "NAME_KINDS",
    "WINDOW",
    "WINDOW_CHARS",
    "CodeBlock",
    "Document",
    "Mention",
    "OpenSpot",
    "PlanFacts",
    "ProseLine",
    "Section",
    "Segment",
    "inline_text",
    "read",
    "window",
]
