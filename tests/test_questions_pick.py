"""How question cards are picked and grouped: certain mistakes first, at most one of the
plan's own open spots, and when the plan holds more mistakes than slots, mistakes of one kind
share a card so that every one of them is still shown."""

from __future__ import annotations

from parallizer.code.resolve import known_names
from parallizer.fulfillers.ambiguities import TIER, Ambiguities, Question


def q(kind: str, name: str, near: float = 1.0, line: int = 0) -> Question:
    return Question(
        kind, TIER[kind] + near, line, f"{kind} {name}", f"about `{name}`", (f"p.md:{line + 1}",),
        f"`{name}` item", name,
    )  # fmt: skip


def test_up_to_the_cap_each_question_has_its_card_certain_mistakes_first():
    picked = Ambiguities.pick(
        [q("todo", "TBD"), q("missing_path", "a.py"), q("wrong_name", "X")], 3
    )
    assert [[x.about for x in g] for g in picked] == [["X"], ["a.py"], ["TBD"]]


def test_more_mistakes_than_slots_share_cards_by_kind_and_none_is_dropped():
    """Five kinds of mistakes, three slots and an open decision: the open decision keeps one
    slot, the most certain kind gets a card, the second card lists every other mistake."""
    qs = [
        q("wrong_name", "A", 1.0),
        q("wrong_name", "B", 0.6),
        q("wrong_owner", "C.m", 0.9),
        q("arity", "f", 0.8),
        q("missing_path", "x.py", 0.7),
        q("missing", "Nope", 0.5),
        q("todo", "TBD", 1.0),
    ]
    groups = Ambiguities.pick(qs, 3)
    assert [[x.about for x in g] for g in groups] == [
        ["A", "B"],
        ["C.m", "f", "x.py", "Nope"],
        ["TBD"],
    ]
    cards = Ambiguities(None, None).cards(qs, 3)
    assert cards[0].header == "2 names the code does not define: did you mean …?"
    assert cards[0].text == "- `A` item\n- `B` item"
    assert cards[1].header == "4 more things to check"
    assert cards[2].metadata.citations == ["p.md:1"]


def test_the_plans_open_decisions_share_one_card_beside_the_mistakes():
    """Two mistakes and three open decisions, three slots: the mistakes keep their cards,
    the open decisions are listed on the third (vague promises included)."""
    qs = [
        q("wrong_name", "A", 1.0),
        q("arity", "f", 0.8),
        q("todo", "TBD", 1.0),
        q("question", "Which store?", 0.9),
        q("vague", "fast", 0.5),
    ]
    groups = Ambiguities.pick(qs, 3)
    assert [[x.about for x in g] for g in groups] == [["A"], ["f"], ["TBD", "Which store?", "fast"]]
    cards = Ambiguities(None, None).cards(qs, 3)
    assert cards[2].header == "3 things the plan leaves open"


def test_a_spare_slot_splits_the_largest_group():
    qs = [q("wrong_name", n, 1.0 - i / 10) for i, n in enumerate("ABCD")] + [q("arity", "f")]
    groups = Ambiguities.pick(qs, 3)
    assert [[x.about for x in g] for g in groups] == [["A"], ["B", "C", "D"], ["f"]]


def test_standard_names_per_language():
    py = known_names(["python"])
    assert {"defaultdict", "Semaphore", "asyncio", "Path", "len", "wait_for"} <= py
    assert "TokenBucketLimiter" not in py
    rust = known_names(["rust"])
    assert {"AtomicU64", "Arc", "HashMap", "unwrap"} <= rust
    assert {"WaitGroup", "Context", "append"} <= known_names(["go"])
    assert {"Promise", "Map", "then"} <= known_names(["typescript"])
    assert {"CompletableFuture", "ConcurrentHashMap"} <= known_names(["java"])
    assert "AtomicU64" not in known_names(["python", "go"])
