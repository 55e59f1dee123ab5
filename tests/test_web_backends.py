"""The Perplexity and SearXNG backends over real loopback HTTP: concurrency, limits, every
kind of failure as an outcome with its reason, no retry of their own, secrets."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp import web

from parallizer.backends.http import api_error_message, retry_after_seconds
from parallizer.backends.searxng import SearxngBackend
from parallizer.emulators import running
from parallizer.errors import BackendError
from parallizer.fanout import fan_out

from .webkit import PPLX_KEY, perplexity, web_calls

QUERIES = [f"topic number {i} reliability" for i in range(5)]


async def test_answer_citations_and_search_results_are_parsed():
    async with running("perplexity", api_key=PPLX_KEY) as emu:
        b = perplexity(emu)
        try:
            res = await b.search("exponential backoff with jitter")
        finally:
            await b.aclose()
    assert res.query == "exponential backoff with jitter"
    assert "[1]" in res.answer and res.answer.startswith("For exponential backoff with jitter")
    assert len(res.sources) == 3
    assert all(s.url.startswith(emu.root + "/source/") for s in res.sources)
    assert all(s.title and s.snippet for s in res.sources)  # enriched from search_results
    assert emu.stats.requests[0].authorized is True  # the key went in Authorization


async def test_five_queries_are_all_in_flight_at_once():
    async with running("perplexity", latency=0.3) as emu:
        b = perplexity(emu)
        try:
            outs = await fan_out(web_calls(b, QUERIES))
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)
    assert emu.stats.peak == 5  # seen by the server, not by our own counters
    assert b.limiter.peak == 5


async def test_limit_of_two_caps_the_server_peak_and_all_five_still_finish():
    async with running("perplexity", latency=0.1) as emu:
        b = perplexity(emu, max_concurrent=2)
        try:
            outs = await fan_out(web_calls(b, QUERIES))
        finally:
            await b.aclose()
    assert [o.ok for o in outs] == [True] * 5
    assert emu.stats.peak == 2 and emu.stats.total == 5
    assert sorted(o.queued_ms > 50 for o in outs).count(True) >= 3  # the excess waited


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        ("500", "http_500", "perplexity: HTTP 500: Internal server error (emulated)"),
        (
            "429",
            "rate_limited",
            "HTTP 429 rate limited: Rate limit exceeded (emulated); retry after 30s",
        ),
        # the call's deadline and the HTTP client's own (the same 0.6 s) race: either says so
        ("hang", "timeout", ("perplexity: no answer within", "timed out after 0.6s")),
        ("malformed", "malformed", "answer is not JSON"),
        ("drop", "connection", "closed the connection without answering"),
    ],
)
async def test_each_fault_is_a_failed_outcome_with_its_reason_and_the_rest_succeed(
    fault, kind, reason
):
    async with running(
        "perplexity", latency=0.05, fault_on=[f"topic number 2={fault}"], retry_after=30
    ) as emu:
        b = perplexity(emu, timeout=0.6)
        try:
            outs = await fan_out(web_calls(b, QUERIES))
        finally:
            await b.aclose()
    bad = outs[2]
    assert not bad.ok and bad.kind == kind
    assert any(r in (bad.error or "") for r in ((reason,) if isinstance(reason, str) else reason))
    assert [o.ok for i, o in enumerate(outs) if i != 2] == [True] * 4
    assert all(o.value and o.value.sources for i, o in enumerate(outs) if i != 2)
    assert PPLX_KEY not in repr(outs)


async def test_the_backend_itself_never_retries_a_429():
    # the one retry policy lives in the fan-out (tests/test_capacity.py): a backend call is
    # one request, so each retry can take a fresh slot of the adaptive limit
    async with running("perplexity", fault_on=["busy=429"], retry_after=0.05) as emu:
        b = perplexity(emu, timeout=2.0)
        with pytest.raises(BackendError) as err:
            await b.search("busy topic")
        await b.aclose()
    assert err.value.kind == "rate_limited" and err.value.retry_after == 0.05
    assert emu.stats.total == 1


async def test_a_500_is_not_retried():
    async with running("perplexity", fault_on=["x=500"]) as emu:
        b = perplexity(emu)
        with pytest.raises(BackendError):
            await b.search("x")
        await b.aclose()
    assert emu.stats.total == 1


async def test_connection_refused_is_a_connection_failure():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Fake:
        url = f"http://127.0.0.1:{port}"

    b = perplexity(Fake())  # type: ignore[arg-type]
    try:
        with pytest.raises(BackendError) as err:
            await b.search("anything")
    finally:
        await b.aclose()
    assert err.value.kind == "connection"
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in err.value.message


async def test_a_rejected_key_echoed_by_the_api_is_redacted():
    async with running("perplexity", api_key="the-right-key") as emu:
        b = perplexity(emu)
        with pytest.raises(BackendError) as err:
            await b.search("anything")
        await b.aclose()
    assert err.value.kind == "http_401"
    assert "Incorrect API key provided: ***" in err.value.message
    assert "(check PERPLEXITY_API_KEY)" in err.value.message
    assert PPLX_KEY not in err.value.message and PPLX_KEY[:8] not in err.value.message


async def test_one_session_per_backend_created_lazily_and_closed_by_aclose():
    async with running("perplexity") as emu:
        b = perplexity(emu)
        assert b.http._session is None  # nothing opened before first use
        await b.search("one")
        first = b.http._session
        await b.search("two")
        assert b.http._session is first and not first.closed
        await b.aclose()
        assert first.closed and b.http._session is None


def test_retry_after_as_seconds_or_http_date():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_api_error_messages_in_the_shapes_apis_use():
    assert api_error_message({"error": {"message": "bad model", "type": "x"}}) == "bad model"
    assert api_error_message({"error": "quota"}) == "quota"
    assert api_error_message({"detail": "Not authenticated"}) == "Not authenticated"
    assert api_error_message({"detail": [{"msg": "field required"}]}) == "field required"
    assert api_error_message(["x"]) is None


# --- SearXNG, against a small stand-in speaking its JSON API ----------------------------------


class SearxStandIn:
    def __init__(self, *, json_enabled: bool = True) -> None:
        self.json_enabled = json_enabled
        self.params: list[dict[str, str]] = []
        self.in_flight = 0
        self.peak = 0

    async def search(self, request: web.Request) -> web.Response:
        import asyncio

        self.params.append(dict(request.query))
        if request.query.get("format") != "json" or not self.json_enabled:
            return web.Response(status=403, text="403 Forbidden")
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            self.in_flight -= 1
        q = request.query["q"]
        body: dict[str, Any] = {
            "query": q,
            "number_of_results": 3,
            "results": [
                {
                    "url": f"https://docs.example.org/{i}",
                    "title": f"{q} doc {i}",
                    "content": f"About {q}, part {i}.",
                    "engine": "duckduckgo",
                    "score": 1.0,
                }
                for i in range(3)
            ]
            + [{"url": "https://docs.example.org/0", "title": "dup"}, {"title": "no url"}],
            "answers": [{"answer": f"{q} is a well known technique.", "url": "https://a.example"}]
            if "answer" in q
            else [],
            "infoboxes": [],
            "suggestions": [],
        }
        return web.json_response(body)


async def _searx(stand_in: SearxStandIn):
    app = web.Application()
    app.router.add_get("/search", stand_in.search)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def test_searxng_results_become_sources_and_direct_answers_the_answer():
    stand_in = SearxStandIn()
    runner, url = await _searx(stand_in)
    b = SearxngBackend(base_url=url, timeout=5)
    try:
        plain = await b.search("connection pooling")
        answered = await b.search("answer me")
    finally:
        await b.aclose()
        await runner.cleanup()
    assert [s.url for s in plain.sources] == [f"https://docs.example.org/{i}" for i in range(3)]
    assert plain.sources[1].title == "connection pooling doc 1"
    assert plain.sources[1].snippet == "About connection pooling, part 1."
    assert plain.answer == ""
    assert answered.answer == "answer me is a well known technique."
    assert (
        stand_in.params[0]["format"] == "json" and stand_in.params[0]["q"] == "connection pooling"
    )


async def test_searxng_backend_runs_queries_concurrently_under_its_limit():
    stand_in = SearxStandIn()
    runner, url = await _searx(stand_in)
    b = SearxngBackend(base_url=url, timeout=5, max_concurrent=3)
    try:
        outs = await fan_out(web_calls(b, QUERIES))
    finally:
        await b.aclose()
        await runner.cleanup()
    assert all(o.ok for o in outs) and stand_in.peak == 3


async def test_searxng_without_json_format_says_how_to_enable_it():
    runner, url = await _searx(SearxStandIn(json_enabled=False))
    b = SearxngBackend(base_url=url, timeout=5)
    try:
        with pytest.raises(BackendError) as err:
            await b.search("x")
    finally:
        await b.aclose()
        await runner.cleanup()
    assert err.value.kind == "http_403" and "search.formats" in err.value.message
