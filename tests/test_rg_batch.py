"""One ripgrep pass for many queries: the same matches per query as separate runs (on a
fixture tree full of near misses), one process for concurrent searches, and a shared run that
outlives one cancelled request while another still needs it."""

from __future__ import annotations

import asyncio
import random
import stat
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.fanout import Call, Flights, fan_out

from .conftest import alive, children_named, eventually

WORDS = [
    "RetryPolicy", "retrypolicy", "retry_policy", "retry policy", "Limiter", "limiter",
    "AdaptiveLimiter", "limiter_peak", "-limiter", "fan_out", "fan-out", "foo.bar", "fooXbar",
    "def", "class", "self", "x", "=", "(", ")", "ümlaut", "Ümlaut", "ÜMLAUT", "class Error(",
    "TaskGroup", "taskgroup", "\u212aelvin", "kelvin", "ſelf", "SELF", "Limit", "LimiterX",
]  # fmt: skip

QUERIES = [
    CodeQuery(pattern="Limiter"),
    CodeQuery(pattern="limiter", ignore_case=True, context=0),
    CodeQuery(pattern="-limiter", mode="word"),
    CodeQuery(pattern="fan_out", mode="literal", context=3),
    CodeQuery(pattern="foo.bar", mode="literal"),
    CodeQuery(pattern=r"retry[_ ]?policy", mode="regex", ignore_case=True),
    CodeQuery(pattern=r"class \w+", mode="regex", max_per_file=1),
    CodeQuery(pattern="RetryPolicy", max_per_file=2, context=1),
    CodeQuery(pattern="self", mode="literal", max_results=15),
    CodeQuery(pattern="ümlaut", ignore_case=True, max_results=12, max_per_file=3),
    CodeQuery(pattern="TaskGroup", max_results=7, context=2),
    CodeQuery(pattern="KELVIN", mode="literal", ignore_case=True),  # the Kelvin sign folds to k
    CodeQuery(pattern="self", ignore_case=True, max_per_file=2),  # the long s folds to s
    CodeQuery(pattern="kelvin", ignore_case=True),  # a word starting with a foldable k
    CodeQuery(pattern="class Error(", mode="literal"),  # Rust regex escaping: space, paren
    CodeQuery(pattern="fan-out", mode="word", max_results=9),  # and the dash
]
# word queries whose names overlap (one a prefix of another): one `rg -w` pass must still
# report every line where any of them stands as a word
WORD_QUERIES = [
    CodeQuery(pattern="Limit"),
    CodeQuery(pattern="Limiter", max_per_file=3),
    CodeQuery(pattern="LimiterX", context=0),
    CodeQuery(pattern="AdaptiveLimiter"),
    CodeQuery(pattern="-limiter"),
    CodeQuery(pattern="fan", context=1),
    CodeQuery(pattern="TaskGroup", max_results=7),
    CodeQuery(pattern="x", max_results=20),
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    rng = random.Random(7)
    root = tmp_path / "tree"
    for f in range(24):
        sub = root / ("pkg" if f % 3 else "lib")
        sub.mkdir(parents=True, exist_ok=True)
        lines = []
        for _ in range(rng.randint(5, 60)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))))
        (sub / f"m{f:02}.{'py' if f % 2 else 'txt'}").write_text("\n".join(lines) + "\n")
    return root


def dump(result) -> dict:
    return result.model_dump(exclude={"shared_run"})


@pytest.mark.parametrize("queries", [QUERIES, WORD_QUERIES], ids=["mixed", "words"])
async def test_one_pass_finds_per_query_exactly_what_separate_runs_find(
    tree: Path, queries: list[CodeQuery]
):
    rg = RipgrepBackend()
    alone = [await rg._search_alone(q, tree) for q in queries]
    together = await rg._search_combined(list(queries), tree)
    assert sum(len(r.matches) for r in alone) > 200  # the fixture really exercises it
    assert any(r.truncated for r in alone)
    for q, a, b in zip(queries, alone, together, strict=True):
        assert b is not None and not isinstance(b, BaseException), q
        assert dump(b) == dump(a), q


@pytest.mark.parametrize("globs", [("*.py",), ("!lib",)])
async def test_globs_of_a_batch_are_honoured(tree: Path, globs: tuple[str, ...]):
    rg = RipgrepBackend()
    queries = [q.model_copy(update={"globs": globs}) for q in QUERIES[:6]]
    alone = [await rg._search_alone(q, tree) for q in queries]
    together = await rg._search_combined(queries, tree)
    for a, b in zip(alone, together, strict=True):
        assert dump(b) == dump(a)


