"""WebContext through the orchestrator, against the emulators: queries in parallel, cards with
links, every failure reported while the rest still make cards, LLM mode and its fallback."""

from __future__ import annotations

import re

from parallizer import assembly
from parallizer.backends.base import WebResult, WebSource
from parallizer.document import Document
from parallizer.emulators import running
from parallizer.fulfillers.web_context import offline_card, offline_queries
from parallizer.planner.llm import words
from parallizer.runtime import Runtime

from .webkit import PLAN, PPLX_KEY, fulfill, llm_client, perplexity, settings

LINK = re.compile(r"\[[^\]]*\]?\]\((https?://[^)\s]+)\)")


def test_offline_queries_come_from_the_cursor_section():
    doc = Document(PLAN, (7, 10))
    queries = offline_queries(doc, 5)
    assert queries[0] == "Should we use Server-Sent Events or WebSockets for the live feed?"
    assert 3 <= len(queries) <= 5
    joined = " | ".join(queries).lower()
    assert "redis streams" in joined and "aiohttp" in joined
    assert "retrypolicy" not in joined  # an internal name the web cannot know


def test_offline_queries_ignore_fenced_code_and_the_half_typed_word():
    text = "## Caching\n\n```\nRedis Cluster config\n```\nWe put Memcached in front. Use Varn"
    doc = Document(text, (5, len(text.split("\n")[5])))
    queries = offline_queries(doc, 3)
    assert any("Memcached" in q for q in queries)
    assert not any("Redis" in q or "Varn" in q for q in queries)


def test_offline_queries_of_an_empty_section_are_none():
    assert offline_queries(Document("## \n\n", (1, 0)), 3) == []


def test_offline_card_turns_markers_into_links_and_keeps_the_lead():
    r = WebResult(
        query="connection pooling",
        answer="Pools reuse sockets [1]. Size them to the backend's limit [2][1]. "
        + "More detail follows here. " * 10,
        sources=[WebSource(url="https://a.example/1"), WebSource(url="https://b.example/2")],
    )
    card = offline_card(r)
    assert card is not None and card.header == "Connection pooling"
    assert card.text.startswith("Pools reuse sockets [[1]](https://a.example/1).")
    assert "[[2]](https://b.example/2)" in card.text
    assert card.metadata.citations == ["https://a.example/1", "https://b.example/2"]
    assert words(card.text) <= 60


def test_offline_card_without_an_answer_uses_the_top_snippet():
    r = WebResult(query="q", sources=[WebSource(url="https://s.example", snippet="Snip it.")])
    card = offline_card(r)
    assert card is not None and card.text == "Snip it. [[1]](https://s.example)"
    assert offline_card(WebResult(query="q")) is None


async def test_offline_web_context_runs_its_queries_in_parallel_and_links_sources():
    async with running("perplexity", latency=0.3) as emu:
        rt = Runtime(settings(max_queries=5), web=perplexity(emu), llm=None)
        async with rt:
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    assert ft.ok and ft.mode == "offline" and len(ft.queries) == 5
    assert all(q.backend == "perplexity" and q.ok for q in ft.queries)
    assert emu.stats.peak == 5
    latest_start = max(q.start_ms for q in ft.queries)
    assert latest_start < min(q.start_ms + q.ms for q in ft.queries)  # all overlap
    assert 1 <= len(resp.cards) <= 3
    for card in resp.cards:
        links = LINK.findall(card.text)
        assert links and set(links) == set(card.metadata.citations)
        assert all(u.startswith(emu.root + "/source/") for u in links)


async def test_web_max_concurrent_two_caps_the_emulator_peak():
    async with running("perplexity", latency=0.1, api_key=PPLX_KEY) as emu:
        s = settings(
            max_queries=5,
            web_max_concurrent=2,
            perplexity_api_key=PPLX_KEY,
            perplexity_url=emu.url,
        )
        async with Runtime(s, llm=None) as rt:  # the web backend built from settings
            assert rt.web is not None and rt.web.name == "perplexity"
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    assert len(ft.queries) == 5 and all(q.ok for q in ft.queries)
    assert emu.stats.peak == 2 and emu.stats.total == 5
    assert all(r.authorized for r in emu.stats.requests)


