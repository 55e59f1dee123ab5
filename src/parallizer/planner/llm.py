"""LLM planning and writing: prompts in, typed and validated results out.

Each function makes one LLM call (run it inside `ctx.run([llm.call(label, lambda: ...)])` so
it is bounded, timed and reported with backend `llm`) and returns typed results or raises
`BackendError` (`malformed` when nothing usable survives validation), so the caller can fall
back to its offline path. A request makes one planning call (`plan_searches`: the code
searches and the web queries in one answer, shared by its fulfillers through
`fulfillers.planning`), then one writing call per fulfiller with evidence. What the model says
is never trusted as is:

* web queries: trimmed, de-duplicated, length-capped;
* web cards: at most 3, at most 60 words each, links only to URLs the search returned, and a
  card citing none of them is dropped;
* code queries: modes limited to word/literal/regex, regexes length-capped and sanity-checked
  (no empty matches, no look-around or back-references, some literal text);
* questions: citations kept only when they are `path:line`s shown in the evidence.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..backends.base import CodeQuery, CodeSearchResult, WebResult
from ..document import Document
from ..errors import BackendError, BadAnswer, EmptyAnswer
from ..llm.client import LLM
from ..llm.parse import drop_reasoning, items_of, strip_reasoning
from ..models import Card, CardType
from ..text import IDENTIFIER_RE, clip, clip_around, single_line

CURSOR_MARK = "▌"
EXCERPT_CHARS = 4000
MAX_CARD_WORDS = 60
MAX_WEB_CARDS = 3
MAX_CARD_SOURCES = 4
MAX_QUERY_CHARS = 200
MAX_PATTERN_CHARS = 100
MAX_REGEX_CHARS = 120
MAX_QUESTION_CHARS = 300
EVIDENCE_PER_QUERY = 8
EVIDENCE_LINES = 60
COMPLETION_WORDS = 16
COMPLETION_CHARS = 120

_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,10}):(\d+)\b")
_LINK = re.compile(r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])+)\]\((https?://[^)\s]+)\)")
_URL = re.compile(r"https?://[^\s)\]>\"']+")
_CITATION_IN_FACTS = re.compile(r" at ((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,10}:\d+)")
_MISSING_IN_FACTS = re.compile(r"`([^`]+)`(?: does not exist| has no)")


# --- the plan as a prompt -------------------------------------------------------------------


def outline(doc: Document) -> str:
    return "\n".join(f"{'#' * s.level} {s.title}" for s in doc.sections if s.level) or "(none)"


def excerpt(doc: Document, limit: int = EXCERPT_CHARS) -> str:
    """The cursor's section with the cursor marked, cut to `limit` characters around it."""
    sec = doc.cursor_section
    line, col = doc.cursor
    lines = list(doc.lines[sec.start : sec.end])
    k = line - sec.start
    lines[k] = lines[k][:col] + CURSOR_MARK + lines[k][col:]
    text = "\n".join(lines)
    return clip_around(text, text.index(CURSOR_MARK), limit, before=2 / 3)


def _plan_block(doc: Document) -> str:
    return (
        f"Outline of the plan:\n{outline(doc)}\n\n"
        f"The section being written ({CURSOR_MARK} marks the cursor):\n"
        f"<<<\n{excerpt(doc)}\n>>>"
    )


def _strings(schema_items: Any) -> list[str]:
    out = []
    for item in schema_items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            val = next((v for v in item.values() if isinstance(v, str) and v.strip()), None)
            if val:
                out.append(val)
    return out


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split()).strip().strip('"').strip()


