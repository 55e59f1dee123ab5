"""Ambiguities and CodeSearch on fixture plans against fixture repositories, through the real
Orchestrator, Runtime and rg."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from pathlib import Path

import pytest

from parallizer import assembly
from parallizer.backends.base import CodeQuery, CodeSearchResult
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.config import Settings
from parallizer.models import Card, FulfillRequest, FulfillResponse, GlobalContext
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
        orch = assembly.orchestrator(rt)
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
    """Certain mistakes first (a wrong name, a missing file), then a real ambiguity; the
    plan's own open spot keeps a slot, so the mistakes beyond the first share a card."""
    res = await fulfill(shop, PLAN, only=["ambiguities"], max_questions=4)
    assert headers(res.cards) == [
        "`PriceRules`: did you mean `PriceRule`?",
        "No file `src/shop/totals.py`",
        "Which `apply_discount`?",
        "Still to be decided",
    ]
    wrong, path, which, todo = res.cards
    assert wrong.metadata.citations == ["plan.md:6", "src/shop/pricing.py:4"]
    assert "Did you mean `PriceRule` (class, `src/shop/pricing.py:4`)?" in wrong.text
    assert path.metadata.citations == ["plan.md:11"]
    assert "Did you mean `src/shop/cart.py`, or is it a new file?" in path.text
    assert which.metadata.citations == ["plan.md:5", "src/shop/pricing.py:11", "web/pricing.js:2"]
    assert "defines `apply_discount` in 2 source files" in which.text
    assert all(c.type == "question" and c.metadata.source == "ambiguities" for c in res.cards)
    assert_citations_are_real_lines(res.cards, shop)
    assert todo.metadata.citations == ["plan.md:10", "src/shop/cart.py:6"]
    assert todo.text.startswith("> `Cart` rounds the total to cents (TBD: which rounding).")
    assert "It concerns `Cart` (`src/shop/cart.py:6`)." in todo.text

    res = await fulfill(shop, PLAN, only=["ambiguities"])
    assert headers(res.cards) == [
        "`PriceRules`: did you mean `PriceRule`?",
        "2 more things to check",
        "Still to be decided",
    ]
    listed = res.cards[1].text
    assert "`src/shop/totals.py`" in listed and "`apply_discount`" in listed


async def test_a_wrong_name_is_confirmed_by_one_text_check_not_the_planned_searches(shop):
    """Names resolve against the index; the one it lacks is checked as a word by one rg
    pass (it is not in the code either: a wrong name). No planned search runs for it."""
    res = await fulfill(shop, PLAN, only=["ambiguities"])
    timings = res.timings.fulfillers["ambiguities"].queries
    assert [(q.query, q.results) for q in timings] == [("are they in the code: PriceRules", 0)]


async def test_context_cards_definitions_first_with_snippets(shop):
    res = await fulfill(shop, PLAN, only=["code_search"])
    assert headers(res.cards) == [
        "`Cart` — class src/shop/cart.py:6",
        "`src/shop/cart.py`: what it holds",
        "`apply_discount` — function src/shop/pricing.py:11",
    ]
    cart, outline, discount = res.cards
    assert cart.text.startswith("Class `Cart` at `src/shop/cart.py:6`:\n\n```python\nclass Cart:\n")
    assert "Used in 2 other files: `src/shop/pricing.py:1`, `tests/test_cart.py:1`." in cart.text
    assert (
        outline.text
        == "`src/shop/cart.py` defines `Cart` (class, line 6), `TAX_RATE` (variable, line 3)."
    )
    assert discount.metadata.citations == ["src/shop/pricing.py:11", "web/pricing.js:2"]
    assert "Also defined: function `apply_discount` at `web/pricing.js:2`." in discount.text
    assert all(c.type == "context" and c.metadata.source == "code_search" for c in res.cards)
    assert_citations_are_real_lines(res.cards, shop)


async def test_each_search_reaches_rg_once(shop):
    rg = CountingRipgrep()
    res = await fulfill(shop, PLAN, rg=rg)
    amb = [q.query for q in res.timings.fulfillers["ambiguities"].queries]
    cs = res.timings.fulfillers["code_search"].queries
    assert len(cs) == 5 and amb == ["are they in the code: PriceRules"]
    assert set(rg.runs.values()) == {1}  # every distinct search reached rg once
    assert len(rg.runs) == 6  # five planned (CodeSearch) + the text check (Ambiguities)
    assert_citations_are_real_lines(res.cards, shop)


