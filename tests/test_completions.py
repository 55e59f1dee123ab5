"""Completions both ways: offline from the repository's names with the real rg, and with the
LLM emulator (and its fallback to offline when the LLM fails)."""

from __future__ import annotations

from pathlib import Path

from parallizer.emulators import running
from parallizer.runtime import Runtime

from .conftest import write
from .webkit import fulfill, llm_client, settings


def _plan(text: str) -> tuple[str, tuple[int, int]]:
    lines = text.split("\n")
    return text, (len(lines) - 1, len(lines[-1]))


async def _complete(root: Path, text: str, *, llm=None, plan: Path | None = None, cursor=None):
    body, end = _plan(text)
    async with Runtime(settings(root.parent), web=None, llm=llm) as rt:
        resp = await fulfill(
            rt, body, cursor=cursor or end, scope=root, plan=plan, only=["completions"]
        )
    return resp, resp.timings.fulfillers["completions"]


async def test_offline_completes_the_identifier_being_typed_from_the_repository(code_tree):
    resp, ft = await _complete(code_tree, "## Retries\nWe wrap calls in Retr")
    [card] = resp.cards
    assert card.type == "completion" and card.text == "yPolicy"
    assert card.metadata.word == "RetryPolicy" and card.metadata.prefix == "Retr"
    assert card.metadata.citations == ["src/app/client.py:1"]
    assert card.metadata.occurrences == 4  # ignored files (build/, *.log, binary) not counted
    assert ft.mode == "offline"
    [q] = ft.queries
    assert q.backend == "ripgrep" and q.query == "Retr…" and q.ok


async def test_offline_ranks_by_frequency_and_is_case_sensitive(code_tree):
    write(
        code_tree,
        "src/app/more.py",
        "max_retries = 1\nmax_retries += 1\nmax_delay = 2\nMAX_X = 3\n",
    )
    resp, _ = await _complete(code_tree, "Set max_")
    [card] = resp.cards
    assert card.metadata.word == "max_retries" and card.text == "retries"
    assert card.metadata.alternatives == ["max_delay"]  # MAX_X differs in case: not offered


async def test_the_plan_itself_is_not_a_source_of_names(code_tree):
    plan = write(code_tree, "plan.md", "We will add ZebraCache.\nUse Zebr")
    text = plan.read_text()
    resp, ft = await _complete(code_tree, text, plan=plan)
    assert resp.cards == [] and ft.queries[0].ok


async def test_no_card_for_short_prefixes_mid_word_or_unknown_names(code_tree):
    resp, ft = await _complete(code_tree, "Use Re")
    assert resp.cards == [] and ft.queries == [] and "3+ characters" in ft.skipped
    resp, ft = await _complete(code_tree, "Use RetryXYZ")
    assert resp.cards == [] and ft.queries[0].results == 0
    resp, ft = await _complete(code_tree, "Use Retrying here", cursor=(0, 8))
    assert resp.cards == [] and ft.skipped == "the cursor is inside a word"
    resp, ft = await _complete(code_tree, "## Plan\n")
    assert resp.cards == [] and ft.skipped == "nothing typed on the cursor's line yet"


async def test_regex_characters_in_the_prefix_are_literal(code_tree):
    write(code_tree, "src/app/odd.py", "abcXdef_value = 1\n")
    resp, _ = await _complete(code_tree, "use abc")  # 'abc' then identifier chars only
    assert [c.metadata.word for c in resp.cards] == ["abcXdef_value"]


async def test_llm_continues_the_line(code_tree):
    async with running("llm", latency=0.05) as emu:
        c = llm_client(emu)
        resp, ft = await _complete(code_tree, "## Retries\nWe retry the Redis client with", llm=c)
    [card] = resp.cards
    assert ft.mode == "llm" and [q.backend for q in ft.queries] == ["llm"]
    assert card.text.startswith(" ") and "\n" not in card.text and len(card.text.split()) <= 16
    assert card.metadata.line == "We retry the Redis client with" + card.text
    assert "The line so far: «We retry the Redis client with»" in emu.stats.requests[0].text


async def test_when_the_llm_fails_completions_fall_back_to_repository_names(code_tree):
    async with running("llm", fault_on=["Retr=malformed"]) as emu:
        c = llm_client(emu)
        resp, ft = await _complete(code_tree, "We wrap calls in Retr", llm=c)
    assert ft.mode == "offline"
    assert [(q.backend, q.ok, q.error_kind) for q in ft.queries] == [
        ("llm", False, "malformed"),
        ("ripgrep", True, None),
    ]
    assert [card.text for card in resp.cards] == ["yPolicy"]
