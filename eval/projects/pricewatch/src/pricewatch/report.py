"""Terminal output."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .models import PriceChange, Quote


def diff(old: dict[str, Quote], new: Iterable[Quote]) -> list[PriceChange]:
    changes = []
    for q in new:
        before = old.get(q.sku)
        if before is None or before.unit_price != q.unit_price:
            changes.append(
                PriceChange(
                    sku=q.sku,
                    supplier=q.supplier,
                    old=before.unit_price if before else None,
                    new=q.unit_price,
                    currency=q.currency,
                )
            )
    return changes


def _percent_cell(change: PriceChange) -> Text:
    pct = change.percent
    if pct is None:
        return Text("new", style="cyan")
    style = "red" if pct > 0 else "green"
    return Text(f"{pct:+.1f}%", style=style)


def changes_table(changes: list[PriceChange], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("SKU", style="bold")
    table.add_column("Supplier")
    table.add_column("Old", justify="right")
    table.add_column("New", justify="right")
    table.add_column("Change", justify="right")
    for c in sorted(changes, key=lambda c: (c.supplier, c.sku)):
        table.add_row(
            c.sku,
            c.supplier,
            f"{c.old:.2f} {c.currency}" if c.old is not None else "-",
            f"{c.new:.2f} {c.currency}",
            _percent_cell(c),
        )
    return table


def print_changes(console: Console, changes: list[PriceChange]) -> None:
    if not changes:
        console.print("[dim]no price changes[/dim]")
        return
    console.print(changes_table(changes, title=f"{len(changes)} price changes"))
