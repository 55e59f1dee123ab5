"""The service tests run with a clean configuration: no PARALLIZER_* variable of the
machine (or of CI) leaks into them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("PARALLIZER_") or k in ("PERPLEXITY_API_KEY", "PROMETHEUS_MULTIPROC_DIR"):
            monkeypatch.delenv(k, raising=False)