# --- (a) the request's one planning call: code searches and web queries ------------------


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What one planning call proposed for a request: ripgrep searches (Ambiguities) and web
    queries (WebContext), each validated; a part not asked for, or with nothing usable, is
    empty (its fulfiller plans offline)."""

    code: list[CodeQuery] = field(default_factory=list)
    web: list[str] = field(default_factory=list)


PLAN_SYSTEM = (
    "You help an engineer who is writing a technical plan inside its code repository, by "
    "planning searches for the part of the plan at the cursor."
)
PLAN_CODE_PART = (
    "`code_searches`: at most {n} ripgrep searches of the repository, to check the plan "
    "against the code: where the things it names are defined and used, whether they exist at "
    "all, and whether there are competing versions. `mode`: `word` for an identifier (whole "
    "word), `literal` for an exact phrase or path fragment, `regex` only when needed (Rust "
    f"regex syntax, no look-around, at most {MAX_REGEX_CHARS} characters)."
)
PLAN_WEB_PART = (
    "`web_queries`: at most {n} web search queries (each at most 12 words, self-contained, "
    "specific) whose answers would help with the part of the plan at the cursor: facts, "
    "pitfalls, limits, best practices of the public technologies and techniques it mentions. "
    "Do not search the web for names that only exist in their private code."
)
PLAN_CODE_EXAMPLE = (
    '"code_searches": [{"pattern": "...", "mode": "word", "ignore_case": false, "why": "..."}]'
)
PLAN_WEB_EXAMPLE = '"web_queries": ["..."]'
PLAN_ASK = "Plan the searches for the section at the cursor."
"""Ends the planning call's prompt (and only its): what an emulator's fault rule can name."""

CODE_QUERIES_SCHEMA_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string"},
        "mode": {"type": "string", "enum": ["word", "literal", "regex"]},
        "ignore_case": {"type": "boolean"},
        "why": {"type": "string"},
    },
    "required": ["pattern", "mode", "ignore_case", "why"],
    "additionalProperties": False,
}


def plan_schema(code: int, web: int) -> dict[str, Any]:
    """One JSON schema holding both lists (only the parts asked for)."""
    props: dict[str, Any] = {}
    if code:
        props["code_searches"] = {
            "type": "array",
            "items": CODE_QUERIES_SCHEMA_ITEM,
            "maxItems": code,
        }
    if web:
        props["web_queries"] = {"type": "array", "items": {"type": "string"}, "maxItems": web}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def plan_system(code: int, web: int) -> str:
    parts = [PLAN_SYSTEM, "Propose:"]
    example = []
    if code:
        parts.append("- " + PLAN_CODE_PART.format(n=code))
        example.append(PLAN_CODE_EXAMPLE)
    if web:
        parts.append("- " + PLAN_WEB_PART.format(n=web))
        example.append(PLAN_WEB_EXAMPLE)
    return "\n".join(parts) + "\nAnswer in JSON: {" + ", ".join(example) + "}."


def _web_items(items: Sequence[Any], n: int) -> list[str]:
    """Web queries: trimmed, de-duplicated (case aside), length-capped, at most `n`."""
    out: dict[str, str] = {}
    for q in _strings(items):
        q = _clean(q)
        if 3 <= len(q) <= MAX_QUERY_CHARS:
            out.setdefault(q.lower(), q)
    return list(out.values())[:n]


def _code_items(items: Sequence[Any], n: int) -> list[CodeQuery]:
    """Code searches: validated (`validate_code_query`), de-duplicated, at most `n`."""
    out: dict[tuple[str, str, bool], CodeQuery] = {}
    for item in items:
        if isinstance(item, dict):
            q = validate_code_query(
                str(item.get("pattern") or ""),
                str(item.get("mode") or ""),
                bool(item.get("ignore_case", False)),
            )
        elif isinstance(item, str):  # a list answer: each line is a pattern
            q = validate_code_query(item.split(" — ")[0].split(": ")[0], "")
        else:
            q = None
        if q is not None:
            out.setdefault((q.pattern, q.mode, q.ignore_case), q)
    return list(out.values())[:n]


def _part(value: Any, key: str, both: bool) -> list[Any]:
    """The items of one part of a planning answer. Asked for one part, any list will do
    (`items_of`); asked for both, a dict must name the part, and a bare list (a model that
    answered with a numbered list) is split: one identifier per line is a code search, a
    phrase of several words a web query."""
    if not both:
        try:
            return items_of(value, key)
        except BackendError:
            return []
    if isinstance(value, dict):
        got = value.get(key)
        return got if isinstance(got, list) else []
    if isinstance(value, list):
        strings = [v.strip().strip("`") for v in value if isinstance(v, str)]
        if key == "code_searches":
            return [s for s in strings if IDENTIFIER_RE.fullmatch(s)]
        return [s for s in strings if len(s.split()) >= 2]
    return []


async def plan_searches(llm: LLM, doc: Document, *, code: int, web: int) -> SearchPlan:
    """The request's one planning call: at most `code` ripgrep searches and `web` web queries
    for the part of the plan at the cursor (0: that part is not asked for). Every fulfiller
    of the request that plans with the LLM shares this call (`fulfillers.planning`)."""
    if code <= 0 and web <= 0:
        raise ValueError("plan_searches: ask for code searches, web queries or both")
    value = await llm.complete_json(
        system=plan_system(code, web),
        user=f"{_plan_block(doc)}\n\n{PLAN_ASK}",
        schema=plan_schema(code, web),
        name="search_plan",
        max_tokens=100 + 100 * max(code, 0) + 60 * max(web, 0),
    )
    both = code > 0 and web > 0
    plan = SearchPlan(
        code=_code_items(_part(value, "code_searches", both), code) if code > 0 else [],
        web=_web_items(_part(value, "web_queries", both), web) if web > 0 else [],
    )
    if not plan.code and not plan.web:
        raise BadAnswer("llm: no usable search in the model's answer")
    return plan



# --- (b) web context cards ------------------------------------------------------------------

WEB_CARDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cards": {
            "type": "array",
            "maxItems": MAX_WEB_CARDS,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "text": {"type": "string"},
                    "sources": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["title", "text", "sources"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["cards"],
    "additionalProperties": False,
}

WEB_CARDS_SYSTEM = (
    "You write context cards for an engineer writing a technical plan. From the web search "
    f"results given, write at most {MAX_WEB_CARDS} cards, each an insight of at most "
    f"{MAX_CARD_WORDS - 15} words that matters for the section at the cursor, with Markdown "
    "links to the result URLs it rests on, and list those URLs in `sources`. Use only the "
    "URLs given. Skip anything generic. Answer in JSON: "
    '{"cards": [{"title": "...", "text": "...", "sources": ["https://..."]}]}.'
)


def words(text: str) -> int:
    """Words as a reader counts them: a Markdown link counts as the words of its label."""
    return len(_LINK.sub(r"\1", text).split())


def _cut_words(text: str, n: int) -> str:
    """`text` cut to `n` words (links kept whole: a link's label words count)."""
    if words(text) <= n:
        return text
    tokens = re.split(r"(\[(?:[^\[\]\n]|\[[^\[\]\n]*\])+\]\(https?://[^)\s]+\))", text)
    out, left = [], n
    for tok in tokens:
        if not tok:
            continue
        w = words(tok)
        if w <= left:
            out.append(tok)
            left -= w
        elif not _LINK.fullmatch(tok):
            out.append(" ".join(tok.split()[:left]))
            left = 0
        if left <= 0:
            break
    return "".join(out).rstrip(" ,;:") + "…"


def link_label(url: str, title: str | None = None) -> str:
    if title:
        return clip(single_line(title), 40)
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def _results_block(results: Sequence[WebResult]) -> str:
    parts = []
    for i, r in enumerate(results, 1):
        src = "\n".join(
            f"  [{k}] {s.title or link_label(s.url)} — {s.url}"
            + (f"\n      {' '.join(s.snippet.split())[:200]}" if s.snippet else "")
            for k, s in enumerate(r.sources[:6], 1)
        )
        answer = " ".join(r.answer.split())[:1200] or "(no summary)"
        parts.append(f"Result {i} — query: {r.query}\nAnswer: {answer}\nSources:\n{src}")
    return "\n\n".join(parts)


def _url_in(url: str, known: dict[str, str | None]) -> str | None:
    url = url.strip().rstrip(".,;")
    if url in known:
        return url
    trimmed = url.rstrip("/")
    return next((k for k in known if k.rstrip("/") == trimmed), None)


def card_from_text(
    title: str,
    body: str,
    cited: Sequence[str],
    known: dict[str, str | None],
    *,
    source: str = "web_context",
) -> Card | None:
    """A context card of at most 60 words whose links all point at `known` URLs, or None
    when it cites none of them."""
    body = _clean(strip_reasoning(body))

    def keep_link(m: re.Match[str]) -> str:
        url = _url_in(m.group(2), known)
        return f"[{m.group(1)}]({url})" if url else m.group(1)

    body = _LINK.sub(keep_link, body)
    linked = [u for u in (_url_in(m.group(2), known) for m in _LINK.finditer(body)) if u]
    from_list = (_url_in(c, known) for c in cited)
    urls = list(dict.fromkeys([*linked, *(u for u in from_list if u)]))[:MAX_CARD_SOURCES]
    body = _LINK.sub(lambda m: m.group(0) if m.group(2) in urls else m.group(1), body)
    linked = [u for u in linked if u in urls]
    if not urls or not body:
        return None
    missing = [u for u in urls if u not in linked]
    tail = "".join(f" [[{urls.index(u) + 1}]]({u})" for u in missing)
    body = _cut_words(body, MAX_CARD_WORDS - words(tail))
    text = body + tail
    header = _clean(title)[:80] or "Web context"
    return Card.make(
        type=CardType.context,
        header=header,
        text=text,
        source=source,
        citations=urls,
        key=urls[0] if urls else header,
    )


async def web_cards(
    llm: LLM, doc: Document, results: Sequence[WebResult], *, max_cards: int = MAX_WEB_CARDS
) -> list[Card]:
    """At most 3 context cards (≤ 60 words, Markdown links to their sources) from results."""
    known: dict[str, str | None] = {}
    for r in results:
        for s in r.sources:
            known.setdefault(s.url, s.title)
    if not known:
        raise BadAnswer("no web sources to write cards from")
    value = await llm.complete_json(
        system=WEB_CARDS_SYSTEM,
        user=f"{_plan_block(doc)}\n\nWeb search results:\n\n{_results_block(results)}",
        schema=WEB_CARDS_SCHEMA,
        name="web_cards",
        max_tokens=700,
    )
    cards: list[Card] = []
    for item in items_of(value, "cards"):
        if isinstance(item, dict):
            title = str(item.get("title") or "")
            body = str(item.get("text") or item.get("body") or "")
            cited = [str(u) for u in item.get("sources") or [] if isinstance(u, str)]
        elif isinstance(item, str):  # a list answer: links inside the text are all we have
            title, body, cited = "", item, _URL.findall(item)
        else:
            continue
        card = card_from_text(title, body, cited, known)
        if card is not None and all(c.text != card.text for c in cards):
            cards.append(card)
        if len(cards) >= min(max_cards, MAX_WEB_CARDS):
            break
    if not cards:
        raise BadAnswer("llm: no card in the model's answer cites a search result")
    return cards


# --- (c) code search validation ----------------------------------------------------------------

_LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<")


def _literal_chars(regex: str) -> int:
    """Rough count of literal word characters in a regex (escapes and classes removed)."""
    stripped = re.sub(r"\\[A-Za-z]|\[[^\]]*\]|\{[^}]*\}", "", regex)
    return sum(ch.isalnum() or ch == "_" for ch in stripped)


def validate_code_query(pattern: str, mode: str, ignore_case: bool = False) -> CodeQuery | None:
    """A safe `CodeQuery` from a proposed search, or None when it is not sane."""
    pattern = pattern.strip()
    if pattern.startswith("`") and pattern.endswith("`"):
        pattern = pattern.strip("`").strip()
    if mode not in ("word", "literal", "regex"):
        mode = "word" if IDENTIFIER_RE.fullmatch(pattern) else "literal"
    if not pattern or "\x00" in pattern or "\n" in pattern or "\r" in pattern:
        return None
    if mode == "regex":
        if len(pattern) > MAX_REGEX_CHARS or _LOOKAROUND.search(pattern):
            return None
        try:
            compiled = re.compile(pattern)
        except (re.error, RecursionError, OverflowError):
            return None
        if compiled.search("") is not None or _literal_chars(pattern) < 3:
            return None  # matches everywhere (".*", "a*", "\\w+")
    else:
        if len(pattern) > MAX_PATTERN_CHARS or len(pattern.strip()) < 2:
            return None
        if mode == "word" and not re.search(r"\w", pattern):
            mode = "literal"
        if sum(ch.isalnum() for ch in pattern) < 2:
            return None
    return CodeQuery(
        pattern=pattern,
        mode=mode,
        ignore_case=bool(ignore_case),
        context=2,
        max_results=30,
        max_per_file=5,
    )



# --- (d) clarifying questions from the evidence ---------------------------------------------

QUESTIONS_SCHEMA_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string"},
        "citations": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["question", "citations"],
    "additionalProperties": False,
}

