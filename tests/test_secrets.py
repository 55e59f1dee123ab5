"""A configured secret never reaches the timing report or a log line, traceback included,
even when an unexpected exception carries it in its message."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from parallizer.backends.base import Availability
from parallizer.errors import redact, redact_all
from parallizer.fanout import Call
from parallizer.fulfillers.base import FulfillerContext
from parallizer.logs import setup_logging
from parallizer.models import Card, CardType
from parallizer.runtime import Runtime

from .webkit import fulfill, settings

KEY = "pplx-SECRET-0a1b2c3d4e5f"


class Leaky:
    """A fulfiller whose query fails with the key in its error, and which then fails too."""

    name = "leaky"
    card_type: ClassVar[CardType] = CardType.context

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        async def boom() -> None:
            raise ValueError(f"upstream said: bad key {KEY}")

        await ctx.run([Call(label="q", backend="web", run=boom)])
        raise RuntimeError(f"and then {KEY} again")


async def test_timings_and_logs_never_show_the_key(tmp_path: Path, capsys):
    setup_logging("INFO", "text", [KEY])
    try:
        async with Runtime(settings(tmp_path, perplexity_api_key=KEY), web=None, llm=None) as rt:
            resp = await fulfill(rt, "# Plan\n", only=["leaky"], fulfillers=[Leaky()])
    finally:
        logging.getLogger("parallizer").handlers.clear()
    ft = resp.timings.fulfillers["leaky"]
    assert not ft.ok and ft.error == "RuntimeError: and then *** again"
    assert ft.queries[0].error == "ValueError: upstream said: bad key ***"
    assert KEY not in resp.model_dump_json()
    err = capsys.readouterr().err
    assert "Traceback" in err and "bad key ***" in err  # the traceback was logged, masked
    assert KEY not in err and KEY[:8] not in err


def test_one_redactor_for_secrets_prefixes_and_url_credentials():
    assert redact(f"key {KEY} and {KEY[:10]}…", [KEY]) == "key *** and ***RE…"  # 8+ chars
    assert redact("https://bob:hunter2@proxy:8080/x", []) == "https://***@proxy:8080/x"
    assert redact_all({"a": [f"x{KEY}"], "b": 3}, [KEY]) == {"a": ["x***"], "b": 3}
