"""The plan being written: its lines, its Markdown sections and where the cursor is.

The structure (sections, code blocks) comes from the one Markdown parse (`markdown.py`),
made once per document on first use.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from ..text import IDENTIFIER
from .markdown import MAX_LINE, Blocks, parse_blocks

WINDOW = 600  # lines read around the cursor in a long document (far sections weigh little)
WINDOW_CHARS = 64 * 1024  # and characters
_IDENT_TAIL = re.compile(rf"{IDENTIFIER}$")


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    level: int  # 0 for the text before the first heading
    start: int  # first line (0-based, the heading itself)
    end: int  # one past the last line


class Document:
    """Immutable view of a plan with a cursor at (line, column), both 0-based."""

    def __init__(self, text: str, cursor: tuple[int, int] = (0, 0)) -> None:
        self.text = text
        self.lines = text.split("\n")
        line = min(max(cursor[0], 0), len(self.lines) - 1)
        col = min(max(cursor[1], 0), len(self.lines[line]))
        self.cursor = (line, col)

    @cached_property
    def blocks(self) -> Blocks:
        """The plan's Markdown blocks: headings, code, paragraphs (parsed once)."""
        return parse_blocks(self.lines, window(self))

    @cached_property
    def fenced(self) -> frozenset[int]:
        """Lines of code blocks, fenced (fences included) or indented: not prose."""
        return frozenset(i for block in self.blocks.code for i in block.lines)

    @cached_property
    def sections(self) -> list[Section]:
        """ATX (`## x`) and setext (`x` over `===`/`---`) headings, in order."""
        heads = [(h.line, h.level, h.title) for h in self.blocks.headings]
        out: list[Section] = []
        first = heads[0][0] if heads else len(self.lines)
        if first > 0:
            out.append(Section("", 0, 0, first))
        for k, (i, level, title) in enumerate(heads):
            end = heads[k + 1][0] if k + 1 < len(heads) else len(self.lines)
            out.append(Section(title, level, i, end))
        return out

    @cached_property
    def _starts(self) -> list[int]:
        return [s.start for s in self.sections]

    def _section_index(self, line: int) -> int:
        """Index in `sections` of the section holding `line` (sections tile the document)."""
        return max(0, bisect_right(self._starts, line) - 1)

    def section_at(self, line: int) -> Section:
        if not self.sections or not 0 <= line < len(self.lines):
            return Section("", 0, 0, len(self.lines))
        return self.sections[self._section_index(line)]

    @property
    def cursor_section(self) -> Section:
        return self.section_at(self.cursor[0])

    @property
    def cursor_line(self) -> str:
        return self.lines[self.cursor[0]]

    @property
    def before_cursor(self) -> str:
        """Text of the cursor's line up to the cursor."""
        return self.cursor_line[: self.cursor[1]]

    @property
    def word_at_cursor(self) -> str:
        """The identifier being typed right before the cursor ('' if none)."""
        m = _IDENT_TAIL.search(self.before_cursor)
        return m.group(0) if m else ""

    def proximity(self, line: int) -> float:
        """1.0 in the cursor's section, decaying with distance in sections elsewhere."""
        here = self.cursor_section
        if here.start <= line < here.end:
            return 1.0
        where = self._section_index(line) if 0 <= line < len(self.lines) else 0
        dist = abs(where - self._section_index(self.cursor[0]))
        return max(0.25, 0.6 / dist) if dist else 1.0


def window(doc: Document, size: int = WINDOW, chars: int = WINDOW_CHARS) -> range:
    """The lines worth reading closely: all of them, or the lines around the cursor, growing
    on both sides, up to `size` lines and `chars` characters (lines clipped to MAX_LINE)."""
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
