"""Each endpoint's happy path through HTTP (httpx against the ASGI app, lifespan run), in
SPEC's shapes, with real fan-out, orchestrator and rg."""

from __future__ import annotations

import asyncio
import time

from parallizer.models import Card, CardType

from .kit import (
    Echo,
    Failing,
    Grep,
    Many,
    Sleepy,
    Unavailable,
    app_with,
    asgi_client,
    body,
    eventually,
    metric_value,
    settings_for,
)


def _assert_card_shape(card: dict) -> None:
    assert set(card) == {"header", "text", "type", "metadata", "new"}
    assert card["new"] is True  # a fresh user's feed holds only this request's cards
    assert card["type"] in ("question", "context", "completion")
    assert isinstance(card["header"], str) and isinstance(card["text"], str)
    assert isinstance(card["metadata"]["source"], str)
    assert isinstance(card["metadata"]["citations"], list)


async def test_fulfill_answers_cards_and_timings_in_spec_shape(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Grep())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body("u1", scope=code_tree))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"]
    data = r.json()
    assert set(data) == {"cards", "processing", "timings"}
    assert data["processing"] is False
    for card in data["cards"]:
        _assert_card_shape(card)
    by_source = {c["metadata"]["source"]: c for c in data["cards"] if c["type"] == "context"}
    grep_cards = [c for c in data["cards"] if c["metadata"]["source"] == "grep"]
    assert {c["header"] for c in grep_cards} == {
        "`RetryPolicy` in the code",
        "`load_config` in the code",
    }
    # citations are path:line relative to scope_root, and really point at the identifier
    for c in grep_cards:
        for cite in c["metadata"]["citations"]:
            path, line = cite.rsplit(":", 1)
            ident = c["header"].split("`")[1]
            assert ident in (code_tree / path).read_text().splitlines()[int(line) - 1]
    assert by_source["grep"]["metadata"]["citations"]
    [echo] = [c for c in data["cards"] if c["metadata"]["source"] == "echo"]
    assert echo["type"] == "question" and "u1" in echo["text"]

    timings = data["timings"]
    assert timings["total_ms"] > 0
    assert list(timings["fulfillers"]) == ["echo", "grep"]
    grep = timings["fulfillers"]["grep"]
    assert grep["ok"] is True and grep["cards"] == 2
    queries = {q["query"]: q for q in grep["queries"]}
    assert set(queries) == {"RetryPolicy", "load_config"}
    for q in queries.values():
        assert q["backend"] == "ripgrep" and q["ok"] is True
        assert {"query", "backend", "start_ms", "ms", "ok"} <= set(q)
        assert q["start_ms"] >= 0 and q["ms"] >= 0


async def test_a_failing_fulfiller_is_in_the_timings_not_an_http_error(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Failing())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body("u1"))
    assert r.status_code == 200
    data = r.json()
    assert [c["metadata"]["source"] for c in data["cards"]] == ["echo"]
    failed = data["timings"]["fulfillers"]["failing"]
    assert failed["ok"] is False
    assert "failed on purpose" in failed["error"]


async def test_default_is_every_available_fulfiller(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Unavailable())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body("u1"))
    assert list(r.json()["timings"]["fulfillers"]) == ["echo"]


async def test_parallax_polling_flow_background_then_cached(code_tree):
    slow = Sleepy(delay=0.3)
    app = app_with(settings_for(code_tree.parent), Echo(), slow)
    async with asgi_client(app) as client:
        r = await client.post("/fulfill?background=true", json=body("pa", scope=code_tree))
        assert r.status_code == 200
        first = r.json()
        # answered at once: the (empty) current feed, still processing, no timings
        assert first == {"cards": [], "processing": True}
        polls = []
        async with asyncio.timeout(10):
            while True:
                c = await client.get("/cached/pa")
                assert c.status_code == 200
                polls.append(c.json())
                if not polls[-1]["processing"]:
                    break
                await asyncio.sleep(0.02)
        final = polls[-1]
        assert set(final) == {"cards", "last_updated", "processing"}
        assert {c["metadata"]["source"] for c in final["cards"]} == {"echo", "slow"}
        assert abs(final["last_updated"] - time.time()) < 60
        # the echo card landed in the feed while the slow one was still running
        assert any(
            p["processing"] and [c["metadata"]["source"] for c in p["cards"]] == ["echo"]
            for p in polls
        )
        # the next background request answers at once with the feed so far
        again = await client.post("/fulfill?background=true", json=body("pa"))
        assert again.json()["processing"] is True
        assert {c["metadata"]["source"] for c in again.json()["cards"]} == {"echo", "slow"}


