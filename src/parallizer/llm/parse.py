"""Tolerant reading of what a chat model wrote when it was asked for JSON.

Endpoints differ: some enforce `response_format`, some ignore it and wrap JSON in a Markdown
fence after a preamble, reasoning models prepend a `<think>` block, small models answer with a
numbered list. `parse_structured` accepts, in order: the whole answer as JSON, a fenced JSON
block, the first balanced JSON object or array inside the prose, then a numbered or bulleted
list (returned as a list of strings). Anything else is garbage: `BadAnswer`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import BadAnswer, EmptyAnswer

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)
_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•+])\s+(.+?)\s*$")
_DECODER = json.JSONDecoder()


def drop_reasoning(text: str) -> str:
    """Drop `<think>…</think>` blocks (and a dangling one whose opening tag was cut off);
    the rest is returned as is, leading space included."""
    if "</think>" not in text.lower():
        return text
    text = _THINK.sub("", text)
    if "</think>" in text.lower():
        text = text[text.lower().rfind("</think>") + len("</think>") :]
    return text.lstrip("\n")


def strip_reasoning(text: str) -> str:
    return drop_reasoning(text).strip()


def _embedded_json(text: str) -> Any:
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = _DECODER.raw_decode(text, i)
            except ValueError:
                continue
            if isinstance(value, dict | list) and value:
                return value
    return None


def list_items(text: str) -> list[str]:
    """The items of numbered (`1.`, `2)`) or bulleted (`-`, `*`, `•`) lines."""
    out = []
    for line in text.splitlines():
        m = _ITEM.match(line)
        if m:
            item = m.group(1).strip()
            item = re.sub(r"^\*\*(.+?)\*\*:?\s*", r"\1: ", item).rstrip(": ").strip()
            if len(item) >= 2 and item.strip('"').strip():
                out.append(item.strip('"'))
    return out


def parse_structured(text: str | None) -> Any:
    """A JSON value (dict or list) or a list of strings from a model's answer."""
    body = strip_reasoning(text or "")
    if not body:
        raise EmptyAnswer("the model returned an empty answer")
    try:
        return json.loads(body)
    except ValueError:
        pass
    for block in _FENCE.findall(body):
        try:
            return json.loads(block)
        except ValueError:
            continue
    value = _embedded_json(body)
    if value is not None:
        return value
    items = list_items(body)
    if items:
        return items
    snippet = " ".join(body.split())[:80]
    raise BadAnswer(f"the model's answer is neither JSON nor a list: {snippet!r}")


def items_of(value: Any, key: str) -> list[Any]:
    """The list a structured answer holds under `key` (or its only list, or itself)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get(key), list):
            return value[key]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        if value:  # a single item returned bare
            return [value]
    if isinstance(value, str) and value.strip():
        return [value]
    raise BadAnswer(f"the model's answer holds no list of {key}")