QUESTIONS_SYSTEM = (
    "You review a technical plan against its code repository, like a careful senior "
    "engineer. From the ripgrep evidence given, ask at most {n} clarifying questions the "
    "author must answer before the plan can be executed: the plan contradicts the code, a "
    "name it uses has several candidates, something it relies on does not exist, a detail "
    "is left open. Each question is one sentence ending with '?', and cites in `citations` "
    "the `path:line`s of the evidence it rests on, exactly as written in the evidence "
    "(none when it rests on something not found). Never cite anything not in the evidence. "
    "The facts from the code index, when given, are certain: a name they say does not exist "
    "does not; ask first about the mistakes they list (a wrong name, a method on the wrong "
    "class, a wrong argument count, a missing file) and cite the definitions they give. "
    'Answer in JSON: {{"questions": [{{"question": "...?", "citations": ["path:line"]}}]}}.'
)

MAX_FACTS = 40
_NAME_IN_TEXT = re.compile(r"`([^`\n]{2,80})`|\b([A-Za-z_][A-Za-z0-9_]*[A-Z_][A-Za-z0-9_]*)\b")


def resolution_facts(resolutions: Sequence[Any], words: dict[str, bool] | None = None) -> str:
    """What the code index says about the plan's names, one line each, for the prompt: where
    each is defined, which do not exist (and their near names), wrong classes, arities,
    missing paths. `words`: the ripgrep text check (a name found as a word is not missing)."""
    words = words or {}
    lines: list[str] = []
    for r in resolutions:
        v = str(r.verdict)
        if not r.holds(words):
            continue  # no claim: it is a word in the code, or that was not checked
        if v in ("found", "ambiguous", "arity"):
            defs = ", ".join(f"{d.kind} {d.qualname} at {d.citation}" for d in r.definitions[:3])
            if v == "found":
                lines.append(f"- `{r.text}` exists: {defs}")
            elif v == "ambiguous":
                lines.append(f"- `{r.text}` is defined in several source files: {defs}")
            else:
                lines.append(
                    f"- `{r.text}` is called with {r.args} arguments but {defs} takes "
                    f"{r.definitions[0].params}"
                )
        elif v == "wrong_owner":
            has = ", ".join(f"{d.qualname} at {d.citation}" for d in r.definitions[:3])
            lines.append(f"- MISTAKE `{r.text}`: `{r.owner}` has no `{r.name}`; it is {has}")
        elif v == "wrong_name":
            near = ", ".join(f"{d.qualname} at {d.citation}" for d in r.suggestions[:3])
            lines.append(f"- MISTAKE `{r.text}` does not exist; near names: {near}")
        elif v == "missing":
            lines.append(f"- MISTAKE `{r.text}` does not exist anywhere and is not introduced")
        elif v == "missing_path":
            near = ", ".join(r.near_paths) or "none"
            lines.append(f"- MISTAKE file `{r.text}` does not exist; nearest: {near}")
        elif v == "undeclared":
            lines.append(f"- MISTAKE the package `{r.name}` is {r.note}")
        elif v == "introduced":
            lines.append(f"- `{r.text}` is new (the plan introduces it)")
        if len(lines) >= MAX_FACTS:
            break
    return "\n".join(lines)