async def test_cached_for_an_unknown_user_is_an_empty_feed(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        r = await client.get("/cached/nobody")
    assert r.status_code == 200
    assert r.json() == {"cards": [], "last_updated": None, "processing": False}


async def test_delete_feed_forgets_cards_and_cancels_the_running_request(code_tree):
    slow = Sleepy(delay=5)
    app = app_with(settings_for(code_tree.parent), Echo(), slow)
    async with asgi_client(app) as client:
        await client.post("/fulfill", json=body("d1", fulfillers=["echo"]))
        assert len((await client.get("/cached/d1")).json()["cards"]) == 1
        await client.post("/fulfill?background=true", json=body("d1", fulfillers=["slow"]))
        await eventually(lambda: slow.meter.started)
        r = await client.delete("/user/d1/feed")
        assert r.status_code == 200
        assert r.json() == {
            "status": "success",
            "message": "feed of user 'd1' cleared",
            "user_id": "d1",
            "cleared": True,
            "cancelled": True,
        }
        assert slow.meter.cancelled == ["d1:# Retry plan"]
        after = (await client.get("/cached/d1")).json()
        assert after["cards"] == [] and after["processing"] is False
        r = await client.delete("/user/d1/feed")
        assert r.json()["status"] == "not_found"
        assert r.json()["cleared"] is False and r.json()["cancelled"] is False


async def test_feed_keeps_three_per_type_newest_first_and_drops_near_duplicates(code_tree):
    def q(text: str) -> Card:
        return Card.make(type=CardType.question, header="Q", text=text, source="many")

    cards = [
        q("Which retry policy applies to the upload client?"),
        q("Which retry policy applies to the upload client ?"),  # near duplicate
        q("Where is load_config defined, src/app or src/legacy?"),
        q("Should the timeout be per call or per request?"),
        q("Who owns the metrics dashboard?"),
    ]
    app = app_with(settings_for(code_tree.parent), Many(cards), Echo())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body("f1", fulfillers=["many"]))
        feed = (await client.get("/cached/f1")).json()
        assert [c["text"] for c in feed["cards"]] == [cards[0].text, cards[2].text, cards[3].text]
        # the response is the feed after the merge, these cards all new
        assert [c["text"] for c in r.json()["cards"]] == [c["text"] for c in feed["cards"]]
        assert all(c["new"] for c in r.json()["cards"])
        # a newer request's card goes first and pushes the oldest out
        await client.post("/fulfill", json=body("f1", fulfillers=["echo"]))
        feed = (await client.get("/cached/f1")).json()
        assert [c["metadata"]["source"] for c in feed["cards"]] == ["echo", "many", "many"]
        assert feed["cards"][1]["text"] == cards[0].text


async def test_health_reports_each_fulfiller_and_backend(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Unavailable())
    async with asgi_client(app) as client:
        r = await client.get("/health")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "healthy" and data["version"]
    assert data["fulfillers"] == [
        {"name": "echo", "available": True, "reason": ""},
        {"name": "needs_key", "available": False, "reason": "PARALLIZER_FAKE_URL is not set"},
    ]
    assert data["backends"]["ripgrep"]["available"] is True


