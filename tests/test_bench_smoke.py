"""`parallizer bench --quick` on a tiny setting writes its three files with the documented
fields, as numbers. No timing is asserted: speed lives in the benchmark, not in tests."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .hermetic import clean_env

PROJECT = Path(__file__).resolve().parents[1]
NAMES = {
    "web-3", "web-5", "web-10", "rg-3", "rg-5", "fulfill", "offline-std", "deps", "capacity-web",
    "capacity-llm", "big-plan", "cold-scope", "llm-first-question",
    "load-5", "faults", "load-5-redis-2w", "lsp-open", "lsp-edit", "check-20", "index-build",
    "cli-warm", "warm-restart",
}  # fmt: skip
COMPARED = ("serial_s", "parallel_s", "ideal_s", "speedup", "efficiency")
LOAD = ("users", "p50_ms", "p95_ms", "p99_ms", "success_rate", "rps", "peak_rss_mb", "slot_bound_s")
FAULTS = ("answered_rate", "query_success_rate", "cards_delivered_rate")


def number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@pytest.mark.timeout(240)
def test_quick_bench_writes_json_markdown_and_chart(tmp_path: Path):
    out = tmp_path / "bench"
    env = clean_env(PARALLIZER_ALLOWED_ROOTS=str(PROJECT), COLUMNS="120")
    argv = [sys.executable, "-m", "parallizer", "bench", "--quick", "--latency", "0.02",
            "--users", "5", "--out", str(out)]  # fmt: skip
    # its own session: on a timeout the whole group goes (its servers, emulators, redis)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=PROJECT, start_new_session=True) as popen:  # fmt: skip
        try:
            stdout, stderr = popen.communicate(timeout=230)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.communicate()
            raise
    proc = subprocess.CompletedProcess(argv, popen.returncode, stdout, stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "bench.json").read_text())
    env_ = data["environment"]
    assert number(env_["cpus"]) and env_["latency_s"] == 0.02 and env_["python"].count(".") == 2
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert set(by_name) == NAMES
    for name in ("web-3", "web-5", "web-10", "rg-3", "rg-5", "fulfill"):
        s = by_name[name]
        assert all(number(s[k]) for k in COMPARED), s
        assert s["serial_s"] > 0 and s["parallel_s"] > 0 and 0 < s["efficiency"] <= 1
    assert by_name["web-5"]["peak_in_flight"] == 5  # the parallel run really overlapped
    load = by_name["load-5"]
    assert all(number(load[k]) for k in LOAD) and load["users"] == 5
    assert load["success_rate"] == 1.0
    cluster = by_name["load-5-redis-2w"]  # two workers sharing a real redis-server
    assert all(number(cluster[k]) for k in LOAD) and cluster["success_rate"] == 1.0
    assert cluster["workers"] == 2 and cluster["redis_commands_per_request"] > 0
    assert all(number(by_name["faults"][k]) for k in FAULTS)
    for name in ("lsp-open", "lsp-edit"):  # the Language Server beside one rg pass
        assert all(number(by_name[name][k]) for k in ("seconds", "one_pass_s", "ratio_to_rg"))
        assert isinstance(by_name[name]["met"], bool)
    check = by_name["check-20"]
    assert all(number(check[k]) for k in ("one_plan_s", "plans_s", "ratio", "one_pass_s"))
    offline = by_name["offline-std"]  # a whole offline request beside one rg pass
    assert all(number(offline[k]) for k in ("request_s", "one_pass_s", "ratio"))
    assert offline["cards"] > 0 and offline["rg_runs_per_request"] >= 1
    deps = by_name["deps"]  # each package's first index, and what the pass adds warm
    assert deps["packages"] and all(number(ms) and ms > 0 for ms in deps["packages"].values())
    assert all(number(deps[k]) for k in ("request_with_ms", "request_without_ms", "added_ms"))
    assert deps["cards"] > 0
    for name in ("rg-3", "rg-5"):  # one name beside many, and how many rg processes ran
        assert number(by_name[name]["one_name_s"]) and number(by_name[name]["names_ratio"])
        assert 1 <= by_name[name]["rg_runs"] <= int(name[-1])
    web = by_name["capacity-web"]
    assert all(number(web[k]) for k in ("makespan_s", "ideal_s", "ratio", "rate_limited_share"))
    assert web["calls"] >= web["searches"] and web["peak_in_flight"] <= web["capacity"]
    llm = by_name["capacity-llm"]
    assert all(number(llm[k]) for k in ("alone_s", "p99_s", "ratio", "llm_calls_per_request"))
    for s in (web, llm):  # the limit over time: [seconds, limit] steps
        assert s["limit_series"] and all(len(p) == 2 for p in s["limit_series"])
    big = by_name["big-plan"]  # a small plan alone and among big ones
    assert all(number(big[k]) for k in ("alone_s", "among_s", "goal_s", "big_s"))
    assert big["success_rate"] == 1.0 and big["big_bytes"] > 20 * big["small_bytes"]
    built = by_name["index-build"]  # the persisted index: built, then reloaded from disk
    assert all(number(built[k]) for k in ("build_s", "peak_rss_mb", "reload_s", "index_file_mb"))
    assert built["reload_reparsed"] == 0 and built["definitions"] > 0
    assert all(number(by_name["cli-warm"][k]) for k in ("bare_start_s", "fulfill_s", "goal_s"))
    assert all(number(by_name["warm-restart"][k]) for k in ("first_card_s", "all_cards_s"))
    md = (out / "bench.md").read_text()
    assert "| web-5 | 15 s | 3 s |" in md and "load-5" in md  # beside the seed's figures
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Capacity" in md and "## ripgrep: one name versus many" in md
    assert "## The project's dependencies" in md
    assert "## A small plan among big ones" in md


def test_the_critical_path_keeps_a_shared_wait_as_a_link_of_the_chain():
    """WebContext joins the planning call Ambiguities started: plan, search, write are three
    waves of its chain even though the first is another fulfiller's run."""
    from parallizer.bench.scenarios import critical_path_s
    from parallizer.models import FulfillerTiming, FulfillResponse, QueryTiming, Timings

    def q(start: float, ms: float, **kw: object) -> QueryTiming:
        return QueryTiming(query="q", backend="llm", start_ms=start, ms=ms, ok=True, **kw)

    web = FulfillerTiming(
        ms=910, ok=True,
        queries=[q(5, 300, shared=True), q(305, 300), q(306, 299), q(610, 300)],
    )  # fmt: skip
    amb = FulfillerTiming(ms=610, ok=True, queries=[q(5, 300), q(310, 300)])
    resp = FulfillResponse(timings=Timings(total_ms=910, fulfillers={"w": web, "a": amb}))
    assert critical_path_s(resp) == 0.9
