"""ripgrep as an asyncio subprocess speaking `--json`.

Limits: files over `max_filesize` are skipped, match text is clipped, the number of matches
is capped per file and in total (the process is killed as soon as the cap is reached),
`.gitignore` is honoured even outside a git repository, regexes run on ripgrep's default
engine (finite automata: linear time, no backtracking) with size limits on the compiled
program. A timeout or a cancellation kills the process and reaps it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..limits import Limiter
from ..text import clip_around
from .base import Availability, CodeMatch, CodeQuery, CodeSearchResult, ContextLine

log = logging.getLogger("parallizer.ripgrep")

MAX_TEXT = 240  # characters of a matched line kept (centred on the match when longer)
MAX_JSON_LINE = 16 * 1024 * 1024  # one rg JSON event; longer ones are skipped
STDERR_KEEP = 4096


def find_rg() -> str | None:
    """The `rg` installed beside this interpreter (the PyPI wheel), else the one on PATH."""
    here = Path(sys.executable).parent / ("rg.exe" if os.name == "nt" else "rg")
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("rg")


def _text(obj: dict[str, Any] | None) -> str:
    """rg encodes text as {"text": ...} or, when not UTF-8, {"bytes": base64}."""
    if not obj:
        return ""
    if "text" in obj:
        return obj["text"]
    return base64.b64decode(obj.get("bytes", "")).decode("utf-8", errors="replace")


def _rel(path: str) -> str:
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def clip(text: str, focus: int = 0, width: int = MAX_TEXT) -> str:
    """Strip the line ending and cut a long line to `width` characters around `focus`."""
    return clip_around(text.rstrip("\r\n"), focus, width)


class _FileBuffer:
    """Lines (matches and context) of the file rg is reporting, to attach context."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[int, str] = {}
        self.matches: list[CodeMatch] = []

    def finish(self, context: int) -> list[CodeMatch]:
        for m in self.matches:
            m.before = [
                ContextLine(line=n, text=self.lines[n])
                for n in range(m.line - context, m.line)
                if n in self.lines
            ]
            m.after = [
                ContextLine(line=n, text=self.lines[n])
                for n in range(m.line + 1, m.line + context + 1)
                if n in self.lines
            ]
        return self.matches


