"""Bad input gets a clear 4xx with a JSON `detail`; auth, CORS, and no trace or secret ever
in a response body."""

from __future__ import annotations

import json
import logging
import os

import httpx
import pytest

from parallizer.clients.web import STATIC
from parallizer.service.app import body_limit
from parallizer.service.middleware import BearerAuth
from parallizer.service.runs import MemoryFeedStore

from .kit import Echo, Grep, Sleepy, app_with, asgi_client, body, settings_for

pytestmark = pytest.mark.asyncio


def _detail(r: httpx.Response) -> object:
    assert r.headers["content-type"] == "application/json", r.text
    data = r.json()
    assert "detail" in data, data
    assert "Traceback" not in r.text
    return data["detail"]


# --- 413 -------------------------------------------------------------------------------------


async def test_413_by_content_length_before_reading_the_body(code_tree):
    settings = settings_for(code_tree.parent, max_document_bytes=1000)
    app = app_with(settings, Echo())
    limit = body_limit(settings)
    async with asgi_client(app) as client:
        r = await client.post(
            "/fulfill",
            content=b"{}",
            headers={"content-type": "application/json", "content-length": str(limit + 1)},
        )
    assert r.status_code == 413
    assert str(limit) in _detail(r)


async def test_413_by_actual_size_of_a_chunked_body(code_tree):
    settings = settings_for(code_tree.parent, max_document_bytes=1000)
    app = app_with(settings, Echo())
    limit = body_limit(settings)
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(limit // 4096 + 10):
            sent += 4096
            yield b"x" * 4096

    async with asgi_client(app) as client:
        r = await client.post("/fulfill", content=chunks())
    assert r.status_code == 413
    assert "over the limit" in _detail(r)


async def test_413_for_a_document_over_the_limit_in_a_body_within_it(code_tree):
    settings = settings_for(code_tree.parent, max_document_bytes=1000)
    app = app_with(settings, Echo())
    async with asgi_client(app) as client:
        ok = await client.post("/fulfill", json=body(text="é" * 499 + "x\n"))  # 1000 bytes
        big = await client.post("/fulfill", json=body(text="é" * 500 + "x\n"))
    assert ok.status_code == 200
    assert big.status_code == 413
    assert _detail(big) == "document_text is over the limit of 1000 bytes"


async def test_default_limit_takes_a_one_mib_document(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    text = ("x" * 1023 + "\n") * 1024  # exactly 1 MiB
    async with asgi_client(app) as client:
        ok = await client.post("/fulfill", json=body(text=text[:-1] + "\n"))
        big = await client.post("/fulfill", json=body(text=text + "y\n"))
    assert ok.status_code == 200
    assert big.status_code == 413


# --- 422 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (json.dumps({"document_text": "x", "cursor_position": [0, 0]}).encode(), "user_id"),
        (json.dumps(body(cursor_position=[True, 0])).encode(), "cursor_position"),
        (json.dumps(body(cursor_position=[0, 1.5])).encode(), "cursor_position"),
        (json.dumps(body(user_id="a\u0000b")).encode(), "control characters"),
        (json.dumps(body(global_context={"scope_root": ""})).encode(), "scope_root"),
        (json.dumps(body(fulfillers=["echo\ud800"])).encode(), "surrogate"),
        (json.dumps(body(cursor_position=[-1, 0])).encode(), "non-negative"),
        (json.dumps(body(cursor_position=[1])).encode(), "cursor_position"),
        (json.dumps(body(cursor_position="1:2")).encode(), "cursor_position"),
        (json.dumps(body(user_id="")).encode(), "user_id"),
        (json.dumps(body(fulfillers="echo")).encode(), "fulfillers"),
        # an editor cutting an emoji in half: a lone surrogate, not text
        (json.dumps(body(text="# Plan\nhalf an emoji \ud83d here\n")).encode(), "surrogate"),
    ],
)
async def test_422_malformed_body_or_cursor(code_tree, raw, where):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", content=raw, headers={"content-type": "application/json"})
        s = await client.post(
            "/fulfill/stream", content=raw, headers={"content-type": "application/json"}
        )
    for resp in (r, s):
        assert resp.status_code == 422
        detail = _detail(resp)
        assert isinstance(detail, list) and detail
        for err in detail:
            assert set(err) == {"loc", "msg", "type"}  # never the input echoed back
        assert where in json.dumps(detail)


