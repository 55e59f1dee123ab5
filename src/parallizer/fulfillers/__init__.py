"""The fulfiller registry, in the order their cards are listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ambiguities import Ambiguities
from .base import Fulfiller
from .code_search import CodeSearch
from .completions import Completions
from .web_context import WebContext

if TYPE_CHECKING:
    from ..runtime import Runtime


def build_fulfillers(runtime: Runtime) -> dict[str, Fulfiller]:
    made: list[Fulfiller] = [
        Ambiguities(runtime),
        WebContext(runtime),
        CodeSearch(runtime),
        Completions(runtime),
    ]
    return {f.name: f for f in made}
