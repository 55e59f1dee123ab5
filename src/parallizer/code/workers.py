"""A build's worker processes: `python -m parallizer.code.worker_process`, one batch at a time
each, killed and reaped when the build ends however it ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys

from .. import subprocs
from .parse import Parsed, frame

log = logging.getLogger("parallizer.index")
_LEN = struct.Struct(">I")


class WorkerDied(Exception):
    pass


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def run(self, job: tuple[str, list[tuple[str, str]], int, float]) -> list[Parsed]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(frame(job))
            await stdin.drain()
            head = await stdout.readexactly(_LEN.size)
            body = await stdout.readexactly(_LEN.unpack(head)[0])
        except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as exc:
            raise WorkerDied(f"the parser process ended ({exc.__class__.__name__})") from exc
        return pickle.loads(body)

    async def close(self, *, kill: bool = False) -> None:
        proc = self.proc
        if not kill and proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
            try:
                await asyncio.wait_for(subprocs.exit_code(proc), 2.0)
            except TimeoutError:
                pass
        subprocs.kill(proc)
        await subprocs.exit_code(proc)  # a killed worker may leave half an answer unread


class Workers:
    """`async with Workers(n) as w: await w.run(...)`: up to n batches at once."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: list[_Worker] = []

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "parallizer.code.worker_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        worker = _Worker(proc)
        self._all.append(worker)
        return worker

    async def __aenter__(self) -> Workers:
        try:
            for _ in range(self.n):
                self._idle.put_nowait(await self._spawn())
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run(self, job: tuple[str, list[tuple[str, str]], int, float]) -> list[Parsed]:
        """Parse one batch: (root, [(path, language)], max bytes, seconds per file)."""
        worker = await self._idle.get()
        try:
            result = await worker.run(job)
        except WorkerDied:
            await worker.close(kill=True)
            self._idle.put_nowait(await self._spawn())  # a fresh one for the next batch
            raise
        except BaseException:
            await worker.close(kill=True)  # cancelled mid-batch: its answer is out of step
            raise
        self._idle.put_nowait(worker)
        return result

    async def aclose(self) -> None:
        workers, self._all = self._all, []
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
