"""Worker processes: picklable calls `fn(*args)` run in a pool of subprocesses, asyncio-native.

`WorkerPool(size, preload=(...))` owns up to `size` worker processes, each running `serve`
(`python -c`, so no second copy of this module runs as `__main__`). A call sends one frame on
the worker's stdin and reads one on its stdout: a 4-byte big-endian length, then a pickle;
in `(fn, args)`, out `(True, result)` or `(False, exception)`. Only the pool that started the
process writes to it, so unpickling its frames is safe.

* An exception raised by `fn` comes back as that exception (its traceback in the worker
  added as a note); the worker goes on serving.
* A worker that ends mid-call (killed, out of memory, a crash in native code) fails that call
  with `WorkerDied`; the next call starts a fresh worker in its place. `NoWorkers` (a
  `WorkerDied`): no worker process can start at all.
* A call cancelled while its worker runs it kills that worker and reaps it; a hung call is
  cut short the same way (`asyncio.wait_for`). `ProcessPoolExecutor` can do neither: it
  cannot stop a running job. A pool of short jobs (`finish_cancelled`) lets the job finish
  instead and drops its answer: a job of milliseconds costs less than a new worker's imports
  (~0.3 s of CPU), and a request superseded at every keystroke would otherwise kill a worker
  each time.
* Workers start when a call needs one, or all at once with `start()` (a service warms them
  at startup so the first request does not pay their imports); `preload` names the modules
  a worker imports before it serves.
* `aclose()` (or leaving `async with`) ends every worker: stdin closed, a moment to exit,
  then SIGKILL, and each is reaped. A closed pool takes no more calls.

Plain subprocesses rather than a multiprocessing pool: a spawn/forkserver pool re-imports the
caller's `__main__` (every script using the pool would need a main guard), and fork is unsafe
in a process with threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

from . import subprocs
from .errors import NoWorkers, WorkerDied

T = TypeVar("T")

_LEN = struct.Struct(">I")
_EXIT_WAIT = 2.0
"""Seconds a worker has to exit once its stdin is closed, before it is killed."""


LOAD_IN_THREAD = 4096
"""Answers of at least this many bytes are unpickled in a thread."""


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


class _Resend(Exception):
    """A job that was still waiting in a worker's pipe when the worker ended: it never ran,
    so it is sent again to another worker."""


class _Worker:
    """One worker process and the jobs sent to it, answered in the order they were sent."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.jobs: deque[asyncio.Future[bytes]] = deque()
        """Sent, answer not read yet: the first is the one running."""
        self.ended = False
        self.reader = asyncio.ensure_future(self._read())

    def send(self, request: bytes) -> asyncio.Future[bytes]:
        """Queue one framed request in the worker's pipe; its answer's pickle comes in the
        future. A worker runs one job at a time; the next ones wait in its pipe, so it starts
        each as soon as it has answered the last, not when the event loop gets round to
        giving it another (under a burst the loop runs tens of ms late)."""
        stdin = self.proc.stdin
        assert stdin is not None and not self.ended
        job: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        stdin.write(request)
        self.jobs.append(job)
        return job

    async def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        why = WorkerDied("the worker process was closed")
        try:
            while True:
                head = await stdout.readexactly(_LEN.size)
                body = await stdout.readexactly(_LEN.unpack(head)[0])
                if not self.jobs:
                    raise ConnectionError("an answer nobody asked for")
                job = self.jobs.popleft()
                if not job.done():  # a job given up on is answered all the same: dropped
                    job.set_result(body)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            why = WorkerDied(f"the worker process ended before it answered ({type(exc).__name__})")
        finally:
            self.ended = True
            for i, job in enumerate(self.jobs):
                if not job.done():  # the first was running; the others never started
                    job.set_exception(why if i == 0 else _Resend())
            self.jobs.clear()

    async def close(self, *, kill: bool = False) -> None:
        """End the process and reap it: asked to (stdin closed) unless `kill`."""
        proc = self.proc
        if not kill and proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.reader), _EXIT_WAIT)
        subprocs.kill(proc)
        await asyncio.gather(self.reader, return_exceptions=True)  # its pipe ends with it
        await subprocs.exit_code(proc)


