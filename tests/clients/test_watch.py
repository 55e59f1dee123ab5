"""`parallizer watch`: a save re-fulfills the plan and supersedes the running request (its rg
killed); through a pipe it prints plain lines, on a terminal it draws live; Ctrl+C (SIGINT)
ends it with exit 0 and nothing of it left running. Real processes, real rg, real files."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import struct
import termios
from pathlib import Path

import pytest

from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.clients.watch import WatchRun, watch_plan
from parallizer.config import Settings
from parallizer.models import FulfillRequest, GlobalContext
from parallizer.runtime import Runtime

from ..conftest import alive, children_named, group_members, write
from ..webkit import cursor_at_end
from .proc import PARALLIZER, Output, clean_env, plain

FIRST = "# Plan\n\nUploads are retried with `RetryPolicy` on failure.\n"
SECOND = "# Plan\n\nUploads are retried with `RetryPolicy`.\nSettings come from `load_config`.\n"


def save(path: Path, text: str) -> None:
    """Save the way many editors do: write a new file, rename it over the plan."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def stopped(proc: asyncio.subprocess.Process, within: float = 15.0) -> int:
    try:
        return await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("watch did not stop after SIGINT") from None


def left_behind(pgid: int) -> list[tuple[int, str]]:
    return group_members(pgid)


# --- through a pipe ------------------------------------------------------------------------


async def test_through_a_pipe_a_save_brings_new_cards_and_sigint_exits_0(
    tmp_path: Path, code_tree: Path
):
    plan = write(tmp_path, "plans/plan.md", FIRST)
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "watch", str(plan), "--scope", str(code_tree),
        env=clean_env(tmp_path), cwd=str(tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    out, err = Output(), Output()

    async def pump(stream: asyncio.StreamReader, into: Output) -> None:
        async for line in stream:
            into.add(line.decode())

    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        asyncio.create_task(pump(proc.stdout, out)),
        asyncio.create_task(pump(proc.stderr, err)),
    ]
    try:
        await out.wait_for(r"run 1 done in [\d.]+ ms: \d+ cards")
        assert f"watching {plan}" in out.text and f"scope {code_tree}" in out.text
        assert "run 1 card context [code_search] `RetryPolicy`" in out.text
        assert "src/app/retry.py:5" in out.text
        assert "run 1 fulfiller ambiguities ok" in out.text
        assert "\x1b[" not in out.text, "no terminal escapes through a pipe"
        assert "load_config" not in out.text

        mark = len(out.text)
        save(plan, SECOND)
        m = await out.wait_for(r"run 2 done in [\d.]+ ms", after=mark)
        second = out.text[mark : m.end()]
        assert "run 2 started (plan changed)" in second
        assert "`load_config`" in second and "src/app/config.py:1" in second
        assert "src/legacy/config.py:2" in second  # the other definition, cited too

        # a moment with no plan at all is a note, and the watch goes on
        mark = len(out.text)
        plan.unlink()
        await out.wait_for(r"note: .*plan\.md: no such file", after=mark)
        save(plan, FIRST)
        await out.wait_for(r"run 3 done in", after=mark)

        proc.send_signal(signal.SIGINT)
        assert await stopped(proc) == 0, err.text
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        await asyncio.gather(*pumps)
    assert "Traceback" not in err.text
    assert left_behind(proc.pid) == []


