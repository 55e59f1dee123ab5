"""LLM mode gets the code index's facts, and every citation it writes is checked against the
index and the file: past a file's end or away from the name it is about, it is corrected to
the name's definition; a citation of nothing real is dropped. What the index established is
asked as offline; the LLM's own question takes one slot. Real rg, a real index, the
OpenAI-compatible emulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path

from parallizer.code import CodeKnowledge
from parallizer.document import Document
from parallizer.emulators import running
from parallizer.planner.llm import clarifying_questions
from parallizer.runtime import Runtime

from .webkit import fulfill, llm_client, settings

PLAN = "# Plan\n\nThen `Client.send` the batch through `HttpTransport`.\nShould a batch retry?\n"


def questions(*items: tuple[str, list[str]]) -> str:
    return json.dumps({"questions": [{"question": q, "citations": c} for q, c in items]})


async def test_the_llm_gets_the_facts_and_one_slot_beside_the_established_mistakes(
    polyglot: Path,
):
    canned = [
        json.dumps({"queries": [{"pattern": "HttpTransport", "mode": "word"}]}),
        questions(
            ("Should `Client.send` retry?", ["src/app/client.py:10"]),  # already asked
            ("Is `HttpTransport` shared between clients?", ["src/app/client.py:999"]),
        ),
    ]
    (polyglot / "plan.md").write_text(PLAN)
    async with running("llm", canned=canned) as lm:
        async with Runtime(settings(polyglot.parent), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(
                rt, PLAN, scope=polyglot, plan=polyglot / "plan.md", only=["ambiguities"]
            )
        prompt = lm.stats.requests[-1].text
    assert resp.timings.fulfillers["ambiguities"].mode == "llm"
    # the facts reached the prompt: the wrong class, where the method really is
    assert "Facts from the code index:" in prompt
    assert (
        "MISTAKE `Client.send`: `Client` has no `send`; it is AsyncClient.send at "
        "src/app/client.py:10" in prompt
    )
    assert "`HttpTransport` exists: class HttpTransport at src/app/client.py:14" in prompt
    assert [c.header for c in resp.cards] == [
        "`send` is not on `Client`: `AsyncClient.send`?",  # established: asked as offline
        "Open question in the plan",
        "Question",
    ]
    llm = resp.cards[2]
    # about the open question beside `HttpTransport`: shown under it
    assert llm.text == "> Should a batch retry?\n\nIs `HttpTransport` shared between clients?"
    # past the file's end: corrected to the definition of the name it is about
    assert llm.metadata.citations == ["plan.md:4", "src/app/client.py:14"]


async def test_a_document_that_only_describes_gets_no_question_of_the_llms_own(polyglot: Path):
    """The LLM's own question is about a plan still being decided, and rests on code it
    cites: a document that leaves nothing open gets none, though it shows a new name."""
    text = (
        "# Client\n\nThen `Client.send` the batch through `HttpTransport`.\n\n"
        "We add a `BatchQueue` class that holds the batch until it is sent.\n"
    )
    canned = [
        json.dumps({"queries": [{"pattern": "HttpTransport", "mode": "word"}]}),
        questions(("Is `HttpTransport` shared between clients?", ["src/app/client.py:14"])),
    ]
    (polyglot / "plan.md").write_text(text)
    async with running("llm", canned=canned) as lm:
        async with Runtime(settings(polyglot.parent), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(
                rt, text, scope=polyglot, plan=polyglot / "plan.md", only=["ambiguities"]
            )
    assert [c.header for c in resp.cards] == ["`send` is not on `Client`: `AsyncClient.send`?"]


async def test_each_citation_is_checked_against_the_index_and_the_file(polyglot: Path):
    canned = [
        questions(
            ("Should `AsyncClient.send` retry on its own?", ["src/app/client.py:999"]),
            ("Is `HttpTransport` shared between clients?", ["src/app/config.py:1"]),
            ("Does `load_config` read `src/app/config.py:2`?", ["src/app/config.py:1"]),
            ("Does `Frobnicator` matter here?", ["nowhere/made_up.py:3"]),
        )
    ]
    doc = Document(PLAN, (2, 0))
    store = CodeKnowledge()
    try:
        index = await store.snapshot(polyglot)
        async with running("llm", canned=canned) as lm:
            llm = llm_client(lm)
            async with llm:
                cards = await clarifying_questions(
                    llm, doc, [], max_questions=4, checker=index
                )
    finally:
        await store.aclose()
    by_text = {c.text: c.metadata.citations for c in cards}
    assert by_text == {
        # past the file's end: the definition of the name the question is about
        "Should `AsyncClient.send` retry on its own?": ["src/app/client.py:10"],
        # a real line, but nowhere near `HttpTransport`: corrected too
        "Is `HttpTransport` shared between clients?": ["src/app/client.py:14"],
        # right: kept as written (the name stands on the cited line)
        "Does `load_config` read `src/app/config.py:2`?": [
            "src/app/config.py:1",
            "src/app/config.py:2",
        ],
        # `Frobnicator` cites only an invented file: dropped
    }


async def test_the_llms_own_question_must_concern_what_the_plan_leaves_open(polyglot: Path):
    """A plan that leaves one thing open far from the names the LLM asks about: the LLM's
    question about `HttpTransport` is not about that decision, so it is not shown."""
    text = (
        "# Plan\n\nThen `Client.send` the batch through `HttpTransport`.\n\n\n\n\n"
        "## Later\n\nThe report format is TBD.\n"
    )
    canned = [
        json.dumps({"queries": [{"pattern": "HttpTransport", "mode": "word"}]}),
        questions(("Is `HttpTransport` shared between clients?", ["src/app/client.py:14"])),
    ]
    (polyglot / "plan.md").write_text(text)
    async with running("llm", canned=canned) as lm:
        async with Runtime(settings(polyglot.parent), llm=llm_client(lm), web=None) as rt:
            resp = await fulfill(
                rt, text, scope=polyglot, plan=polyglot / "plan.md", only=["ambiguities"]
            )
    assert resp.timings.fulfillers["ambiguities"].mode == "llm"
    assert [c.header for c in resp.cards] == [
        "`send` is not on `Client`: `AsyncClient.send`?",
        "Still to be decided",
    ]
