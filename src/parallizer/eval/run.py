"""Running the product: in-process through the orchestrator, exactly as
`parallizer fulfill --json` does (real `rg`, the real trees), one Runtime per mode shared by
all requests of every part (as a server process would), at the end-of-document cursor.

Parts: `plans` (planted mistakes in plans over the trees), `deps` (the same over the dependency
projects), `docs` (every document a tree ships, checked against its own tree) and `history`
(an old release's documents against a newer release's code)."""

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
from .cases import Plan, Removal, Suite
from .corpus import select_docs
from .score import Claim, DocScore, PlanScore, claims_in_cards, doc_mentions, score_doc, score_plan

MODES = ("offline", "llm")
PARTS = ("plans", "deps", "docs", "history")


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
    return document_request(plan.path, tree)


def document_request(doc: Path, scope: Path, fulfillers: list[str] | None = None) -> FulfillRequest:
    """The request an editor sends for `doc` in `scope` with the cursor at its end."""
    text = doc.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    return FulfillRequest(
        user_id="eval",
        document_text=text,
        cursor_position=(len(lines) - 1, len(lines[-1])),  # the end of the document
        global_context=GlobalContext(scope_root=str(scope), plan_path=str(doc)),
        fulfillers=fulfillers,
    )


@dataclass
class Answer:
    """One request's outcome: its cards, or why it failed."""

    cards: list[dict[str, Any]]
    latency_ms: float
    error: str | None = None  # the request failed as a whole
    failed: dict[str, str] = field(default_factory=dict)  # fulfiller -> its error


async def ask(orch: Any, request: FulfillRequest) -> Answer:
    started = time.perf_counter()
    try:
        job = await asyncio.to_thread(orch.prepare, request)
        response = await orch.fulfill(job)
    except Exception as exc:  # a failed request is a result to report
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:400]  # one line
        return Answer([], (time.perf_counter() - started) * 1000, error=error)
    wire = response.to_wire()
    answer = Answer(wire["cards"], (time.perf_counter() - started) * 1000)
    for name, t in (wire.get("timings") or {}).get("fulfillers", {}).items():
        if not t.get("ok", True):
            answer.failed[name] = t.get("error") or "failed"
    return answer


@dataclass
class DocClaims:
    claims: list[Claim]
    answer: Answer


async def claims_for(orch: Any, doc: Path, scope: Path) -> DocClaims:
    """Every claim the product makes about `doc` when it is checked against `scope`: the one
    place where the docs and history parts call the product and count what it says (offline or
    with the LLM, as the runtime behind `orch` is set up). Each confident finding of the
    document (`Orchestrator.review`: what `parallizer check` reports, every one, not only
    those the cards have room for) is one claim; a question card that carries no finding (an
    LLM's own question) is one more."""
    request = document_request(doc, scope, ["ambiguities"])
    answer = await ask(orch, request)
    claims: list[Claim] = []
    try:
        review = await orch.review(await asyncio.to_thread(orch.prepare, request))
    except Exception as exc:  # a failed review is a failed request
        answer.error = answer.error or f"review: {type(exc).__name__}: {exc}"[:400]
        return DocClaims(claims_in_cards(answer.cards), answer)
    for f in review.findings:
        if f.severity in ("error", "warning"):
            said = f"{f.message} ({', '.join(f.citations)})"
            claims.append(Claim(f.kind, f.name, said, -1, said))
    claims += [
        c
        for c in claims_in_cards(answer.cards)
        if not (answer.cards[c.card].get("metadata") or {}).get("findings")
    ]
    return DocClaims(claims, answer)


@dataclass
class DocRun:
    part: str  # docs | history
    group: str  # the tree (docs) or the history case (history)
    tree: str  # the tree the document belongs to
    doc: str  # its path in that tree
    mode: str
    claims: list[Claim]
    answer: Answer
    score: DocScore = field(default_factory=DocScore)

    @property
    def questions(self) -> int:
        return sum(1 for c in self.answer.cards if c.get("type") == "question")


@dataclass(frozen=True, slots=True)
class DocJob:
    part: str
    group: str
    tree: str
    doc: Path  # absolute
    tree_path: Path  # the tree the document belongs to
    scope: Path  # the tree it is checked against
    removals: tuple[Removal, ...] = ()  # history: what the newer release removed or renamed
    bugs: tuple[str, ...] = ()  # names of reviewed real bugs in this document


def docs_jobs(suite: Suite, trees: dict[str, Path], only: set[str] | None = None) -> list[DocJob]:
    """The docs part: every tree's documents (by the corpus rule) against their own tree (of
    the trees in `only`, when given)."""
    jobs = []
    for name, spec in suite.trees.items():
        if not spec.docs or name not in trees or (only is not None and name not in only):
            continue
        tree = trees[name]
        docs, _ = select_docs(tree)
        for d in docs:
            rel = d.relative_to(tree).as_posix()
            bugs = tuple(b.name for b in suite.known_bugs if b.tree == name and b.doc == rel)
            jobs.append(DocJob("docs", name, name, d, tree, tree, bugs=bugs))
    return jobs


