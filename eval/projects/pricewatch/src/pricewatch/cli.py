"""`pricewatch run suppliers.json skus.txt` — fetch, compare with the cache, report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from .cache import QuoteCache
from .models import SupplierList
from .report import diff, print_changes
from .supplier import SupplierClient, SupplierError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pricewatch")
    parser.add_argument("suppliers", type=Path, help="suppliers.json")
    parser.add_argument("skus", type=Path, help="one SKU per line")
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    parser.add_argument("--dry-run", action="store_true", help="do not update the cache")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(show_path=False)],
    )
    console = Console()
    suppliers = SupplierList.validate_json(args.suppliers.read_bytes())
    skus = [line.strip() for line in args.skus.read_text().splitlines() if line.strip()]
    cache = QuoteCache.from_url(args.redis_url)

    failed = 0
    for config in suppliers:
        try:
            with SupplierClient(config) as client:
                quotes = client.fetch_quotes(skus)
        except SupplierError as exc:
            console.print(f"[red]{exc}[/red]")
            failed += 1
            continue
        changes = diff(cache.last(config.name, skus), quotes)
        print_changes(console, changes)
        if not args.dry_run:
            cache.store(quotes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
