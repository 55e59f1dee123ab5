"""Errors are classes; the `kind` the timings and metrics carry is derived from the class."""

from __future__ import annotations

import pytest

from parallizer.errors import (
    BackendError,
    BadAnswer,
    HttpError,
    Overloaded,
    RateLimited,
    Timeout,
    http_error,
)
from parallizer.limits import DEFAULT_POLICY


@pytest.mark.parametrize(
    ("status", "cls", "kind", "retry_after"),
    [
        (429, RateLimited, "rate_limited", 3.0),
        (503, Overloaded, "http_503", 3.0),
        (500, HttpError, "http_500", None),
        (401, HttpError, "http_401", None),
    ],
)
def test_an_http_status_becomes_its_class_and_kind(status, cls, kind, retry_after):
    err = http_error(status, "x: HTTP error", retry_after=3.0)
    assert type(err) is cls and err.kind == kind and err.status == status
    assert err.retry_after == retry_after  # only an overloaded provider's wait is kept


def test_only_an_overloaded_provider_is_retried():
    assert DEFAULT_POLICY.should_retry(RateLimited("slow down"), 1, None)
    assert DEFAULT_POLICY.should_retry(http_error(503, "busy"), 1, None)
    for err in (http_error(500, "no"), Timeout("late"), BadAnswer("garbage")):
        assert not DEFAULT_POLICY.should_retry(err, 1, None)


def test_a_reworded_error_keeps_its_class_and_wait():
    err = RateLimited("slow down", retry_after=2.0).reworded("llm: slow down")
    assert isinstance(err, RateLimited) and isinstance(err, BackendError)
    assert (err.kind, err.retry_after, str(err)) == ("rate_limited", 2.0, "llm: slow down")
