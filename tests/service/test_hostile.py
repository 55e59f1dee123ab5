"""Hostile and careless clients against a real `parallizer serve` process: each case was found
by fuzzing the running service. (A stream still open at SIGTERM ends with a terminal `error`
event: see test_server.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import httpx
import pytest

from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.emulators import running

from ..conftest import children_named
from .kit import body, eventually, metric_value, serve

pytestmark = pytest.mark.timeout(120)


async def _raw(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = base.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def test_bad_text_and_paths_are_422_and_the_connection_lives_on(code_tree):
    plan_dir = code_tree / "src"
    async with serve(PARALLIZER_ALLOWED_ROOTS=str(code_tree.parent)) as server:
        limits = httpx.Limits(max_connections=1)  # one keep-alive connection for all of them
        async with httpx.AsyncClient(base_url=server.base, timeout=20, limits=limits) as client:
            bad = [
                # a lone surrogate (half an emoji) as a fulfiller name
                '{"user_id":"h","document_text":"x","cursor_position":[0,0],'
                '"fulfillers":["\\ud800"]}',
                json.dumps(body("h", global_context={"scope_root": ""})),
                json.dumps(body("h", global_context={"plan_path": str(plan_dir)})),
                json.dumps(body("h", cursor_position=[True, 0])),
                json.dumps(body("h\u0000\u001b[31mFAKE", fulfillers=["echo"])),
            ]
            for raw in bad:
                r = await client.post(
                    "/fulfill", content=raw.encode(), headers={"content-type": "application/json"}
                )
                assert r.status_code == 422, (raw, r.text)
                assert r.json()["detail"]
            r = await client.get("/cached/a%00b%1b")
            assert r.status_code == 422
            ok = await client.post("/fulfill", json=body("h", fulfillers=["echo"]))
            assert ok.status_code == 200
    assert "Traceback" not in server.log
    # nothing a client sent reaches the log raw: control characters are escaped
    assert "\x00" not in server.log and "\x1b" not in server.log
    assert "/cached/a\\x00b\\x1b -> 422" in server.log


async def test_request_timeout_is_a_deadline_for_the_whole_request(code_tree):
    """An LLM that never answers in time: with a 20 s per-call timeout and a 1 s request
    deadline, the request ends near 1 s, not after 20 s (or several stages of it)."""
    async with running("llm", latency=60) as llm:
        env = {
            **llm.env(),
            "PARALLIZER_ALLOWED_ROOTS": str(code_tree.parent),
            "PARALLIZER_TIMEOUT": "20",
            "PARALLIZER_REQUEST_TIMEOUT": "1",
        }
        async with serve(factory=None, **env) as server:
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
                started = time.perf_counter()
                r = await client.post("/fulfill", json=body("late", scope=code_tree))
                elapsed = time.perf_counter() - started
    assert r.status_code == 200
    assert elapsed < 10, f"the request took {elapsed:.1f} s past a 1 s deadline"
    queries = [q for f in r.json()["timings"]["fulfillers"].values() for q in f["queries"]]
    llm_calls = [q for q in queries if q["backend"] == "llm"]
    assert llm_calls and all(not q["ok"] for q in llm_calls)
    assert any("deadline" in (q.get("error") or "") for q in llm_calls)


async def test_a_body_trickled_byte_by_byte_is_cut_off_with_408(tmp_path):
    async with serve(PARALLIZER_ALLOWED_ROOTS=str(tmp_path), PARALLIZER_BODY_TIMEOUT="1") as server:
        reader, writer = await _raw(server.base)
        writer.write(
            b"POST /fulfill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n"
        )

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):  # the server may close first
                for ch in b'{"user_id": "slow", "document_text": "':
                    writer.write(bytes([ch]))
                    await writer.drain()
                    await asyncio.sleep(0.2)

        async def response() -> bytes:
            """What the server sends until it closes. Read as it arrives: a server that
            closes with our unread bytes in its buffer resets the connection, and a reset
            may overtake data not yet read."""
            got = b""
            with contextlib.suppress(ConnectionError):
                while chunk := await reader.read(65536):
                    got += chunk
                    dripping.cancel()  # it answered: stop sending
            return got

        dripping = asyncio.create_task(trickle())
        try:
            answer = await asyncio.wait_for(response(), 15)  # to EOF: the server closes
        finally:
            dripping.cancel()
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"was not received within 1 s" in answer


async def test_a_client_leaving_mid_body_is_not_a_server_error(tmp_path):
    async with serve(PARALLIZER_ALLOWED_ROOTS=str(tmp_path)) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=20) as client:
            for _ in range(3):
                _, writer = await _raw(server.base)
                writer.write(
                    b"POST /fulfill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n" + b'{"user_id": "gone", '
                )
                await writer.drain()
                writer.close()
                await writer.wait_closed()

            async def counted() -> bool:
                text = (await client.get("/metrics")).text
                name = "parallizer_http_request_seconds_count"
                return metric_value(text, name, endpoint="/fulfill", status="499") == 3

            await eventually(counted, within=10)
            text = (await client.get("/metrics")).text
    assert metric_value(text, "parallizer_http_request_seconds_count", status="500") == 0


async def test_superseding_storms_leave_no_stray_or_double_reaped_rg(code_tree, rg_binary):
    """Requests that supersede each other cancel rg searches at every stage, spawn included:
    no process is reaped behind the child watcher's back (its "Unknown child process pid N"
    warning) and none is left running."""
    async with serve(
        PARALLIZER_ALLOWED_ROOTS=str(code_tree.parent), PARALLIZER_TEST_RG=rg_binary
    ) as server:
        pid = server.proc.pid
        async with httpx.AsyncClient(base_url=server.base, timeout=20) as client:
            for round_ in range(25):
                text = f"# Plan\n\nUse `RetryPolicy`, `load_config` and `Thing{round_}`.\n"
                await asyncio.gather(
                    *(
                        client.post(
                            "/fulfill?background=true",
                            json=body(f"storm{u}", text=text, scope=code_tree, fulfillers=["grep"]),
                        )
                        for u in range(3)
                        for _ in range(2)
                    )
                )

            async def idle() -> bool:
                feeds = [(await client.get(f"/cached/storm{u}")).json() for u in range(3)]
                return not any(f["processing"] for f in feeds)

            await eventually(idle, within=30)
            await eventually(lambda: not children_named("rg", pid), within=10)
    assert "Unknown child process" not in server.log
    assert "Traceback" not in server.log


async def test_killing_a_search_that_just_ended_leaves_the_reaping_to_the_watcher(
    rg_binary, caplog
):
    """The cause of the warning above, without a server: `Popen.kill()` polls, and so reaps
    a child that exited before the child watcher's thread waited for it."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    for _ in range(100):
        proc = await asyncio.create_subprocess_exec(
            rg_binary,
            "--version",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.002)  # rg is done; its reaper thread may not have run yet
        await RipgrepBackend._reap(proc)
        assert proc.returncode is not None
    assert "Unknown child process" not in caplog.text
