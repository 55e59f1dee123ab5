"""Load and fault scenarios: many concurrent users against a real `parallizer serve` over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from .harness import RssSampler, cpu_s
from .stats import percentile


async def _post_all(
    url: str, bodies: list[dict[str, Any]], *, request_timeout: float
) -> list[tuple[float, int, dict[str, Any] | None]]:
    """POST every body at once (one client connection each); (seconds, status, json)."""
    results: list[tuple[float, int, dict[str, Any] | None]] = [(0.0, 0, None)] * len(bodies)
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=request_timeout)
    ) as session:
        go = asyncio.Event()

        async def user(i: int, body: dict[str, Any]) -> None:
            await go.wait()
            t0 = time.perf_counter()
            try:
                async with session.post(f"{url}/fulfill", json=body) as r:
                    data = await r.json(content_type=None)
                    results[i] = (time.perf_counter() - t0, r.status, data)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                results[i] = (time.perf_counter() - t0, 0, None)

        async with asyncio.TaskGroup() as tg:
            for i, body in enumerate(bodies):
                tg.create_task(user(i, body))
            await asyncio.sleep(0)  # every user is waiting at the gate
            go.set()
    return results


def _own_cards(data: dict[str, Any]) -> int:
    """The cards this request made: a /fulfill answer is the user's whole feed, this
    request's cards marked `new`."""
    return sum(1 for c in data["cards"] if c.get("new", True))


def _answered(status: int, data: dict[str, Any] | None) -> bool:
    return status == 200 and isinstance(data, dict) and isinstance(data.get("cards"), list)


async def load(
    users: int,
    url: str,
    pid: int,
    bodies: list[dict[str, Any]],
    *,
    request_timeout: float,
    slots: dict[str, int] | None = None,
) -> dict[str, Any]:
    """`users` requests at once. With `slots` (each backend's process-wide limit), also the
    slot bound: the least wall time those limits allow for the work the requests did."""
    batch = [{**bodies[i % len(bodies)], "user_id": f"load-{users}-{i}"} for i in range(users)]
    assert len({b["document_text"] for b in batch}) == min(users, len(bodies))
    async with RssSampler(pid) as rss:
        t0, cpu0 = time.perf_counter(), cpu_s(pid)
        results = await _post_all(url, batch, request_timeout=request_timeout)
        wall, cpu = time.perf_counter() - t0, cpu_s(pid) - cpu0
    ms = [r[0] * 1000.0 for r in results]
    ok = [_answered(status, data) for _, status, data in results]
    backends = _backend_breakdown([d for _, _, d in results])
    bound = slot_bound_s(backends, slots or {})
    return {
        "name": f"load-{users}",
        "users": users,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "success_rate": round(sum(ok) / users, 4),
        "rps": round(users / wall, 1),
        "wall_s": round(wall, 3),
        "server_cpu_s": round(cpu, 2),
        "peak_rss_mb": round(rss.peak_mb, 1),
        "slot_bound_s": round(bound, 3),
        "backends": backends,
        "cards_per_request": round(
            sum(_own_cards(d) for (_, s, d), k in zip(results, ok, strict=True) if k and d)
            / max(1, sum(ok)),
            2,
        ),
    }


def slot_bound_s(backends: dict[str, dict[str, float]], slots: dict[str, int]) -> float:
    """The busiest backend's queries × median run time ÷ its slots: no schedule can finish the
    burst sooner, whatever the code does (the load scenarios' "ideal")."""
    return max(
        (
            b["queries"] * b["run_p50_ms"] / 1000.0 / slots[name]
            for name, b in backends.items()
            if name in slots
        ),
        default=0.0,
    )


def _backend_breakdown(responses: list[dict[str, Any] | None]) -> dict[str, dict[str, float]]:
    """Per backend, over every query of every response: how many, the median time running,
    and the median and 95th-percentile time queued for a slot (where a load's time goes)."""
    running: dict[str, list[float]] = {}
    queued: dict[str, list[float]] = {}
    for data in responses:
        if not isinstance(data, dict):
            continue
        for f in (data.get("timings") or {}).get("fulfillers", {}).values():
            for q in f.get("queries", []):
                if q.get("shared") or q.get("batched"):
                    # another query's run, or one rg pass of several (whose time would count
                    # once per query): left out, so the slot bound stays a lower bound
                    continue
                b = q.get("backend", "?")
                running.setdefault(b, []).append(float(q.get("ms", 0.0)))
                queued.setdefault(b, []).append(float(q.get("queued_ms") or 0.0))
    return {
        b: {
            "queries": len(running[b]),
            "run_total_s": round(sum(running[b]) / 1000.0, 2),
            "run_p50_ms": round(percentile(running[b], 50), 1),
            "queued_p50_ms": round(percentile(queued[b], 50), 1),
            "queued_p95_ms": round(percentile(queued[b], 95), 1),
        }
        for b in sorted(running)
    }


