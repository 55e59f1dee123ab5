"""Re-fulfill a plan on every save, each run superseding the one before.

`watch_plan` watches the plan's directory (editors often save by writing a new file and
renaming it over the old one, which a watch on the file itself would miss) for changes to
the plan's name, through `watchfiles`. Each change starts a new run through the same
`Orchestrator` the CLI's `fulfill` uses; a run still going is cancelled first (its queries
with it, `rg` processes killed). What happens is told to a `WatchView` as it happens: the
command line renders it (`cli/watch.py`), live on a terminal or as plain lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .. import assembly
from ..errors import BadInput, redact
from ..models import Card, FulfillerTiming, FulfillRequest, FulfillResponse, Timings
from ..orchestrator import CardEvent, DoneEvent, FulfillerEvent, Orchestrator
from ..runtime import Runtime

log = logging.getLogger("parallizer.watch")

#: how long the file must be quiet before a burst of writes counts as one save (ms)
STEP_MS = 50
#: the longest a burst of writes is gathered before it counts as one save anyway (ms)
DEBOUNCE_MS = 400


@dataclass
class WatchRun:
    """One fulfill of the plan, as the view sees it."""

    number: int
    reason: str
    """why it started: `start` or `changed`"""
    started: float = field(default_factory=time.monotonic)
    cards: list[Card] = field(default_factory=list)
    fulfillers: dict[str, FulfillerTiming] = field(default_factory=dict)
    timings: Timings | None = None
    ended: str | None = None
    """None while running; then `done`, `superseded`, `stopped` or `failed`"""
    error: str | None = None

    def response(self) -> FulfillResponse:
        """The run so far as a response (the total is the time elapsed while it runs)."""
        timings = self.timings or Timings(
            total_ms=round((time.monotonic() - self.started) * 1000, 1),
            fulfillers=dict(self.fulfillers),
        )
        return FulfillResponse(cards=list(self.cards), timings=timings)


class WatchView(Protocol):
    def watching(self, plan: Path, scope: str | None) -> None: ...
    def run_started(self, run: WatchRun) -> None: ...
    def card(self, run: WatchRun, card: Card, fulfiller: str) -> None: ...
    def fulfiller(self, run: WatchRun, name: str, timing: FulfillerTiming) -> None: ...
    def run_ended(self, run: WatchRun) -> None: ...
    def notice(self, text: str) -> None: ...


async def watch_plan(
    plan: Path,
    load: Callable[[], FulfillRequest],
    runtime: Runtime,
    view: WatchView,
    stop: asyncio.Event,
    *,
    step_ms: int = STEP_MS,
    debounce_ms: int = DEBOUNCE_MS,
) -> int:
    """Fulfill the plan now and after every save until `stop` is set; returns the number of
    runs started. `plan` is an absolute path. `load` reads the plan into a request (blocking: it runs in a thread) and
    raises `BadInput` when the plan cannot be used right now (then the watch goes on)."""
    from watchfiles import Change, awatch

    orch = assembly.orchestrator(runtime)
    dirty = asyncio.Event()
    dirty.set()  # the first run, at once

    def ours(_change: Change, path: str) -> bool:
        return Path(path).name == plan.name

    async def watch_files() -> None:
        async for _changes in awatch(
            plan.parent,
            watch_filter=ours,
            recursive=False,
            stop_event=stop,
            step=step_ms,
            debounce=debounce_ms,
            rust_timeout=1000,  # how often the watcher thread looks at `stop` as well
        ):
            dirty.set()

    runs = 0
    current: tuple[asyncio.Task[None], WatchRun] | None = None
    async with asyncio.TaskGroup() as tg:
        # awatch sets up its watches synchronously, in the task's first step: give it that
        # step now, so that any save after the first run has started is seen
        tg.create_task(watch_files(), name="watch:files")
        await asyncio.sleep(0)
        try:
            while await _either(dirty, stop) is dirty:
                dirty.clear()
                if current is not None:
                    await _supersede(*current, view)
                    current = None
                try:
                    request = await asyncio.to_thread(load)
                except BadInput as exc:
                    view.notice(str(exc))
                    continue
                runs += 1
                run = WatchRun(number=runs, reason="start" if runs == 1 else "changed")
                if runs == 1:
                    view.watching(plan, request.global_context.scope_root)
                view.run_started(run)
                task = tg.create_task(_run(orch, request, run, view), name=f"watch:run{runs}")
                current = (task, run)
        finally:
            stop.set()  # ends the file watcher (its thread looks at it every `step_ms`)
            if current is not None:
                await _supersede(*current, view, ended="stopped")
    return runs


async def _either(a: asyncio.Event, b: asyncio.Event) -> asyncio.Event:
    """Wait until one of two events is set; `b` wins a tie."""
    if b.is_set() or a.is_set():
        return b if b.is_set() else a
    waits = {asyncio.ensure_future(a.wait()): a, asyncio.ensure_future(b.wait()): b}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return b if b.is_set() else a


async def _supersede(
    task: asyncio.Task[None], run: WatchRun, view: WatchView, *, ended: str = "superseded"
) -> None:
    """Cancel a run that is still going (its queries and `rg` processes with it) and wait
    until it has stopped."""
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if run.ended is None:
        run.ended = ended
        view.run_ended(run)


async def _run(orch: Orchestrator, request: FulfillRequest, run: WatchRun, view: WatchView) -> None:
    try:
        job = await asyncio.to_thread(orch.prepare, request)
        async with aclosing(orch.events(job)) as events:
            async for event in events:
                if isinstance(event, CardEvent):
                    ident = event.card.metadata.id
                    # an improved card (the same id) takes the early one's place
                    run.cards = [c for c in run.cards if not ident or c.metadata.id != ident]
                    run.cards.append(event.card)
                    view.card(run, event.card, event.fulfiller)
                elif isinstance(event, FulfillerEvent):
                    run.fulfillers[event.name] = event.timing
                    view.fulfiller(run, event.name, event.timing)
                elif isinstance(event, DoneEvent):
                    run.timings = event.timings
        run.ended = "done"
    except BadInput as exc:
        run.ended, run.error = "failed", str(exc)
    except Exception as exc:  # an unexpected failure ends this run, not the watch
        log.exception("watch run %d failed", run.number)
        secrets = orch.runtime.settings.secrets()
        run.ended, run.error = "failed", redact(f"{type(exc).__name__}: {exc}", secrets)
    view.run_ended(run)
