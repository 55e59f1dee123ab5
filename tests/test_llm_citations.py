"""LLM mode gets the code index's facts, and every citation it writes is checked against the
index and the file: past a file's end or away from the name it is about, it is corrected to
the name's definition; a citation of nothing real is dropped. The certain mistakes found
offline are always asked. Real rg, the OpenAI-compatible emulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path

from parallizer.emulators import running
from parallizer.runtime import Runtime

from .webkit import fulfill, llm_client, settings

PLAN = "# Plan\n\nThen `Client.send` the batch through `HttpTransport`.\n"


def answers(*items: tuple[str, list[str]]) -> list[str]:
    return [
        json.dumps({"queries": [{"pattern": "HttpTransport", "mode": "word"}]}),
        json.dumps({"questions": [{"question": q, "citations": c} for q, c in items]}),
    ]


async def test_llm_citations_are_checked_against_the_index_and_the_file(polyglot: Path):
    canned = answers(
        ("Should `AsyncClient.send` retry on its own?", ["src/app/client.py:999"]),
        ("Is `HttpTransport` shared between clients?", ["src/app/config.py:1"]),
        ("Does `Frobnicator` matter here?", ["nowhere/made_up.py:3"]),
    )
    (polyglot / "plan.md").write_text(PLAN)
    async with running("llm", canned=canned) as lm:
        async with Runtime(settings(polyglot.parent), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(
                rt, PLAN, scope=polyglot, plan=polyglot / "plan.md", only=["ambiguities"]
            )
        prompt = lm.stats.requests[-1].text
    assert resp.timings.fulfillers["ambiguities"].mode == "llm"
    # the facts reached the prompt: the wrong class and where the method really is
    assert "Facts from the code index:" in prompt
    assert (
        "MISTAKE `Client.send`: `Client` has no `send`; it is AsyncClient.send at src/app/client.py:10"
        in prompt
    )
    assert "`HttpTransport` exists: class HttpTransport at src/app/client.py:14" in prompt
    first, *rest = resp.cards
    assert first.header == "`send` is not on `Client`: `AsyncClient.send`?"  # offline, certain
    by_text = {c.text: c.metadata.citations for c in rest}
    # past the file's end: corrected to the definition of the name the question is about
    assert by_text["Should `AsyncClient.send` retry on its own?"][0] == "src/app/client.py:10"
    # a real line, but nowhere near `HttpTransport`: corrected too
    assert by_text["Is `HttpTransport` shared between clients?"][0] == "src/app/client.py:14"
    assert not any("Frobnicator" in t for t in by_text)  # its only citation is invented
    for card in resp.cards:
        for cite in card.metadata.citations:
            path, line = cite.rsplit(":", 1)
            assert 1 <= int(line) <= len((polyglot / path).read_text().split("\n")), cite
