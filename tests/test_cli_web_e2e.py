"""End to end: `parallizer fulfill` in a subprocess with both emulators running, and the API
keys never showing up anywhere — logs, stdout/stderr, cards, timings, health."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import sys
from pathlib import Path

import aiohttp

from parallizer import assembly
from parallizer.emulators import running
from parallizer.runtime import Runtime

from .conftest import write
from .hermetic import clean_env
from .webkit import LLM_KEY, PLAN, PPLX_KEY, fulfill, settings

LINK = re.compile(r"\]\((https?://[^)\s]+)\)")
KEYS = (PPLX_KEY, LLM_KEY)


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "parallizer"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from parallizer.cli import main; main()"]


def _env(tmp: Path, pp_url: str, llm_url: str, **extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        PERPLEXITY_API_KEY=PPLX_KEY,
        PARALLIZER_PERPLEXITY_URL=pp_url,
        PARALLIZER_LLM_URL=llm_url,
        PARALLIZER_LLM_MODEL="emulated-model",
        PARALLIZER_LLM_API_KEY=LLM_KEY,
        PARALLIZER_ALLOWED_ROOTS=str(tmp),
        PARALLIZER_TIMEOUT="5",
        COLUMNS="200",
    )
    env.update(extra)
    return env


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *_cli(), *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 50)
    return proc.returncode or 0, out.decode(), err.decode()


def _project(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    write(repo, "src/sync/retry.py", "class RetryPolicy:\n    max_retries = 3\n")
    plan = write(repo, "plan.md", PLAN)
    return repo, plan


async def test_fulfill_shows_linked_web_cards_from_overlapping_queries(tmp_path):
    repo, plan = _project(tmp_path)
    async with (
        running("perplexity", latency=0.3, api_key=PPLX_KEY) as pp,
        running("llm", latency=0.05, api_key=LLM_KEY) as lm,
    ):
        env = _env(tmp_path, pp.url, lm.url, PARALLIZER_LOG_LEVEL="DEBUG")
        args = ["fulfill", str(plan), "--scope", str(repo)]
        code, out, err = await _run([*args, "--json"], env, tmp_path)
        assert code == 0, err
        body = json.loads(out)
        web = [c for c in body["cards"] if c["metadata"]["source"] == "web_context"]
        ft = body["timings"]["fulfillers"]["web_context"]
        searches = [q for q in ft["queries"] if q["backend"] == "perplexity"]
        assert ft["mode"] == "llm" and len(searches) >= 3 and all(q["ok"] for q in searches)
        # the searches overlap in time: every one started before any of them ended
        assert max(q["start_ms"] for q in searches) < min(q["start_ms"] + q["ms"] for q in searches)
        assert pp.stats.peak == len(searches)
        assert 1 <= len(web) <= 3
        async with aiohttp.ClientSession() as s:
            for card in web:
                links = LINK.findall(card["text"])
                assert links and set(links) <= set(card["metadata"]["citations"])
                for url in links:  # the links work
                    async with s.get(url) as page:
                        assert page.status == 200

        code, human, err2 = await _run(args, env, tmp_path)
        assert code == 0
        assert "Context" in human and "Timings" in human and "perplexity" in human
        for key in KEYS:
            for text in (out, err, human, err2):
                assert key not in text
        assert "plan searches" in err2  # the DEBUG/INFO log told the story


async def test_serial_flag_runs_web_queries_one_after_another(tmp_path):
    repo, plan = _project(tmp_path)
    async with running("perplexity", latency=0.1) as pp:
        env = _env(tmp_path, pp.url, "")
        env.pop("PARALLIZER_LLM_URL")
        code, out, err = await _run(
            ["fulfill", str(plan), "--scope", str(repo), "--json", "--serial", "--only", "web_context"],
            env, tmp_path,
        )  # fmt: skip
    assert code == 0, err
    searches = json.loads(out)["timings"]["fulfillers"]["web_context"]["queries"]
    assert len(searches) >= 3 and pp.stats.peak == 1
    for a, b in itertools.pairwise(searches):
        assert b["start_ms"] >= a["start_ms"] + a["ms"] - 1.0


async def test_rejected_keys_never_reach_output_logs_cards_timings_or_health(tmp_path, caplog):
    """Both APIs reject our keys and echo them back, as real ones do; every failure is
    reported, redacted."""
    repo, plan = _project(tmp_path)
    caplog.set_level(logging.DEBUG)  # every logger, third-party ones included
    async with (
        running("perplexity", api_key="another-key") as pp,
        running("llm", api_key="another-key") as lm,
    ):
        s = settings(
            tmp_path,
            perplexity_api_key=PPLX_KEY,
            perplexity_url=pp.url,
            llm_url=lm.url,
            llm_model="m",
            llm_api_key=LLM_KEY,
        )
        async with Runtime(s) as rt:
            resp = await fulfill(rt, PLAN, scope=repo)
            health = assembly.orchestrator(rt).health()
        env = _env(tmp_path, pp.url, lm.url, PARALLIZER_LOG_LEVEL="DEBUG")
        code, out, err = await _run(["fulfill", str(plan), "--scope", str(repo)], env, tmp_path)
        code_json, out_json, _ = await _run(
            ["fulfill", str(plan), "--scope", str(repo), "--json"], env, tmp_path
        )
    assert code == 0 and code_json == 0
    ft = resp.timings.fulfillers["web_context"]
    errors = [q.error or "" for q in ft.queries if not q.ok]
    assert errors and all("HTTP 401" in e for e in errors)
    assert any("Incorrect API key provided: ***" in e for e in errors)
    assert "HTTP 401" in out  # the CLI shows the failures...
    dumped = [
        resp.model_dump_json(),
        json.dumps({k: {n: a.model_dump() for n, a in v.items()} for k, v in health.items()}),
        caplog.text,
        out,
        err,
        out_json,
    ]
    for key in KEYS:
        for text in dumped:
            assert key not in text and key[:8] not in text  # ...never the keys
    assert all(r.authorized is False for r in pp.stats.requests + lm.stats.requests)
    assert "API key set" in health["backends"]["perplexity"].reason
