"""Running the product on every plan: in-process through the orchestrator, exactly as
`parallizer fulfill --json` does (real `rg`, the real trees), one Runtime per mode shared by
all requests (as a server process would), at the end-of-plan cursor."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ..config import Settings
from ..models import FulfillRequest, GlobalContext
from .cases import Plan, Suite
from .score import PlanScore, score_plan

MODES = ("offline", "llm")


class EvalSettings(Settings):
    """The product's settings at their defaults: nothing read from the environment or `.env`
    (a developer's PARALLIZER_MAX_QUESTIONS must not change the figures)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass
class PlanRun:
    plan: Plan
    mode: str
    latency_ms: float
    cards: list[dict[str, Any]] = field(default_factory=list)
    score: PlanScore = field(default_factory=PlanScore)
    error: str | None = None  # the request failed as a whole
    failed: dict[str, str] = field(default_factory=dict)  # fulfiller -> its error


def settings_for(roots: list[Path], *, llm_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allowed_roots": ":".join(str(r.resolve()) for r in roots),
        "log_level": "WARNING",
    }
    if llm_url:
        values |= {"llm_url": llm_url, "llm_model": "emulated-model", "llm_api_key": "eval-key"}
    return EvalSettings(**(values | overrides))


def request_for(plan: Plan, tree: Path) -> FulfillRequest:
    text = plan.path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return FulfillRequest(
        user_id="eval",
        document_text=text,
        cursor_position=(len(lines) - 1, len(lines[-1])),  # the end of the plan
        global_context=GlobalContext(scope_root=str(tree), plan_path=str(plan.path)),
    )


async def run_plans(
    plans: list[Plan],
    trees: dict[str, Path],
    settings: Settings,
    mode: str,
    progress: Callable[[PlanRun], None] = lambda _: None,
) -> list[PlanRun]:
    from ..orchestrator import Orchestrator
    from ..runtime import Runtime

    runs = []
    async with Runtime(settings) as runtime:
        orch = Orchestrator(runtime)
        for plan in plans:
            tree = trees[plan.tree]
            request = request_for(plan, tree)
            started = time.perf_counter()
            try:
                job = await asyncio.to_thread(orch.prepare, request)
                response = await orch.fulfill(job)
            except Exception as exc:  # a failed request is a result to report
                run = PlanRun(plan, mode, (time.perf_counter() - started) * 1000, error=repr(exc))
            else:
                wire = response.to_wire()
                run = PlanRun(plan, mode, (time.perf_counter() - started) * 1000, wire["cards"])
                for name, t in (wire.get("timings") or {}).get("fulfillers", {}).items():
                    if not t.get("ok", True):
                        run.failed[name] = t.get("error") or "failed"
            run.score = await asyncio.to_thread(score_plan, plan, run.cards, tree)
            progress(run)
            runs.append(run)
    return runs


@contextlib.asynccontextmanager
async def llm_emulator(latency: float) -> AsyncIterator[str]:
    """`parallizer emulate llm` in its own process; yields its base URL (…/v1)."""
    from ..bench.harness import emulator_process

    async with emulator_process("llm", latency) as url:
        yield url


async def run_suite(
    suite: Suite,
    trees: dict[str, Path],
    modes: tuple[str, ...] = MODES,
    *,
    llm_latency: float = 0.05,
    progress: Callable[[PlanRun], None] = lambda _: None,
    **overrides: Any,
) -> list[PlanRun]:
    roots = [*{p.parent for p in trees.values()}, suite.data]
    runs: list[PlanRun] = []
    for mode in modes:
        if mode == "offline":
            runs += await run_plans(
                suite.plans, trees, settings_for(roots, **overrides), mode, progress
            )
        else:
            async with llm_emulator(llm_latency) as url:
                settings = settings_for(roots, llm_url=url, **overrides)
                runs += await run_plans(suite.plans, trees, settings, mode, progress)
    return runs
