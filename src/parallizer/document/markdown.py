"""The plan being written, as a `Document` (its lines, its Markdown sections and where the
cursor is), and its Markdown, parsed once with markdown-it-py (CommonMark) on first use: its
blocks with their plan lines, and the inline text of a block split into plan lines of typed
segments.

Only this module knows Markdown syntax: fences of any length with ``` or ~~~, indented code,
ATX and setext headings, link destinations holding parentheses, autolinks, code spans of any
backtick count, emphasis. Everything else reads what it returns.

Two passes, so a huge plan costs what the part being read costs: the block structure
(headings, code, paragraphs) of the whole plan, with inline parsing disabled; then the inline
text of only the blocks that are read (`inline_lines`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..text import IDENTIFIER

MAX_LINE = 20_000  # characters of one line read (a longer line is pasted data, not prose)

# CommonMark; raw HTML only as blocks (a comment, a `<p align="center">` banner, a sponsor
# table: nothing a reader sees as prose, skipped), inline a plan's `<T>` or `<br>` is text
_BLOCKS = MarkdownIt("commonmark", {"html": True}).disable("inline")
_INLINE = MarkdownIt("commonmark", {"html": False})
# markdown-it looks for the end of every `[` it meets: a paragraph holding thousands of them
# (pasted data) would take seconds, so there brackets are plain text
_INLINE_NO_LINKS = MarkdownIt("commonmark", {"html": False}).disable(["link", "image"])
MAX_BRACKETS = 32
_LONE_CR = re.compile(r"\r(?!\n)")
# a bare URL in text (markdown-it's autolinks and links are read from their tokens): the
# trailing punctuation of the sentence and an unbalanced closing bracket are not part of it
_BARE_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>`\"]+")
_URL_TAIL = ".,;:!?'\"*_"
# a link to another site, or to a page of the docs (`Decorators.md`, `#hooks`): its text
# names that page or site, not this tree's code
_EXTERNAL = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*:)?//|www\.|#|[^?#]*\.(?:md|markdown|rst|txt|html?)(?:[?#]|$)"
)


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    title: str
    """As written (inline Markdown kept)."""
    line: int
    """0-based plan line of the title (the first line of a setext heading)."""


@dataclass(frozen=True, slots=True)
class CodeBlock:
    lang: str
    """The fence's language (first word of its info string, lowercase); '' when none or
    for indented code."""
    text: str
    line: int
    """0-based plan line of the first line of code (after the opening fence)."""
    lines: range
    """Every plan line of the block, fences included."""
    fenced: bool


@dataclass(frozen=True, slots=True)
class ProseBlock:
    """A paragraph or a heading: text a sentence may wrap across."""

    kind: Literal["paragraph", "heading"]
    line: int
    """0-based plan line of its first line."""
    content: str
    """Its raw inline Markdown, one line per plan line (container markers removed)."""

    @property
    def lines(self) -> range:
        return range(self.line, self.line + self.content.count("\n") + 1)


@dataclass(frozen=True, slots=True)
class Blocks:
    headings: tuple[Heading, ...]
    code: tuple[CodeBlock, ...]
    prose: tuple[ProseBlock, ...]
    references: dict
    """Link reference definitions, for resolving `[text][ref]` in inline text."""

    @property
    def reference_urls(self) -> list[str]:
        """The destinations of link reference definitions (`[ref]: https://...`)."""
        return [str(r["href"]) for r in self.references.values() if r.get("href")]


def _lang(info: str) -> str:
    info = info.strip()
    return info.split(maxsplit=1)[0].lower() if info else ""


def _parse(text: str, offset: int) -> Blocks:
    """markdown-it's blocks of `text`, whose first line is plan line `offset`."""
    env: dict = {}
    # markdown-it ends a line at a lone CR too: keep the plan's numbering
    tokens = _BLOCKS.parse(_LONE_CR.sub(" ", text), env)
    headings: list[Heading] = []
    code: list[CodeBlock] = []
    prose: list[ProseBlock] = []
    for k, tok in enumerate(tokens):
        if tok.map is None:
            continue
        start, end = tok.map[0] + offset, tok.map[1] + offset
        if tok.type in ("fence", "code_block"):
            fenced = tok.type == "fence"
            first = start + 1 if fenced else start
            lang = _lang(tok.info) if fenced else ""
            code.append(CodeBlock(lang, tok.content, first, range(start, end), fenced))
        elif tok.type == "inline":
            parent = tokens[k - 1]
            kind: Literal["paragraph", "heading"] = (
                "heading" if parent.type == "heading_open" else "paragraph"
            )
            prose.append(ProseBlock(kind, start, tok.content))
            if kind == "heading":
                headings.append(Heading(int(parent.tag[1]), tok.content.strip(), start))
    return Blocks(tuple(headings), tuple(code), tuple(prose), env.get("references", {}))


