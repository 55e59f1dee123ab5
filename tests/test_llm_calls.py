"""LLM calls per request, counted by the OpenAI-compatible emulator itself: one planning call
serves every fulfiller of a request (Ambiguities' code searches and WebContext's web queries,
shared through the request's single flight), then one writing call per fulfiller with
evidence; Completions keeps its own call. Real rg, real HTTP over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from parallizer.document import Document
from parallizer.emulators import running
from parallizer.fulfillers.planning import LABEL
from parallizer.fulfillers.web_context import offline_queries
from parallizer.planner.llm import PLAN_ASK
from parallizer.runtime import Runtime
from parallizer.service.app import create_app

from .conftest import eventually
from .service.kit import asgi_client
from .test_workers import _held_until
from .webkit import PLAN, cursor_at_end, fulfill, llm_client, perplexity, settings

PLANNED = ["ambiguities", "web_context", "code_search"]


def kinds(texts: list[str]) -> dict[str, int]:
    """The emulator's requests by what they asked (each prompt says what it is for)."""
    out = {"plan": 0, "questions": 0, "web cards": 0, "completion": 0, "other": 0}
    for t in texts:
        if PLAN_ASK in t:
            out["plan"] += 1
        elif "Ripgrep evidence from the repository" in t:
            out["questions"] += 1
        elif "Web search results" in t:
            out["web cards"] += 1
        elif "The line so far" in t:
            out["completion"] += 1
        else:
            out["other"] += 1
    return out


async def test_one_planning_call_serves_ambiguities_and_web_context(code_tree: Path):
    async with running("perplexity", latency=0.05) as pp, running("llm", latency=0.1) as lm:
        rt = Runtime(settings(code_tree), web=perplexity(pp), llm=llm_client(lm))
        async with rt:
            resp = await fulfill(rt, PLAN, scope=code_tree, only=PLANNED)
    fts = resp.timings.fulfillers
    assert fts["ambiguities"].mode == "llm" and fts["web_context"].mode == "llm"
    # the emulator saw 3 calls: the plan once, then one writing call per fulfiller
    assert lm.stats.total == 3
    assert kinds(lm.stats.texts()) == {
        "plan": 1, "questions": 1, "web cards": 1, "completion": 0, "other": 0,
    }  # fmt: skip
    # the one planning prompt asked for both lists
    [plan] = [r for r in lm.stats.requests if PLAN_ASK in r.text]
    assert plan.response_format == "json_schema"
    # both fulfillers report the planning call; exactly one ran it, the other joined it
    plans = [
        q for ft in fts.values() for q in ft.queries if q.backend == "llm" and q.query == LABEL
    ]
    assert len(plans) == 2 and all(q.ok for q in plans)
    assert sorted(bool(q.shared) for q in plans) == [False, True]
    # CodeSearch makes no LLM call; the web searches are the LLM's planned queries
    assert not [q for q in fts["code_search"].queries if q.backend == "llm"]
    web = [q.query for q in fts["web_context"].queries if q.backend == "perplexity"]
    assert web and pp.stats.texts() == web


async def test_completions_keep_their_own_call(code_tree: Path):
    async with running("perplexity", latency=0.05) as pp, running("llm", latency=0.05) as lm:
        rt = Runtime(settings(code_tree), web=perplexity(pp), llm=llm_client(lm))
        async with rt:
            text = PLAN.rstrip("\n")  # the cursor ends a written line: ghost text is wanted
            resp = await fulfill(rt, text, scope=code_tree, only=[*PLANNED, "completions"])
    assert resp.timings.fulfillers["completions"].mode == "llm"
    assert lm.stats.total == 4
    assert kinds(lm.stats.texts()) == {
        "plan": 1, "questions": 1, "web cards": 1, "completion": 1, "other": 0,
    }  # fmt: skip