async def test_health_never_shows_a_secret(code_tree):
    token = "tok-SECRET-123456"
    settings = settings_for(code_tree.parent, api_token=token, perplexity_api_key="pplx-KEY-987")
    careless = Unavailable(f"bad key pplx-KEY-987 for https://user:{token}@llm.example/v1")
    app = app_with(settings, Echo(), careless)
    async with asgi_client(app) as client:
        r = await client.get("/health")
    assert r.status_code == 200
    assert "pplx-KEY-987" not in r.text and token not in r.text and "user:" not in r.text
    assert r.json()["fulfillers"][1]["reason"] == "bad key *** for https://***@llm.example/v1"


async def test_metrics_histograms_move_after_requests(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Grep())
    async with asgi_client(app) as client:
        before = (await client.get("/metrics")).text
        for i in range(3):
            r = await client.post("/fulfill", json=body(f"m{i}", scope=code_tree))
            assert r.status_code == 200
        await client.get("/cached/m0")
        after = await client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def delta(name: str, **labels: str) -> float:
        return metric_value(text, name, **labels) - metric_value(before, name, **labels)

    assert delta("parallizer_http_request_seconds_count", endpoint="/fulfill", status="200") == 3
    assert delta("parallizer_http_request_seconds_count", endpoint="/cached/{user_id}") == 1
    assert delta("parallizer_query_seconds_count", backend="ripgrep", outcome="ok") == 6
    assert delta("parallizer_cards_total", type="context", fulfiller="grep") == 6
    assert delta("parallizer_runs_total", mode="sync", end="done") == 3
    assert delta("parallizer_feed_total", event="added") == 9
    # each /fulfill reads the feed it answers with, then /cached reads it
    assert delta("parallizer_feed_total", event="hit") == 4
    # no user id ever becomes a label
    assert "m0" not in text
    for gauge in ("parallizer_http_requests_in_flight", "parallizer_runs_in_flight"):
        assert f"# TYPE {gauge} gauge" in text


async def test_openapi_docs_are_served(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = schema.json()["paths"]
    assert set(paths) == {
        "/",
        "/files/tree",
        "/files/content",
        "/files/save",
        "/fulfill",
        "/fulfill/stream",
        "/review",
        "/cached/{user_id}",
        "/user/{user_id}/feed",
        "/health",
        "/metrics",
    }


async def test_health_says_where_the_index_persists_and_whether_it_was_loaded(code_tree, tmp_path):
    index_dir = tmp_path / "index"
    seen = []
    for _ in range(2):  # a start, then a restart over the same directory
        app = app_with(settings_for(code_tree.parent, index_dir=str(index_dir)), Echo())
        async with asgi_client(app) as client:
            await app.state.service.runtime.code.snapshot(code_tree)
            seen.append((await client.get("/health")).json()["index"])
    assert [s["dir"] for s in seen] == [str(index_dir)] * 2
    assert [[(x["scope"], x["origin"]) for x in s["scopes"]] for s in seen] == [
        [("repo", "built")], [("repo", "loaded")],
    ]  # fmt: skip
    assert seen[0]["scopes"][0]["definitions"] == seen[1]["scopes"][0]["definitions"] > 0
    app = app_with(settings_for(code_tree.parent), Echo())  # the tests' default: memory only
    async with asgi_client(app) as client:
        assert (await client.get("/health")).json()["index"] == {"dir": None, "scopes": []}


async def test_a_serving_process_collects_cycles_less_often_and_never_lowers_a_threshold(
    tmp_path,
):
    """A burst of requests made ~470 young and 4 full collections with Python's thresholds
    (the full ones stopping the loop 50-120 ms each): the service raises them at startup."""
    import gc

    from parallizer.collector import THRESHOLDS as GC_THRESHOLDS

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # Python's own
        async with asgi_client(app_with(settings_for(tmp_path), Echo())):
            assert gc.get_threshold() == GC_THRESHOLDS
        gc.set_threshold(GC_THRESHOLDS[0] * 2, 10, 10)  # a process that asked for more
        async with asgi_client(app_with(settings_for(tmp_path), Echo())):
            assert gc.get_threshold() == (GC_THRESHOLDS[0] * 2, *GC_THRESHOLDS[1:])
    finally:
        gc.set_threshold(*before)
