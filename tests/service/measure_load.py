"""Measure (not assert) latency of N concurrent users against a real `parallizer serve`.

    .venv/bin/python -m tests.service.measure_load [--users 50] [--rounds 5] [--delay 0.5]

The server runs the test fulfillers (echo; grep: real rg over this repository's src/;
slow: a stand-in for a remote call of `--delay` seconds). Each of N users sends `rounds`
synchronous POST /fulfill one after another, all users at once. Prints p50/p95/p99, the
throughput and the server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--only", default="echo,grep,slow", help="fulfillers to run")
    args = ap.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARALLIZER_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PARALLIZER_ALLOWED_ROOTS=str(ROOT),
        PARALLIZER_TEST_DELAY=str(args.delay),
        PARALLIZER_LOG_LEVEL="INFO",  # the "Uvicorn running on" line tells the port
    )
    exe = Path(sys.executable).with_name("parallizer")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "serve", "--port", "0", "--factory", "tests.service.kit:serve_app",
        env=env, cwd=str(ROOT), stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = ""
    assert proc.stderr is not None
    while not base:
        line = (await proc.stderr.readline()).decode()
        if not line:
            raise SystemExit("server did not start")
        if m := re.search(r"Uvicorn running on (http://\S+)", line):
            base = m.group(1)

    async def drain() -> None:
        assert proc.stderr is not None
        while await proc.stderr.read(65536):
            pass

    drainer = asyncio.create_task(drain())
    plan = (ROOT / "src/parallizer/orchestrator.py").read_text()[:4000]
    text = "# plan\nuse `fan_out` and `RetryPolicy` and `Orchestrator`\n" + plan
    only = args.only.split(",")
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=args.users * 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        # warm-up: imports, first rg run
        await client.post(
            "/fulfill",
            json={"user_id": "warm", "document_text": text, "cursor_position": [1, 3],
                  "global_context": {"scope_root": str(ROOT / "src")}},
        )  # fmt: skip

        async def user(u: int) -> None:
            nonlocal failures
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                r = await client.post(
                    "/fulfill",
                    json={"user_id": f"user-{u}", "document_text": text,
                          "cursor_position": [1, 3], "fulfillers": only,
                          "global_context": {"scope_root": str(ROOT / "src")}},
                )  # fmt: skip
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200 or len(r.json()["cards"]) < len(only):
                    failures += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(args.users)))
        wall = time.perf_counter() - t0
    peak_kb = _rss_kb(proc.pid, "VmHWM")
    proc.send_signal(signal.SIGTERM)
    await proc.wait()
    await drainer
    q = statistics.quantiles(latencies, n=100)
    print(
        json.dumps(
            {
                "users": args.users,
                "rounds": args.rounds,
                "remote_delay_s": args.delay,
                "fulfillers": only,
                "requests": len(latencies),
                "success_rate": round(1 - failures / len(latencies), 4),
                "p50_ms": round(q[49], 1),
                "p95_ms": round(q[94], 1),
                "p99_ms": round(q[98], 1),
                "max_ms": round(max(latencies), 1),
                "rps": round(len(latencies) / wall, 1),
                "server_peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
