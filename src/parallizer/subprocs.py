"""Ending child processes safely: kill one through a pidfd, and learn its exit code without
hanging on a pipe nobody reads any more."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal


def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process without `Popen.kill()`: its `poll()` reaps a child that has just
    exited before the child watcher's thread waits for it, and the watcher then reports
    "Unknown child process pid N, will report returncode 255". Through a pidfd, the signal
    can only reach this process, never a later one that reuses its pid. A process known to
    have exited is left alone."""
    if proc.returncode is not None:
        return
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return  # already reaped: nothing to kill
    except (AttributeError, OSError):  # no pidfd here (not Linux 5.3+)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        return
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it exited meanwhile
    finally:
        os.close(fd)


async def _discard(stream: asyncio.StreamReader | None) -> None:
    """Read what is left of a pipe and drop it; when another coroutine is reading it, that
    one reads it to the end."""
    if stream is None:
        return
    with contextlib.suppress(RuntimeError):  # "already waiting for incoming data"
        while await stream.read(65536):
            pass


async def exit_code(proc: asyncio.subprocess.Process) -> int:
    """`proc.wait()` that cannot hang. asyncio reports a child's exit only once every pipe of
    it is closed, and a pipe whose reader stopped early (a search cut at its cap) stays full:
    its transport pauses reading and never sees the end. So what is left is read away first
    (at most what the pipe and its buffer hold once the process is gone)."""
    await asyncio.gather(_discard(proc.stdout), _discard(proc.stderr))
    return await proc.wait()
