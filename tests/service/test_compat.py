"""The wire contract the Parallax editor's clients (web app, TUI, backend test suite) rely on,
stated as facts and checked over real HTTP: response shapes, statuses, the feed's rules,
cursors as editors send them, CORS for a local dev server."""

from __future__ import annotations

import httpx
import pytest

from parallizer.models import code_points, utf16_column

from .kit import Echo, Grep, Sleepy, app_with, body, eventually, settings_for, uvicorn_server

DOC_A = "# Plan A\n\nWe call `RetryPolicy` from the client.\n"
DOC_B = "# Plan B\n\nSettings come from `load_config` at start.\n"


@pytest.fixture
async def client(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Grep(), Sleepy(delay=0.05))
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        c.scope = code_tree  # type: ignore[attr-defined]
        yield c


async def test_root_names_the_service_and_counts_fulfillers(client):
    r = await client.get("/")
    assert r.status_code == 200
    data = r.json()
    assert data["service"] == "Parallizer Backend" and data["status"] == "running"
    assert data["fulfillers"] == 3 and isinstance(data["active_users"], int)


async def test_health_lists_fulfillers_with_availability_and_keeps_backends(client):
    data = (await client.get("/health")).json()
    assert data["service"] == "Parallizer Backend" and data["status"] == "healthy"
    assert [f["name"] for f in data["fulfillers"]] == ["echo", "grep", "slow"]
    for f in data["fulfillers"]:
        assert f["available"] is True and isinstance(f["reason"], str)
    assert data["active_users"] == 0
    assert {"ripgrep", "web", "llm"} <= set(data["backends"])


async def test_delete_says_success_or_not_found(client):
    r = await client.delete("/user/nobody/feed")
    assert r.status_code == 200
    assert r.json()["status"] == "not_found" and r.json()["message"]
    await client.post("/fulfill", json=body("del", text=DOC_A, scope=client.scope))
    r = await client.delete("/user/del/feed")
    assert r.json()["status"] == "success" and r.json()["message"]
    assert (await client.get("/cached/del")).json()["cards"] == []


async def test_fulfill_answers_the_whole_feed_marking_this_requests_cards_new(client):
    first = (await client.post("/fulfill", json=body("acc", text=DOC_A, scope=client.scope))).json()
    assert first["cards"] and all(c["new"] is True for c in first["cards"])
    assert first["processing"] is False and "fulfillers" in first["timings"]
    second = (
        await client.post("/fulfill", json=body("acc", text=DOC_B, scope=client.scope))
    ).json()
    new = [c for c in second["cards"] if c["new"]]
    old = [c for c in second["cards"] if not c["new"]]
    # the earlier request's cards are still there (not replaced by this request's)
    assert any("RetryPolicy" in c["text"] for c in old)
    assert any("load_config" in c["text"] for c in new)
    assert not any("RetryPolicy" in c["text"] for c in new)
    # the answer is what the feed now shows
    cached = (await client.get("/cached/acc")).json()
    assert [{k: v for k, v in c.items() if k != "new"} for c in second["cards"]] == cached["cards"]
    # every card has the shape the clients read
    for c in second["cards"]:
        assert {"header", "text", "type", "metadata"} <= set(c)
        assert c["type"] in ("question", "context", "completion")


async def test_the_feed_keeps_at_most_three_cards_per_type(client):
    steps = [
        "Rotate the signing keys every quarter",
        "Mirror the package index inside the office",
        "Benchmark cold starts on the smallest instance",
        "Teach the scheduler about public holidays",
        "Replace the cron job with a queue consumer",
        "Archive invoices older than seven years",
    ]
    for i, step in enumerate(steps):
        text = f"# Plan {i}\n\n{step}\n"
        r = await client.post("/fulfill", json=body("cap", text=text))
        counts: dict[str, int] = {}
        for c in r.json()["cards"]:
            counts[c["type"]] = counts.get(c["type"], 0) + 1
        assert max(counts.values()) <= 3
    assert counts["question"] == 3  # Echo made one question per request: the cap holds


async def test_background_answers_the_current_feed_at_once_then_lands(client):
    await client.post("/fulfill", json=body("bg", text=DOC_A, scope=client.scope))
    r = await client.post(
        "/fulfill?background=true", json=body("bg", text=DOC_B, scope=client.scope)
    )
    data = r.json()
    assert data["processing"] is True
    assert data["cards"] and all(c["new"] is False for c in data["cards"])

    async def landed() -> bool:
        feed = (await client.get("/cached/bg")).json()
        return not feed["processing"] and any("load_config" in c["text"] for c in feed["cards"])

    await eventually(landed)


@pytest.mark.parametrize(
    "missing", [{}, {"user_id": "x"}, {"user_id": "x", "document_text": "text"}]
)
async def test_missing_fields_are_422(client, missing):
    assert (await client.post("/fulfill", json=missing)).status_code == 422


def test_utf16_columns_map_to_code_points():
    line = "Ship 🚀 it"  # the rocket is one code point, two UTF-16 units
    assert code_points(line, 5) == 5  # before the rocket
    assert code_points(line, 7) == 6  # after it
    assert code_points(line, 6) == 6  # inside the pair: after the character
    assert code_points(line, len(line) + 1) == len(line)  # Monaco's end of line
    assert code_points(line, 999) == len(line)
    assert utf16_column(line, 6) == 7 and code_points(line, utf16_column(line, 8)) == 8


@pytest.mark.parametrize(
    ("cursor", "quoted"),
    [
        ([2, len("Ship 🚀 it") + 1], "Ship 🚀 it"),  # end of the emoji line, in UTF-16 units
        ([2, 500], "Ship 🚀 it"),  # past the end of the line: clamped
        ([9999, 9999], "last line"),  # past the end of the document: the last line
    ],
)
async def test_cursors_as_editors_send_them(client, cursor, quoted):
    text = "# Plan\n\nShip 🚀 it\nlast line"
    r = await client.post(
        "/fulfill", json=body("cur", text=text, cursor_position=cursor, fulfillers=["echo"])
    )
    assert r.status_code == 200, r.text
    assert quoted in r.json()["cards"][0]["text"]


@pytest.mark.parametrize("cursor", [[True, 0], [0, False], [1.5, 0], [0, -1], ["1", 0], [1]])
async def test_malformed_cursors_are_422(client, cursor):
    r = await client.post("/fulfill", json=body("bad", cursor_position=cursor))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", "cursor_position"]


async def test_cors_lets_a_local_dev_server_in_and_no_one_else(client):
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"):
        r = await client.options(
            "/fulfill",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in r.headers
    r = await client.get("/cached/x", headers={"Origin": "http://localhost:5173"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    for origin in ("https://evil.example", "http://localhost.evil.example", "null"):
        r = await client.options(
            "/fulfill", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in r.headers


async def test_cors_origins_setting_adds_origins(code_tree):
    settings = settings_for(
        code_tree.parent, cors_origins="https://editor.example, https://b.example/"
    )
    async with (
        uvicorn_server(app_with(settings, Echo())) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        for origin in ("https://editor.example", "https://b.example", "http://localhost:8080"):
            r = await client.get("/health", headers={"Origin": origin})
            assert r.headers.get("access-control-allow-origin") == origin
        r = await client.get("/health", headers={"Origin": "https://editor.example.evil"})
        assert "access-control-allow-origin" not in r.headers