async def test_a_failed_search_is_reported_and_the_others_still_make_cards():
    async with running(
        "perplexity", latency=0.05, fault_on=["Redis Streams=500", "aiohttp=drop"]
    ) as emu:
        async with Runtime(settings(max_queries=5), web=perplexity(emu), llm=None) as rt:
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    failed = {q.query: q for q in ft.queries if not q.ok}
    assert {q.error_kind for q in failed.values()} == {"http_500", "connection"}
    assert all(q.error for q in failed.values())
    assert ft.ok and resp.cards
    assert not any("Redis Streams" in c.header or "Aiohttp" in c.header for c in resp.cards)


async def test_llm_mode_plans_queries_and_writes_cards():
    async with running("perplexity", latency=0.05) as pp, running("llm", latency=0.05) as lm:
        async with Runtime(settings(max_queries=3), web=perplexity(pp), llm=llm_client(lm)) as rt:
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    assert ft.mode == "llm"
    backends = [q.backend for q in ft.queries]
    assert backends[0] == "llm" and backends[-1] == "llm" and backends.count("perplexity") == 3
    assert ft.queries[0].query == "plan searches" and ft.queries[-1].query == "write web cards"
    # the searches asked are the ones the LLM planned
    assert [r.text for r in pp.stats.requests] == [q.query for q in ft.queries[1:-1]]
    assert resp.cards and all(c.metadata.source == "web_context" for c in resp.cards)
    for card in resp.cards:
        assert set(LINK.findall(card.text)) <= set(card.metadata.citations)
        assert all(u.startswith(pp.root) for u in card.metadata.citations)


async def test_when_the_llm_fails_web_context_falls_back_to_offline():
    async with (
        running("perplexity", latency=0.05) as pp,
        running("llm", fail_rate=1.0, faults="500") as lm,
    ):
        async with Runtime(settings(max_queries=3), web=perplexity(pp), llm=llm_client(lm)) as rt:
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    assert ft.ok and ft.mode == "offline"
    llm_calls = [q for q in ft.queries if q.backend == "llm"]
    assert [(q.query, q.ok, q.error_kind) for q in llm_calls] == [
        ("plan searches", False, "http_500"),
        ("write web cards", False, "http_500"),
    ]
    assert pp.stats.texts()[0] == offline_queries(Document(PLAN, (8, 0)), 3)[0]
    assert resp.cards and all(LINK.search(c.text) for c in resp.cards)


async def test_a_garbage_answer_from_the_llm_also_falls_back():
    async with running("perplexity") as pp, running("llm", llm_format="prose") as lm:
        async with Runtime(settings(), web=perplexity(pp), llm=llm_client(lm)) as rt:
            resp = await fulfill(rt, PLAN, only=["web_context"])
    ft = resp.timings.fulfillers["web_context"]
    assert ft.mode == "offline" and resp.cards
    assert ft.queries[0].error_kind == "malformed"


async def test_unavailable_without_a_web_backend_and_health_says_why():
    async with Runtime(settings(), web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt)
        avail = orch.fulfillers["web_context"].availability()
        health = orch.health()
        assert "web_context" not in orch.available()
        resp = await fulfill(rt, PLAN, only=["web_context"])
    assert not avail.available and "PERPLEXITY_API_KEY" in avail.reason
    assert not health["backends"]["web"].available
    assert "PARALLIZER_LLM_URL" in health["backends"]["llm"].reason
    assert (
        resp.cards == [] and "PERPLEXITY_API_KEY" in resp.timings.fulfillers["web_context"].skipped
    )


async def test_a_repeated_search_is_answered_from_the_web_cache_until_its_ttl():
    async with running("perplexity", latency=0.05) as pp:
        async with Runtime(settings(max_queries=3), web=perplexity(pp), llm=None) as rt:
            first = await fulfill(rt, PLAN, only=["web_context"])
            asked = len(pp.stats.requests)
            second = await fulfill(rt, PLAN, only=["web_context"])
        async with Runtime(
            settings(max_queries=3, web_cache_ttl=0), web=perplexity(pp), llm=None
        ) as rt:
            await fulfill(rt, PLAN, only=["web_context"])
            await fulfill(rt, PLAN, only=["web_context"])
    assert asked == 3 and first.cards
    q2 = second.timings.fulfillers["web_context"].queries
    assert [q.shared for q in q2] == [True, True, True]  # no new request reached the API
    assert [c.text for c in second.cards] == [c.text for c in first.cards]
    assert len(pp.stats.requests) == 3 + 6  # cache off: every request asks again