def names_in(text: str) -> list[str]:
    """The code names a question is about: its backticked spans (their last part) and its
    code-like words."""
    out: list[str] = []
    for span, word in _NAME_IN_TEXT.findall(text):
        if span:
            span = re.sub(r"\(.*$", "", span).strip()
            out += [p for p in re.split(r"::|\.|/", span) if p][-1:]
        elif word:
            out.append(word)
    return list(dict.fromkeys(n for n in out if len(n) >= 2))


def evidence_block(evidence: Sequence[CodeSearchResult]) -> tuple[str, set[str], set[str]]:
    """(text for the prompt, the citable `path:line`s shown, the patterns that found nothing)."""
    lines: list[str] = []
    citable: set[str] = set()
    missing: set[str] = set()
    budget = EVIDENCE_LINES
    for r in evidence:
        q = r.query
        if not r.matches:
            missing.add(q.pattern)
            lines.append(f"search `{q.pattern}` ({q.mode}): no matches")
            continue
        more = " (more not shown)" if r.truncated or len(r.matches) > EVIDENCE_PER_QUERY else ""
        lines.append(f"search `{q.pattern}` ({q.mode}): {len(r.matches)} matches{more}")
        for m in r.matches[:EVIDENCE_PER_QUERY]:
            if budget <= 0:
                break
            lines.append(f"  {m.citation}: {m.text.strip()[:160]}")
            citable.add(m.citation)
            budget -= 1
    return "\n".join(lines) or "(no searches ran)", citable, missing