async def test_422_unknown_fulfiller(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo(), Grep())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body(fulfillers=["echo", "nope"]))
        s = await client.post("/fulfill/stream", json=body(fulfillers=["nope"]))
    for resp in (r, s):
        assert resp.status_code == 422
        assert _detail(resp) == "unknown fulfiller(s): nope; known: echo, grep"


async def test_a_long_unknown_fulfiller_name_is_not_echoed_whole(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body(fulfillers=["x" * 100_000]))
    assert r.status_code == 422
    assert len(_detail(r)) <= 500


async def test_422_bad_query_and_path_parameters(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        r = await client.post("/fulfill?background=perhaps", json=body())
        c = await client.get("/cached/" + "u" * 300)
    assert r.status_code == 422 and _detail(r)
    assert c.status_code == 422 and _detail(c)


async def test_404_and_405_are_json_too(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        nf = await client.get("/nowhere")
        na = await client.get("/fulfill")
    assert nf.status_code == 404 and _detail(nf) == "Not Found"
    assert na.status_code == 405 and _detail(na) == "Method Not Allowed"


# --- 403 -------------------------------------------------------------------------------------


async def test_403_scope_or_plan_outside_the_allowed_roots(tmp_path, code_tree):
    allowed = code_tree  # only the repository itself
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "plan.md").write_text("# plan\n")
    link = code_tree / "escape"
    link.symlink_to(outside, target_is_directory=True)
    app = app_with(settings_for(allowed), Echo())
    cases = {
        "scope outside": {"scope_root": str(outside)},
        "scope via a symlink inside": {"scope_root": str(link)},
        "scope via ..": {"scope_root": f"{code_tree}/../elsewhere"},
        "plan outside": {"scope_root": str(code_tree), "plan_path": str(outside / "plan.md")},
        "plan via a symlink": {"plan_path": str(link / "plan.md")},
    }
    async with asgi_client(app) as client:
        for what, gc in cases.items():
            for path in ("/fulfill", "/fulfill/stream", "/fulfill?background=true"):
                r = await client.post(path, json=body(global_context=gc))
                assert r.status_code == 403, (what, path, r.text)
                detail = _detail(r)
                assert "outside the allowed roots" in detail
                assert str(outside) not in detail  # the resolved target is not revealed
        # nothing of a refused request ran or landed
        assert (await client.get("/cached/u1")).json()["cards"] == []
        inside = await client.post(
            "/fulfill", json=body(global_context={"scope_root": str(code_tree)})
        )
        assert inside.status_code == 200


async def test_422_scope_that_is_relative_or_not_a_directory(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        rel = await client.post("/fulfill", json=body(global_context={"scope_root": "repo"}))
        file = await client.post(
            "/fulfill",
            json=body(global_context={"scope_root": str(code_tree / "src/app/retry.py")}),
        )
    assert rel.status_code == 422 and "absolute" in _detail(rel)
    assert file.status_code == 422 and "not a directory" in _detail(file)


async def test_422_for_paths_that_cannot_be_looked_at(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    too_long = str(code_tree / ("x" * 300))
    async with asgi_client(app) as client:
        tilde = await client.post(
            "/fulfill", json=body(global_context={"scope_root": "~nosuchuser/x"})
        )
        long = await client.post("/fulfill", json=body(global_context={"scope_root": too_long}))
    assert tilde.status_code == 422 and "absolute" in _detail(tilde)
    assert long.status_code == 422 and "cannot be accessed" in _detail(long)


# --- 401 -------------------------------------------------------------------------------------

TOKEN = "s3cret-token-for-tests"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing bearer token"),
        ({"authorization": "Bearer wrong-token"}, "wrong bearer token"),
        ({"authorization": f"Bearer {TOKEN}x"}, "wrong bearer token"),
        ({"authorization": f"Basic {TOKEN}"}, "wrong bearer token"),
        ({"authorization": TOKEN}, "wrong bearer token"),
    ],
)
async def test_401_without_the_right_bearer_token(code_tree, headers, why):
    app = app_with(settings_for(code_tree.parent, api_token=TOKEN), Echo())
    async with asgi_client(app) as client:
        for method, path in (
            ("POST", "/fulfill"),
            ("POST", "/fulfill/stream"),
            ("POST", "/review"),
            ("GET", "/files/tree"),
            ("POST", "/app"),
            ("GET", "/cached/u1"),
            ("DELETE", "/user/u1/feed"),
            ("GET", "/metrics"),
            ("GET", "/docs"),
            ("GET", "/openapi.json"),
            ("GET", "/nowhere"),
        ):
            r = await client.request(method, path, json=body(), headers=headers)
            assert r.status_code == 401, (method, path)
            assert _detail(r) == why
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in r.text


async def test_right_token_passes_and_health_is_open(code_tree):
    app = app_with(settings_for(code_tree.parent, api_token=TOKEN), Echo())
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with asgi_client(app) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.post("/health")).status_code == 401  # only GET is open
        assert (await client.post("/fulfill", json=body(), headers=auth)).status_code == 200
        lower = {"authorization": f"bearer {TOKEN}"}
        assert (await client.get("/cached/u1", headers=lower)).status_code == 200
        assert (await client.get("/metrics", headers=auth)).status_code == 200


