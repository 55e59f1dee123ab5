"""POST /review through HTTP: every finding of a plan on its ranges (UTF-16 columns), from the
real Ambiguities fulfiller, the real code index and the real `rg`; bad input refused as by
/fulfill; the user's feed and running request left alone; a client that leaves stops it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import httpx
import pytest

from parallizer import assembly
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.config import Settings
from parallizer.runtime import Runtime
from parallizer.service import create_app

from ..conftest import children_named
from .kit import Sleepy, asgi_client, body, eventually, settings_for, uvicorn_server

pytestmark = pytest.mark.timeout(120)

# an emoji (two UTF-16 code units, one code point) before a misspelled name, the name again on
# the next line, a missing file, an ambiguous name, and an open decision (low confidence)
PLAN = (
    "# Uploads 🚀\n"
    "\n"
    "🎉 Wrap calls in `RetryPolicies` and read `src/app/settings.py`.\n"
    "Then `RetryPolicies` again (TBD: how many).\n"
    "Settings come from `load_config`.\n"
    "Maybe `frobnicate` helps.\n"
)


def utf16(text: str, start: int, end: int) -> str:
    """`text[start:end]` counted in UTF-16 code units, as the wire's columns are."""
    return text.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le")


def at(text: str, rng: list[list[int]]) -> str:
    (line, start), (end_line, end) = rng
    assert line == end_line
    return utf16(text.split("\n")[line], start, end)


def review_body(scope: Path, text: str = PLAN, **kw: object) -> dict:
    return body("u1", text=text, scope=scope, **kw)


def real_app(settings: Settings, runtime: Runtime | None = None):
    return create_app(settings, runtime or Runtime(settings, web=None, llm=None))


def _detail(r: httpx.Response) -> object:
    assert r.headers["content-type"] == "application/json", r.text
    assert "Traceback" not in r.text
    return r.json()["detail"]