def normalize_citation(raw: str) -> str | None:
    """`path:line` from what a model wrote (`./src/a.py:3`, `` `src/a.py:3` ``, `src/a.py line 3`)."""
    text = raw.strip().strip("`'\"()[]").strip()
    text = re.sub(r"\s+line\s+(\d+)$", r":\1", text)
    text = text.removeprefix("./")
    m = _CITATION.fullmatch(text) or _CITATION.search(text)
    if not m:
        return None
    return f"{m.group(1).removeprefix('./')}:{int(m.group(2))}"


async def clarifying_questions(
    llm: LLM,
    doc: Document,
    evidence: Sequence[CodeSearchResult],
    *,
    max_questions: int = 3,
    plan_citation: Callable[[int], str] | None = None,
    facts: str = "",
    checker: Any = None,
) -> list[Card]:
    """Question cards (`metadata.source="ambiguities"`) citing only real `path:line`s.

    `facts`: the code index's facts about the plan's names (`resolution_facts`), given to
    the model. Without a `checker`, a citation is kept only when the evidence shows it; with
    one (`fulfillers.evidence.CitationChecker`), every citation is checked against the index
    and the file (the line exists, a name the question is about stands on or near it), and a
    wrong one is corrected to that name's definition or dropped. A question whose citations
    are all invented is dropped; one citing nothing is kept only when it names something that
    does not exist (grounded in an absence). `plan_citation` (`Job.plan_citation`) adds the
    cursor's plan line to each card's citations.
    """
    block, citable, missing = evidence_block(evidence)
    if facts:
        citable |= set(_CITATION_IN_FACTS.findall(facts))
        missing |= set(_MISSING_IN_FACTS.findall(facts))
    facts_block = f"\n\nFacts from the code index:\n{facts}" if facts else ""
    value = await llm.complete_json(
        system=QUESTIONS_SYSTEM.format(n=max_questions),
        user=f"{_plan_block(doc)}{facts_block}\n\nRipgrep evidence from the repository:\n{block}",
        schema={
            "type": "object",
            "properties": {
                "questions": {
                    "type": "array",
                    "items": QUESTIONS_SCHEMA_ITEM,
                    "maxItems": max_questions,
                }
            },
            "required": ["questions"],
            "additionalProperties": False,
        },
        name="questions",
        max_tokens=700,
    )
    raw_items = items_of(value, "questions")
    if checker is not None:
        return await asyncio.to_thread(
            _checked_questions,
            raw_items,
            doc,
            citable,
            missing,
            checker,
            max_questions,
            plan_citation,
        )
    return _questions(raw_items, doc, citable, missing, max_questions, plan_citation)


