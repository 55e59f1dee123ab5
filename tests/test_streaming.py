"""Cards as they are ready: a fulfiller's early cards go out at once and its improved cards
(the same `metadata.id`) replace them; on a scope whose index is still being built, ripgrep
answers first; with an LLM, what the code index establishes is asked before the LLM has
written anything. Real rg, a real code index, the OpenAI-compatible emulator over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from parallizer import assembly
from parallizer.backends.base import Availability
from parallizer.emulators import running
from parallizer.fulfillers.base import FulfillerContext
from parallizer.models import Card, CardType, FulfillRequest, GlobalContext
from parallizer.orchestrator import CardEvent, DoneEvent, EarlyEvent, FulfillerEvent
from parallizer.runtime import Runtime

from .webkit import cursor_at_end, llm_client, settings


class Improving:
    """Sends a card at once, the same card again (nothing new: not resent), then its
    improved version as its answer."""

    name = "improving"
    card_type: ClassVar[CardType] = CardType.context

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        early = Card.make(type=CardType.context, header="early", text="from rg", source=self.name,
                          key="the term")  # fmt: skip
        ctx.emit([early])
        ctx.emit([early])
        await asyncio.sleep(self.pause)
        return [early.model_copy(update={"header": "improved", "text": "from the index"})]


def request(text: str, scope: Path | None = None, only: list[str] | None = None) -> FulfillRequest:
    return FulfillRequest(
        user_id="s",
        document_text=text,
        cursor_position=cursor_at_end(text),
        global_context=GlobalContext(scope_root=str(scope) if scope else None),
        fulfillers=only,
    )


async def events_of(orch, req: FulfillRequest) -> list[object]:
    job = orch.prepare(req)
    return [e async for e in orch.events(job)]


async def test_early_cards_go_out_at_once_and_the_improved_card_replaces_them(tmp_path: Path):
    async with Runtime(settings(tmp_path), web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt, [Improving()])
        events = await events_of(orch, request("# Plan\n"))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["CardEvent", "EarlyEvent", "CardEvent", "FulfillerEvent", "DoneEvent"]
    first, second = (e.card for e in events if isinstance(e, CardEvent))
    assert (first.header, second.header) == ("early", "improved")
    assert first.metadata.id == second.metadata.id
    done = events[-1]
    assert isinstance(done, DoneEvent) and [c.header for c in done.cards] == ["improved"]


async def test_on_a_cold_scope_ripgreps_card_comes_first_then_the_indexs(code_tree: Path):
    """The index of a scope never seen is still being built: CodeSearch answers from rg and
    sends the same card (same id) again once the index has it."""
    plan = "# Plan\n\nWrap the network calls in `RetryPolicy`.\n"
    async with Runtime(settings(code_tree.parent), web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt)
        assert rt.code.peek(code_tree) is None
        events = await events_of(orch, request(plan, code_tree, ["code_search"]))
    cards = [e.card for e in events if isinstance(e, CardEvent)]
    early = [i for i, e in enumerate(events) if isinstance(e, EarlyEvent)]
    assert early and early[0] < next(i for i, e in enumerate(events) if isinstance(e, FulfillerEvent))
    about = [c for c in cards if c.header.startswith("`RetryPolicy`")]
    assert len(about) == 2 and about[0].metadata.id == about[1].metadata.id
    assert about[0].header == "`RetryPolicy` — src/app/retry.py:5"  # rg's line rules
    assert about[1].header == "`RetryPolicy` — class src/app/retry.py:5"  # the index's kind


async def test_a_warm_scopes_definition_card_does_not_wait_for_ripgrep(code_tree: Path):
    plan = "# Plan\n\nWrap the network calls in `RetryPolicy`.\n"
    async with Runtime(settings(code_tree.parent), web=None, llm=None) as rt:
        await rt.code.snapshot(code_tree)
        orch = assembly.orchestrator(rt)
        events = await events_of(orch, request(plan, code_tree, ["code_search"]))
    cards = [e.card for e in events if isinstance(e, CardEvent)]
    first = next(c for c in cards if c.header.startswith("`RetryPolicy`"))
    last = [c for c in cards if c.metadata.id == first.metadata.id][-1]
    assert "Used in" not in first.text  # the definition, before rg has found its uses
    assert first.header == "`RetryPolicy` — class src/app/retry.py:5"
    assert last.metadata.id == first.metadata.id


async def test_with_an_llm_the_codes_questions_are_asked_before_it_answers(code_tree: Path):
    """The LLM takes 2 s a call: the wrong name the index finds is in the stream (early)
    while the planning call is still in flight at the emulator."""
    plan = "# Plan\n\nWrap the network calls in `RetryPolicies`.\n"
    async with running("llm", latency=2.0) as lm:
        async with Runtime(settings(code_tree.parent), web=None, llm=llm_client(lm)) as rt:
            await rt.code.snapshot(code_tree)
            orch = assembly.orchestrator(rt)
            job = orch.prepare(request(plan, code_tree, ["ambiguities"]))
            in_flight_then: list[int] = []
            seen: list[object] = []
            async for e in orch.events(job):
                seen.append(e)
                if isinstance(e, EarlyEvent):
                    in_flight_then.append(lm.stats.in_flight)
    first = next(e.card for e in seen if isinstance(e, CardEvent))
    assert first.header == "`RetryPolicies`: did you mean `RetryPolicy`?"
    assert in_flight_then and in_flight_then[0] >= 1, "asked while the LLM was still working"
    done = seen[-1]
    assert isinstance(done, DoneEvent)
    assert first.metadata.id in {c.metadata.id for c in done.cards}