def history_jobs(
    suite: Suite, trees: dict[str, Path], *, expected_only: bool = False
) -> list[DocJob]:
    """The history part: each case's old documents (by the corpus rule, without the records of
    past releases) against the new tree; `expected_only`: only those using a removed name."""
    jobs = []
    for h in suite.history:
        old, new = trees[h.old], trees[h.new]
        docs, _ = select_docs(old, records=False)
        for d in docs:
            text = d.read_text(encoding="utf-8", errors="replace")
            if expected_only and not any(doc_mentions(text, r.names) for r in h.removals):
                continue
            jobs.append(DocJob("history", h.name, h.old, d, old, new, removals=h.removals))
    return jobs


async def _plans(
    orch: Any,
    plans: list[Plan],
    trees: dict[str, Path],
    mode: str,
    progress: Callable[[PlanRun], None],
) -> list[PlanRun]:
    runs = []
    for plan in plans:
        tree = trees[plan.tree]
        answer = await ask(orch, request_for(plan, tree))
        run = PlanRun(plan, mode, answer.latency_ms, answer.cards, error=answer.error)
        run.failed = answer.failed
        run.score = await asyncio.to_thread(score_plan, plan, run.cards, tree)
        progress(run)
        runs.append(run)
    return runs


async def _docs(
    orch: Any, jobs: list[DocJob], mode: str, progress: Callable[[DocRun], None]
) -> list[DocRun]:
    runs = []
    for job in jobs:
        got = await claims_for(orch, job.doc, job.scope)
        rel = job.doc.relative_to(job.tree_path).as_posix()
        run = DocRun(job.part, job.group, job.tree, rel, mode, got.claims, got.answer)
        text = await asyncio.to_thread(job.doc.read_text, encoding="utf-8", errors="replace")
        run.score = score_doc(text, got.claims, job.removals, job.bugs)
        progress(run)
        runs.append(run)
    return runs


@contextlib.asynccontextmanager
async def llm_emulator(latency: float) -> AsyncIterator[str]:
    """`parallizer emulate llm` in its own process; yields its base URL (…/v1)."""
    from ..bench.harness import emulator_process

    async with emulator_process("llm", latency) as url:
        yield url


@dataclass
class Results:
    plans: list[PlanRun] = field(default_factory=list)  # the plans and deps parts
    docs: list[DocRun] = field(default_factory=list)  # the docs and history parts

    @property
    def requests(self) -> int:
        return len(self.plans) + len(self.docs)

    def failed_in(self, mode: str) -> tuple[int, int]:
        """(requests that failed as a whole, requests) in one mode."""
        runs = [r.error for r in self.plans if r.mode == mode]
        runs += [r.answer.error for r in self.docs if r.mode == mode]
        return sum(e is not None for e in runs), len(runs)

    @property
    def errors(self) -> list[str]:
        """Requests that failed as a whole: the product refused or crashed on them."""
        out = [f"{r.mode} {r.plan.tree}/{r.plan.id}: {r.error}" for r in self.plans if r.error]
        out += [
            f"{r.mode} {r.part} {r.tree}/{r.doc}: {r.answer.error}"
            for r in self.docs
            if r.answer.error
        ]
        return out


async def run_suite(
    suite: Suite,
    trees: dict[str, Path],
    modes: tuple[str, ...] = MODES,
    *,
    parts: tuple[str, ...] = ("plans", "deps"),
    jobs: list[DocJob] | None = None,
    llm_latency: float = 0.05,
    progress: Callable[[PlanRun], None] = lambda _: None,
    doc_progress: Callable[[DocRun], None] = lambda _: None,
    **overrides: Any,
) -> Results:
    """Every part asked for, in each mode: `trees` maps trees and projects to their paths;
    `jobs` are the documents of the docs and history parts (`docs_jobs`, `history_jobs`)."""
    from .. import assembly
    from ..runtime import Runtime

    roots = [*{p.parent for p in trees.values()}, suite.data]
    plans = [
        p
        for p in suite.plans
        if ("plans" in parts and p.tree in suite.trees)
        or ("deps" in parts and p.tree in suite.projects)
    ]
    jobs = [j for j in jobs or [] if j.part in parts]
    out = Results()
    for mode in modes:
        async with contextlib.AsyncExitStack() as stack:
            url = None
            if mode == "llm":
                url = await stack.enter_async_context(llm_emulator(llm_latency))
            runtime = await stack.enter_async_context(
                Runtime(settings_for(roots, llm_url=url, **overrides))
            )
            orch = assembly.orchestrator(runtime)
            out.plans += await _plans(orch, plans, trees, mode, progress)
            out.docs += await _docs(orch, jobs, mode, doc_progress)
    return out
