"""The LLM client against the OpenAI-compatible emulator (real HTTP over loopback),
its structured output and fallbacks, and the tolerant parser."""

from __future__ import annotations

import pytest

from parallizer.emulators import running
from parallizer.errors import BackendError
from parallizer.fanout import fan_out
from parallizer.llm import LLMClient, parse_structured
from parallizer.llm.parse import items_of, list_items, strip_reasoning

from .webkit import LLM_KEY, llm_client

SCHEMA = {
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}, "maxItems": 4}},
    "required": ["queries"],
    "additionalProperties": False,
}
PROMPT = "We add `RetryPolicy` with exponential backoff and jitter to the Redis client."


async def _ask(client: LLMClient) -> object:
    return await client.complete_json(system="plan", user=PROMPT, schema=SCHEMA, name="q")


async def test_structured_output_is_requested_and_schema_valid():
    async with running("llm", api_key=LLM_KEY) as emu:
        async with llm_client(emu) as c:
            value = await _ask(c)
    assert isinstance(value, dict) and set(value) == {"queries"}
    assert 1 <= len(value["queries"]) <= 4 and all(isinstance(q, str) for q in value["queries"])
    assert any("backoff" in q or "jitter" in q or "redis" in q for q in value["queries"])
    [rec] = emu.stats.requests
    assert rec.response_format == "json_schema" and rec.authorized is True
    assert c.structured is True


async def test_an_endpoint_rejecting_response_format_is_asked_again_with_the_schema_in_prompt():
    async with running("llm", llm_format="reject") as emu:
        async with llm_client(emu) as c:
            first = await _ask(c)
            second = await _ask(c)
    assert isinstance(first, dict) and first["queries"] and second == first
    # 400 once, then the client remembers: no more response_format
    assert [(r.response_format, r.status) for r in emu.stats.requests] == [
        ("json_schema", 400),
        (None, 200),
        (None, 200),
    ]
    assert c.structured is False
    assert "no structured output" in c.availability().reason


@pytest.mark.parametrize("fmt", ["fenced", "list"])
async def test_an_endpoint_ignoring_response_format_is_read_tolerantly(fmt):
    async with running("llm", llm_format=fmt) as emu:
        async with llm_client(emu) as c:
            value = await _ask(c)
    queries = items_of(value, "queries")
    assert queries and all(isinstance(q, str) and q for q in queries)


@pytest.mark.parametrize(
    ("fmt", "kind", "reason"),
    [
        ("prose", "malformed", "neither JSON nor a list"),
        ("refuse", "refused", "the model refused: I'm sorry"),
        ("empty", "empty", "empty answer"),
    ],
)
async def test_garbage_refusal_and_empty_answers_are_backend_errors(fmt, kind, reason):
    async with running("llm", llm_format=fmt) as emu:
        async with llm_client(emu) as c:
            with pytest.raises(BackendError) as err:
                await _ask(c)
    assert err.value.kind == kind and reason in err.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("500", "http_500"), ("429", "rate_limited"), ("hang", "timeout"), ("malformed", "malformed"),
     ("drop", "connection")],
)  # fmt: skip
async def test_transport_faults_are_failed_outcomes_and_only_overload_is_retried(fault, kind):
    async with running("llm", fault_on=[f"boom={fault}"], retry_after=0.01) as emu:
        async with llm_client(emu, timeout=0.5) as c:
            calls = [
                c.call(t, lambda t=t: c.complete_json(system="s", user=t, schema=SCHEMA, name="q"))
                for t in ("boom now", "all good")
            ]
            bad, good = await fan_out(calls)
    assert not bad.ok and bad.kind == kind and bad.backend == "llm"
    assert good.ok and good.value["queries"]
    tries = sum(r.text == "boom now" for r in emu.stats.requests)
    if fault == "429":  # the one retry policy: again and again until the deadline runs out
        assert tries > 1 and "attempts" in (bad.error or "")
    else:
        assert tries == 1  # nothing but overload is retried


async def test_a_rejected_key_echoed_back_is_redacted():
    async with running("llm", api_key="the-right-key") as emu:
        async with llm_client(emu) as c:
            with pytest.raises(BackendError) as err:
                await _ask(c)
    assert err.value.kind == "http_401"
    assert LLM_KEY not in err.value.message and "***" in err.value.message
    assert "check PARALLIZER_LLM_API_KEY" in err.value.message


async def test_llm_calls_run_concurrently_under_the_llm_limiter():
    async with running("llm", latency=0.2) as emu:
        async with LLMClient(base_url=emu.url, model="m", timeout=5, max_concurrent=3) as c:
            outs = await fan_out(
                [c.call(f"c{i}", lambda i=i: c.complete_text(system="s", user=f"line {i}"))
                 for i in range(5)]
            )  # fmt: skip
    assert all(o.ok and o.value for o in outs)
    assert emu.stats.peak == 3 and c.limiter.peak == 3


async def test_no_key_is_fine_for_local_servers():
    async with running("llm") as emu:
        async with LLMClient(base_url=emu.url, model="m", timeout=5) as c:
            assert await c.complete_text(system="s", user="continue the retry loop")
    assert "no API key" in c.availability().reason


# --- the tolerant parser ------------------------------------------------------------------


def test_parse_plain_fenced_embedded_and_reasoning():
    assert parse_structured('{"a": [1]}') == {"a": [1]}
    assert parse_structured('Sure:\n```json\n{"a": 2}\n```\nDone.') == {"a": 2}
    assert parse_structured('Here you go: {"queries": ["x", "y"]} hope it helps') == {
        "queries": ["x", "y"]
    }
    assert parse_structured('<think>{"no": 1} hmm</think>\n["p", "q"]') == ["p", "q"]
    assert parse_structured('cut off reasoning</think>{"ok": true}') == {"ok": True}


def test_parse_numbered_and_bulleted_lists():
    text = (
        'Suggestions:\n\n1. retry budget\n2) circuit breaker\n- **Jitter**: spread load\n* "SSE"\n'
    )
    assert parse_structured(text) == [
        "retry budget",
        "circuit breaker",
        "Jitter: spread load",
        "SSE",
    ]
    assert list_items("no list here") == []


def test_parse_rejects_garbage_and_empty():
    with pytest.raises(BackendError) as err:
        parse_structured("I think the plan is fine.")
    assert err.value.kind == "malformed"
    with pytest.raises(BackendError) as err:
        parse_structured("<think>only thoughts</think>")
    assert err.value.kind == "empty"


def test_items_of_accepts_the_shapes_models_return():
    assert items_of({"queries": ["a"]}, "queries") == ["a"]
    assert items_of({"results": ["a", "b"]}, "queries") == ["a", "b"]
    assert items_of(["a"], "queries") == ["a"]
    assert items_of({"pattern": "x"}, "queries") == [{"pattern": "x"}]
    with pytest.raises(BackendError):
        items_of(3, "queries")
    assert strip_reasoning("<think>x</think> y ") == "y"