def _query_counts(data: dict[str, Any] | None) -> tuple[int, int]:
    """(queries, ok queries) in one response's timing report."""
    if not isinstance(data, dict):
        return 0, 0
    total = good = 0
    for f in (data.get("timings") or {}).get("fulfillers", {}).values():
        for q in f.get("queries", []):
            total += 1
            good += bool(q.get("ok"))
    return total, good


async def faults(
    url: str,
    bodies: list[dict[str, Any]],
    *,
    requests: int,
    request_timeout: float,
    set_fail_rate: Any,
    fail_rate: float,
    kinds: list[str],
) -> dict[str, Any]:
    """The same requests without and with `fail_rate` of remote calls failing."""
    batch = [{**bodies[i % len(bodies)], "user_id": f"faults-{i}"} for i in range(requests)]
    await set_fail_rate(0.0)
    clean = await _post_all(url, batch, request_timeout=request_timeout)
    await set_fail_rate(fail_rate)
    try:
        t0 = time.perf_counter()
        faulty = await _post_all(url, batch, request_timeout=request_timeout)
        wall = time.perf_counter() - t0
    finally:
        await set_fail_rate(0.0)
    answered = [_answered(s, d) for _, s, d in faulty]
    cards_clean = sum(_own_cards(d) for _, s, d in clean if d and _answered(s, d))
    cards_faulty = sum(
        _own_cards(d) for (_, s, d), a in zip(faulty, answered, strict=True) if a and d
    )
    q_total = q_ok = 0
    for _, _, d in faulty:
        t, g = _query_counts(d)
        q_total += t
        q_ok += g
    return {
        "name": "faults",
        "requests": requests,
        "fail_rate": fail_rate,
        "fault_kinds": kinds,
        "answered_rate": round(sum(answered) / requests, 4),
        "query_success_rate": round(q_ok / q_total, 4) if q_total else None,
        "queries": q_total,
        "cards_delivered_rate": round(min(cards_faulty / cards_clean, 1.0), 4)
        if cards_clean
        else None,
        "cards_clean": cards_clean,
        "cards_with_faults": cards_faulty,
        "p99_ms": round(percentile([r[0] * 1000 for r in faulty], 99), 1),
        "wall_s": round(wall, 3),
    }


async def small_among_big(
    url: str,
    small: dict[str, Any],
    bigs: list[dict[str, Any]],
    *,
    reps: int,
    request_timeout: float,
    lag: float = 0.05,
) -> dict[str, Any]:
    """A small request alone, then the same small request sent `lag` seconds after `bigs`
    (all at once), `reps` times each; every request a new document (nothing is reused) and
    its own user. Medians of the small one's time alone and among the big ones."""

    def fresh(body: dict[str, Any], tag: str) -> dict[str, Any]:
        return {
            **body,
            "user_id": f"{body['user_id']}-{tag}",
            "document_text": f"{body['document_text']}\n<!-- {tag} -->\n",
        }

    async def one(body: dict[str, Any], delay: float = 0.0) -> tuple[float, int]:
        await asyncio.sleep(delay)
        [(secs, status, data)] = await _post_all(url, [body], request_timeout=request_timeout)
        return secs, status if _answered(status, data) else 0

    alone: list[float] = []
    among: list[float] = []
    big_s: list[float] = []
    statuses: list[int] = []
    for rep in range(reps):
        secs, status = await one(fresh(small, f"alone-{rep}"))
        alone.append(secs)
        statuses.append(status)
        async with asyncio.TaskGroup() as tg:
            big_tasks = [tg.create_task(one(fresh(b, f"big-{rep}"))) for b in bigs]
            small_task = tg.create_task(one(fresh(small, f"among-{rep}"), lag))
        secs, status = small_task.result()
        among.append(secs)
        statuses.append(status)
        for t in big_tasks:
            secs, status = t.result()
            big_s.append(secs)
            statuses.append(status)
    alone_s, among_s = percentile(alone, 50), percentile(among, 50)
    return {
        "alone_s": round(alone_s, 3),
        "among_s": round(among_s, 3),
        "goal_s": round(2 * alone_s + 0.5, 3),
        "big_s": round(percentile(big_s, 50), 3),
        "small_bytes": len(small["document_text"].encode()),
        "big_bytes": len(bigs[0]["document_text"].encode()) if bigs else 0,
        "bigs": len(bigs),
        "lag_s": lag,
        "reps": reps,
        "success_rate": round(sum(s == 200 for s in statuses) / len(statuses), 4),
    }
