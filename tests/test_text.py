"""The one home of small text helpers: clipping and flattening."""

from __future__ import annotations

import pytest

from parallizer.text import clip, clip_around, single_line


@pytest.mark.parametrize(
    ("text", "limit", "out"),
    [
        ("abcdef", 6, "abcdef"),  # fits: unchanged
        ("abcdef", 4, "abc…"),  # the mark counts within the limit
        ("ab   cdef", 4, "ab…"),  # no space left before the mark
        ("abcdef", 1, "…"),
        ("", 3, ""),
    ],
)
def test_clip(text, limit, out):
    assert clip(text, limit) == out
    assert len(clip(text, limit)) <= limit


def test_single_line():
    assert single_line("  a\n\tb   c \r\n") == "a b c"


def test_clip_around_shows_the_focus_and_marks_each_cut_end():
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    out = clip_around(text, 50, 30)
    assert out == "…" + text[40:70] + "…"  # a third of the window before the focus
    assert clip_around(text, 50, 30, before=2 / 3) == "…" + text[30:60] + "…"
    assert clip_around(text, 0, 30) == text[:30] + "…"  # nothing cut before
    assert clip_around(text, 99, 30) == "…" + text[70:]  # nor after: no mark at the end
    assert clip_around("short", 2, 30) == "short"
