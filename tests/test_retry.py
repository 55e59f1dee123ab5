"""The one backoff (`limits.Backoff`) of the loops that poll or try again on their own."""

from __future__ import annotations

from parallizer.limits import Backoff


def test_backoff_grows_to_its_cap():
    b = Backoff(0.1, 0.5)
    assert [round(b.next(), 3) for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_jittered_backoff_stays_around_each_step():
    b = Backoff(0.01, 0.2, factor=1.5, jitter=True)
    step = 0.01
    for _ in range(20):
        wait = b.next()
        assert 0.5 * step <= wait < 1.5 * step
        step = min(0.2, step * 1.5)