class WorkerPool:
    """`async with WorkerPool(n) as pool: await pool.call(fn, *args)`: up to n worker
    processes. A call goes to an idle worker, or starts one while there are fewer than n;
    when all n are busy it waits in the pipe of the one with the fewest jobs."""

    def __init__(
        self,
        size: int,
        *,
        preload: Sequence[str] = (),
        python: str | None = None,
        finish_cancelled: bool = False,
    ) -> None:
        self.size = max(1, size)
        self.finish_cancelled = finish_cancelled
        """A cancelled call's running job runs to its end (its answer dropped) instead of
        its worker being killed: for jobs known to be short."""
        self.preload = tuple(preload)
        self.python = python or sys.executable
        """The interpreter the workers run (a test may name one that cannot start)."""
        self._live: list[_Worker] = []
        self._starting = 0
        self._started = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The worker processes alive now."""
        return [w.proc.pid for w in self._live if w.proc.returncode is None and not w.ended]

    async def _spawn(self) -> _Worker:
        self._starting += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                self.python, "-c", "import parallizer.workers as w; w.main()", *self.preload,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )  # fmt: skip
        except OSError as exc:
            raise NoWorkers(f"cannot start a worker process: {exc}") from exc
        finally:
            self._starting -= 1
            self._started.set()  # whoever waits for a worker looks again
            self._started = asyncio.Event()
        worker = _Worker(proc)
        self._live.append(worker)
        if self._closed:  # closed while it started: it must not outlive the pool
            await self._end(worker, kill=True)
            raise RuntimeError("the worker pool is closed")
        return worker

    async def _end(self, worker: _Worker, *, kill: bool = False) -> None:
        try:
            await worker.close(kill=kill)
        finally:
            with contextlib.suppress(ValueError):
                self._live.remove(worker)

    async def _worker(self) -> _Worker:
        """The worker for the next job: an idle one, a new one while there are fewer than
        `size`, else the one with the fewest jobs waiting."""
        while True:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            for gone in [w for w in self._live if w.ended and not w.jobs]:
                await self._end(gone, kill=True)  # died while idle: reaped now
            live = [w for w in self._live if not w.ended]
            best = min(live, key=lambda w: len(w.jobs), default=None)
            if best is not None and not best.jobs:
                return best
            if len(live) + self._starting < self.size:
                return await self._spawn()
            if best is not None:
                return best
            await self._started.wait()  # every worker is still starting

    async def start(self) -> None:
        """Start every worker that is not running yet (`NoWorkers` if none can start)."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        missing = self.size - self._starting - sum(1 for w in self._live if not w.ended)
        for _ in range(missing):
            await self._spawn()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker (`fn`, its arguments and its result must pickle): its
        result, or the exception it raised; `WorkerDied` if the worker ended while it ran
        (`NoWorkers` if none can start). A call cancelled (or timed out) while its job runs
        kills that worker, nothing else stops the work, unless the pool finishes cancelled
        jobs (`finish_cancelled`)."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        request = _frame((fn, args))  # what does not pickle fails here, before a worker
        while True:
            worker = await self._worker()
            job = worker.send(request)
            try:
                body = await asyncio.shield(job)
            except _Resend:
                continue  # its worker ended before it began: another one runs it
            except asyncio.CancelledError:
                running = bool(worker.jobs) and worker.jobs[0] is job
                job.cancel()  # its answer, when it comes, is dropped
                if running and not self.finish_cancelled:  # only a kill stops it
                    await self._end(worker, kill=True)
                raise
            except WorkerDied:
                await self._end(worker, kill=True)  # reaped; a fresh one for the next job
                raise
            break
        # off the event loop when big: a plan's reading is hundreds of frozen dataclasses
        # whose __setstate__ is Python, and on the loop, under 50 users, its waits for the
        # GIL held every request's I/O
        ok, value = (
            pickle.loads(body)
            if len(body) < LOAD_IN_THREAD
            else await asyncio.to_thread(pickle.loads, body)
        )
        if ok:
            result: T = value
            return result
        raise value

    async def aclose(self) -> None:
        """End every worker and wait until each has exited; no call is taken after."""
        self._closed = True
        self._started.set()
        await asyncio.gather(*(self._end(w) for w in list(self._live)), return_exceptions=True)

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# --- in the worker process ------------------------------------------------------------


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _answer(fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    try:
        return _frame((True, fn(*args)))
    except Exception as exc:
        exc.add_note("in the worker process:\n" + "".join(traceback.format_exception(exc)))
        try:
            answer = _frame((False, exc))
            pickle.loads(answer[_LEN.size :])  # the caller must be able to load it too
            return answer
        except Exception:
            return _frame((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer the calls on `stdin` until it ends."""
    while (head := _read_exactly(stdin, _LEN.size)) is not None:
        body = _read_exactly(stdin, _LEN.unpack(head)[0])
        if body is None:
            return
        try:
            fn, args = pickle.loads(body)
        except Exception as exc:
            answer = _frame((False, RuntimeError(f"cannot load the call: {exc!r}")))
        else:
            answer = _answer(fn, args)
        stdout.write(answer)
        stdout.flush()


def main() -> None:
    """A worker's entry point: import the modules named on the command line, then serve.
    The frames travel on a copy of stdout; what the work prints goes to stderr instead."""
    import importlib

    for name in sys.argv[1:]:
        importlib.import_module(name)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # unbuffered: a job not read yet stays in the pipe (nothing reads ahead of the work)
    serve(os.fdopen(0, "rb", buffering=0), out)
