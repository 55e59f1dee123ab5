"""Name resolution and the questions it makes, on a small polyglot tree with the real code
index, the real rg and the orchestrator: each planted mistake gets its exact card and
citation; introduced, standard-library and text-only names are never "missing"."""

from __future__ import annotations

from pathlib import Path

import pytest

from parallizer.code.languages import LANGUAGES
from parallizer.models import Card
from parallizer.runtime import Runtime

from ..webkit import fulfill, settings


async def questions(root: Path, plan: str, **kw) -> list[Card]:
    (root / "plan.md").write_text(plan)
    async with Runtime(settings(root.parent, **kw), web=None, llm=None) as rt:
        resp = await fulfill(rt, plan, scope=root, plan=root / "plan.md", only=["ambiguities"])
    assert resp.timings.fulfillers["ambiguities"].ok
    return resp.cards


def assert_citations_resolve(cards: list[Card], root: Path) -> None:
    for card in cards:
        for cite in card.metadata.citations:
            path, line = cite.rsplit(":", 1)
            lines = (root / path).read_text().split("\n")
            assert 1 <= int(line) <= len(lines), cite


async def test_a_wrong_name_by_case_gets_the_definition_and_its_line(polyglot: Path):
    cards = await questions(polyglot, "# Plan\n\nWrap each call in `HTTPTransport`.\n")
    [card] = cards
    assert card.header == "`HTTPTransport`: did you mean `HttpTransport`?"
    assert card.metadata.citations == ["plan.md:3", "src/app/client.py:14"]
    assert "(class, `src/app/client.py:14`)" in card.text  # the test's HttpTransports comes later
    assert_citations_resolve(cards, polyglot)


async def test_a_near_name_a_wrong_owner_an_arity_and_a_missing_path(polyglot: Path):
    plan = (
        "# Plan\n\n"
        "Wrap it in a `HttpTransprt` first.\n"
        "Then `Client.send` the batch.\n"
        "Call `load_config(path, strict, extra)`.\n"
        "Edit `src/app/clinet.py`.\n"
    )
    cards = await questions(polyglot, plan, max_questions=4)
    by = {c.header: c for c in cards}
    assert set(by) == {
        "`HttpTransprt`: did you mean `HttpTransport`?",
        "`send` is not on `Client`: `AsyncClient.send`?",
        "`load_config` takes 1 argument, the plan passes 3",
        "No file `src/app/clinet.py`",
    }
    near = by["`HttpTransprt`: did you mean `HttpTransport`?"]
    assert near.metadata.citations == ["plan.md:3", "src/app/client.py:14"]
    owner = by["`send` is not on `Client`: `AsyncClient.send`?"]
    # the stub's `Client.send` is not a definition: the source class is cited
    assert owner.metadata.citations == ["plan.md:4", "src/app/client.py:10", "src/app/client.py:4"]
    assert "`Client` (`src/app/client.py:4`) has no `send`" in owner.text
    arity = by["`load_config` takes 1 argument, the plan passes 3"]
    assert arity.metadata.citations == [
        "plan.md:5",
        "src/app/config.py:1",
        "src/legacy/config.py:2",
    ]
    assert "Did you mean `src/app/client.py`" in by["No file `src/app/clinet.py`"].text
    assert_citations_resolve(cards, polyglot)


@pytest.mark.skipif(not LANGUAGES["rust"].parsed, reason="the index reads no Rust yet")
async def test_a_near_rust_type(polyglot: Path):
    [card] = await questions(polyglot, "# Plan\n\nBuild `HiArg` first.\n")
    assert card.header == "`HiArg`: did you mean `HiArgs`?"
    assert card.metadata.citations == ["plan.md:3", "src/args.rs:1"]


async def test_more_mistakes_than_slots_share_cards(polyglot: Path):
    plan = (
        "# Plan\n\n"
        "Use `HiArg`, `HTTPTransport` and `Client.send`.\n"
        "Call `load_config(a, b, c)` in `src/app/clinet.py` with `TokenBucketLimiter`.\n"
    )
    cards = await questions(polyglot, plan)
    assert len(cards) == 3
    text = "\n".join(c.header + "\n" + c.text for c in cards)
    for name in (
        "HiArg",
        "HTTPTransport",
        "Client.send",
        "load_config",
        "clinet.py",
        "TokenBucketLimiter",
    ):
        assert name in text, name
    assert_citations_resolve(cards, polyglot)


async def test_introduced_standard_and_text_only_names_are_never_missing(polyglot: Path):
    plan = (
        "# Plan\n\n"
        "We add `TooManyRetries` (new) and a new `RateGate` class in the new file `src/app/gate.py`.\n"
        "Count with an `AtomicU64` and a `defaultdict`; wait on `asyncio.Semaphore`.\n"
        "Read `retry_budget` from the settings. `HiArgs::new` builds them.\n"
        "```python\nclass TokenPool:\n    pass\n```\n"
        "The `TokenPool` is shared.\n"
        "Keywords and common words are never asked about: `self`, `return`, `None`, `data`, "
        "`head`, `this`, `fn`.\n"
    )
    cards = await questions(polyglot, plan)
    assert cards == []


async def test_two_source_definitions_are_ambiguous_tests_and_stubs_are_not(polyglot: Path):
    cards = await questions(polyglot, "# Plan\n\nStart-up calls `load_config`.\n")
    [card] = cards
    assert card.header == "Which `load_config`?"
    assert card.metadata.citations == ["plan.md:3", "src/app/config.py:1", "src/legacy/config.py:2"]
    # a method on two classes is two names, not an ambiguity
    assert await questions(polyglot, "# Plan\n\nCall `AsyncClient.send`.\n") == []


async def test_a_plan_of_many_long_invented_names_gets_a_bounded_answer(polyglot: Path):
    """Thousands of backticked names nothing defines, some very long: one bounded text check
    (its pattern within a query's limit), claims only about the names it covered."""
    names = [f"`Zq{i}{'x' * (i % 150)}Name`" for i in range(3000)]
    plan = "# Plan\n\n" + "\n".join(" ".join(names[i : i + 20]) for i in range(0, 3000, 20))
    cards = await questions(polyglot, plan)
    assert 1 <= len(cards) <= 3
    assert_citations_resolve(cards, polyglot)
