"""Processes the load benchmarks run: emulators and a real `parallizer serve`, each in its own
process (so the server, the remote stand-ins and the load generator do not share one core's
event loop), plus the server's resident memory sampled while it works."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CLI = [sys.executable, "-c", "from parallizer.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class RssSampler:
    """Peak RSS of one process, sampled every `every` seconds while in use."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid, self.every, self.peak_mb = pid, every, 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> RssSampler:
        self.peak_mb = rss_mb(self.pid)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak_mb = max(self.peak_mb, rss_mb(self.pid))


async def _stop(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def emulator_process(kind: str, latency: float, **options: Any) -> AsyncIterator[str]:
    """`parallizer emulate KIND` on a free port; yields its base URL."""
    args = [*CLI, "emulate", kind, "--port", "0", "--latency", str(latency)]
    for k, v in options.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            raise RuntimeError(f"emulator {kind} did not start: {line.strip()!r}")
        drain = asyncio.create_task(proc.stdout.read())
        yield m.group(1)
        drain.cancel()
    finally:
        await _stop(proc)


async def emulator_stats(url: str) -> dict[str, Any]:
    """A running emulator's record (`GET /_stats`): total, peak, rejected, rate_limited..."""
    root = url.removesuffix("/v1")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{root}/_stats") as r:
            r.raise_for_status()
            return await r.json()


async def configure_emulator(url: str, **changes: Any) -> None:
    """Change a running emulator's settings (fail rate, latency...) and clear its record."""
    root = url.removesuffix("/v1")
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{root}/_config", json=changes) as r:
            r.raise_for_status()
        async with s.post(f"{root}/_reset") as r:
            r.raise_for_status()


@contextlib.asynccontextmanager
async def server_process(
    env: dict[str, str], cwd: Path, *args: str
) -> AsyncIterator[tuple[str, int]]:
    """A real `parallizer serve` on a free loopback port; yields (base URL, pid)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                if proc.returncode is not None:
                    raise RuntimeError(f"parallizer serve exited with {proc.returncode}")
                try:
                    async with s.get(f"{url}/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("parallizer serve did not become healthy in 30 s")
        yield url, proc.pid
    finally:
        await _stop(proc)


@contextlib.asynccontextmanager
async def redis_process() -> AsyncIterator[str]:
    """A throwaway `redis-server` on a free loopback port (no persistence); yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="parallizer-bench-redis-") as tmp:
        proc = await asyncio.create_subprocess_exec(
            exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tmp,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            for _ in range(100):
                if await redis_commands(url) is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
            yield url
        finally:
            await _stop(proc)


async def redis_commands(url: str) -> int | None:
    """Commands Redis has processed since it started (None if it does not answer)."""
    from redis import asyncio as aioredis
    from redis import exceptions as rexc

    client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        info = await client.info("stats")
        return int(info["total_commands_processed"])
    except (rexc.ConnectionError, rexc.TimeoutError, OSError):
        return None
    finally:
        await client.aclose()
