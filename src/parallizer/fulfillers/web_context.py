"""WebContext: what the web knows about the part of the plan at the cursor.

plan queries (the LLM when one is configured: the request's one planning call, shared with
Ambiguities, `planning.plan_call`; else key phrases of the cursor's section) →
every web search at once through the fan-out → at most 3 context cards, each with Markdown
links to its sources (LLM-written, else the answers' leading sentences with their citation
markers turned into links). Any LLM step that fails falls back to its offline twin; a failed
search is reported in the timings while the others still make cards.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from typing import ClassVar

from ..backends.base import Availability, WebBackend, WebResult
from ..document import Document, ProseLine, inline_text, read
from ..fanout import Call
from ..llm import LLM
from ..models import Card, CardType
from ..planner import llm as llm_planner
from ..text import STOP_WORDS, sentences
from .base import FulfillerContext
from .planning import plan_call

log = logging.getLogger("parallizer.fulfillers.web_context")

MAX_CARDS = 3
LEAD_WORDS = 40  # words of an answer's leading sentences in an offline card

# --- offline query planning -----------------------------------------------------------------
# Web queries want public topics in words, not the repository's own names, so this reads the
# cursor's section its own way, from the document reader's prose lines (Markdown already
# gone: code spans apart, links as their text, URLs dropped); it shares the stop words.

# the planner's English stop words, plus words that name a plan's parts rather than topics
_STOP = STOP_WORDS | frozenset(
    """plan section step steps goal goals note notes overview background summary
    introduction context details todo tbd""".split()
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+#]*(?:[-.][A-Za-z0-9+#]+)*")
_INTERNAL = re.compile(
    r"^(?:[a-z0-9]+_[a-z0-9_]+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+|.*[/\\(){}=].*)$"
)


def _section_text(doc: Document) -> list[ProseLine]:
    """The prose of the cursor's section below its heading, within the reading window."""
    sec = doc.cursor_section
    return [
        pl
        for pl in read(doc).prose
        if sec.start <= pl.line < sec.end and not pl.heading and pl.shown.strip()
    ]


def _is_name(tok: str) -> bool:
    return len(tok) > 1 and tok[0].isupper() and tok.lower() not in _STOP


def _words(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if t.lower() not in _STOP and len(t) > 1]


def offline_queries(doc: Document, max_queries: int = 3) -> list[str]:
    """Web queries from the cursor's section, without an LLM.

    A question the writer typed (a sentence ending in `?` near the cursor) is asked as is.
    Otherwise key phrases are ranked — public-looking code spans (`asyncio.gather`,
    `aiohttp`; not internal `snake_case`/`CamelCase` names or paths), capitalised terms and
    acronyms (Redis Streams, SSE), and repeated word pairs — weighted by nearness to the
    cursor, and each is asked in the context of the section title.
    """
    lines = _section_text(doc)
    cur = doc.cursor[0]
    title = doc.cursor_section.title
    title_words = [w for w in _words(inline_text(title)) if not w.isdigit()]
    queries: list[str] = []

    scores: Counter[str] = Counter()
    shown: dict[str, str] = {}

    typing_word = doc.word_at_cursor  # half-typed: not a topic yet

    def add(phrase: str, weight: float) -> None:
        if typing_word and typing_word in phrase.split():
            return
        key = phrase.lower()
        shown.setdefault(key, phrase)
        scores[key] += weight  # type: ignore[assignment]

    for pl in lines:
        i = pl.line
        near = 1.0 / (1.0 + abs(i - cur) / 4.0)
        text = pl.render(url=" ").strip()  # code spans in backticks
        for s in sentences(text):
            if s.endswith("?") and len(s.split()) >= 3 and abs(i - cur) <= 3:
                q = s.replace("`", "")
                if q.lower() not in (x.lower() for x in queries):
                    queries.append(q)
        for span in (seg.text.strip() for seg in pl.segments if seg.kind == "code"):
            if 2 <= len(span) <= 40 and not _INTERNAL.match(span) and " " not in span:
                add(span, 3.0 * near)
        plain = pl.render(code=" , ", url=" ")
        # capitalised runs and acronyms (a lone capitalised word opening a sentence is
        # just grammar, not a name)
        for sentence in sentences(plain):
            toks = _TOKEN.findall(sentence)
            k = 0
            while k < len(toks):
                if not _is_name(toks[k]):
                    k += 1
                    continue
                j = k
                while j < len(toks) and _is_name(toks[j]):
                    j += 1
                run = toks[k:j]
                if len(run) > 1 or k > 0 or run[0].isupper():
                    add(" ".join(run[:4]), 2.0 * near)
                k = j
        content = [w.lower() for w in _words(plain)]
        for a, b in itertools.pairwise(content):
            if len(a) > 2 and len(b) > 2:
                add(f"{a} {b}", 0.8 * near)

    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    used_words: set[str] = set()
    for key in ranked:
        if len(queries) >= max_queries:
            break
        phrase = shown[key]
        words = set(key.split())
        if words <= used_words:
            continue  # already asked about
        used_words |= words
        # a lone term is asked in the context of the section's title
        ctx = [w for w in title_words if w.lower() not in key][:4] if len(words) == 1 else []
        q = " ".join([phrase, *ctx])
        if q.lower() not in (x.lower() for x in queries):
            queries.append(q)
    if not queries and title_words:
        queries.append(" ".join(title_words[:8]))
    return queries[:max_queries]


