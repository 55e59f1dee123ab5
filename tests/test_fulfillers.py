"""Ambiguities and CodeSearch on fixture plans against fixture repositories, through the real
Orchestrator, Runtime and rg."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery, CodeSearchResult
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.config import Settings
from parallizer.models import Card, FulfillRequest, FulfillResponse, GlobalContext
from parallizer.orchestrator import Orchestrator
from parallizer.runtime import Runtime

from .conftest import children_named, write

PLAN = """
# Checkout rework

## Pricing

Move `apply_discount` next to the `Cart` class.
Each `PriceRules` entry keeps its percent.

## Totals

`Cart` rounds the total to cents (TBD: which rounding).
See `src/shop/cart.py` and `src/shop/totals.py`.
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """`Cart` defined once, `apply_discount` in Python and in JS, `PriceRule` (singular),
    a method named `get`."""
    root = tmp_path / "shop"
    write(
        root,
        "src/shop/cart.py",
        '''
        """Shopping cart."""

        TAX_RATE = 0.2


        class Cart:
            def __init__(self) -> None:
                self.items = []

            def add_item(self, item) -> None:
                self.items.append(item)

            def total(self) -> float:
                return sum(i.price for i in self.items) * (1 + TAX_RATE)

            def get(self, index: int):
                return self.items[index]
        ''',
    )
    write(
        root,
        "src/shop/pricing.py",
        '''
        from .cart import Cart


        class PriceRule:
            """A discount rule."""

            def __init__(self, percent: int) -> None:
                self.percent = percent


        def apply_discount(cart: Cart, rule: PriceRule) -> float:
            return cart.total() * (1 - rule.percent / 100)
        ''',
    )
    write(
        root,
        "web/pricing.js",
        """
        // the storefront computes a preview price
        export function apply_discount(cart, rule) {
          return cart.total * (1 - rule.percent / 100);
        }
        """,
    )
    write(
        root,
        "tests/test_cart.py",
        """
        from shop.cart import Cart


        def test_total():
            assert Cart().total() == 0
        """,
    )
    return root