# --- the outline of the far parts of a huge plan -----------------------------------------------
# A line scan, linear and cheap, of what lies outside the reading window of a plan too big to
# parse whole: top-level fences (CommonMark's rule: a closing run of the same character, at
# least as long) and ATX and setext headings outside them. It also finds where the window's
# parse may start: a line after a blank one, at the margin, outside any fence.

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^(?: {4}|\t| {0,3}(?:[-*+>]|\d{1,9}[.)])(?:\s|$)| {0,3}#)")
FAR_HEADINGS = 1000  # headings kept on each side of the window of a plan too big to parse
SAFE_START_REACH = 200  # lines above the window searched for a place to start parsing


def _outline(lines: list[str]) -> tuple[list[Heading], list[CodeBlock]]:
    """Headings and fenced code, by a line scan (most lines cost one character test)."""
    headings: list[Heading] = []
    code: list[CodeBlock] = []
    fence: tuple[str, int, int, str] | None = None  # (char, length, opening line, lang)
    para = -1  # first line of the paragraph running into this line, -1 if none
    for i, line in enumerate(lines):
        stripped = line.strip()
        first = stripped[:1]
        if fence is not None:
            char, length, opened, lang = fence
            if (
                first == char
                and len(stripped) >= length
                and stripped == char * len(stripped)
                and len(line) - len(line.lstrip(" ")) <= 3
            ):
                body = "\n".join(lines[opened + 1 : i])
                code.append(CodeBlock(lang, body, opened + 1, range(opened, i + 1), True))
                fence = None
            continue
        if not first:
            para = -1
        elif first in "`~" and (m := _FENCE_OPEN.match(line)):
            run, info = m.group(1), m.group(2)
            if not (run[0] == "`" and "`" in info):
                fence = (run[0], len(run), i, _lang(info))
                para = -1
            elif para < 0:
                para = i
        elif first in "=-" and para >= 0 and (m := _SETEXT.match(line)):
            level = 1 if m.group(1)[0] == "=" else 2
            headings.append(Heading(level, " ".join(x.strip() for x in lines[para:i]), para))
            para = -1
        elif first == "#" and (m := _ATX.match(line)):
            headings.append(Heading(len(m.group(1)), (m.group(2) or "").strip(), i))
            para = -1
        elif para < 0 and not _NOT_PARAGRAPH.match(line):
            para = i
    if fence is not None:  # an unclosed fence runs to the end
        char, length, opened, lang = fence
        body = "\n".join(lines[opened + 1 :])
        code.append(CodeBlock(lang, body, opened + 1, range(opened, len(lines)), True))
    return headings, code


