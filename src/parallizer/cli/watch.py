"""`parallizer watch PLAN`: re-fulfill the plan on every save.

On a terminal the latest run is drawn live with `rich` (cards by type, then the timing
table), redrawn as each card arrives; through a pipe every event is one plain line, flushed
at once, so another program can follow it. SIGINT (Ctrl+C) or SIGTERM stop it cleanly
(the running request is cancelled, its `rg` processes killed) with exit code 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from ..config import Settings
from ..errors import BadInput
from ..models import Card, FulfillerTiming, FulfillRequest
from .common import load_settings_or_fail
from .fulfill import build_request
from .root import CliError, app

if TYPE_CHECKING:  # the orchestrator is imported when a command runs, not at start-up
    from ..clients.watch import WatchRun

USER_ID = "watch"


class PlainView:
    """One line per event, for pipes and logs:

    ```
    run 2 started (plan changed)
    run 2 card question [ambiguities] `Retry`: did you mean `RetryPolicy`? — src/retry.py:4
    run 2 fulfiller ambiguities ok 41.3 ms, 3 cards
    run 2   query ripgrep "Retry" start 1.2 ms, 12.9 ms, ok, 0 results
    run 2 done in 43.0 ms: 5 cards
    ```
    A card's text follows its line, each of its lines indented by four spaces."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _say(self, *lines: str) -> None:
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()

    def watching(self, plan: Path, scope: str | None) -> None:
        self._say(f"watching {plan} (scope {scope or '-'}); Ctrl+C to stop")

    def run_started(self, run: WatchRun) -> None:
        why = "first run" if run.reason == "start" else "plan changed"
        self._say(f"run {run.number} started ({why}) at {time.strftime('%H:%M:%S')}")

    def card(self, run: WatchRun, card: Card, fulfiller: str) -> None:
        cites = card.metadata.citations
        head = f"run {run.number} card {card.type.value} [{fulfiller}] {card.header}"
        body = [f"    {line}" for line in card.text.splitlines() if line.strip()]
        self._say(head + (f" — {', '.join(cites)}" if cites else ""), *body)

    def fulfiller(self, run: WatchRun, name: str, timing: FulfillerTiming) -> None:
        if timing.skipped:
            state = f"skipped: {timing.skipped}"
        elif timing.ok:
            state = f"ok {timing.ms:.1f} ms, {timing.cards} cards"
        else:
            state = f"FAILED {timing.ms:.1f} ms: {timing.error}"
        lines = [f"run {run.number} fulfiller {name} {state}"]
        for q in timing.queries:
            res = (
                ("ok" if q.results is None else f"ok, {q.results} results")
                if q.ok
                else (f"failed ({q.error_kind}): {q.error}")
            )
            lines.append(
                f"run {run.number}   query {q.backend} {q.query!r} start {q.start_ms:.1f} ms, "
                f"{q.ms:.1f} ms, {res}{' (shared)' if q.shared else ''}"
            )
        self._say(*lines)

    def run_ended(self, run: WatchRun) -> None:
        if run.ended == "done" and run.timings is not None:
            self._say(
                f"run {run.number} done in {run.timings.total_ms:.1f} ms: {len(run.cards)} cards"
            )
        elif run.ended == "failed":
            self._say(f"run {run.number} failed: {run.error}")
        else:
            self._say(f"run {run.number} {run.ended}")

    def notice(self, text: str) -> None:
        self._say(f"note: {text}")


class LiveView:
    """The latest run, redrawn in place on the terminal's alternate screen (as `top` does):
    a status line with the run's totals, the cards by type, the timing table, cropped to
    the screen's height. When the watch ends, the last frame is printed to the normal
    screen, so it stays in the scrollback."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.live = Live(
            console=self.console, auto_refresh=False, screen=True, vertical_overflow="crop"
        )
        self.plan: Path | None = None
        self.scope: str | None = None
        self.run: WatchRun | None = None
        self.notes: list[str] = []

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)
        if self.run is not None:
            self.console.print(self._frame())

    def _draw(self) -> None:
        self.live.update(self._frame(), refresh=True)

    def _frame(self):
        from rich.console import Group
        from rich.text import Text

        from .render import cards_view, timing_table

        parts: list = []
        status = Text(f"watching {self.plan} (scope {self.scope or '-'}) · Ctrl+C to stop", "dim")
        parts.append(status)
        run = self.run
        if run is not None:
            if run.ended is None:
                state = Text(f"run {run.number}: running…", style="bold yellow")
            elif run.ended == "done" and run.timings is not None:
                failed = sum(not q.ok for f in run.timings.fulfillers.values() for q in f.queries)
                state = Text(
                    f"run {run.number}: done in {run.timings.total_ms:.0f} ms, "
                    f"{len(run.cards)} cards" + (f", {failed} queries failed" if failed else ""),
                    style="bold green" if not failed else "bold yellow",
                )
            elif run.ended == "failed":
                state = Text(f"run {run.number}: failed: {run.error}", style="bold red")
            else:
                state = Text(f"run {run.number}: {run.ended}", style="bold")
            parts.append(state)
        parts.extend(Text(f"note: {n}", style="yellow") for n in self.notes[-3:])
        if run is not None:
            parts.append(cards_view(run.cards))
            parts.append(timing_table(run.response(), width=self.console.width))
        return Group(*parts)

    def watching(self, plan: Path, scope: str | None) -> None:
        self.plan, self.scope = plan, scope
        self._draw()

    def run_started(self, run: WatchRun) -> None:
        self.run = run
        self.notes.clear()
        self._draw()

    def card(self, run: WatchRun, card: Card, fulfiller: str) -> None:
        self._draw()

    def fulfiller(self, run: WatchRun, name: str, timing: FulfillerTiming) -> None:
        self._draw()

    def run_ended(self, run: WatchRun) -> None:
        if run is self.run:
            self._draw()

    def notice(self, text: str) -> None:
        self.notes.append(text)
        self._draw()


def _loader(settings: Settings, plan: Path, scope: Path | None) -> Callable[[], FulfillRequest]:
    def load() -> FulfillRequest:
        try:
            request = build_request(settings, plan, scope, None, None)
        except CliError as exc:  # e.g. the plan is gone for a moment during a save
            raise BadInput(str(exc)) from exc
        return request.model_copy(update={"user_id": USER_ID})

    return load


async def _main(
    settings: Settings, plan: Path, scope: Path | None, view: PlainView | LiveView
) -> None:
    from ..clients.watch import watch_plan
    from ..runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Runtime(settings) as runtime:
            await watch_plan(plan, _loader(settings, plan, scope), runtime, view, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@app.command()
def watch(
    plan: Annotated[Path, typer.Argument(help="the plan to watch (Markdown or text)")],
    scope: Annotated[
        Path | None, typer.Option("--scope", help="code tree to search (default: cwd)")
    ] = None,
) -> None:
    """Fulfill PLAN now and again on every save; Ctrl+C stops (exit 0)."""
    live = sys.stdout.isatty()
    # on a terminal the log shares the screen with the live view: only warnings, unless asked
    quiet = live and "PARALLIZER_LOG_LEVEL" not in os.environ
    settings = load_settings_or_fail(**({"log_level": "WARNING"} if quiet else {}))
    build_request(settings, plan, scope, None, None)  # a plan or scope unusable now: exit 2
    plan = plan.absolute()
    if live:
        with LiveView() as view:
            asyncio.run(_main(settings, plan, scope, view))
    else:
        asyncio.run(_main(settings, plan, scope, PlainView(sys.stdout)))
