"""The fulfiller registry, in the order their cards are listed.

Eventual order: ambiguities, web_context, code_search, completions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ambiguities import Ambiguities
from .base import Fulfiller
from .code_search import CodeSearch

if TYPE_CHECKING:
    from ..runtime import Runtime


def build_fulfillers(runtime: Runtime) -> dict[str, Fulfiller]:
    made: list[Fulfiller] = [Ambiguities(runtime), CodeSearch(runtime)]
    return {f.name: f for f in made}