async def test_the_page_and_its_assets_are_open_and_hold_no_data(code_tree):
    """`GET /app` and its assets answer without the token, byte for byte the files of the
    build (nothing of the server's settings is put into them); everything else still needs
    the token."""
    settings = settings_for(code_tree.parent, api_token=TOKEN)
    app = app_with(settings, Echo())
    assets = sorted(p for p in STATIC.iterdir() if p.name != "index.html")
    assert {p.name for p in assets} >= {"app.js", "app.css"}
    async with asgi_client(app) as client:
        page = await client.get(f"/app?scope={code_tree}&plan=docs/plan.md")
        assert page.status_code == 200
        assert page.content == (STATIC / "index.html").read_bytes()
        served = [page]
        for asset in assets:
            r = await client.get(f"/app/static/{asset.name}")
            assert r.status_code == 200, asset.name
            assert r.content == asset.read_bytes()
            served.append(r)
        for r in served:
            assert TOKEN not in r.text and str(code_tree) not in r.text
            assert "connect-src 'self'" in r.headers["content-security-policy"]
        missing = await client.get("/app/static/nope.js")
        assert missing.status_code == 404 and _detail(missing) == "no such asset"
        for method, path in (
            ("GET", "/app/"),
            ("GET", "/appx"),
            ("GET", "/app/static/"),
            ("GET", "/app/static/.env"),
            ("GET", "/app/static/x/y.js"),
            ("GET", f"/files/tree?scope_root={code_tree}"),
            ("POST", "/app/static/app.js"),
            ("DELETE", "/app"),
        ):
            r = await client.request(method, path)
            assert r.status_code == 401, (method, path)


