"""The fulfiller registry, in the order their cards are listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Fulfiller

if TYPE_CHECKING:
    from ..runtime import Runtime


def build_fulfillers(runtime: Runtime) -> dict[str, Fulfiller]:
    # final order: ambiguities, web_context, code_search, completions
    from .completions import Completions
    from .web_context import WebContext

    made: list[Fulfiller] = [WebContext(runtime), Completions(runtime)]
    return {f.name: f for f in made}
