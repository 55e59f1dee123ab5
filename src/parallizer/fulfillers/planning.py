"""The request's one LLM planning call, shared by the fulfillers that plan with it.

Ambiguities (code searches) and WebContext (web queries) each run `plan_call(ctx)` through
`ctx.run(...)`. The call is built from the request alone (its document and cursor, the parts
the request's fulfillers want), so both build the very same call with the very same key, and
the request's single flight (`Job.memo`) runs it once: the first to ask runs it, the other
joins it (its timing is marked `shared`). No coordination beyond that: each fulfiller uses its
part of the answer and falls back to its offline planner when the call failed or its part
came back empty.

Completions does not use it: ghost text is latency-critical (it must not wait for a planning
answer it has no use for), so it keeps its own single call.
"""

from __future__ import annotations

from ..fanout import Call
from ..llm import LLM
from ..planner import llm as llm_planner
from ..planner.llm import SearchPlan
from .base import FulfillerContext

LABEL = "plan searches"


def parts(ctx: FulfillerContext) -> tuple[int, int]:
    """(code searches, web queries) the planning call asks for: the code part when the
    request runs Ambiguities with a scope to search, the web part when it runs WebContext
    (which this process runs only with a web backend). Every fulfiller of the request
    computes the same pair."""
    n = ctx.settings.max_queries
    job = ctx.job
    code = n if job.runs("ambiguities") and job.scope_root is not None else 0
    web = n if job.runs("web_context") else 0
    return code, web


def plan_call(ctx: FulfillerContext, llm: LLM) -> Call[SearchPlan]:
    """The request's planning call: identical (same key) from every fulfiller of a request,
    different for a different document, cursor or set of parts."""
    doc = ctx.document
    code, web = parts(ctx)
    if not code and not web:
        raise RuntimeError(f"{ctx.name} has nothing to plan with the LLM")
    return llm.call(
        LABEL,
        lambda: llm_planner.plan_searches(llm, doc, code=code, web=web),
        key=("plan", doc.text, doc.cursor, code, web),
    )
