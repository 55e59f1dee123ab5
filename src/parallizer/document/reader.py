"""`read(doc)`: every fact the fulfillers take from a plan, from the one Markdown parse.

The facts cover the reading window (`window`): the whole plan up to 64 KiB, else the lines
around the cursor (600 lines, 64 KiB), so a 1 MiB plan costs about what 64 KiB does; headings
and code blocks cover the whole plan. Computed once per document (thread-safe: the service
reads the plan in a worker thread before any fulfiller runs).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal

from ..text import IDENTIFIER, STOP_WORDS
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
from .open_spots import OpenSpot, block_spots, goal_section

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
