"""Small text helpers every layer uses: one way to cut a text short and to put it on a single line.

A cut is marked with one `…`, inside the limit: `clip("abcdef", 4) == "abc…"`.
"""

from __future__ import annotations

ELLIPSIS = "…"


def single_line(text: str) -> str:
    """Every run of whitespace (newlines too) as one space, none at the ends."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and `…` in that many."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def clip_around(text: str, focus: int, width: int, *, before: float = 1 / 3) -> str:
    """A window of `width` characters of `text` that shows position `focus` (with `before`
    of the window ahead of it), `…` at each end that was cut."""
    if len(text) <= width:
        return text
    start = max(0, min(focus - int(width * before), len(text) - width))
    end = start + width
    return (ELLIPSIS if start else "") + text[start:end] + (ELLIPSIS if end < len(text) else "")