async def test_sigint_while_a_request_runs_leaves_no_rg(tmp_path: Path, code_tree: Path):
    """Saves in quick succession, then Ctrl+C at once: whatever was running is cancelled,
    and nothing of the process group (rg included) outlives it."""
    plan = write(tmp_path, "plan.md", FIRST)
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "watch", str(plan), "--scope", str(code_tree),
        env=clean_env(tmp_path), cwd=str(tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    out = Output()
    assert proc.stdout is not None

    async def pump() -> None:
        async for line in proc.stdout:  # type: ignore[union-attr]
            out.add(line.decode())

    reader = asyncio.create_task(pump())
    try:
        await out.wait_for(r"run 1 started")
        for i in range(3):
            save(plan, SECOND + f"\nStep {i}: call `load_config` again.\n")
            await out.wait_for(rf"run {i + 2} started")
        proc.send_signal(signal.SIGINT)
        assert await stopped(proc) == 0
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        await reader
    assert left_behind(proc.pid) == []
    # every run ended: superseded by the next save, done before it, or stopped by Ctrl+C
    for n in (1, 2, 3, 4):
        assert re.search(rf"^run {n} (superseded|done in|stopped)", out.text, re.M), n
    assert "failed" not in out.text


# --- on a terminal -------------------------------------------------------------------------


def _controlling_tty() -> None:  # runs in the child, after setsid: the pty becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def test_on_a_terminal_it_draws_live_and_ctrl_c_exits_0(tmp_path: Path, code_tree: Path):
    plan = write(tmp_path, "plan.md", FIRST)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 160, 0, 0))
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "watch", str(plan), "--scope", str(code_tree),
        env=clean_env(tmp_path, TERM="xterm-256color"), cwd=str(tmp_path),
        stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True, preexec_fn=_controlling_tty,
    )  # fmt: skip
    os.close(slave)
    out = Output()
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last user is gone
            data = b""
        if not data:
            loop.remove_reader(master)
            return
        out.add(data.decode(errors="replace"))

    loop.add_reader(master, readable)
    try:
        await out.wait_for(r"run 1: done")
        screen = plain(out.text)
        assert "\x1b[" in out.text, "a terminal gets a styled, redrawn screen"
        assert "Context (" in screen and "`RetryPolicy`" in screen
        assert "Timings —" in screen and "(parallel)" in screen

        mark = len(plain(out.text))
        save(plan, SECOND)
        m = await out.wait_for(r"run 2: done", after=mark)
        assert "`load_config`" in plain(out.text)[mark : m.end()]

        os.write(master, b"\x03")  # Ctrl+C, through the terminal's line discipline
        assert await stopped(proc) == 0
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(master)
        os.close(master)
    assert left_behind(proc.pid) == []


# --- the loop itself, with a slow real rg ----------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def watching(self, plan: Path, scope: str | None) -> None:
        self.events.append(("watching", plan))

    def run_started(self, run: WatchRun) -> None:
        self.events.append(("started", run))

    def card(self, run: WatchRun, card, fulfiller: str) -> None:
        self.events.append(("card", card))

    def fulfiller(self, run: WatchRun, name: str, timing) -> None:
        self.events.append(("fulfiller", name))

    def run_ended(self, run: WatchRun) -> None:
        self.events.append(("ended", run))

    def notice(self, text: str) -> None:
        self.events.append(("notice", text))

    def runs(self, what: str) -> list[WatchRun]:
        return [r for k, r in self.events if k == what]  # type: ignore[misc]


async def until(pred, within: float = 15.0) -> None:
    for _ in range(int(within / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_a_save_supersedes_the_running_request_and_kills_its_rg(
    tmp_path: Path, code_tree: Path, slow_rg: str
):
    plan = write(tmp_path, "plan.md", FIRST)
    settings = Settings(_env_file=None, allowed_roots=str(tmp_path))  # type: ignore[call-arg]

    def load() -> FulfillRequest:
        text = plan.read_text()
        if not text.strip():
            from parallizer.errors import BadInput

            raise BadInput("the plan is empty")
        return FulfillRequest(
            user_id="w", document_text=text, cursor_position=cursor_at_end(text),
            global_context=GlobalContext(scope_root=str(code_tree)),
            fulfillers=["code_search"],
        )  # fmt: skip

    view, stop = Recorder(), asyncio.Event()
    rg = RipgrepBackend(binary=slow_rg, timeout=30)
    async with Runtime(settings, rg=rg, web=None, llm=None) as runtime:
        task = asyncio.create_task(watch_plan(plan, load, runtime, view, stop))
        try:
            await until(lambda: children_named("rg"))
            first = children_named("rg")
            save(plan, "")  # a moment with nothing usable: a notice, the run goes on
            await until(lambda: any(k == "notice" for k, _ in view.events))
            assert "the plan is empty" in [t for k, t in view.events if k == "notice"]
            save(plan, SECOND)
            await until(lambda: len(view.runs("started")) == 2)
            run1, run2 = view.runs("started")
            assert run1.ended == "superseded" and run2.reason == "changed"
            assert not any(alive(pid) for pid in first), "the superseded run's rg is killed"
            await until(lambda: children_named("rg"))
            assert run2.ended is None
        finally:
            stop.set()
            runs = await asyncio.wait_for(task, 10)
    assert runs == 2 and run2.ended == "stopped"
    assert [r.number for r in view.runs("ended")] == [1, 2]
    assert children_named("rg") == []


@pytest.mark.parametrize("case", ["missing plan", "scope outside the roots"])
async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str):
    plan = write(tmp_path, "in/plan.md", FIRST)
    args = {
        "missing plan": [str(tmp_path / "in/nope.md"), "--scope", str(tmp_path / "in")],
        "scope outside the roots": [str(plan), "--scope", str(tmp_path)],
    }[case]
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "watch", *args, env=clean_env(tmp_path / "in"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and stdout == b""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallizer: error: "), lines
