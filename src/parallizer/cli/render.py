"""Rich output of a fulfill response: cards grouped by type, then the timing table."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.rule import Rule
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


def _bar(start: float, ms: float, total: float, ok: bool, width: int = _BAR) -> Text:
    """A one-line Gantt bar: where in the request this ran, so overlap is visible."""
    total = max(total, 1e-6)
    a = min(width - 1, int(start / total * width))
    b = max(a + 1, min(width, round((start + ms) / total * width)))
    t = Text(" " * a, style="dim")
    t.append("█" * (b - a), style="green" if ok else "red")
    t.append(" " * (width - b))
    return t


def timing_table(response: FulfillResponse, *, serial: bool = False, width: int = 120) -> Table:
    """One row per fulfiller and per query. The timeline (a Gantt bar per row) shows what ran
    at the same time; on a narrow terminal it shrinks, then goes, before labels wrap."""
    timings = response.timings
    total = timings.total_ms if timings else 0.0
    # fixed widths so rich neither wraps nor crops: borders+padding take 3 per column + 1
    label_w, backend_w, num_w = (28 if width >= 100 else 22), 10, 7
    rest = width - (3 * 5 + 1) - label_w - backend_w - 2 * num_w
    bar = min(_BAR, rest - 30 - 3) if rest - 30 - 3 >= 10 else 0
    result_w = max(12, rest - (bar + 3 if bar else 0))
    table = Table(
        title=f"Timings — {total:.0f} ms total ({'serial' if serial else 'parallel'})",
        title_justify="left",
        expand=False,
    )
    table.add_column("fulfiller / query", no_wrap=True, overflow="ellipsis", width=label_w)
    table.add_column("backend", no_wrap=True, overflow="ellipsis", width=backend_w)
    table.add_column("start", justify="right", no_wrap=True, width=num_w)
    table.add_column("ms", justify="right", no_wrap=True, width=num_w)
    table.add_column("result", no_wrap=True, overflow="ellipsis", width=result_w)
    if bar:
        table.add_column("timeline", no_wrap=True, width=bar)
    if not timings:
        return table

    def row(
        label: Text | str, backend: str, start: float, ms: float, result: Text, ok: bool
    ) -> None:
        cells: list = [label, backend, f"{start:.1f}", f"{ms:.1f}", result]
        if bar:
            cells.append(_bar(start, ms, total, ok, bar))
        table.add_row(*cells)

    for name, ft in timings.fulfillers.items():
        if ft.skipped:
            status = f"skipped: {ft.skipped}"
        elif ft.ok:
            status = f"ok, {ft.cards} cards" + (f" ({ft.mode})" if ft.mode else "")
        else:
            status = f"FAILED: {ft.error}"
        row(
            Text(name, style="bold"),
            "",
            ft.start_ms,
            ft.ms,
            Text(status, style="bold" if ft.ok else "bold red"),
            ft.ok,
        )
        for q in ft.queries:
            if q.ok:
                res = "ok" if q.results is None else f"ok, {q.results} results"
            else:
                res = f"failed ({q.error_kind}): {q.error}"
            if q.shared:
                res += " (shared)"
            elif q.batched:
                res += " (one rg pass)"
            row(
                "  " + q.query,
                q.backend,
                q.start_ms,
                q.ms,
                Text(res, style="" if q.ok else "red"),
                q.ok,
            )
    return table


def cards_view(cards: list[Card]) -> Group:
    """The cards grouped by type (questions, context, completions), each group under a rule."""
    parts: list = []
    if not cards:
        parts.append(Text("No cards for this plan.", style="dim"))
    for ctype, title in _TITLES.items():
        group = [c for c in cards if c.type == ctype]
        if group:
            parts.append(Rule(f"[bold]{title}[/bold] ({len(group)})", align="left"))
            parts.extend(_card(c) for c in group)
    return Group(*parts)


def render_response(
    response: FulfillResponse, *, serial: bool = False, console: Console | None = None
) -> None:
    console = console or Console()
    console.print(cards_view(response.cards))
    console.print(timing_table(response, serial=serial, width=console.width))
