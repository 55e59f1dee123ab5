"""The app the page's tests serve (`parallizer serve --factory tests.clients.page_kit:app`):
the real one (real fulfillers, rg, code index) plus `Revising`, a fulfiller whose one question
card keeps its `metadata.id` from request to request while its header changes (an improved
card, as SPEC has it), with a finding of its own that no review reports."""

from __future__ import annotations

import itertools
from typing import ClassVar

from fastapi import FastAPI

from parallizer import assembly
from parallizer.backends.base import Availability
from parallizer.fulfillers.base import FulfillerContext
from parallizer.models import Card, CardType, Finding
from parallizer.runtime import Runtime
from parallizer.service import create_app

#: the word of the plan's first line the card's finding is about
WORD = "uploads"


class Revising:
    name = "revising"
    card_type: ClassVar[CardType] = CardType.question

    def __init__(self) -> None:
        self.count = itertools.count(1)

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        first = ctx.document.lines[0]
        col = first.find(WORD)
        findings = []
        if col >= 0:  # ASCII before it in the test's plan: code points are UTF-16 units here
            span = ((0, col), (0, col + len(WORD)))
            finding = Finding(
                name=WORD,
                kind="vague",
                range=span,
                ranges=[span],
                severity="info",
                confidence=0.3,
                message=f"Which {WORD} does the plan mean?",
            )
            findings.append(finding)
        n = next(self.count)
        card = Card.make(
            type=CardType.question,
            header=f"Revision {n}",
            text=f"The same card, made for the {n}th time.",
            source=self.name,
            key="always the same card",
            findings=findings,
        )
        return [card]


def app() -> FastAPI:
    from parallizer.service.app import settings_from_env

    settings = settings_from_env()
    runtime = Runtime(settings)
    return create_app(settings, runtime, fulfillers=[*assembly.registry(runtime), Revising()])
