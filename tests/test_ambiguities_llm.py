"""Ambiguities in LLM mode: the LLM plans searches beside the offline ones, writes questions
from the evidence, and any LLM failure falls back to the offline questions. Real rg, a real
OpenAI-compatible emulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path

from parallizer.emulators import running
from parallizer.runtime import Runtime

from .webkit import fulfill, llm_client, settings

PLAN = """# Config loading

## Loader

Call `load_config` once at start-up and wrap the network calls in `RetryPolicy`.
The new `ConfigWatcher` reloads it (TBD: how often).
"""


def planned(*patterns: str) -> str:
    return json.dumps({"queries": [{"pattern": p, "mode": "word"} for p in patterns]})


def questions(*items: tuple[str, list[str]]) -> str:
    return json.dumps({"questions": [{"question": q, "citations": c} for q, c in items]})


async def test_llm_plans_beside_the_offline_searches_and_writes_grounded_questions(code_tree: Path):
    canned = [
        planned("max_retries", "load_config"),
        questions(
            (
                "Should ConfigWatcher reuse the RetryPolicy backoff?",
                ["src/app/retry.py:5", "src/invented.py:7"],
            ),
            ("Is ConfigWatcher meant to replace an existing reloader?", []),
        ),
    ]
    async with running("llm", latency=0.1, canned=canned) as lm:
        async with Runtime(settings(code_tree), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(rt, PLAN, scope=code_tree, only=["ambiguities"])
    ft = resp.timings.fulfillers["ambiguities"]
    assert ft.ok and ft.mode == "llm"
    # what the index established first (two `load_config`), the plan's open spot, then the
    # LLM's first question in its one slot
    assert [c.header for c in resp.cards] == [
        "Which `load_config`?",
        "Still to be decided",
        "Question",
    ]
    llm = resp.cards[2]
    # shown under the open decision it concerns (the sentence naming `ConfigWatcher`)
    assert llm.text == (
        "> The new `ConfigWatcher` reloads it (TBD: how often).\n\n"
        "Should ConfigWatcher reuse the RetryPolicy backoff?"
    )
    # the invented citation is corrected to a name of the question (RetryPolicy, already
    # cited) and so disappears; the open decision's plan line leads
    assert llm.metadata.citations == ["plan:6", "src/app/retry.py:5"]
    by_query = {(q.backend, q.query): q for q in ft.queries}
    planning = by_query[("llm", "plan searches")]
    planned_by_llm = {"max_retries"}
    stage_2_lookups = ("names like ", "is there a ")
    # stage 1, the offline planner's searches: told apart by what they are, not by when
    offline = [
        q
        for q in ft.queries
        if q.backend == "ripgrep"
        and q.query not in planned_by_llm
        and not q.query.startswith(stage_2_lookups)
    ]
    assert {q.query for q in offline} >= {"load_config", "RetryPolicy"}
    # ... and every one of them started while the LLM was still planning
    late = [q.query for q in offline if q.start_ms >= planning.start_ms + planning.ms]
    assert not late, f"offline searches waited for the LLM's plan: {late}"
    # the LLM's new search ran after its plan came back; its duplicate did not run again
    mr = by_query[("ripgrep", "max_retries")]
    assert mr.start_ms >= planning.start_ms + planning.ms
    assert [q.query for q in ft.queries].count("load_config") == 1
    writing = by_query[("llm", "write questions")]
    assert writing.start_ms >= mr.start_ms + mr.ms - 0.5
    assert len(lm.stats.requests) == 2


async def test_when_the_llm_fails_the_offline_questions_are_asked(code_tree: Path):
    async with running("llm", fail_rate=1.0, faults="500") as lm:
        async with Runtime(settings(code_tree), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(rt, PLAN, scope=code_tree, only=["ambiguities"])
    ft = resp.timings.fulfillers["ambiguities"]
    assert ft.ok and ft.mode == "offline"
    assert [(q.query, q.error_kind) for q in ft.queries if q.backend == "llm"] == [
        ("plan searches", "http_500"),
        ("write questions", "http_500"),
    ]
    headers = [c.header for c in resp.cards]
    assert "Which `load_config`?" in headers  # defined in two files: the offline question
    assert all(c.metadata.source == "ambiguities" for c in resp.cards)


async def test_an_ungrounded_answer_falls_back_to_offline(code_tree: Path):
    canned = [
        planned("load_config"),
        questions(("Should `Frobnicator` be async?", ["src/made_up.py:3"])),
    ]
    async with running("llm", canned=canned) as lm:
        async with Runtime(settings(code_tree), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(rt, PLAN, scope=code_tree, only=["ambiguities"])
    ft = resp.timings.fulfillers["ambiguities"]
    assert ft.mode == "offline" and resp.cards
    writing = next(q for q in ft.queries if q.query == "write questions")
    assert not writing.ok and writing.error_kind == "malformed"
    assert not any("Frobnicator" in c.text for c in resp.cards)
