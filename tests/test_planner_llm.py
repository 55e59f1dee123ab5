"""LLM planning and writing: what the model says is validated before it becomes a query or
a card. The model is the OpenAI-compatible emulator (generated answers, or canned ones to
play a model that invents things)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery, WebResult, WebSource
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.document import Document
from parallizer.emulators import running
from parallizer.errors import BackendError
from parallizer.models import CardType
from parallizer.planner import llm as planner
from parallizer.planner.llm import validate_code_query, words

from .webkit import PLAN, cursor_at_end, llm_client

DOC = Document(PLAN, cursor_at_end(PLAN.rstrip("\n")))

RESULTS = [
    WebResult(
        query="redis streams consumer groups",
        answer="Consumer groups track pending entries [1].",
        sources=[
            WebSource(url="https://redis.io/docs/streams", title="Redis Streams"),
            WebSource(url="https://example.org/pel", title="Pending entries"),
        ],
    ),
    WebResult(
        query="exponential backoff jitter",
        answer="Full jitter spreads retries [1].",
        sources=[WebSource(url="https://aws.example/backoff", title="Backoff and jitter")],
    ),
]
KNOWN = {s.url for r in RESULTS for s in r.sources}


async def _with(canned: list[str] | None = None, **emu_opts):
    """An emulator-backed client; canned answers are returned verbatim in order."""
    emu_cm = running("llm", canned=list(canned or []), **emu_opts)
    emu = await emu_cm.__aenter__()
    return emu_cm, emu, llm_client(emu)


async def _close(emu_cm, client):
    await client.aclose()
    await emu_cm.__aexit__(None, None, None)


def test_excerpt_marks_the_cursor_inside_its_section():
    text = planner.excerpt(DOC)
    assert text.startswith("## Retries")
    assert text.rstrip("\n").endswith("live feed?▌")
    assert "# Plan: resilient sync" not in text
    assert planner.outline(DOC) == "# Plan: resilient sync\n## Retries"


# --- (a) web queries ------------------------------------------------------------------------


async def test_web_queries_from_the_plan():
    cm, emu, c = await _with()
    try:
        queries = (await planner.plan_searches(c, DOC, code=0, web=3)).web
    finally:
        await _close(cm, c)
    assert 1 <= len(queries) <= 3 and all(3 <= len(q) <= 200 for q in queries)
    prompt = emu.stats.requests[0].text
    assert "▌" in prompt and "Redis Streams" in prompt


async def test_web_queries_are_trimmed_deduplicated_and_capped():
    answer = json.dumps(
        {"queries": ["  redis   streams ", "Redis Streams", "", "x" * 300, "jitter", "a", "b c d"]}
    )
    cm, _, c = await _with([answer])
    try:
        queries = (await planner.plan_searches(c, DOC, code=0, web=3)).web
    finally:
        await _close(cm, c)
    assert queries == ["redis streams", "jitter", "b c d"]


async def test_no_usable_web_query_is_malformed():
    cm, _, c = await _with(['{"queries": ["", "ab"]}'])
    try:
        with pytest.raises(BackendError) as err:
            await planner.plan_searches(c, DOC, code=0, web=3)
    finally:
        await _close(cm, c)
    assert err.value.kind == "malformed"


# --- (b) web cards --------------------------------------------------------------------------


async def test_web_cards_link_their_sources_and_respect_the_limits():
    cm, _, c = await _with()
    try:
        cards = await planner.web_cards(c, DOC, RESULTS)
    finally:
        await _close(cm, c)
    assert 1 <= len(cards) <= 3
    for card in cards:
        assert card.type == CardType.context and card.metadata.source == "web_context"
        assert card.metadata.citations and set(card.metadata.citations) <= KNOWN
        assert words(card.text) <= 60
        for url in card.metadata.citations:
            assert f"]({url})" in card.text  # each source is a Markdown link in the text


async def test_web_cards_drop_invented_links_long_text_and_ungrounded_cards():
    long_text = " ".join(["word"] * 90) + " see [the docs](https://redis.io/docs/streams)"
    answer = json.dumps(
        {
            "cards": [
                {"title": "Pending entries", "text": "Acknowledge or they pile up [x](https://evil.example/p).",
                 "sources": ["https://example.org/pel", "https://evil.example/p"]},
                {"title": "Invented", "text": "All made up.", "sources": ["https://nowhere.example"]},
                {"title": "Long", "text": long_text, "sources": []},
                {"title": "Four", "text": "a", "sources": ["https://aws.example/backoff"]},
                {"title": "Five", "text": "b", "sources": ["https://aws.example/backoff"]},
            ]
        }
    )  # fmt: skip
    cm, _, c = await _with([answer])
    try:
        cards = await planner.web_cards(c, DOC, RESULTS)
    finally:
        await _close(cm, c)
    assert [card.header for card in cards] == ["Pending entries", "Long", "Four"]
    first, long_card = cards[0], cards[1]
    assert "evil.example" not in first.text and first.metadata.citations == [
        "https://example.org/pel"
    ]
    assert first.text.startswith("Acknowledge or they pile up x.")
    assert "[[1]](https://example.org/pel)" in first.text
    assert words(long_card.text) <= 60 and long_card.text.endswith("…")


async def test_web_cards_citing_nothing_known_are_malformed():
    cm, _, c = await _with(
        ['{"cards": [{"title": "t", "text": "x", "sources": ["https://x.example"]}]}']
    )
    try:
        with pytest.raises(BackendError) as err:
            await planner.web_cards(c, DOC, RESULTS)
    finally:
        await _close(cm, c)
    assert err.value.kind == "malformed"


def test_card_word_count_counts_link_labels_not_urls():
    assert words("see [the docs](https://a.example/very/long/path) now") == 4
    assert words("[[1]](https://a.example) x") == 2


# --- (c) code queries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "mode", "expected"),
    [
        ("RetryPolicy", "word", ("RetryPolicy", "word")),
        ("`load_config`", "word", ("load_config", "word")),
        ("retry budget", "literal", ("retry budget", "literal")),
        (r"def \w+_config", "regex", (r"def \w+_config", "regex")),
        ("load_config", "fuzzy", ("load_config", "word")),  # unknown mode: inferred
        ("max retries", "", ("max retries", "literal")),
        (".*", "regex", None),  # matches everything
        (r"\w+", "regex", None),
        ("a*", "regex", None),
        ("(?<=x)retry", "regex", None),  # look-around: not Rust regex
        (r"(a)\1", "regex", None),
        ("retry(", "regex", None),  # does not compile
        ("x" * 200, "regex", None),  # too long
        ("x" * 150, "word", None),
        ("a\nb", "word", None),
        ("-", "literal", None),
        ("", "word", None),
    ],
)
def test_code_query_validation(pattern, mode, expected):
    q = validate_code_query(pattern, mode)
    if expected is None:
        assert q is None
    else:
        assert q is not None and (q.pattern, q.mode) == expected


async def test_code_queries_from_the_plan_are_valid_and_bounded():
    cm, _, c = await _with()
    try:
        queries = (await planner.plan_searches(c, DOC, code=4, web=0)).code
    finally:
        await _close(cm, c)
    assert 1 <= len(queries) <= 4
    assert all(isinstance(q, CodeQuery) and q.mode in ("word", "literal", "regex") for q in queries)
    assert "RetryPolicy" in {q.pattern for q in queries}


async def test_code_queries_drop_bad_ones_and_deduplicate():
    answer = json.dumps(
        {
            "queries": [
                {"pattern": "RetryPolicy", "mode": "word", "ignore_case": False, "why": ""},
                {"pattern": "RetryPolicy", "mode": "word", "ignore_case": False, "why": "dup"},
                {"pattern": ".*", "mode": "regex", "ignore_case": False, "why": ""},
                {"pattern": "redis", "mode": "literal", "ignore_case": True, "why": ""},
            ]
        }
    )
    cm, _, c = await _with([answer])
    try:
        queries = (await planner.plan_searches(c, DOC, code=5, web=0)).code
    finally:
        await _close(cm, c)
    assert [(q.pattern, q.mode, q.ignore_case) for q in queries] == [
        ("RetryPolicy", "word", False),
        ("redis", "literal", True),
    ]


async def test_code_queries_from_a_list_answer():
    cm, _, c = await _with(["Searches:\n1. `RetryPolicy`\n2. load_config — where config loads\n"])
    try:
        queries = (await planner.plan_searches(c, DOC, code=5, web=0)).code
    finally:
        await _close(cm, c)
    assert [(q.pattern, q.mode) for q in queries] == [
        ("RetryPolicy", "word"),
        ("load_config", "word"),
    ]


# --- the request's one planning call: both lists in one answer ---------------------------


async def test_one_planning_call_returns_code_searches_and_web_queries():
    cm, emu, c = await _with()
    try:
        plan = await planner.plan_searches(c, DOC, code=4, web=3)
    finally:
        await _close(cm, c)
    assert emu.stats.total == 1  # one call, one schema holding both lists
    assert 1 <= len(plan.code) <= 4 and 1 <= len(plan.web) <= 3
    assert all(isinstance(q, CodeQuery) for q in plan.code)
    prompt = emu.stats.requests[0].text
    assert planner.PLAN_ASK in prompt and "▌" in prompt


async def test_a_planning_answer_is_validated_part_by_part():
    answer = json.dumps(
        {
            "code_searches": [
                {"pattern": "RetryPolicy", "mode": "word", "ignore_case": False, "why": ""},
                {"pattern": ".*", "mode": "regex", "ignore_case": False, "why": ""},
            ],
            "web_queries": ["  redis   streams ", "Redis Streams", "ab"],
        }
    )
    cm, _, c = await _with([answer, json.dumps({"code_searches": [], "web_queries": ["ab"]})])
    try:
        plan = await planner.plan_searches(c, DOC, code=5, web=3)
        with pytest.raises(BackendError) as err:  # nothing usable in either part
            await planner.plan_searches(c, DOC, code=5, web=3)
    finally:
        await _close(cm, c)
    assert [(q.pattern, q.mode) for q in plan.code] == [("RetryPolicy", "word")]
    assert plan.web == ["redis streams"]
    assert err.value.kind == "malformed"


async def test_a_list_answer_to_the_planning_call_is_split_into_its_parts():
    answer = "Searches:\n1. `RetryPolicy`\n2. load_config\n3. redis streams consumer groups\n"
    cm, _, c = await _with([answer])
    try:
        plan = await planner.plan_searches(c, DOC, code=5, web=3)
    finally:
        await _close(cm, c)
    assert [q.pattern for q in plan.code] == ["RetryPolicy", "load_config"]
    assert plan.web == ["redis streams consumer groups"]


# --- (d) clarifying questions ---------------------------------------------------------------


async def _evidence(root: Path):
    rg = RipgrepBackend()
    return [
        await rg.search(CodeQuery(pattern="load_config"), root),
        await rg.search(CodeQuery(pattern="RetryPolicy"), root),
        await rg.search(CodeQuery(pattern="CircuitBreaker"), root),
    ]


async def test_questions_cite_only_lines_the_evidence_shows(code_tree: Path):
    evidence = await _evidence(code_tree)
    shown = {m.citation for r in evidence for m in r.matches}
    cm, emu, c = await _with()
    try:
        cards = await planner.clarifying_questions(c, DOC, evidence, max_questions=3)
    finally:
        await _close(cm, c)
    assert 1 <= len(cards) <= 3
    for card in cards:
        assert card.type == CardType.question and card.metadata.source == "ambiguities"
        assert card.text.endswith("?")
        assert card.metadata.citations and set(card.metadata.citations) <= shown
    prompt = emu.stats.requests[0].text
    assert "src/legacy/config.py:2" in prompt and "`CircuitBreaker` (word): no matches" in prompt


async def test_invented_citations_are_dropped_and_absences_can_ground_a_question(code_tree: Path):
    evidence = await _evidence(code_tree)
    answer = json.dumps(
        {
            "questions": [
                {"question": "Which load_config should the CLI use, src/app/config.py:1 or the legacy one?",
                 "citations": ["`src/app/config.py:1`", "./src/legacy/config.py line 2", "src/app/config.py:99"]},
                {"question": "Is RetryPolicy defined in src/app/nowhere.py:7?",
                 "citations": ["src/app/nowhere.py:7"]},
                {"question": "The plan relies on a CircuitBreaker; where will it live",
                 "citations": []},
                {"question": "Should we rewrite everything?", "citations": []},
            ]
        }
    )  # fmt: skip
    cm, _, c = await _with([answer])
    try:
        cards = await planner.clarifying_questions(
            c, DOC, evidence, plan_citation=lambda line: f"plan.md:{line + 1}"
        )
    finally:
        await _close(cm, c)
    assert [card.metadata.citations for card in cards] == [
        ["src/app/config.py:1", "src/legacy/config.py:2", "plan.md:8"],
        ["plan.md:8"],
    ]
    assert cards[1].text == "The plan relies on a CircuitBreaker; where will it live?"


async def test_no_grounded_question_is_malformed(code_tree: Path):
    evidence = await _evidence(code_tree)
    answer = '{"questions": [{"question": "Why?", "citations": ["made/up.py:3"]}]}'
    cm, _, c = await _with([answer])
    try:
        with pytest.raises(BackendError) as err:
            await planner.clarifying_questions(c, DOC, evidence)
    finally:
        await _close(cm, c)
    assert err.value.kind == "malformed"


def test_citation_normalisation():
    n = planner.normalize_citation
    assert n("`./src/a.py:3`") == "src/a.py:3"
    assert n("src/a.py line 12") == "src/a.py:12"
    assert n("(src/a.py:07)") == "src/a.py:7"
    assert n("see above") is None


# --- completion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "before", "expected"),
    [
        (" with jitter\nmore", "use backoff", " with jitter"),
        ("use backoff with jitter", "use backoff", " with jitter"),
        ("backoff with jitter", "use backoff", " with jitter"),
        ('"with jitter"', "use backoff ", "with jitter"),
        ("yPolicy everywhere", "Retr", "yPolicy everywhere"),
        ("<think>hmm</think> and more", "this", " and more"),
        ("   ", "x", ""),
        (" " + " ".join(["w"] * 30), "x", " " + " ".join(["w"] * 16)),
    ],
)
def test_clean_completion(raw, before, expected):
    assert planner.clean_completion(raw, before) == expected
