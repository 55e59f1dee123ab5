"""The emulators themselves: wire formats, latency, repeatable faults, the request record over
HTTP, loopback only, and `parallizer emulate` from the command line."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import aiohttp
import pytest

from parallizer.emulators import EmulatorConfig, FaultRule, Latency, running
from parallizer.emulators.fake import SchemaFaker, Vocabulary
from parallizer.planner.llm import WEB_CARDS_SCHEMA


def test_latency_specs():
    rng = random.Random(1)
    assert Latency.parse("0.3").draw(rng) == 0.3
    u = Latency.parse("uniform:0.2,0.4")
    assert all(0.2 <= u.draw(rng) <= 0.4 for _ in range(50))
    n = Latency.parse("normal:0.3,0.05")
    draws = [n.draw(rng) for _ in range(400)]
    assert min(draws) >= 0 and 0.28 < sum(draws) / len(draws) < 0.32
    for bad in ("abc", "-1", "uniform:0.4,0.2", "gamma:1,2", "normal:0.3"):
        with pytest.raises(ValueError):
            Latency.parse(bad)


def test_fault_rules_and_config_validation():
    assert FaultRule.parse("slow topic=hang") == FaultRule("slow topic", "hang", None)
    assert FaultRule.parse("a=b=429*2") == FaultRule("a=b", "429", 2)
    with pytest.raises(ValueError):
        FaultRule.parse("x=teapot")
    with pytest.raises(ValueError):
        EmulatorConfig(fail_rate=1.5)
    with pytest.raises(ValueError):
        EmulatorConfig(faults=("500", "boom"))
    assert EmulatorConfig(faults="500, drop").faults == ("500", "drop")


async def _post(session: aiohttp.ClientSession, url: str, text: str) -> int | str:
    body = {"model": "sonar", "messages": [{"role": "user", "content": text}]}
    try:
        async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=0.5)) as r:
            return r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def _fault_pattern(seed: int) -> list[str | None]:
    async with running("perplexity", fail_rate=0.5, seed=seed, faults="500,429") as emu:
        async with aiohttp.ClientSession() as s:
            texts = [f"q{i}" for i in range(20)]
            # arrival order shuffled: the draw depends on the request, not on the order
            random.Random(seed).shuffle(texts)
            await asyncio.gather(*(_post(s, emu.url + "/chat/completions", t) for t in texts))
        return [r.fault for r in sorted(emu.stats.requests, key=lambda r: r.text)]


async def test_faults_are_drawn_at_the_rate_and_repeat_with_the_seed():
    a = await _fault_pattern(7)
    b = await _fault_pattern(7)
    c = await _fault_pattern(8)
    assert a == b and a != c
    assert 4 <= sum(f is not None for f in a) <= 16
    assert {f for f in a if f} <= {"500", "429"}


async def test_request_record_over_http_and_reset_and_config():
    async with running("perplexity", latency=0.05) as emu, aiohttp.ClientSession() as s:
        await asyncio.gather(*(_post(s, emu.url + "/chat/completions", f"t{i}") for i in range(3)))
        async with s.get(emu.root + "/_stats") as r:
            stats = await r.json()
        assert stats["total"] == 3 and stats["peak"] == 3 and stats["in_flight"] == 0
        assert sorted(x["text"] for x in stats["requests"]) == ["t0", "t1", "t2"]
        assert all(x["status"] == 200 and x["ms"] >= 40 for x in stats["requests"])
        assert stats["config"]["latency"] == "0.05"
        async with s.post(emu.root + "/_config", json={"fault_on": ["t9=500"]}) as r:
            assert r.status == 200
        assert await _post(s, emu.url + "/chat/completions", "t9") == 500
        async with s.post(emu.root + "/_config", json={"latency": "nope"}) as r:
            assert r.status == 422 and "latency" in (await r.json())["detail"]
        async with s.post(emu.root + "/_reset") as r:
            assert r.status == 200
        assert emu.stats.total == 0 and emu.stats.peak == 0


async def test_fault_kinds_on_the_wire():
    async with (
        running("perplexity", fault_on=["m=malformed", "d=drop", "h=hang", "r=429"]) as emu,
        aiohttp.ClientSession() as s,
    ):
        assert await _post(s, emu.url + "/chat/completions", "r") == 429
        assert await _post(s, emu.url + "/chat/completions", "d") == "ServerDisconnectedError"
        assert await _post(s, emu.url + "/chat/completions", "h") in (
            "TimeoutError",
            "ServerTimeoutError",
        )
        async with s.post(
            emu.url + "/chat/completions",
            json={"model": "x", "messages": [{"role": "user", "content": "m"}]},
        ) as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                json.loads(await r.text())
        await asyncio.sleep(0.05)
        assert emu.stats.in_flight == 0  # the hung handler ended with its client


async def test_cited_source_pages_are_served():
    async with running("perplexity") as emu, aiohttp.ClientSession() as s:
        async with s.post(
            emu.url + "/chat/completions",
            json={"model": "sonar", "messages": [{"role": "user", "content": "Redis Streams"}]},
        ) as r:
            body = await r.json()
        assert len(body["citations"]) == 3 and len(body["search_results"]) == 3
        assert body["choices"][0]["message"]["content"].count("[1]") >= 1
        for url in body["citations"]:
            async with s.get(url) as page:
                assert page.status == 200 and "<h1>" in await page.text()


async def test_emulators_listen_on_loopback_only():
    with pytest.raises(ValueError, match="loopback only"):
        async with running("llm", host="0.0.0.0"):
            pass


def test_schema_faker_fills_fields_from_the_prompt():
    v = Vocabulary(
        "see https://a.example/x and https://b.example/y about `RetryPolicy` at src/retry.py:5"
    )
    value = SchemaFaker(v).value(WEB_CARDS_SCHEMA)
    assert 1 <= len(value["cards"]) <= 3
    card = value["cards"][0]
    assert set(card) == {"title", "text", "sources"}
    assert set(card["sources"]) <= {"https://a.example/x", "https://b.example/y"}
    assert v.citations == ["src/retry.py:5"] and "RetryPolicy" in v.identifiers


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "parallizer"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from parallizer.cli import main; main()"]


async def test_emulate_command_prints_url_and_env_and_serves():
    proc = await asyncio.create_subprocess_exec(
        *_cli(), "emulate", "llm", "--port", "0", "--latency", "0.01",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        lines = []
        async with asyncio.timeout(20):
            while not (lines and lines[-1].startswith("Ctrl-C")):
                lines.append((await proc.stdout.readline()).decode().strip())  # type: ignore[union-attr]
        url = lines[0].split()[-1]
        assert lines[0].startswith("OpenAI-compatible LLM emulator listening on http://127.0.0.1:")
        assert f"export PARALLIZER_LLM_URL={url}" in lines
        async with aiohttp.ClientSession() as s:
            async with s.post(
                url + "/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hello there"}]},
            ) as r:
                body = await r.json()
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
    finally:
        proc.terminate()
        await proc.wait()


async def test_emulate_command_rejects_bad_options():
    proc = await asyncio.create_subprocess_exec(
        *_cli(), "emulate", "llm", "--latency", "fast",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 2 and out == b""
    assert err.decode().strip().startswith("parallizer: error: latency 'fast'")