async def _drain_capped(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read a stream to EOF (so the writer never blocks) and keep its first `keep` bytes."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept)


async def _json_lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Yield newline-delimited events; a line longer than MAX_JSON_LINE is skipped whole."""
    buf = bytearray()
    skipping = False
    while chunk := await stream.read(65536):
        start = 0
        while (nl := chunk.find(b"\n", start)) != -1:
            if not skipping:
                buf += chunk[start:nl]
                yield bytes(buf)
            buf.clear()
            skipping = False
            start = nl + 1
        if not skipping:
            buf += chunk[start:]
            if len(buf) > MAX_JSON_LINE:
                buf.clear()
                skipping = True
    if buf and not skipping:
        yield bytes(buf)


#: clean-ups that outlived the search that started them (a reference keeps them running)
_BACKGROUND: set[asyncio.Future[Any]] = set()


def _in_background(aw: Awaitable[Any]) -> None:
    fut = asyncio.ensure_future(aw)
    _BACKGROUND.add(fut)
    fut.add_done_callback(_BACKGROUND.discard)


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process without `Popen.kill()`: its `poll()` reaps a child that has just
    exited before the child watcher's thread waits for it, and the watcher then reports
    "Unknown child process pid N, will report returncode 255". Through a pidfd, the signal
    can only reach this process, never a later one that reuses its pid."""
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


async def _reap_spawned(spawning: asyncio.Future[asyncio.subprocess.Process]) -> None:
    """The end of a spawn whose caller was cancelled: kill and reap what it started."""
    try:
        proc = await spawning
    except Exception:  # it failed to start: nothing to reap
        return
    await RipgrepBackend._reap(proc)


class RipgrepBackend:
    name = "ripgrep"

    def __init__(
        self,
        *,
        max_concurrent: int = 4,
        timeout: float = 10.0,
        max_filesize: str = "2M",
        binary: str | None = None,
        sort: bool = True,
    ) -> None:
        self.binary = binary or find_rg()
        self.limiter = Limiter(self.name, max_concurrent)
        self.timeout = timeout
        self.max_filesize = max_filesize
        self.sort = sort  # deterministic order (and caps) at the price of one walker thread

    def availability(self) -> Availability:
        if not self.binary:
            return Availability.no("ripgrep (rg) not found: install the `ripgrep` wheel")
        return Availability.yes("ripgrep installed")  # its path is nobody's business

    def _base_args(self) -> list[str]:
        if not self.binary:
            raise BackendError("unavailable", "ripgrep (rg) is not installed")
        args = [
            self.binary,
            "--no-config",
            "--no-require-git",  # honour .gitignore outside git repositories too
            f"--max-filesize={self.max_filesize}",
        ]
        if self.sort:
            args.append("--sort=path")
        return args

    def command(self, query: CodeQuery) -> list[str]:
        args = [
            *self._base_args(),
            "--json",
            "--regex-size-limit=8M",
            "--dfa-size-limit=16M",
            f"--max-count={query.max_per_file}",
            f"--context={query.context}",
            "--ignore-case" if query.ignore_case else "--case-sensitive",
        ]
        if query.mode in ("word", "literal"):
            args.append("--fixed-strings")
        if query.mode == "word":
            args.append("--word-regexp")
        for g in query.globs:
            args.append(f"--glob={g}")
        args += ["-e", query.pattern, "--", "."]
        return args

    @staticmethod
    def _check(query: CodeQuery) -> None:
        if "\x00" in query.pattern or "\n" in query.pattern:
            raise BackendError("invalid_query", "a search pattern cannot contain NUL or newline")

    async def _spawn(self, args: list[str], root: Path) -> asyncio.subprocess.Process:
        env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
        spawning = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *args,
                cwd=root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
        try:
            # Never cancel a spawn half-way: asyncio then closes the transport, whose
            # Popen.poll() reaps a child that already exited before the child watcher's
            # thread waits for it ("Unknown child process pid N, will report returncode
            # 255"). The spawn finishes; the process is then killed and reaped as usual.
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            _in_background(_reap_spawned(spawning))
            raise
        except FileNotFoundError as exc:
            if exc.filename == args[0]:
                raise BackendError("unavailable", "cannot run ripgrep: rg not found") from exc
            raise BackendError("unreadable", "search root does not exist") from exc
        except (NotADirectoryError, PermissionError) as exc:
            raise BackendError(
                "unreadable", f"cannot search {root.name!r}: {exc.strerror}"
            ) from exc

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process) -> None:
        """Kill and wait for the process; cancelled meanwhile, the wait goes on in the
        background (so the process is always reaped by the child watcher, nobody else)."""
        if proc.returncode is None:
            _kill(proc)
            waiting = asyncio.ensure_future(proc.wait())
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                _in_background(waiting)
                raise

    async def search(self, query: CodeQuery, root: Path) -> CodeSearchResult:
        self._check(query)
        proc = await self._spawn(self.command(query), root)
        try:
            async with asyncio.TaskGroup() as tg:
                err = tg.create_task(_drain_capped(proc.stderr, STDERR_KEEP))  # type: ignore[arg-type]
                result, stopped = await self._consume(proc.stdout, query)  # type: ignore[arg-type]
                if stopped:
                    await self._reap(proc)
                rc = await proc.wait()
        finally:
            await self._reap(proc)
        stderr = err.result().decode("utf-8", errors="replace").strip()
        if rc == 2 and not stopped:
            self._raise_or_warn(stderr, result)
        return result

    @staticmethod
    def _raise_or_warn(stderr: str, result: CodeSearchResult) -> None:
        """rg exited 2. A bad pattern or an unsearchable root fails the query; errors about
        single paths inside the tree (unreadable file, broken link) only warn."""
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        if "regex parse error" in stderr:
            detail = next((ln for ln in lines if ln.startswith("error:")), lines[-1])
            raise BackendError(
                "invalid_query", f"invalid regex: {detail.removeprefix('error:').strip()}"
            )
        if "size limit" in stderr:
            raise BackendError("invalid_query", "regex too large to compile within the size limit")
        per_path = [ln for ln in lines if ln.startswith("rg: ./")]
        if result.matches or (per_path and len(per_path) == len(lines)):
            result.warnings = [ln.removeprefix("rg: ")[:300] for ln in lines[:5]]
            return
        reason = lines[0].removeprefix("rg: ") if lines else "ripgrep failed"
        raise BackendError("rg_error", reason[:300])

    async def _consume(
        self, stdout: asyncio.StreamReader, query: CodeQuery
    ) -> tuple[CodeSearchResult, bool]:
        """Parse rg's JSON events; returns (result, stopped_early)."""
        result = CodeSearchResult(query=query)
        current: _FileBuffer | None = None
        cap_hit = False
        async for raw in _json_lines(stdout):
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            kind = event.get("type")
            data = event.get("data") or {}
            if kind == "begin":
                current = _FileBuffer(_rel(_text(data.get("path"))))
            elif kind in ("match", "context") and current is not None:
                line_no = data.get("line_number")
                if line_no is None:
                    continue
                raw_text = _text(data.get("lines"))
                subs = data.get("submatches") or []
                focus = subs[0].get("start", 0) if subs else 0
                text = clip(raw_text, focus)
                if kind == "match" and cap_hit:
                    # one match past the cap: there is more. It may still be context of
                    # the last kept match, then we stop.
                    current.lines[line_no] = text
                    result.truncated = True
                    break
                if kind == "match":
                    current.matches.append(
                        CodeMatch(
                            path=current.path,
                            line=line_no,
                            text=text,
                            submatches=[_text(s.get("match")) for s in subs][:20],
                        )
                    )
                    if len(result.matches) + len(current.matches) >= query.max_results:
                        cap_hit = True  # read on only for after-context and to learn if more
                current.lines[line_no] = text
            elif kind == "end" and current is not None:
                result.matches.extend(current.finish(query.context))
                current = None
        if current is not None:
            result.matches.extend(current.finish(query.context))
        return result, cap_hit

    async def list_files(self, root: Path, *, max_files: int = 20_000) -> list[str]:
        """Paths rg would search under `root` (gitignore honoured), sorted, capped."""
        proc = await self._spawn([*self._base_args(), "--files", "--", "."], root)
        files: list[str] = []
        try:
            async with asyncio.TaskGroup() as tg:
                err = tg.create_task(_drain_capped(proc.stderr, STDERR_KEEP))  # type: ignore[arg-type]
                async for raw in _json_lines(proc.stdout):  # type: ignore[arg-type]
                    files.append(_rel(raw.decode("utf-8", errors="replace")))
                    if len(files) >= max_files:
                        await self._reap(proc)
                        break
                rc = await proc.wait()
        finally:
            await self._reap(proc)
        if rc == 2 and not files:
            msg = err.result().decode("utf-8", errors="replace").strip().splitlines()
            raise BackendError(
                "rg_error", (msg[0] if msg else "ripgrep failed").removeprefix("rg: ")
            )
        return files