def _safe_start(lines: list[str], start: int, code: list[CodeBlock]) -> int:
    """A line at or above `start` where a Markdown block surely begins: after a blank line,
    at the margin, outside fences (within reach; else `start` itself)."""
    starts = [c.lines.start for c in code]

    def fenced(i: int) -> bool:
        k = bisect_right(starts, i) - 1
        return k >= 0 and i in code[k].lines

    for i in range(start, max(0, start - SAFE_START_REACH) - 1, -1):
        if i == 0:
            return 0
        line = lines[i]
        if (
            line.strip()
            and not lines[i - 1].strip()
            and line[:1] not in (" ", "\t", ">")
            and not fenced(i)
            and not fenced(i - 1)
        ):
            return i
    return start


def _front_matter(lines: list[str]) -> int | None:
    """Lines of a YAML front matter block (`---` ... `---` at the very top), if any."""
    if not lines or lines[0].rstrip() != "---":
        return None
    for i in range(1, min(len(lines), 200)):
        if lines[i].rstrip() in ("---", "..."):
            return i + 1
    return None


def parse_blocks(lines: list[str], region: range | None = None) -> Blocks:
    """The block structure of a plan (its lines, numbered as in `text.split("\\n")`).

    With a `region` (the reading window of a plan too big to parse whole), markdown-it parses
    from a safe start above it to its end; the rest of the plan is only outlined (headings,
    fenced code) by a line scan."""
    n = len(lines)
    if (front := _front_matter(lines)) is not None:  # metadata, not Markdown: blank it
        lines = [""] * front + lines[front:]
    if region is None or (region.start == 0 and region.stop >= n):
        return _parse("\n".join(lines), 0)
    heads, code = _outline(lines)
    start = _safe_start(lines, region.start, code)
    parsed = _parse("\n".join(lines[start : region.stop]), start)
    # far headings matter only as section boundaries: the nearest ones on each side are kept
    above = [h for h in heads if h.line < start][-FAR_HEADINGS:]
    below = [h for h in heads if h.line >= region.stop][:FAR_HEADINGS]
    heads = above + below
    code = [c for c in code if not start <= c.lines.start < region.stop]
    return Blocks(
        headings=tuple(sorted((*heads, *parsed.headings), key=lambda h: h.line)),
        code=tuple(sorted((*code, *parsed.code), key=lambda c: c.line)),
        prose=parsed.prose,
        references=parsed.references,
    )


# --- inline text -----------------------------------------------------------------------------

SegmentKind = Literal["text", "code", "url"]


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str
    """The text shown (a code span's content, a URL as written)."""
    external: bool = False
    """Inside a link to another site (`[`zod`](https://github.com/…)`): what it names is
    somebody else's."""


@dataclass(frozen=True, slots=True)
class ProseLine:
    """One plan line of prose, as the reader sees it: Markdown syntax gone (markers,
    emphasis, link syntax), code spans and URLs kept apart from the text."""

    line: int
    """0-based plan line."""
    segments: tuple[Segment, ...]
    links: tuple[str, ...]
    """Destinations of the links on this line ([text](url), images)."""
    heading: bool = False

    def render(self, code: str = "`{}`", url: str = "{}") -> str:
        """The line with code spans and URLs formatted (`"{}"`: as is; `""`: dropped)."""
        out = []
        for s in self.segments:
            if s.kind == "text":
                out.append(s.text)
            else:
                fmt = code if s.kind == "code" else url
                out.append(fmt.format(s.text.replace("`", "'")) if fmt else "")
        return "".join(out)

    @property
    def shown(self) -> str:
        """The line as text, code spans in single backticks."""
        return self.render()

    @property
    def prose(self) -> str:
        """`shown` with code spans and URLs blanked to spaces (same length): only words."""
        return "".join(
            s.text if s.kind == "text" else " " * (len(s.text) + (2 if s.kind == "code" else 0))
            for s in self.segments
        )

    @property
    def codes(self) -> list[tuple[int, str]]:
        """Each code span's offset in `shown` and its content."""
        out, at = [], 0
        for s in self.segments:
            if s.kind == "code":
                out.append((at, s.text))
                at += len(s.text) + 2
            else:
                at += len(s.text)
        return out

    @property
    def external(self) -> list[tuple[int, int]]:
        """Where the text of links to other sites stands in `shown` (start, end)."""
        out, at = [], 0
        for s in self.segments:
            n = len(s.text) + (2 if s.kind == "code" else 0)
            if s.external:
                out.append((at, at + n))
            at += n
        return out

    @property
    def urls(self) -> list[str]:
        return [s.text for s in self.segments if s.kind == "url"] + list(self.links)


