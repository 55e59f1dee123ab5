"""Where the app is assembled: the fulfillers' registry over a runtime's parts, and the
orchestrator that runs it. The service, the CLI, the clients, the bench and the eval start
here; nothing below imports it.

A new fulfiller is one module in `fulfillers/` and one line in `registry`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .fulfillers.ambiguities import Ambiguities
from .fulfillers.base import Fulfiller
from .fulfillers.code_search import CodeSearch
from .fulfillers.completions import Completions
from .fulfillers.web_context import WebContext
from .orchestrator import Orchestrator
from .runtime import Runtime


def registry(runtime: Runtime) -> list[Fulfiller]:
    """Every fulfiller, built from the parts it needs, in card order."""
    code, rg, web, llm = runtime.code, runtime.rg, runtime.web, runtime.llm
    return [
        Ambiguities(code, rg, llm, runtime.deps),
        WebContext(web, llm),
        CodeSearch(code, rg),
        Completions(rg, llm),
    ]


def orchestrator(runtime: Runtime, fulfillers: Iterable[Fulfiller] | None = None) -> Orchestrator:
    """The orchestrator over `runtime` with `fulfillers` (default: the registry)."""
    made = list(fulfillers) if fulfillers is not None else registry(runtime)
    return Orchestrator(runtime, {f.name: f for f in made})