# --- offline card writing -------------------------------------------------------------------

_MARKER = re.compile(r"\[(\d{1,2})\]")


def _lead(answer: str, max_words: int = LEAD_WORDS) -> str:
    """The answer's leading sentences, up to `max_words` words (at least one sentence)."""
    text = " ".join(answer.replace("**", "").split())
    out: list[str] = []
    count = 0
    for sentence in sentences(text):
        n = len(sentence.split())
        if out and count + n > max_words:
            break
        out.append(sentence)
        count += n
    return " ".join(out)


def offline_card(result: WebResult) -> Card | None:
    """A card from one search: the answer's lead with its `[n]` markers as links to the
    sources they cite (or, for a search engine without answers, the top snippet)."""
    known = {s.url: s.title for s in result.sources}
    if not known:
        return None
    lead = _lead(result.answer)
    cited: list[str] = []

    def link(m: re.Match[str]) -> str:
        k = int(m.group(1)) - 1
        if 0 <= k < len(result.sources):
            url = result.sources[k].url
            cited.append(url)
            return f"[[{k + 1}]]({url})"
        return ""

    if lead:
        body = re.sub(r"\s+([.,;:])", r"\1", _MARKER.sub(link, lead))
        if not cited:
            cited.append(result.sources[0].url)
    else:
        top = next((s for s in result.sources if s.snippet), None)
        if top is None:
            return None
        body = _lead(top.snippet or "")
        cited.append(top.url)
    header = result.query[:1].upper() + result.query[1:]
    return llm_planner.card_from_text(header, body, cited, known)


def offline_cards(results: list[WebResult], max_cards: int = MAX_CARDS) -> list[Card]:
    cards: list[Card] = []
    for r in results:
        card = offline_card(r)
        if card is not None and all(c.text != card.text for c in cards):
            cards.append(card)
        if len(cards) >= max_cards:
            break
    return cards


# --- the fulfiller --------------------------------------------------------------------------


def web_call(web: WebBackend, query: str, cache_ttl: float | None = None) -> Call[WebResult]:
    """One web search; with `cache_ttl`, its answer is kept that long for identical searches
    (of any request) when run through the process's `Flights`."""
    return Call(
        label=query,
        backend=web.name,
        run=lambda: web.search(query),
        limiter=web.limiter,
        timeout=web.timeout,
        key=("web", web.name, query.lower()),
        cache_ttl=cache_ttl,
        hedge=True,  # a search is idempotent: a slow one may be raced by a second copy
    )


class WebContext:
    """Web context cards: the LLM's web queries (the request's planning call, which leaves
    before the plan is read: `before_reading`) or the offline planner's, searched, then
    written up by the LLM or offline."""

    name: ClassVar[str] = "web_context"
    card_type: ClassVar[CardType] = CardType.context
    before_reading: ClassVar[bool] = True

    def __init__(self, web: WebBackend | None, llm: LLM | None = None) -> None:
        self.web = web
        self.llm = llm

    def availability(self) -> Availability:
        web = self.web
        if web is None:
            return Availability.no(
                "no web search configured: set PERPLEXITY_API_KEY or PARALLIZER_SEARXNG_URL"
            )
        backend = web.availability()
        if not backend.available:
            return backend
        how = "LLM" if self.llm is not None else "offline"
        return Availability.yes(f"via {web.name}, {how} planning")

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        web = self.web
        llm = self.llm
        assert web is not None, "availability() gates this"
        doc = ctx.document
        n = ctx.settings.max_queries
        queries: list[str] = []
        if llm is not None:  # the request's one planning call, shared with Ambiguities
            [planned] = await ctx.run([plan_call(ctx, llm)], what="LLM calls")
            if planned.ok and planned.value is not None:
                queries = planned.value.web[:n]
        await ctx.job.read()  # the planning call left before the plan was read
        source = "the LLM"
        if not queries:
            queries, source = offline_queries(doc, n), "the offline planner"
        log.info("web_context: %d web queries from %s", len(queries), source)
        if not queries:
            ctx.skipped = "nothing in the cursor's section to search the web for"
            return []
        ttl = ctx.settings.web_cache_ttl
        outcomes = await ctx.run([web_call(web, q, ttl) for q in queries], what="web searches")
        results = [o.value for o in outcomes if o.ok and o.value is not None and o.value.sources]
        if not results:
            return []
        if llm is not None:
            [written] = await ctx.run(
                [llm.call("write web cards", lambda: llm_planner.web_cards(llm, doc, results))],
                what="LLM calls",
            )
            if written.ok and written.value:
                ctx.mode = "llm"
                return written.value
            log.info("web_context: LLM cards failed (%s); writing them offline", written.error)
        ctx.mode = "offline"
        return offline_cards(results)