async def test_review_answers_every_finding_on_the_plans_own_utf16_ranges(code_tree):
    app = real_app(settings_for(code_tree.parent))
    async with asgi_client(app) as client:
        r = await client.post("/review", json=review_body(code_tree))
        everything = await client.post("/review?all=true", json=review_body(code_tree))
        feed = await client.get("/cached/u1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert set(data) == {"findings", "timings"}
    by_name = {f["name"]: f for f in data["findings"]}
    assert [(f["kind"], f["name"]) for f in data["findings"]] == [
        ("wrong_name", "RetryPolicies"),
        ("missing_path", "src/app/settings.py"),
        ("ambiguous", "load_config"),
        ("todo", "TBD"),  # the plan's own open decision: a question, not an error
    ]
    wrong = by_name["RetryPolicies"]
    # the emoji counts two columns: the range is in UTF-16 code units, on the name itself
    assert sorted(wrong["ranges"]) == [[[2, 18], [2, 31]], [[3, 6], [3, 19]]]
    assert [at(PLAN, rng) for rng in wrong["ranges"]] == ["RetryPolicies", "RetryPolicies"]
    assert wrong["range"] in wrong["ranges"]  # the one nearest the cursor
    assert wrong["severity"] == "error" and wrong["fix"] == "RetryPolicy"
    assert "`RetryPolicy`" in wrong["message"] and "src/app/retry.py:5" in wrong["citations"]
    missing = by_name["src/app/settings.py"]
    assert at(PLAN, missing["range"]) == "src/app/settings.py" and missing["severity"] == "error"
    assert by_name["load_config"]["fix"] is None  # on the wire as null
    assert by_name["load_config"]["severity"] == "warning"
    for f in data["findings"]:
        assert set(f) == {
            "name", "kind", "range", "severity", "fix", "confidence", "message", "citations",
            "ranges",
        }  # fmt: skip

    timing = data["timings"]["fulfillers"]["ambiguities"]
    assert data["timings"]["total_ms"] > 0
    assert timing["ok"] is True
    assert timing["cards"] == len(everything.json()["findings"])  # all of them were found
    assert {q["backend"] for q in timing["queries"]} == {"ripgrep"}

    # ?all=true adds the low-confidence ones (info), and only those
    assert everything.status_code == 200
    extra = [f for f in everything.json()["findings"] if f not in data["findings"]]
    # a plain word nothing defines: worth a look, not a question
    assert [(f["kind"], f["name"], f["severity"]) for f in extra] == [
        ("missing", "frobnicate", "info")
    ]
    assert at(PLAN, extra[0]["range"]) == "frobnicate"
    assert all(f in everything.json()["findings"] for f in data["findings"])

    # a review is not a fulfill: nothing lands in the user's feed
    assert feed.json()["cards"] == []


async def test_a_clean_plan_and_a_plan_without_scope_have_no_wrong_names(code_tree):
    app = real_app(settings_for(code_tree.parent))
    clean = "# Plan\n\n🎉 Wrap calls in `RetryPolicy`.\n"
    async with asgi_client(app) as client:
        r = await client.post("/review", json=review_body(code_tree, text=clean))
        alone = await client.post("/review", json=body("u1", text=PLAN))
    assert r.status_code == 200 and r.json()["findings"] == []
    assert alone.status_code == 200  # nothing to search: no claim about the code
    assert all(f["kind"] != "wrong_name" for f in alone.json()["findings"])


TOKEN = "s3cret-review-token"


async def test_review_refuses_bad_input_as_fulfill_does(tmp_path, code_tree):
    settings = settings_for(code_tree, max_document_bytes=2000, api_token=TOKEN)
    app = real_app(settings)
    auth = {"authorization": f"Bearer {TOKEN}"}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    async with asgi_client(app) as client:

        async def post(payload: object, path: str = "/review", **headers: str) -> httpx.Response:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return await client.post(
                path, content=raw, headers={"content-type": "application/json", **headers}
            )

        # 401: missing or wrong token, before anything is read
        for headers, why in (({}, "missing bearer token"), ({"authorization": "Bearer x"}, "wrong bearer token")):  # fmt: skip
            r = await post(review_body(code_tree), **headers)
            assert r.status_code == 401 and _detail(r) == why and TOKEN not in r.text
        # 422: malformed JSON, fields, cursor; an unknown fulfiller; a bad query parameter
        for raw, where in (
            (b"{not json", "json"),
            (review_body(code_tree, cursor_position=[-1, 0]), "non-negative"),
            (review_body(code_tree, cursor_position="1:2"), "cursor_position"),
            (review_body(code_tree, user_id=""), "user_id"),
            (review_body(code_tree, document_text=None), "document_text"),
            (json.dumps(review_body(code_tree, text="half \ud83d")).encode(), "surrogate"),
        ):
            r = await post(raw, **auth)
            assert r.status_code == 422, (raw, r.text)
            assert where in json.dumps(_detail(r)).lower()
        r = await post(review_body(code_tree, fulfillers=["nope"]), **auth)
        assert r.status_code == 422 and _detail(r).startswith("unknown fulfiller(s): nope")
        r = await post(review_body(code_tree), "/review?all=perhaps", **auth)
        assert r.status_code == 422 and _detail(r)
        # 413: the document over the limit
        r = await post(review_body(code_tree, text="x" * 2001), **auth)
        assert r.status_code == 413 and "over the limit" in _detail(r)
        # 403: scope or plan outside the allowed roots (symlinks resolved), not revealed
        link = code_tree / "escape"
        link.symlink_to(outside, target_is_directory=True)
        for gc in ({"scope_root": str(outside)}, {"scope_root": str(link)},
                   {"scope_root": str(code_tree), "plan_path": str(outside / "plan.md")}):  # fmt: skip
            r = await post(body("u1", text=PLAN, global_context=gc), **auth)
            assert r.status_code == 403 and "outside the allowed roots" in _detail(r)
            assert str(outside) not in r.text
        # 405 for GET, JSON too
        r = await client.get("/review", headers=auth)
        assert r.status_code == 405 and _detail(r) == "Method Not Allowed"
        # and the right request still passes
        ok = await post(review_body(code_tree), **auth)
        assert ok.status_code == 200 and ok.json()["findings"]


async def test_a_review_does_not_supersede_the_users_running_fulfill(code_tree):
    """The page sends both after each pause: the review must not cancel the user's stream."""
    settings = settings_for(code_tree.parent)
    runtime = Runtime(settings, web=None, llm=None)
    slow = Sleepy(delay=0.5)
    app = create_app(settings, runtime, fulfillers=[*assembly.registry(runtime), slow])
    async with asgi_client(app) as client:
        fulfill = asyncio.create_task(
            client.post("/fulfill", json=review_body(code_tree, fulfillers=["slow"]))
        )
        await eventually(lambda: slow.meter.now == 1, what="the fulfill running")
        r = await client.post("/review", json=review_body(code_tree))
        assert r.status_code == 200 and r.json()["findings"]
        assert slow.meter.now == 1  # still running: the review did not cancel it
        done = await fulfill
    assert done.status_code == 200 and "x-parallizer-cancelled" not in done.headers
    assert [c["metadata"]["source"] for c in done.json()["cards"]] == ["slow"]
    assert slow.meter.cancelled == []


async def test_a_client_leaving_stops_its_review_and_its_rg(code_tree, slow_rg, caplog):
    """A review nobody waits for any more is stopped: its (slow) rg searches are killed."""
    settings = settings_for(code_tree.parent)
    rg = RipgrepBackend(binary=slow_rg, max_concurrent=4, timeout=60)
    app = real_app(settings, Runtime(settings, rg=rg, web=None, llm=None))
    caplog.set_level("INFO", logger="parallizer.service")
    async with uvicorn_server(app) as base:
        host, port = base.removeprefix("http://").split(":")
        raw = json.dumps(review_body(code_tree)).encode()
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /review HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        await writer.drain()
        await eventually(lambda: children_named("rg"), within=30, what="a search running")
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        await eventually(lambda: not children_named("rg"), within=15, what="rg gone")
        await eventually(lambda: "the client left, stopped" in caplog.text, what="the log line")
        async with httpx.AsyncClient(base_url=base) as client:  # the server lives on
            assert (await client.get("/health")).status_code == 200
