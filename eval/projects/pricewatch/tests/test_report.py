from datetime import datetime, timezone
from decimal import Decimal

from pricewatch.models import Quote
from pricewatch.report import diff


def _q(sku: str, price: str) -> Quote:
    return Quote(
        sku=sku,
        supplier="acme",
        unitPrice=Decimal(price),
        quotedAt=datetime(2024, 5, 1, tzinfo=timezone.utc),
    )


def test_diff_reports_new_and_changed_prices_only():
    old = {"AB-1": _q("AB-1", "10.00"), "AB-2": _q("AB-2", "5.00")}
    changes = diff(old, [_q("AB-1", "11.00"), _q("AB-2", "5.00"), _q("AB-3", "1.00")])
    assert [(c.sku, c.old, c.new) for c in changes] == [
        ("AB-1", Decimal("10.00"), Decimal("11.00")),
        ("AB-3", None, Decimal("1.00")),
    ]
    assert changes[0].percent == Decimal("10")