class CountingRipgrep(RipgrepBackend):
    """The real backend, counting how often each query really reaches rg."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.runs: Counter[CodeQuery] = Counter()

    async def search(self, query: CodeQuery, root: Path) -> CodeSearchResult:
        self.runs[query] += 1
        return await super().search(query, root)


async def fulfill(
    root: Path,
    plan: str,
    *,
    only: list[str] | None = None,
    cursor: tuple[int, int] | None = None,
    rg: RipgrepBackend | None = None,
    scope: bool = True,
    remove_scope_before_running: bool = False,
    **settings: object,
) -> FulfillResponse:
    text = write(root, "plan.md", plan).read_text()
    lines = text.split("\n")
    request = FulfillRequest(
        user_id="u",
        document_text=text,
        cursor_position=cursor or (len(lines) - 1, len(lines[-1])),
        global_context=GlobalContext(
            scope_root=str(root) if scope else None, plan_path=str(root / "plan.md")
        ),
        fulfillers=only,
    )
    async with Runtime(Settings(allowed_roots=str(root.parent), **settings), rg=rg) as rt:
        orch = Orchestrator(rt)
        job = orch.prepare(request)
        if remove_scope_before_running:
            shutil.rmtree(root)
        return await orch.fulfill(job)


def assert_citations_are_real_lines(cards: list[Card], root: Path) -> None:
    for card in cards:
        assert card.metadata.citations, card.header
        for cite in card.metadata.citations:
            path, line = cite.rsplit(":", 1)
            lines = (root / path).read_text().split("\n")
            assert 1 <= int(line) <= len(lines) and lines[int(line) - 1].strip(), cite


def headers(cards: list[Card]) -> list[str]:
    return [c.header for c in cards]


async def test_questions_ranked_and_capped_with_their_citations(shop):
    res = await fulfill(shop, PLAN, only=["ambiguities"])
    assert headers(res.cards) == [
        "Still to be decided",
        "No file `src/shop/totals.py`",
        "Which `apply_discount`?",
    ]
    todo, path, which = res.cards
    assert todo.metadata.citations == ["plan.md:10", "src/shop/cart.py:6"]
    assert todo.text.startswith("> `Cart` rounds the total to cents (TBD: which rounding).")
    assert "It concerns `Cart` (`src/shop/cart.py:6`)." in todo.text
    assert path.metadata.citations == ["plan.md:11"]
    assert "Did you mean `src/shop/cart.py`, or is it a new file?" in path.text
    assert which.metadata.citations == ["plan.md:5", "src/shop/pricing.py:11", "web/pricing.js:2"]
    assert "defines it in 2 files" in which.text
    assert all(c.type == "question" and c.metadata.source == "ambiguities" for c in res.cards)
    assert_citations_are_real_lines(res.cards, shop)


async def test_a_name_nothing_matches_gets_the_closest_defined_name(shop):
    res = await fulfill(shop, PLAN, only=["ambiguities"], max_questions=4)
    missing = res.cards[3]
    assert missing.header == "`PriceRules`: did you mean `PriceRule`?"
    assert missing.metadata.citations == ["plan.md:6", "src/shop/pricing.py:4"]
    assert "nothing in the repository matches it" in missing.text
    # the vocabulary look-up ran only for that name, after the first stage
    timings = {q.query: q for q in res.timings.fulfillers["ambiguities"].queries}
    assert timings["PriceRules"].results == 0  # plan.md names it, but the plan is not searched
    queries = list(timings)
    assert queries[-1] == "names like PriceRules" and sum("names like" in q for q in queries) == 1
    assert_citations_are_real_lines(res.cards, shop)


async def test_context_cards_definitions_first_with_snippets(shop):
    res = await fulfill(shop, PLAN, only=["code_search"])
    assert headers(res.cards) == [
        "`Cart` — src/shop/cart.py:6",
        "`src/shop/cart.py`: what it holds",
        "`apply_discount` — src/shop/pricing.py:11",
    ]
    cart, outline, discount = res.cards
    assert cart.text.startswith("Defined at `src/shop/cart.py:6`:\n\n```python\nclass Cart:\n")
    assert "Used in 2 other files: `src/shop/pricing.py:1`, `tests/test_cart.py:1`." in cart.text
    assert (
        outline.text
        == "`src/shop/cart.py` defines `Cart` (class, line 6), `TAX_RATE` (variable, line 3)."
    )
    assert discount.metadata.citations == ["src/shop/pricing.py:11", "web/pricing.js:2"]
    assert "Also defined at `web/pricing.js:2`" in discount.text
    assert all(c.type == "context" and c.metadata.source == "code_search" for c in res.cards)
    assert_citations_are_real_lines(res.cards, shop)


async def test_both_fulfillers_share_each_search_through_the_request_memo(shop):
    rg = CountingRipgrep()
    res = await fulfill(shop, PLAN, rg=rg)
    amb = {q.query: q for q in res.timings.fulfillers["ambiguities"].queries}
    cs = res.timings.fulfillers["code_search"].queries
    assert len(cs) == 5
    for q in cs:  # the same query in both; exactly one of the two ran it
        assert q.query in amb
        assert sorted([bool(q.shared), bool(amb[q.query].shared)]) == [False, True]
        assert q.results == amb[q.query].results
    assert set(rg.runs.values()) == {1}  # every distinct search reached rg once
    assert len(rg.runs) == 6  # five planned + the vocabulary look-up; the file list is apart
    assert_citations_are_real_lines(res.cards, shop)


async def test_timed_out_searches_never_become_nothing_matches_questions(shop, slow_rg):
    """Every rg search times out: no "nothing matches" or "which one" question may come of
    it, and no card from CodeSearch; the plan's own open spots are still asked about."""
    res = await fulfill(shop, PLAN, rg=RipgrepBackend(binary=slow_rg, timeout=0.3))
    amb = res.timings.fulfillers["ambiguities"]
    failed = {q.query: q.error_kind for q in amb.queries if not q.ok}
    assert failed == dict.fromkeys(
        ["Cart", "outline of src/shop/cart.py", "apply_discount", "PriceRules"], "timeout"
    )  # the outline of a file that does not exist had nothing to read: honestly empty
    assert headers(res.cards) == ["Still to be decided", "No file `src/shop/totals.py`"]
    todo = res.cards[0]
    assert todo.metadata.citations == ["plan.md:10"]  # no code evidence to cite
    assert res.timings.fulfillers["code_search"].ok  # failed queries are data, not a crash
    assert not children_named(slow_rg) and not children_named("rg")


