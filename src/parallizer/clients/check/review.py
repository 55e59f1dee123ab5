"""Review many plans against one scope, concurrently, through one `Runtime`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BadInput
from ...models import SEVERITY_RANK, Finding, FulfillRequest, GlobalContext
from ...orchestrator import Orchestrator

USER_ID = "check"


@dataclass
class PlanReport:
    """One plan's findings (every one, info included: formats filter)."""

    path: str
    """As the user named it."""
    text: str
    findings: list[Finding] = field(default_factory=list)
    relpath: str | None = None
    """Relative to the scope when the plan lies inside it (SARIF and annotations use it)."""
    error: str | None = None
    """Why the review did not run to the end (a failed index or search)."""

    def shown(self, include_info: bool) -> list[Finding]:
        keep = [f for f in self.findings if include_info or f.severity != "info"]
        return sorted(keep, key=lambda f: (f.range[0][0], f.range[0][1], f.kind))


def blocking(findings: list[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above `fail_on` (error, warning; never: none)."""
    if fail_on == "never":
        return []
    rank = SEVERITY_RANK[fail_on]
    return [f for f in findings if SEVERITY_RANK[f.severity] >= rank]


async def review_plans(
    orchestrator: Orchestrator,
    scope: Path,
    plans: list[tuple[str, str, Path | None]],
) -> list[PlanReport]:
    """`plans`: (name as given, text, resolved path inside the allowed roots or None). Every
    plan is reviewed at once; the scope's index is built by the first and shared (the
    index store is single-flight), ripgrep runs stay under the process's rg limit."""

    async def one(name: str, text: str, path: Path | None) -> PlanReport:
        request = FulfillRequest(
            user_id=USER_ID,
            document_text=text,
            cursor_position=(0, 0),
            global_context=GlobalContext(
                scope_root=str(scope), plan_path=str(path) if path is not None else None
            ),
            fulfillers=["ambiguities"],
        )
        job = await asyncio.to_thread(orchestrator.prepare, request)
        review = await orchestrator.review(job)
        error = None
        if not review.timing.ok:
            error = review.timing.error or "the review failed"
        elif review.timing.skipped:
            error = review.timing.skipped
        return PlanReport(name, text, review.findings, job.plan_relpath, error)

    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(*p)) for p in plans]
    except* BadInput as group:
        raise group.exceptions[0] from None
    return [t.result() for t in tasks]
