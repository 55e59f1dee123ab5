"""The fulfiller protocol: what one kind of card maker must provide.

A fulfiller plans queries, runs them through `ctx.run(...)` (the shared fan-out, which
records every query's timing for the report) and turns outcomes into cards. A new kind of
card is one file with one class like this, registered in `fulfillers/__init__.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from ..backends.base import Availability
from ..models import Card, CardType

if TYPE_CHECKING:
    from ..context import FulfillerContext
    from ..runtime import Runtime


@runtime_checkable
class Fulfiller(Protocol):
    name: ClassVar[str]
    card_type: ClassVar[CardType]

    def availability(self) -> Availability:
        """Whether this process can run it at all (backends configured), and why not."""
        ...

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        """Cards for one request. Failed queries are data (in ctx), not exceptions."""
        ...


def with_ripgrep(runtime: Runtime, reason: str, *, needs: str = "needs ripgrep") -> Availability:
    """Available for `reason` when ripgrep is; otherwise unavailable, saying why."""
    rg = runtime.rg.availability()
    if not rg.available:
        return Availability.no(f"{needs}: {rg.reason}")
    return Availability.yes(reason)