async def test_an_unsearchable_root_is_a_failure_not_an_empty_repository(shop):
    res = await fulfill(shop, PLAN, remove_scope_before_running=True)
    amb = res.timings.fulfillers["ambiguities"]
    assert amb.queries and all(not q.ok for q in amb.queries)
    assert {q.error_kind for q in amb.queries} == {"unreadable"}
    assert headers(res.cards) == ["Still to be decided"]


async def test_without_a_scope_only_open_spots_are_asked_and_code_search_skips(shop):
    res = await fulfill(shop, PLAN, scope=False)
    assert headers(res.cards) == ["Still to be decided"]
    assert res.cards[0].metadata.citations == ["plan.md:10"]
    cs = res.timings.fulfillers["code_search"]
    assert cs.skipped == "no scope_root to search" and cs.queries == []


async def test_dotted_names_introduced_names_and_a_missing_dotted_member(shop):
    plan = """
    # Cart

    Call `Checkout.add_item` from the new `CartSummary` class, then `Cart.add_items`.
    Add a new `PriceRules` table. Does `Checkout.get` stay?
    """
    res = await fulfill(shop, plan, only=["ambiguities"])
    by_header = {c.header: c for c in res.cards}
    # `add_item` exists, so `Checkout.add_item` is only written differently: no question.
    # `CartSummary` is introduced as new and nothing defined is close to it: no question.
    # "new" before `CartSummary` does not make `Cart.add_items`, in the next clause, new.
    # `get` exists too (a stop word, looked up whole all the same): no question.
    assert set(by_header) == {
        "Nothing matches `Cart.add_items`",
        "`PriceRules` is new: reuse something?",
        "Open question in the plan",
    }
    dotted = by_header["Nothing matches `Cart.add_items`"]
    assert "(nor does any `add_items`)" in dotted.text
    assert dotted.metadata.citations == ["plan.md:3"]
    new = by_header["`PriceRules` is new: reuse something?"]
    assert "Close existing names: `PriceRule` (`src/shop/pricing.py:4`)." in new.text
    assert_citations_are_real_lines(res.cards, shop)


async def test_serial_mode_runs_queries_one_after_another_with_the_same_cards(shop):
    parallel = await fulfill(shop, PLAN)
    rg = CountingRipgrep()
    text = write(shop, "plan.md", PLAN).read_text()
    lines = text.split("\n")
    request = FulfillRequest(
        user_id="u",
        document_text=text,
        cursor_position=(len(lines) - 1, len(lines[-1])),
        global_context=GlobalContext(scope_root=str(shop), plan_path=str(shop / "plan.md")),
    )
    async with Runtime(Settings(allowed_roots=str(shop.parent)), rg=rg) as rt:
        orch = Orchestrator(rt)
        serial = await orch.fulfill(orch.prepare(request, serial=True))
    assert [c.model_dump() for c in serial.cards] == [c.model_dump() for c in parallel.cards]
    assert rg.limiter.peak == 1
    runs = [q for f in serial.timings.fulfillers.values() for q in f.queries if not q.shared]
    runs.sort(key=lambda q: q.start_ms)
    for a, b in itertools.pairwise(runs):
        assert b.start_ms >= a.start_ms + a.ms - 0.2  # no overlap


async def test_cancelling_a_request_leaves_no_rg_behind(shop, slow_rg):
    task = asyncio.create_task(fulfill(shop, PLAN, rg=RipgrepBackend(binary=slow_rg, timeout=30)))
    await asyncio.sleep(0.3)
    assert children_named(slow_rg) or children_named("rg")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not children_named(slow_rg) and not children_named("rg")


async def test_used_in_counts_other_files_only(shop):
    write(shop, "docs/notes.md", "The TAX_RATE is reviewed yearly.\nA preview shows it.\n")
    plan = "# Tax\n\nCheck `TAX_RATE` and the `preview`."
    res = await fulfill(shop, plan, only=["code_search"])
    tax, preview = res.cards
    # defined in cart.py, which also uses it: only docs/notes.md is another file
    assert tax.header == "`TAX_RATE` — src/shop/cart.py:3"
    assert "Used in 1 other file: `docs/notes.md:1`." in tax.text
    # only mentioned: the first mention leads, and its own file is not "other"
    assert preview.header == "`preview` — docs/notes.md:2"
    assert preview.text.startswith("Mentioned at `docs/notes.md:2`:")
    assert "Used in 1 other file: `web/pricing.js:1`." in preview.text
    assert_citations_are_real_lines(res.cards, shop)
