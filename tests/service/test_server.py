"""`parallizer serve` as a real process: SIGTERM drains or cancels in-flight work within the
graceful timeout and exits 0 with no stray rg; --workers N aggregates /metrics; bad usage."""

from __future__ import annotations

import asyncio
import os
import re
import signal

import httpx
import pytest

from ..conftest import alive, children_named
from .kit import PARALLIZER, body, eventually, metric_value, read_sse, serve, server_env


async def _in_flight(client: httpx.AsyncClient, mode: str) -> float:
    text = (await client.get("/metrics")).text
    return metric_value(text, "parallizer_runs_in_flight", mode=mode)


async def test_sigterm_lets_an_in_flight_request_finish_and_exits_0(tmp_path):
    async with serve(
        "--graceful-timeout",
        "10",
        PARALLIZER_ALLOWED_ROOTS=str(tmp_path),
        PARALLIZER_TEST_DELAY="1",
    ) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=20) as client:
            request = asyncio.create_task(
                client.post("/fulfill", json=body("t1", fulfillers=["echo", "slow"]))
            )

            async def running() -> bool:
                return await _in_flight(client, "sync") == 1

            await eventually(running, what="the request in flight")
            server.proc.send_signal(signal.SIGTERM)
            r = await request
        assert r.status_code == 200
        assert {c["metadata"]["source"] for c in r.json()["cards"]} == {"echo", "slow"}
        assert await asyncio.wait_for(server.proc.wait(), 10) == 0
    assert "service stopped" in server.log
    assert "Traceback" not in server.log


async def test_sigterm_past_the_graceful_timeout_cancels_the_work_and_kills_rg(
    tmp_path, code_tree, slow_rg
):
    async with serve(
        "--graceful-timeout",
        "0.5",
        PARALLIZER_ALLOWED_ROOTS=str(code_tree.parent),
        PARALLIZER_TEST_RG=slow_rg,
    ) as server:
        pid = server.proc.pid
        async with httpx.AsyncClient(base_url=server.base, timeout=20) as client:
            request = asyncio.create_task(
                client.post("/fulfill", json=body("t2", scope=code_tree, fulfillers=["grep"]))
            )
            # other names than t2's: identical searches of concurrent users would share one rg
            other = "# Plan\n\nTune `max_retries` and `delay`.\n"
            bg = await client.post(
                "/fulfill?background=true",
                json=body("t3", text=other, scope=code_tree, fulfillers=["grep"]),
            )
            assert bg.json()["processing"] is True
            # (several searches may share one rg pass: at least one process per request)
            await eventually(
                lambda: len(children_named("rg", pid)) >= 1,
                what="rg searches running",
            )
            # (the slow_rg wrapper execs the real rg, so they are named rg)
            rgs = children_named("rg", pid)
            server.proc.send_signal(signal.SIGTERM)
            r = await request
        # the request still running after the graceful timeout is cancelled, and told so
        assert r.status_code == 503
        assert r.json() == {"detail": "the server is shutting down: the request was cancelled"}
        assert await asyncio.wait_for(server.proc.wait(), 10) == 0
        # checked before the test's own clean-up (which kills the process group)
        assert not [p for p in rgs if alive(p)], "rg processes outlived the server"
    assert re.search(r"cancelling [12] running fulfill run", server.log)
    assert "service stopped" in server.log
    assert "Traceback" not in server.log


async def test_sigterm_ends_a_stream_still_running_cleanly(tmp_path):
    async with serve(
        "--graceful-timeout",
        "0.5",
        PARALLIZER_ALLOWED_ROOTS=str(tmp_path),
        PARALLIZER_TEST_DELAY="10",
    ) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=20) as client:
            body_ = body("t4", fulfillers=["echo", "slow"])
            async with client.stream("POST", "/fulfill/stream", json=body_) as r:
                echo_done = asyncio.Event()

                def seen(ev) -> None:
                    if ev.event == "fulfiller":
                        echo_done.set()

                reading = asyncio.create_task(read_sse(r, on_event=seen))
                # the slow fulfiller is still running once the fast one has reported (on a
                # busy machine the stream is in flight well before the plan is even read)
                await asyncio.wait_for(echo_done.wait(), 20)
                assert await _in_flight(client, "stream") == 1
                server.proc.send_signal(signal.SIGTERM)
                events = await reading  # ends without a protocol error
        # the fast fulfiller's events, then a terminal event: the stream never ends mid-air
        assert [e.event for e in events] == ["card", "fulfiller", "error"]
        assert events[-1].data == {
            "detail": "the server is shutting down: the request was cancelled"
        }
        assert await asyncio.wait_for(server.proc.wait(), 10) == 0
    assert "cancelled by the server (shutting down)" in server.log
    assert "Traceback" not in server.log


async def test_workers_share_one_metrics_view(tmp_path, redis_server):
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    async with serve(
        workers=2,
        PARALLIZER_REDIS_URL=redis_server.fresh_url(),
        PARALLIZER_ALLOWED_ROOTS=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ) as server:
        # each fresh connection may land on either worker
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.base, timeout=20, limits=limits) as client:
            rs = await asyncio.gather(
                *(
                    client.post("/fulfill", json=body(f"w{i}", fulfillers=["echo"]))
                    for i in range(20)
                )
            )
            assert all(r.status_code == 200 for r in rs)
            for _ in range(4):
                text = (await client.get("/metrics")).text
                n = metric_value(text, "parallizer_http_request_seconds_count", endpoint="/fulfill")
                assert n == 20
        # each worker writes its own sample files, which /metrics (any worker) sums up
        pids = {int(m) for m in re.findall(r"_(\d+)\.db", " ".join(os.listdir(metrics_dir)))}
        assert len(pids) == 2
        server.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.proc.wait(), 15) == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "0"], {}, "--workers 0: expected at least 1"),
        (["--workers", "2"], {}, "--workers 2 needs PARALLIZER_REDIS_URL: each worker"),
        (
            [],
            {"PARALLIZER_REDIS_URL": "redis://127.0.0.1:9/0"},
            "PARALLIZER_REDIS_URL: Redis at redis://127.0.0.1:9/0 is unavailable",
        ),
        ([], {"PARALLIZER_REDIS_URL": "http://x"}, "PARALLIZER_REDIS_URL: Redis URL must"),
        (["--port", "70000"], {}, "--port 70000: expected 0..65535"),
        (["--graceful-timeout", "0"], {}, "--graceful-timeout 0.0: expected a positive"),
        ([], {"PARALLIZER_LOG_LEVEL": "LOUD"}, "bad configuration LOG_LEVEL"),
    ],
)
async def test_bad_usage_is_one_line_and_exit_2(args, env, message):
    proc = await asyncio.create_subprocess_exec(
        str(PARALLIZER),
        "serve",
        *args,
        env=server_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallizer: error: ")
    assert message in lines[0]