def _trim_url(url: str) -> str:
    url = url.rstrip(_URL_TAIL)
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(_URL_TAIL)
    while url.endswith("]") and url.count("]") > url.count("["):
        url = url[:-1].rstrip(_URL_TAIL)
    return url


def _split_urls(text: str) -> list[Segment]:
    if "://" not in text and "www." not in text:  # what every bare URL holds: most text has none
        return [Segment("text", text)] if text else []
    out: list[Segment] = []
    at = 0
    for m in _BARE_URL.finditer(text):
        url = _trim_url(m.group(0))
        if len(url) < 5:
            continue
        if m.start() > at:
            out.append(Segment("text", text[at : m.start()]))
        out.append(Segment("url", url))
        at = m.start() + len(url)
    if at < len(text):
        out.append(Segment("text", text[at:]))
    return out


def inline_lines(
    block: ProseBlock, references: dict, lines: range | None = None
) -> list[ProseLine]:
    """The block's lines (only those in `lines`, when given) as typed segments."""
    raw = block.content.split("\n")
    lo, hi = block.line, block.line + len(raw)
    if lines is not None:
        lo, hi = max(lo, lines.start), min(hi, lines.stop)
        if lo >= hi:
            return []
    src = "\n".join(ln[:MAX_LINE] for ln in raw[lo - block.line : hi - block.line])
    env = {"references": references} if references else {}
    parser = _INLINE if src.count("[") <= MAX_BRACKETS else _INLINE_NO_LINKS
    [inline] = parser.parseInline(src, env) or [Token("inline", "", 0)]
    heading = block.kind == "heading"
    out: list[ProseLine] = []
    segs: list[Segment] = []
    links: list[str] = []
    pending: list[str] = []  # adjacent text pieces, joined before bare URLs are looked for
    autolink = False
    away = False  # inside a link to another site
    line = lo

    def flush_text() -> None:
        if pending:
            split = _split_urls("".join(pending))
            segs.extend(Segment(g.kind, g.text, away) for g in split)
            pending.clear()

    def end_line() -> None:
        nonlocal segs, links
        flush_text()
        out.append(ProseLine(line, tuple(segs), tuple(links), heading))
        segs, links = [], []

    for tok in inline.children or []:
        kind = tok.type
        if kind in ("softbreak", "hardbreak"):
            end_line()
            line += 1
        elif kind in ("text", "text_special"):
            if autolink:
                segs.append(Segment("url", tok.content))
            else:
                pending.append(tok.content)
        elif kind == "code_inline":
            flush_text()
            segs.append(Segment("code", tok.content, away))
        elif kind == "link_open":
            if tok.markup == "autolink":
                flush_text()
                autolink = True
            elif href := tok.attrGet("href"):
                links.append(str(href))
                flush_text()
                away = _EXTERNAL.match(str(href)) is not None
        elif kind == "link_close":
            flush_text()
            autolink = away = False
        elif kind == "image":
            if src_ := tok.attrGet("src"):
                links.append(str(src_))
            pending.append(tok.content)
    end_line()
    return out


def inline_text(markdown: str) -> str:
    """Inline Markdown as plain words: link text without its destination, code spans' content."""
    block = ProseBlock("paragraph", 0, markdown.replace("\n", " "))
    return " ".join(pl.render(code="{}", url="") for pl in inline_lines(block, {}))


# --- the document: lines, sections, cursor -----------------------------------------------

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
    if n <= size and len(doc.text) <= chars:
        return range(n)  # it all fits (the text is its lines and a newline between each)
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