async def test_timed_out_searches_never_become_nothing_matches_questions(shop, slow_rg):
    """Every rg search times out: the name the index lacks gets no question (its text check
    failed), CodeSearch still shows what the index knows; the rest comes from the index."""
    res = await fulfill(shop, PLAN, rg=RipgrepBackend(binary=slow_rg, timeout=0.3))
    amb = res.timings.fulfillers["ambiguities"]
    failed = {q.query: q.error_kind for q in amb.queries if not q.ok}
    assert failed == {"are they in the code: PriceRules": "timeout"}
    assert headers(res.cards) == [
        "No file `src/shop/totals.py`",
        "Which `apply_discount`?",
        "Still to be decided",
        "`Cart` — class src/shop/cart.py:6",
        "`apply_discount` — function src/shop/pricing.py:11",
    ]
    assert res.timings.fulfillers["code_search"].ok  # failed queries are data, not a crash
    assert not children_named(slow_rg) and not children_named("rg")


async def test_an_unsearchable_root_is_a_failure_not_an_empty_repository(shop):
    res = await fulfill(shop, PLAN, remove_scope_before_running=True)
    assert headers(res.cards) == ["Still to be decided"]  # no claim about any name or path


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
    # `Checkout` is written like a class nothing defines, but its sentence adds something
    # (the reader's `proposed`): not missing. `add_item` exists: the method makes no question.
    # `CartSummary` and `PriceRules` are introduced: never missing.
    # `Cart` is a class without `add_items`; its `add_item` is the near member.
    assert set(by_header) == {
        "`Cart.add_items`: did you mean `Cart.add_item`?",
        "Open question in the plan",
    }
    member = by_header["`Cart.add_items`: did you mean `Cart.add_item`?"]
    assert member.metadata.citations == ["plan.md:3", "src/shop/cart.py:10"]
    question = by_header["Open question in the plan"]
    assert "It concerns" not in question.text  # `get` is on `Cart`, not on `Checkout`
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
        orch = assembly.orchestrator(rt)
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
    assert tax.header.startswith("`TAX_RATE` — ") and tax.header.endswith(" src/shop/cart.py:3")
    assert "Used in 1 other file: `docs/notes.md:1`." in tax.text
    # no definition (a word of prose and a JS comment): the first mention in source leads
    # (docs after source), and its own file is not "other"
    assert preview.header == "`preview` — web/pricing.js:1"
    assert preview.text.startswith("Mentioned at `web/pricing.js:1`:")
    assert "Used in 1 other file: `docs/notes.md:2`." in preview.text
    assert_citations_are_real_lines(res.cards, shop)


async def test_question_cards_carry_findings_on_the_plans_own_ranges(shop):
    """Each question about a name or path carries a finding: where the plan writes it (UTF-16
    columns: an emoji before it counts two), a severity, and the fix when the code settles
    it. The ids are stable from one request to the next."""
    plan = PLAN.replace("Each `PriceRules`", "🎯 Each `PriceRules`")
    res = await fulfill(shop, plan, only=["ambiguities"], max_questions=4)
    by_header = {c.header: c for c in res.cards}
    lines = (shop / "plan.md").read_text().split("\n")

    wrong = by_header["`PriceRules`: did you mean `PriceRule`?"].metadata.findings
    assert wrong is not None and len(wrong) == 1
    f = wrong[0]
    line = lines.index("🎯 Each `PriceRules` entry keeps its percent.")
    col = len("🎯 Each `".encode("utf-16-le")) // 2  # the emoji is two UTF-16 units
    assert (f.kind, f.name, f.fix, f.severity) == ("wrong_name", "PriceRules", "PriceRule", "error")
    assert f.range == ((line, col), (line, col + len("PriceRules")))

    [path] = by_header["No file `src/shop/totals.py`"].metadata.findings or []
    assert (path.kind, path.fix) == ("missing_path", "src/shop/cart.py")
    at = lines[path.range[0][0]]
    assert at[path.range[0][1] : path.range[1][1]] == "src/shop/totals.py"

    [which] = by_header["Which `apply_discount`?"].metadata.findings or []
    assert (which.kind, which.fix, which.severity) == ("ambiguous", None, "warning")

    [todo] = by_header["Still to be decided"].metadata.findings or []
    assert todo.kind == "todo" and todo.severity == "warning"  # the plan's own: never an error
    assert lines[todo.range[0][0]][todo.range[0][1] : todo.range[1][1]] == todo.name

    again = await fulfill(shop, plan, only=["ambiguities"], max_questions=4)
    assert [c.metadata.id for c in again.cards] == [c.metadata.id for c in res.cards]
    assert len({c.metadata.id for c in res.cards}) == len(res.cards)