def _written_line(doc: Document) -> int:
    """The cursor's line, or the last line with text above it (a cursor on the empty line
    after the plan's last newline is not a line of the file)."""
    line = doc.cursor[0]
    while line > 0 and not doc.lines[line].strip():
        line -= 1
    return line


def _checked_questions(raw_items, doc, citable, missing, checker, max_questions, plan_citation):
    """`_questions` with each citation checked against the index and the file (blocking)."""

    def accept(citation: str, text: str) -> str | None:
        return checker.correct(citation, names_in(text))

    return _questions(raw_items, doc, citable, missing, max_questions, plan_citation, accept)


def _questions(
    raw_items: list[Any],
    doc: Document,
    citable: set[str],
    missing: set[str],
    max_questions: int,
    plan_citation: Callable[[int], str] | None,
    accept: Callable[[str, str], str | None] | None = None,
) -> list[Card]:
    cards: list[Card] = []
    for item in raw_items:
        if isinstance(item, dict):
            text = _clean(str(item.get("question") or ""))
            proposed = [str(c) for c in item.get("citations") or [] if isinstance(c, str | int)]
        elif isinstance(item, str):
            text, proposed = _clean(item), []
        else:
            continue
        proposed += [f"{p}:{n}" for p, n in _CITATION.findall(text)]
        if not text or len(text) > MAX_QUESTION_CHARS:
            continue
        normalized = [c for c in map(normalize_citation, proposed) if c]
        if accept is not None:
            fixed = {c: accept(c, text) for c in normalized}
            valid = list(dict.fromkeys(f for f in fixed.values() if f))
            for c, f in fixed.items():  # a corrected citation is corrected in the text too
                if f and f != c:
                    text = text.replace(c, f)
            normalized = [c for c in normalized if fixed[c] != c]
            normalized = [c for c in normalized if not fixed[c]]
        else:
            valid = list(dict.fromkeys(c for c in normalized if c in citable))
        if proposed and not valid:
            continue  # every citation invented: not grounded
        if not proposed and not any(p.lower() in text.lower() for p in missing):
            continue
        # citations the evidence does not hold are removed from the text too
        for c in set(normalized) - set(valid):
            text = re.sub(rf"\s*\(?`?{re.escape(c)}`?\)?", "", text)
        citations = valid[:5]
        if plan_citation is not None:
            citations.append(plan_citation(_written_line(doc)))
        if not text.endswith("?"):
            text = text.rstrip(".") + "?"
        cards.append(
            Card.make(
                type=CardType.question,
                header="Question",
                text=text,
                source="ambiguities",
                citations=citations,
                key=f"llm:{text}",
            )
        )
        if len(cards) >= max_questions:
            break
    if raw_items and not cards:
        raise BadAnswer("llm: no question in the model's answer is grounded")
    return cards


