"""HTTP client for a supplier's quote API."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

import httpx
from pydantic import ValidationError

from .models import Quote, QuoteList, SupplierConfig

log = logging.getLogger(__name__)


class SupplierError(RuntimeError):
    """A supplier answered with something we cannot use."""


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SupplierClient:
    """Fetches quotes from one supplier. Use as a context manager."""

    def __init__(self, config: SupplierConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        key = os.environ.get(config.api_key_env, "")
        self._client = httpx.Client(
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=httpx.Timeout(config.timeout_s, connect=3.0),
            transport=transport or httpx.HTTPTransport(retries=2),
        )

    def __enter__(self) -> SupplierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch_quotes(self, skus: Iterable[str]) -> list[Quote]:
        quotes: list[Quote] = []
        for batch in _batches(sorted(set(skus)), self.config.max_batch):
            response = self._client.get("/v2/quotes", params={"sku": batch})
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                raise SupplierError(
                    f"{self.config.name}: HTTP {exc.response.status_code} for {len(batch)} SKUs"
                ) from exc
            try:
                quotes += QuoteList.validate_python(response.json()["quotes"])
            except (KeyError, ValueError, ValidationError) as exc:
                raise SupplierError(f"{self.config.name}: malformed quote payload") from exc
        log.info("%s: %d quotes for %d SKUs", self.config.name, len(quotes), len(set(skus)))
        return quotes