@pytest.mark.parametrize(
    "path",
    [
        "/app/static/../files/tree",
        "/app/static/..",
        "/app/static/%2e%2e",
        "/app/static/a/../../fulfill",
        "/app/static/app.js/",
        "/app/static/app.js\x00",
        "/app//static/app.js",
        "/APP",
    ],
)
async def test_only_plain_asset_names_pass_without_the_token(path):
    """What a client could send as a raw path (no client-side normalising) under /app/static:
    only a plain file name is open."""
    assert not BearerAuth.is_open("GET", path)
    assert BearerAuth.is_open("GET", "/app/static/app.js")
    assert BearerAuth.is_open("GET", "/app")
    assert not BearerAuth.is_open("POST", "/app")


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_is_off_by_default(code_tree):
    app = app_with(settings_for(code_tree.parent), Echo())
    async with asgi_client(app) as client:
        r = await client.get("/health", headers={"origin": "https://editor.example"})
        pre = await client.options(
            "/fulfill",
            headers={
                "origin": "https://editor.example",
                "access-control-request-method": "POST",
            },
        )
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in pre.headers


async def test_cors_origins_from_the_settings(code_tree):
    settings = settings_for(
        code_tree.parent, cors_origins="https://editor.example", api_token=TOKEN
    )
    app = app_with(settings, Echo())
    preflight = {"access-control-request-method": "POST"}
    async with asgi_client(app) as client:
        ok = await client.options(
            "/fulfill", headers={"origin": "https://editor.example", **preflight}
        )
        bad = await client.options(
            "/fulfill", headers={"origin": "https://evil.example", **preflight}
        )
    assert ok.status_code == 200  # a preflight carries no token, and needs none
    assert ok.headers["access-control-allow-origin"] == "https://editor.example"
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers


# --- 500 -------------------------------------------------------------------------------------


class BrokenStore(MemoryFeedStore):
    async def get(self, user_id: str):
        raise RuntimeError(f"database password hunter2 rejected for {os.getpid()}")


async def test_unexpected_error_is_a_generic_500_with_a_logged_traceback(code_tree, caplog):
    app = app_with(settings_for(code_tree.parent), Echo(), store=BrokenStore())
    logging.getLogger("parallizer").propagate = True
    caplog.set_level(logging.ERROR, logger="parallizer.http")
    async with asgi_client(app, raise_app_exceptions=False) as client:
        r = await client.get("/cached/u1")
    assert r.status_code == 500
    assert _detail(r) == "internal server error"
    assert "hunter2" not in r.text
    [rec] = [r for r in caplog.records if r.name == "parallizer.http" and r.exc_info]
    assert "hunter2" in str(rec.exc_info[1])


# --- 503 -------------------------------------------------------------------------------------


async def test_503_past_the_bound_on_requests_in_flight(code_tree):
    slow = Sleepy(delay=5)
    app = app_with(settings_for(code_tree.parent, max_runs=2), slow)
    async with asgi_client(app) as client:
        for user in ("a", "b"):
            r = await client.post("/fulfill?background=true", json=body(user))
            assert r.status_code == 200
        busy = await client.post("/fulfill?background=true", json=body("c"))
        again = await client.post("/fulfill?background=true", json=body("a"))  # replaces a's
        await client.delete("/user/a/feed")
        await client.delete("/user/b/feed")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "busy" in _detail(busy)
    assert again.status_code == 200


async def test_service_errors_map_to_503_in_one_place_whatever_the_route(code_tree):
    """`Busy` and `ShuttingDown` are `ServiceError`s answered by the one exception handler:
    raised in the stream route's dependency as well as in /fulfill, with a `Retry-After`
    only where waiting helps (busy), never a 500."""
    slow = Sleepy(delay=5)
    app = app_with(settings_for(code_tree.parent, max_runs=1), slow)
    async with asgi_client(app) as client:
        first = await client.post("/fulfill?background=true", json=body("a"))
        assert first.status_code == 200
        busy = await client.post("/fulfill/stream", json=body("b"))
        await app.state.service.runs.aclose()
        stopping = await client.post("/fulfill", json=body("c"))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "busy" in _detail(busy)
    assert stopping.status_code == 503 and "retry-after" not in stopping.headers
    assert _detail(stopping) == "the server is shutting down"