async def test_different_requests_do_not_share_a_plan(code_tree: Path):
    other = PLAN.replace("live feed?", "live feed, or long polling?")
    async with running("perplexity", latency=0.05) as pp, running("llm", latency=0.2) as lm:
        rt = Runtime(settings(code_tree), web=perplexity(pp), llm=llm_client(lm))
        async with rt:
            await asyncio.gather(
                fulfill(rt, PLAN, scope=code_tree, only=PLANNED),
                fulfill(rt, other, scope=code_tree, only=PLANNED),
            )
    assert kinds(lm.stats.texts())["plan"] == 2 and lm.stats.total == 6


async def test_a_failed_planning_call_falls_back_to_offline_planning(code_tree: Path):
    async with (
        running("perplexity", latency=0.05) as pp,
        running("llm", latency=0.05, fault_on=[f"{PLAN_ASK}=500"]) as lm,
    ):
        rt = Runtime(settings(code_tree, max_queries=3), web=perplexity(pp), llm=llm_client(lm))
        async with rt:
            resp = await fulfill(rt, PLAN, scope=code_tree, only=PLANNED)
    fts = resp.timings.fulfillers
    # the plan was asked once and failed, visibly in both fulfillers' timings
    assert kinds(lm.stats.texts()) == {
        "plan": 1, "questions": 1, "web cards": 1, "completion": 0, "other": 0,
    }  # fmt: skip
    for name in ("ambiguities", "web_context"):
        [q] = [q for q in fts[name].queries if q.query == LABEL]
        assert not q.ok and q.error_kind == "http_500"
    # the web searches are the offline planner's; the questions still rest on the offline
    # searches (rg ran, the index established `load_config` twice)
    doc = Document(PLAN, cursor_at_end(PLAN))
    assert pp.stats.texts() and set(pp.stats.texts()) == set(offline_queries(doc, 3))
    assert any(
        q.backend == "ripgrep" and q.query == "RetryPolicy" for q in fts["ambiguities"].queries
    )
    assert fts["ambiguities"].ok and fts["web_context"].ok
    assert resp.cards and {c.metadata.source for c in resp.cards} >= {"ambiguities", "web_context"}


async def test_in_the_service_the_first_llm_calls_leave_before_the_plan_is_read(
    code_tree: Path, tmp_path: Path
):
    """The service reads the plan in a worker process once the run has started: the planning
    call and the completion call need only the plan's text and sections, so they do not wait
    for the reading. Here the one reading worker is held busy: both calls reach the emulator
    while the reading waits behind it, and the request ends once the worker is free."""
    gate, started = tmp_path / "gate", tmp_path / "started"
    text = PLAN.rstrip("\n")  # the cursor ends a written line: ghost text is wanted
    body = {
        "user_id": "writer",
        "document_text": text,
        "cursor_position": list(cursor_at_end(text)),
        "global_context": {"scope_root": str(code_tree)},
        "fulfillers": [*PLANNED, "completions"],
    }
    async with running("perplexity", latency=0.05) as pp, running("llm", latency=0.05) as lm:
        s = settings(code_tree, read_workers=1)
        rt = Runtime(s, web=perplexity(pp), llm=llm_client(lm))
        async with asgi_client(create_app(s, rt)) as client:
            held = asyncio.ensure_future(
                rt.lanes.in_process(0, _held_until, str(gate), str(started))
            )
            await eventually(started.exists, within=30, what="the reading worker held")
            post = asyncio.ensure_future(client.post("/fulfill", json=body))

            def both_sent() -> bool:
                seen = kinds(lm.stats.texts())
                return seen["plan"] == 1 and seen["completion"] == 1

            await eventually(both_sent, within=30, what="the plan and completion calls")
            await asyncio.sleep(0.2)
            assert not post.done()  # the rest waits for the reading
            assert kinds(lm.stats.texts())["questions"] == 0
            gate.touch()
            response = await post
            await held
    assert response.status_code == 200
    fts = response.json()["timings"]["fulfillers"]
    assert all(fts[n]["ok"] for n in ("ambiguities", "web_context", "completions"))
    assert kinds(lm.stats.texts()) == {
        "plan": 1, "questions": 1, "web cards": 1, "completion": 1, "other": 0,
    }  # fmt: skip
