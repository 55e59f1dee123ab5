"""Write the benchmark's three outputs: bench.json (raw), bench.md (beside the seed), bench.png."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("parallizer.bench")

# The seed's table (PARALLEL_SEARCH.md): before/after in seconds at its own latencies
# (3 s per web query, 1 s per ripgrep query), and its targets.
SEED: dict[str, dict[str, Any]] = {
    "web-3": {"before": "9 s", "after": "3 s", "speedup": 3.0},
    "web-5": {"before": "15 s", "after": "3 s", "speedup": 5.0},
    "rg-3": {"before": "3 s", "after": "1 s", "speedup": 3.0},
    "fulfill": {"before": "12–18 s", "after": "4–6 s", "speedup": 3.0, "target": "2–3 s"},
}
SEED_TARGETS = {"success_rate": 0.99, "users": 50}


def write_json(out: Path, environment: dict[str, Any], scenarios: list[dict[str, Any]]) -> Path:
    path = out / "bench.json"
    path.write_text(
        json.dumps({"environment": environment, "scenarios": scenarios}, indent=2) + "\n"
    )
    return path


def _fmt(x: Any, unit: str = "", digits: int = 2) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}{unit}"
    return f"{x}{unit}"


def markdown(environment: dict[str, Any], scenarios: list[dict[str, Any]]) -> str:
    lat = environment.get("latency_s")
    lines = [
        "# Parallizer benchmark",
        "",
        f"Machine: {environment.get('cpus')} CPUs, Python {environment.get('python')}, "
        f"{environment.get('platform', '')}. Remote APIs are loopback emulators at "
        f"{lat} s per call (the seed assumed 3 s per web query, 1 s per ripgrep query), so "
        "compare speedups, not seconds.",
        "",
        "## Serial versus parallel",
        "",
        "| Scenario | Seed before | Seed after | Seed speedup | Serial | Parallel | Ideal | Speedup | Efficiency |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scenarios:
        if "serial_s" not in s:
            continue
        seed = SEED.get(s["name"], {})
        lines.append(
            f"| {s['name']} | {seed.get('before', '—')} | {seed.get('after', '—')} | "
            f"{_fmt(seed.get('speedup'), '×', 1)} | {_fmt(s['serial_s'], ' s')} | "
            f"{_fmt(s['parallel_s'], ' s')} | {_fmt(s['ideal_s'], ' s')} | "
            f"{_fmt(s['speedup'], '×', 1)} | {_fmt(s['efficiency'], '', 2)} |"
        )
    rgs = [s for s in scenarios if s["name"].startswith("rg-") and "one_name_s" in s]
    if rgs:
        lines += [
            "",
            "## ripgrep: one name versus many",
            "",
            "N names (whole words, as CodeSearch looks them up) share one `rg` pass (`-e` per "
            "pattern); goal: N names ≤ 1.3 × one name. rg processes: how many the scenario's "
            "mixed queries (above) took.",
            "",
            "| Scenario | One name | N names at once | Ratio | rg processes |",
            "|---|---|---|---|---|",
        ]
        for s in rgs:
            lines.append(
                f"| {s['name']} | {_fmt(s['one_name_s'], ' s', 3)} | {_fmt(s['names_s'], ' s', 3)} | "
                f"{_fmt(s['names_ratio'], '×', 2)} | {s.get('rg_runs', '—')} |"
            )
    off = next((s for s in scenarios if s["name"] == "offline-std"), None)
    if off:
        lines += [
            "",
            "## A whole offline request against one rg pass",
            "",
            f"Every offline fulfiller on `{off['corpus']}` (code index built beforehand, "
            f"{off['index_build_s']:.1f} s), a new document each time, against one `rg` pass "
            "over the same tree. Goal: ≤ 1.3 ×.",
            "",
            "| Request | One rg pass | Ratio | rg processes a request | Cards |",
            "|---|---|---|---|---|",
            f"| {_fmt(off['request_s'], ' s', 3)} | {_fmt(off['one_pass_s'], ' s', 3)} | "
            f"{_fmt(off['ratio'], '×', 2)} | {off['rg_runs_per_request']} | {off['cards']} |",
        ]
    dep = next((s for s in scenarios if s["name"] == "deps"), None)
    if dep:
        lines += [
            "",
            "## The project's dependencies",
            "",
            "A project declaring httpx, pydantic, redis and rich, as installed here. The first "
            f"index of each package, cold, one at a time (goal: ≤ {dep['first_index_goal_ms']:.0f} "
            "ms for a typical library); on a warm index, what the dependency pass adds to an "
            f"offline request (goal: ≤ {dep['added_goal_ms']:.0f} ms).",
            "",
            "| Package | First index |",
            "|---|---|",
            *(f"| {name} | {_fmt(ms, ' ms', 0)} |" for name, ms in dep["packages"].items()),
            "",
            "| Request with the pass | Without | Added | The pass alone |",
            "|---|---|---|---|",
            f"| {_fmt(dep['request_with_ms'], ' ms', 1)} | {_fmt(dep['request_without_ms'], ' ms', 1)} "
            f"| {_fmt(dep['added_ms'], ' ms', 1)} | {_fmt(dep['pass_alone_ms'], ' ms', 1)} |",
        ]
    big = next((s for s in scenarios if s["name"] == "big-plan"), None)
    if big:
        lines += [
            "",
            "## A small plan among big ones",
            "",
            f"A {big['small_bytes'] / 1000:.1f} KB plan alone, then sent {big['lag_s']:g} s after "
            f"{big['bigs']} plans of {big['big_bytes'] / 1000:.0f} KB (offline, this project as "
            "the scope). Goal: ≤ 2 × alone + 0.5 s.",
            "",
            "| Alone | Among the big ones | Goal | Big ones |",
            "|---|---|---|---|",
            f"| {_fmt(big['alone_s'], ' s', 3)} | {_fmt(big['among_s'], ' s', 3)} | "
            f"{_fmt(big['goal_s'], ' s', 3)} | {_fmt(big['big_s'], ' s', 3)} |",
        ]
    from .lsp import report_lines as lsp_report_lines
    from .stream import report_lines as first_card_lines

    lines += lsp_report_lines(scenarios)
    lines += first_card_lines(scenarios)
    from .index import report_lines as index_report_lines

    lines += index_report_lines(scenarios)
    web_cap = next((s for s in scenarios if s["name"] == "capacity-web"), None)
    llm_cap = next((s for s in scenarios if s["name"] == "capacity-llm"), None)
    if web_cap or llm_cap:
        lines += ["", "## Capacity: providers that turn away the excess (adaptive limits)", ""]
    if web_cap:
        w = web_cap
        lines += [
            f"Web provider serving {w['capacity']} at once (429 with Retry-After "
            f"{w['retry_after_s']:g} s beyond), {w['users']} users, {w['searches']} searches at "
            f"{w['latency_s']:g} s; limit starts at {w['limit_start']}, ceiling "
            f"{w['limit_ceiling']}. Goals: makespan ≤ 1.3 × ideal, ≤ 1% failed, 429s ≤ 15% of calls.",
            "",
            "| Makespan | Ideal | Ratio | Calls | 429s | 429 share | Failed queries | Peak in flight | Final limit |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {_fmt(w['makespan_s'], ' s')} | {_fmt(w['ideal_s'], ' s')} | {_fmt(w['ratio'], '×')} | "
            f"{w['calls']} | {w['rate_limited']} | {w['rate_limited_share'] * 100:.1f}% | "
            f"{w['failed_queries']} ({w['failed_share'] * 100:.1f}%) | {w['peak_in_flight']} | "
            f"{w['limit_final']} |",
            "",
        ]
    if llm_cap:
        c = llm_cap
        lines += [
            f"LLM at {c['latency_s']:g} s with room for {c['capacity']} calls at once: one request "
            f"(every fulfiller) alone versus {c['users']} distinct requests at once. Goal: p99 ≤ "
            "1.5 × alone.",
            "",
            "| Alone | p50 | p99 | p99 ÷ alone | LLM calls/request | 429s | Peak LLM calls in flight |",
            "|---|---|---|---|---|---|---|",
            f"| {_fmt(c['alone_s'], ' s')} | {_fmt(c['p50_s'], ' s')} | {_fmt(c['p99_s'], ' s')} | "
            f"{_fmt(c['ratio'], '×')} | {c['llm_calls_per_request']} | {c['rate_limited']} | "
            f"{c['peak_in_flight']} |",
            "",
        ]
    if web_cap or llm_cap:
        lines.append("The adaptive limit over time: `capacity.png`.")
    loads = [s for s in scenarios if s["name"].startswith("load-")]
    if loads:
        lines += [
            "",
            "## Load: concurrent users against `parallizer serve` over HTTP",
            "",
            f"Seed target: {SEED_TARGETS['users']} concurrent users, "
            f"{SEED_TARGETS['success_rate']:.0%} success, 2–3 s per fulfill.",
            "",
            "| Scenario | Users | p50 | p95 | p99 | Success | Requests/s | Server peak RSS | Wall | Slot bound |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in loads:
            lines.append(
                f"| {s['name']} | {s['users']} | {_fmt(s['p50_ms'], ' ms', 0)} | "
                f"{_fmt(s['p95_ms'], ' ms', 0)} | {_fmt(s['p99_ms'], ' ms', 0)} | "
                f"{_fmt(s['success_rate'] * 100, '%', 1)} | {_fmt(s['rps'], '', 1)} | "
                f"{_fmt(s['peak_rss_mb'], ' MB', 0)} | {_fmt(s.get('wall_s'), ' s')} | "
                f"{_fmt(s.get('slot_bound_s'), ' s')} |"
            )
        lines += [
            "",
            "Slot bound: the busiest backend's queries × median run time ÷ its process-wide "
            "slots (`PARALLIZER_WEB_MAX_CONCURRENT`, `PARALLIZER_LLM_MAX_CONCURRENT`, "
            "`PARALLIZER_RG_MAX_CONCURRENT`): no schedule finishes the burst sooner. Where "
            "the time went, per backend (median queue wait for a slot / median run):",
            "",
        ]
        for s in loads:
            parts = [
                f"{name} {b['queries']} queries, queued {b['queued_p50_ms']:.0f} ms / ran {b['run_p50_ms']:.0f} ms"
                for name, b in (s.get("backends") or {}).items()
            ]
            lines.append(f"- {s['name']}: " + "; ".join(parts))
    faults = next((s for s in scenarios if s["name"] == "faults"), None)
    if faults:
        lines += [
            "",
            "## Faults",
            "",
            f"{faults['fail_rate']:.0%} of remote calls fail (mixed: {', '.join(faults['fault_kinds'])}); "
            f"{faults['requests']} requests. Seed target: {SEED_TARGETS['success_rate']:.0%} success.",
            "",
            "| Requests answered | Queries succeeded | Cards delivered (vs fault-free run) |",
            "|---|---|---|",
            f"| {faults['answered_rate'] * 100:.1f}% | {faults['query_success_rate'] * 100:.1f}% | "
            f"{faults['cards_delivered_rate'] * 100:.1f}% |",
        ]
    lines.append("")
    return "\n".join(lines)


def write_md(out: Path, environment: dict[str, Any], scenarios: list[dict[str, Any]]) -> Path:
    path = out / "bench.md"
    path.write_text(markdown(environment, scenarios))
    return path


def write_capacity_png(out: Path, scenarios: list[dict[str, Any]]) -> Path | None:
    """The adaptive limit over time in the capacity scenarios, against the provider's capacity."""
    caps = [s for s in scenarios if s["name"].startswith("capacity-") and s.get("limit_series")]
    if not caps:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the bench extra installs it
        return None
    fig, axes = plt.subplots(1, len(caps), figsize=(6 * len(caps), 4), squeeze=False)
    for ax, s in zip(axes[0], caps, strict=True):
        xs = [p[0] for p in s["limit_series"]]
        ys = [p[1] for p in s["limit_series"]]
        label = "LLM limit" if s["name"] == "capacity-llm" else "limit"
        ax.step(xs, ys, where="post", label=label, color="#4f81bd")
        if s.get("web_limit_series"):  # capacity-llm: the web limit its searches wait for
            wx = [p[0] for p in s["web_limit_series"]]
            wy = [p[1] for p in s["web_limit_series"]]
            ax.step(wx, wy, where="post", label="web search limit", color="#9bbb59")
        ax.axhline(s["capacity"], color="#c0504d", linestyle="--", label="provider capacity")
        ax.set_xlabel("seconds")
        ax.set_ylabel("calls in flight allowed")
        ax.set_title(f"{s['name']}: adaptive limit over time")
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.tight_layout()
    path = out / "capacity.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_png(
    out: Path, environment: dict[str, Any], scenarios: list[dict[str, Any]]
) -> Path | None:
    """Serial vs parallel per scenario, and latency percentiles versus users."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the bench extra installs it
        log.warning("matplotlib is not installed (pip install 'parallizer[bench]'): no bench.png")
        return None
    compared = [s for s in scenarios if "serial_s" in s]
    loads = sorted(
        (s for s in scenarios if s["name"].startswith("load-")), key=lambda s: s["users"]
    )
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [s["name"] for s in compared]
    xs = range(len(names))
    w = 0.38
    ax1.bar(
        [x - w / 2 for x in xs],
        [s["serial_s"] for s in compared],
        w,
        label="serial",
        color="#c0504d",
    )
    ax1.bar(
        [x + w / 2 for x in xs],
        [s["parallel_s"] for s in compared],
        w,
        label="parallel",
        color="#4f81bd",
    )
    ax1.scatter(
        [x + w / 2 for x in xs],
        [s["ideal_s"] for s in compared],
        marker="_",
        s=400,
        color="black",
        label="ideal",
        zorder=3,
    )
    for x, s in zip(xs, compared, strict=True):
        if s.get("speedup"):
            ax1.annotate(
                f"{s['speedup']:.1f}×",
                (x + w / 2, s["parallel_s"]),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax1.set_xticks(list(xs), names, rotation=30)
    ax1.set_ylabel("seconds")
    ax1.set_title(f"Serial vs parallel ({environment.get('latency_s')} s emulated latency)")
    ax1.legend()
    if loads:
        users = [s["users"] for s in loads]
        for key, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
            ax2.plot(users, [s[key] for s in loads], style, label=key.removesuffix("_ms"))
        if all("slot_bound_s" in s for s in loads):
            ax2.plot(
                users,
                [s["slot_bound_s"] * 1000 for s in loads],
                "k_",
                markersize=18,
                linestyle="none",
                label="slot bound",
            )
        ax2.set_xscale("log")
        ax2.minorticks_off()
        ax2.set_xticks(users, [str(u) for u in users])
        ax2.set_xlabel("concurrent users")
        ax2.set_ylabel("ms")
        ax2.set_title("Latency percentiles vs users (POST /fulfill)")
        ax2.legend()
    else:
        ax2.set_axis_off()
    fig.tight_layout()
    path = out / "bench.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