async def test_a_review_reports_every_finding_not_only_the_cards_room(shop):
    """`Orchestrator.review`: all findings of the plan, best first, with no cap: the wrong
    name, the missing file, the ambiguity and the open spot, though the cards hold two."""
    text = write(shop, "plan.md", PLAN).read_text()
    request = FulfillRequest(user_id="u", document_text=text, cursor_position=(0, 0),
                             global_context=GlobalContext(scope_root=str(shop)))  # fmt: skip
    settings = Settings(allowed_roots=str(shop.parent), max_questions=2)
    async with Runtime(settings, web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt)
        review = await orch.review(orch.prepare(request))
        cards = (await orch.fulfill(orch.prepare(request.model_copy(
            update={"fulfillers": ["ambiguities"]})))).cards  # fmt: skip
    kinds = [(f.kind, f.name) for f in review.findings]
    assert kinds[:3] == [("wrong_name", "PriceRules"), ("missing_path", "src/shop/totals.py"),
                         ("ambiguous", "apply_discount")]  # fmt: skip
    assert ("todo", "TBD") in kinds and review.timing.ok and review.timing.queries
    assert len(cards) == 2


async def test_a_second_review_of_the_same_plan_asks_rg_nothing_until_the_code_changes(shop):
    """An editor reviews the plan at each edit: the words the index lacks are checked by rg
    once per snapshot of the code. When a code file then gains the word, the new snapshot
    asks again, and the name stops being a mistake."""
    rg = CountingRipgrep()
    text = write(shop, "plan.md", PLAN).read_text()
    request = FulfillRequest(user_id="u", document_text=text, cursor_position=(0, 0),
                             global_context=GlobalContext(scope_root=str(shop)))  # fmt: skip
    async with Runtime(Settings(allowed_roots=str(shop.parent)), web=None, llm=None, rg=rg) as rt:
        orch = assembly.orchestrator(rt)

        async def review() -> list[str]:
            found = await orch.review(orch.prepare(request))
            return [f.name for f in found.findings if f.kind in ("wrong_name", "missing")]

        assert await review() == ["PriceRules"]
        assert sum(rg.runs.values()) == 1
        assert await review() == ["PriceRules"]
        assert sum(rg.runs.values()) == 1  # settled by the first pass

        write(shop, "src/shop/rules.py", "RULES = load('PriceRules')\n")  # a word, no definition
        await rt.code.snapshot(shop, fresh=True)
        assert await review() == []
        assert sum(rg.runs.values()) == 2  # a new snapshot: asked again, and it is there


async def review_of(tmp_path: Path, root: Path, text: str):
    """Every finding of `text` against the tree at `root`, offline, as `check` sees them."""
    request = FulfillRequest(user_id="u", document_text=text, cursor_position=(0, 0),
                             global_context=GlobalContext(scope_root=str(root)))  # fmt: skip
    async with Runtime(Settings(allowed_roots=str(tmp_path)), web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt)
        return await orch.review(orch.prepare(request))