async def test_concurrent_searches_share_one_process_and_are_marked_shared(tree: Path):
    rg = RipgrepBackend()
    expected = [dump(await rg._search_alone(q, tree)) for q in WORD_QUERIES]
    calls = [
        Call(label=q.pattern, backend="ripgrep", run=lambda q=q: rg.search(q, tree),
             shared=lambda r: r.shared_run)
        for q in WORD_QUERIES
    ]  # fmt: skip
    outs = await fan_out(calls)
    assert rg._batcher.runs == 1 and rg.limiter.peak == 1  # one rg for all of them
    assert [dump(o.value) for o in outs] == expected
    assert all(o.batched and o.timing().batched and not o.shared for o in outs)
    # different globs cannot share a pass: two runs
    other = CodeQuery(pattern="Limiter", globs=("*.py",))
    await asyncio.gather(rg.search(QUERIES[0], tree), rg.search(other, tree))
    assert rg._batcher.runs == 3


async def test_queries_of_every_kind_and_case_share_one_pass(tree: Path):
    """Each query's case and word edges travel in its own pattern, so words, literals and
    regexes of either case share one pass without widening each other."""
    rg = RipgrepBackend()
    outs = await asyncio.gather(*(rg.search(q, tree) for q in QUERIES))
    assert rg._batcher.runs == 1 and rg.searches_run == 1
    for q, o in zip(QUERIES, outs, strict=True):
        assert dump(o) == dump(await rg._search_alone(q, tree)), q


async def test_an_invalid_regex_in_a_batch_fails_only_its_own_query(tree: Path):
    rg = RipgrepBackend()
    bad = CodeQuery(pattern=r"(?P<x>a)(?P<x>b)", mode="regex")  # Python refuses too: alone
    worse = CodeQuery(pattern=r"a{99999}{99999}", mode="regex")  # too big for rg only
    results = await asyncio.gather(
        *(rg.search(q, tree) for q in (QUERIES[0], bad, worse, QUERIES[3])),
        return_exceptions=True,
    )
    assert dump(results[0]) == dump(await rg._search_alone(QUERIES[0], tree))
    assert dump(results[3]) == dump(await rg._search_alone(QUERIES[3], tree))
    assert all(getattr(r, "kind", None) == "invalid_query" for r in results[1:3])


@pytest.fixture
def late_rg(tmp_path: Path, rg_binary: str) -> str:
    """A real `rg` that starts 0.5 s late (the wrapper sleeps, then becomes rg)."""
    wrapper = tmp_path / "bin" / "rg"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nsleep 0.5\nexec "{rg_binary}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


async def test_cancelling_one_request_does_not_kill_a_run_another_still_needs(
    tree: Path, late_rg: str
):
    rg = RipgrepBackend(binary=late_rg, timeout=30)
    flights = Flights()
    want_a, want_b = QUERIES[0], QUERIES[2]

    def request(q: CodeQuery) -> asyncio.Task:
        call = Call(label=q.pattern, backend="ripgrep", run=lambda: rg.search(q, tree),
                    key=("code", str(tree), q), shared=lambda r: r.shared_run)  # fmt: skip
        return asyncio.create_task(fan_out([call], flights=flights))

    a, b = request(want_a), request(want_b)
    await eventually(lambda: children_named("rg"), what="rg running")
    [pid] = children_named("rg")  # one process serves both requests
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    assert alive(pid)  # b still needs it
    [out] = await b
    assert out.ok and out.batched
    plain = RipgrepBackend()
    assert dump(out.value) == dump(await plain._search_alone(want_b, tree))
    assert rg._batcher.runs == 1
    assert children_named("rg") == []


async def test_cancelling_every_request_of_a_shared_run_kills_it(tree: Path, late_rg: str):
    rg = RipgrepBackend(binary=late_rg, timeout=30)
    tasks = [asyncio.create_task(rg.search(q, tree)) for q in WORD_QUERIES[:3]]
    await eventually(lambda: children_named("rg"), what="rg running")
    assert len(children_named("rg")) == 1
    for t in tasks:
        t.cancel()
    for t in tasks:
        with pytest.raises(asyncio.CancelledError):
            await t
    assert children_named("rg") == []