# --- completion -----------------------------------------------------------------------------

COMPLETION_SYSTEM = (
    "You are an autocomplete for a person writing a technical plan in Markdown. Continue the "
    f"line at the cursor with at most {COMPLETION_WORDS - 4} words, in their voice. Reply "
    "with only the text to insert after the cursor: no quotes, no line breaks, no "
    "repetition of what is already written."
)


def clean_completion(raw: str, before: str) -> str:
    """The text to insert after the cursor, from what a model wrote: its first line, quotes
    and any repetition of the line so far removed, capped in words and characters. A leading
    space is kept only when the model wrote one and the line does not already end in one."""
    text = drop_reasoning(raw)
    text = next((ln for ln in text.splitlines() if ln.strip()), "")
    lead = text[:1].isspace()
    text = text.strip().strip("`\"'«»").strip()
    line = before.strip()
    last = before.split()[-1] if before.split() else ""
    if line and text.lower().startswith(line.lower()):
        rest = text[len(line) :]
        lead, text = rest[:1].isspace(), rest.strip()
    elif len(last) >= 3 and text.lower().startswith(last.lower() + " "):
        lead, text = True, text[len(last) :].strip()
    toks = text.split()
    if len(toks) > COMPLETION_WORDS:
        text = " ".join(toks[:COMPLETION_WORDS])
    text = text[:COMPLETION_CHARS].rstrip()
    if not text:
        return ""
    if lead and before and not before[-1].isspace():
        return " " + text
    return text


async def complete_line(llm: LLM, doc: Document) -> str:
    """A short continuation of the line at the cursor (the text to insert)."""
    before = doc.before_cursor
    raw = await llm.complete_text(
        system=COMPLETION_SYSTEM,
        user=f"{_plan_block(doc)}\n\nThe line so far: «{before}»",
        max_tokens=48,
    )
    text = clean_completion(raw, before)
    if not text:
        raise EmptyAnswer("llm: no usable continuation in the model's answer")
    return text
