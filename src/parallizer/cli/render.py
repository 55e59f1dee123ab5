"""Rich output of a fulfill response: cards grouped by type, then the timing table."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..models import Card, CardType, FulfillResponse

_TITLES = {
    CardType.question: "Questions",
    CardType.context: "Context",
    CardType.completion: "Completions",
}
_BAR = 32


def _card(card: Card) -> Panel:
    body: list = [Markdown(card.text)]
    if card.metadata.citations:
        body.append(Text("↳ " + "  ".join(card.metadata.citations), style="dim cyan"))
    return Panel(
        Group(*body),
        title=f"[bold]{card.header}[/bold]",
        title_align="left",
        subtitle=card.metadata.source,
        subtitle_align="right",
        border_style={"question": "yellow", "context": "blue", "completion": "green"}[card.type],
    )


def _bar(start: float, ms: float, total: float, ok: bool) -> Text:
    """A one-line Gantt bar: where in the request this ran, so overlap is visible."""
    total = max(total, 1e-6)
    a = min(_BAR - 1, int(start / total * _BAR))
    b = max(a + 1, min(_BAR, round((start + ms) / total * _BAR)))
    t = Text(" " * a, style="dim")
    t.append("█" * (b - a), style="green" if ok else "red")
    t.append(" " * (_BAR - b))
    return t


def timing_table(response: FulfillResponse, *, serial: bool = False) -> Table:
    timings = response.timings
    total = timings.total_ms if timings else 0.0
    table = Table(
        title=f"Timings — {total:.0f} ms total ({'serial' if serial else 'parallel'})",
        title_justify="left",
        show_lines=False,
    )
    for col, kw in (
        ("fulfiller / query", {}),
        ("backend", {}),
        ("start ms", {"justify": "right"}),
        ("ms", {"justify": "right"}),
        ("result", {}),
        ("timeline", {"no_wrap": True}),
    ):
        table.add_column(col, **kw)
    if not timings:
        return table
    for name, ft in timings.fulfillers.items():
        status = "ok" if ft.ok else f"FAILED: {ft.error}"
        if ft.skipped:
            status = f"skipped: {ft.skipped}"
        elif ft.ok:
            status = f"ok, {ft.cards} cards" + (f" ({ft.mode})" if ft.mode else "")
        table.add_row(
            Text(name, style="bold"),
            "",
            f"{ft.start_ms:.1f}",
            f"{ft.ms:.1f}",
            Text(status, style="bold" if ft.ok else "bold red"),
            _bar(ft.start_ms, ft.ms, total, ft.ok),
        )
        for q in ft.queries:
            res = (
                (f"ok, {q.results} results" if q.results is not None else "ok")
                if q.ok
                else (f"failed ({q.error_kind}): {q.error}")
            )
            if q.shared:
                res += " (shared)"
            label = q.query if len(q.query) <= 40 else q.query[:39] + "…"
            table.add_row(
                "  " + label,
                q.backend,
                f"{q.start_ms:.1f}",
                f"{q.ms:.1f}",
                Text(res, style="" if q.ok else "red"),
                _bar(q.start_ms, q.ms, total, q.ok),
            )
    return table


def render_response(
    response: FulfillResponse, *, serial: bool = False, console: Console | None = None
) -> None:
    console = console or Console()
    if not response.cards:
        console.print("[dim]No cards for this plan.[/dim]")
    for ctype, title in _TITLES.items():
        cards = [c for c in response.cards if c.type == ctype]
        if cards:
            console.rule(f"[bold]{title}[/bold] ({len(cards)})", align="left")
            for c in cards:
                console.print(_card(c))
    console.print(timing_table(response, serial=serial))