async def test_a_near_name_in_another_case_style_is_only_worth_a_look(tmp_path: Path):
    """A slip keeps the name's case: `ValidationCompiler` beside a field
    `validationCompleted` is a concept's name, listed with low confidence; `PriceRule`
    beside `PriceRules` stays a question."""
    root = tmp_path / "app"
    write(root, "lib/request.js", "function validationCompleted(req) {\n  return true\n}\n"
          "class PriceRule {}\nmodule.exports = { validationCompleted, PriceRule }\n")  # fmt: skip
    text = "The `ValidationCompiler` builds each `PriceRules` check.\n"
    review = await review_of(tmp_path, root, text)
    sure = {f.name: (f.kind, f.severity) for f in review.findings}
    assert sure["PriceRules"] == ("wrong_name", "error")
    assert sure["ValidationCompiler"] == ("wrong_name", "info")


async def test_what_maintained_docs_write_is_not_taken_for_a_mistake(tmp_path: Path):
    """Seen in docs nobody here wrote (sqlmodel, yargs, httpx, pydantic-settings): the
    `@overload` signatures of one method are not rival definitions, a release (`v16`) is
    no name, a name read as an environment variable is the environment's, and a past
    release's "either ... or" is no open decision. A real slip beside them still counts."""
    root = tmp_path / "app"
    write(root, "app/session.py", "from typing import overload\n\n\nclass Session:\n"
          "    @overload\n    def exec(self, statement): ...\n"
          "    @overload\n    def exec(self, statement, params): ...\n"
          "    def exec(self, statement, params=None):\n        return None\n\n"
          "    def commit(self):\n        return None\n")  # fmt: skip
    text = (
        "# Guide\n\nRun queries with `Session.exec`. As of `v16` it reads the `FooAlias`"
        " environment variable. `Session.comit` is a slip.\n\n"
        "## 0.15.0 (September 22nd, 2020)\n\n"
        "* Added authentication flows which require either sync or async I/O.\n"
    )
    review = await review_of(tmp_path, root, text)
    assert {(f.name, f.kind) for f in review.findings} == {("Session.comit", "wrong_name")}


async def test_what_an_api_reference_writes_is_not_taken_for_a_mistake(tmp_path: Path):
    """Seen in undici's and zod's own docs: a member a class inherits from its base's base,
    `PoolOptions` for the declared `Pool.Options`, an interface stub that declares no
    parameters, "Returns: `retryHandler`" (an instance), and a TODO in an HTML comment. A
    member no ancestor has is still on the wrong class."""
    root = tmp_path / "app"
    write(root, "lib/dispatcher-base.js", "class DispatcherBase {\n  close (callback) {\n"
          "    return callback\n  }\n}\nmodule.exports = DispatcherBase\n")  # fmt: skip
    write(root, "lib/dispatcher.js", "class Dispatcher {\n  dispatch () {\n"
          "    throw new Error('not implemented')\n  }\n}\nmodule.exports = Dispatcher\n")  # fmt: skip
    write(root, "lib/pool-base.js", "const DispatcherBase = require('./dispatcher-base')\n"
          "class PoolBase extends DispatcherBase {\n  stats () {\n    return 1\n  }\n}\n"
          "module.exports = PoolBase\n")  # fmt: skip
    write(root, "lib/balanced-pool.js", "const PoolBase = require('./pool-base')\n"
          "class BalancedPool extends PoolBase {\n  addUpstream (url) {\n    return url\n  }\n}\n"
          "module.exports = BalancedPool\n")  # fmt: skip
    write(root, "lib/retry-handler.js", "class RetryHandler {\n  constructor (opts) {\n"
          "    this.opts = opts\n  }\n\n  onRetry (err) {\n    return err\n  }\n}\n"
          "module.exports = RetryHandler\n")  # fmt: skip
    write(root, "types/pool.d.ts", "declare namespace Pool {\n  export interface Options {\n"
          "    connections?: number\n  }\n}\nexport default Pool\n")  # fmt: skip
    text = (
        "# BalancedPool\n\n<!-- TODO: drop this page once Pool balances -->\n\n"
        "`BalancedPool.close(callback)` closes it; `BalancedPool.stats` reads it. It takes"
        " `PoolOptions`. `Dispatcher.dispatch(options, handler)` sends a request.\n\n"
        "Returns: `retryHandler`. `BalancedPool.onRetry` retries.\n"
    )
    review = await review_of(tmp_path, root, text)
    assert {(f.name, f.kind) for f in review.findings} == {("BalancedPool.onRetry", "wrong_owner")}
