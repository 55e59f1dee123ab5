"""When the first card reaches a writer (issue 20's speed where a writer feels it).

* **cold-scope**: the first card of a request on a scope never seen before (its code index
  not built, nothing persisted), over the orchestrator's event stream (what SSE, `watch`, the
  page and the Language Server read), against one `rg` pass over the same tree. Goal: ≤ 1×.
* **llm-first-question**: with the LLM emulator taking 6 s a call, the first question card
  (a wrong name the code index finds) against the same request offline. Goal: ≤ offline +
  0.5 s: what the index establishes never waits for the LLM.
"""

from __future__ import annotations

import time
from pathlib import Path
from statistics import median
from typing import Any

from .. import assembly
from ..backends.base import CodeQuery
from ..backends.ripgrep import RipgrepBackend
from ..config import Settings
from ..emulators import running
from ..llm import LLMClient
from ..models import CardType, FulfillRequest, GlobalContext
from ..orchestrator import CardEvent
from ..runtime import Runtime
from .scenarios import BenchConfig, _timed, example_plan, stdlib_corpus

COLD_PLAN = """# Retries for the task runner

Wrap `TaskGroup` so that a failed child retries with backoff before the group cancels the
others; `asyncio.timeout` bounds each attempt and `ThreadPoolExecutor` keeps the blocking part.

TBD: how many attempts before the group gives up?
"""

LLM_LATENCY = 6.0


def _settings(root: Path) -> Settings:
    """Settings that keep nothing between runs: every scope is new to the process."""
    values: dict[str, Any] = {"allowed_roots": str(root)}
    if "index_dir" in Settings.model_fields:  # an index persisted on disk would be warm
        values["index_dir"] = ""
    return Settings.model_validate(values)


def cold_request(corpus: Path, user: str, i: int) -> FulfillRequest:
    """COLD_PLAN over `corpus`, made distinct by `i` (no cache answers for an earlier run)."""
    return FulfillRequest(
        user_id=user,
        document_text=f"{COLD_PLAN}\n<!-- {i} -->\n",
        cursor_position=(2, 10),
        global_context=GlobalContext(scope_root=str(corpus)),
    )


async def _first_card(
    runtime: Runtime, request: FulfillRequest, card_type: CardType | None = None
) -> tuple[float, float, float]:
    """(seconds to the first card of `card_type` (any type when None), to the first card
    citing code (not only the plan), to the end)."""
    orch = assembly.orchestrator(runtime)
    started = time.perf_counter()
    job = orch.prepare(request)
    first: float | None = None
    code: float | None = None
    async for event in orch.events(job):
        if not isinstance(event, CardEvent):
            continue
        now = time.perf_counter() - started
        if first is None and (card_type is None or event.card.type is card_type):
            first = now
        if code is None and any(not c.startswith("plan:") for c in event.card.metadata.citations):
            code = now
    total = time.perf_counter() - started
    return (first if first is not None else total), (code if code is not None else total), total


async def cold_scope(cfg: BenchConfig, *, corpus: Path | None = None) -> dict[str, Any]:
    corpus = corpus or cfg.corpus or stdlib_corpus()
    rg = RipgrepBackend(max_filesize="2M")
    passes = []
    for _ in range(max(3, cfg.reps)):
        secs, _ = await _timed(lambda: rg.search(CodeQuery(pattern="TaskGroup"), corpus))
        passes.append(secs)
    firsts, codes, totals = [], [], []
    for i in range(max(2, cfg.reps)):
        # a new runtime each time: its code knowledge has never seen the scope
        async with Runtime(_settings(corpus), web=None, llm=None) as runtime:
            first, code, total = await _first_card(runtime, cold_request(corpus, f"cold-{i}", i))
        firsts.append(first)
        codes.append(code)
        totals.append(total)
    pass_s = median(passes)
    first_s = median(firsts)
    return {
        "name": "cold-scope",
        "corpus": str(corpus),
        "one_pass_s": round(pass_s, 4),
        "first_card_s": round(first_s, 4),
        "first_code_card_s": round(median(codes), 4),
        "code_ratio": round(median(codes) / pass_s, 2) if pass_s > 0 else None,
        "all_cards_s": round(median(totals), 3),
        "ratio": round(first_s / pass_s, 2) if pass_s > 0 else None,
        "goal": "first card <= 1 x one rg pass",
    }


async def llm_first_question(cfg: BenchConfig, *, latency: float = LLM_LATENCY) -> dict[str, Any]:
    text, scope = example_plan()  # it misspells `RipgrepBackend`: a question the index settles
    lines = text.split("\n")
    settings = _settings(scope)

    def request(i: int) -> FulfillRequest:
        return FulfillRequest(
            user_id=f"first-question-{i}",
            document_text=f"{text}\n<!-- {i} -->\n",
            cursor_position=(len(lines) - 1, 0),
            global_context=GlobalContext(scope_root=str(scope)),
            fulfillers=["ambiguities"],
        )

    offline: list[float] = []
    async with Runtime(settings, web=None, llm=None) as runtime:
        await runtime.code.snapshot(scope)  # warm: the index is not what is measured
        for i in range(max(2, cfg.reps)):
            first, _, _ = await _first_card(runtime, request(i), CardType.question)
            offline.append(first)
    with_llm: list[float] = []
    totals: list[float] = []
    async with running("llm", latency=latency) as emulator:
        llm = LLMClient(base_url=emulator.url, model="emulated", api_key="bench",
                        timeout=4 * latency + 10)  # fmt: skip
        async with Runtime(settings, web=None, llm=llm) as runtime:
            await runtime.code.snapshot(scope)
            for i in range(max(2, cfg.reps)):
                first, _, total = await _first_card(runtime, request(100 + i), CardType.question)
                with_llm.append(first)
                totals.append(total)
    offline_s, llm_s = median(offline), median(with_llm)
    return {
        "name": "llm-first-question",
        "llm_latency_s": latency,
        "offline_first_s": round(offline_s, 4),
        "llm_first_s": round(llm_s, 4),
        "llm_all_s": round(median(totals), 3),
        "over_offline_s": round(llm_s - offline_s, 4),
        "goal": "first question <= offline + 0.5 s",
    }


def summary(r: dict[str, Any]) -> str:
    if r["name"] == "cold-scope":
        return (
            f"first card {r['first_card_s']:.3f} s, first citing code "
            f"{r['first_code_card_s']:.3f} s vs one rg pass {r['one_pass_s']:.3f} s "
            f"({r['ratio']}×, {r['code_ratio']}×); every card {r['all_cards_s']:.2f} s"
        )
    return (
        f"first question with the LLM at {r['llm_latency_s']:g} s a call: {r['llm_first_s']:.3f} s "
        f"vs offline {r['offline_first_s']:.3f} s (+{r['over_offline_s']:.3f} s); every card "
        f"{r['llm_all_s']:.2f} s"
    )


def report_lines(scenarios: list[dict[str, Any]]) -> list[str]:
    mine = [s for s in scenarios if s["name"] in ("cold-scope", "llm-first-question")]
    if not mine:
        return []
    lines = ["", "## The first card", "", "| Scenario | Measured | Goal |", "|---|---|---|"]
    for s in mine:
        lines.append(f"| {s['name']} | {summary(s)} | {s['goal']} |")
    return lines
