"""Deterministic, plausible content derived from a prompt: the emulators' "model".

Nothing here is clever: it pulls the prompt's vocabulary (keywords, identifiers, `path:line`
citations, URLs) and fills templates, chosen by a stable hash of (seed, prompt), so the same
request always gets the same answer and different requests get different ones. For JSON
schemas it generates a value valid for the schema, filling string fields by their names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

STOPWORDS = frozenset(
    """a about above after again against all also an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having here how if in into is it its itself just like make many may
    more most must need no nor not now of off on once only or other our out over own same
    should so some such than that the their them then there these they this those through to
    too under until up use used using very via was way we were what when where which while who
    why will with would you your plan section write answer return json object list given
    following only each must based reply schema valid user text cursor words""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.-]*[A-Za-z0-9+#]|[A-Za-z]")
_IDENT = re.compile(
    r"`([^`\n]{2,60})`|\b([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+|[a-z][a-z0-9]*_[a-z0-9_]+)\b"
)
_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,8}:\d+)\b")
_URL = re.compile(r"https?://[^\s)\]>\"']+")


def stable(*parts: object) -> int:
    """A stable 64-bit hash (Python's `hash` is salted per process)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big")


def slug(text: str, n: int = 6) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:n]
    return "-".join(words) or "topic"


@dataclass
class Vocabulary:
    """What a prompt talks about, in order of first appearance."""

    text: str
    seed: int = 0
    focus: str | None = None
    """Where keywords come from, when only part of the text is the topic."""
    _cursor: dict[str, int] = field(default_factory=dict)

    @cached_property
    def keywords(self) -> list[str]:
        out: dict[str, None] = {}
        for w in _WORD.findall(_URL.sub(" ", self.focus or self.text)):
            lw = w.lower().strip(".-")
            if len(lw) >= 4 and lw not in STOPWORDS and not lw.isdigit():
                out.setdefault(lw, None)
        return list(out) or ["design", "approach", "tradeoffs"]

    @cached_property
    def identifiers(self) -> list[str]:
        out: dict[str, None] = {}
        for span, bare in _IDENT.findall(self.text):
            name = (span or bare).strip()
            if name and "/" not in name and " " not in name and not _CITATION.fullmatch(name):
                out.setdefault(name, None)
        return list(out)

    @cached_property
    def citations(self) -> list[str]:
        return list(dict.fromkeys(_CITATION.findall(self.text)))

    @cached_property
    def urls(self) -> list[str]:
        return list(dict.fromkeys(u.rstrip(".,;") for u in _URL.findall(self.text)))

    def pick(self, pool: str, items: list[str]) -> str:
        """Items of a pool in turn, starting at a seed-dependent place."""
        if not items:
            return ""
        k = self._cursor.get(pool, stable(self.seed, pool, self.text) % len(items))
        self._cursor[pool] = k + 1
        return items[k % len(items)]

    def phrase(self, n: int = 2) -> str:
        return " ".join(self.pick("kw", self.keywords) for _ in range(n))

    def sentence(self) -> str:
        a, b = self.pick("kw", self.keywords), self.pick("kw", self.keywords)
        templates = [
            f"Treat {a} as an explicit decision and measure how it interacts with {b}.",
            f"Most teams settle {a} early, because {b} depends on it.",
            f"Keep {a} separate from {b} so each can change on its own.",
            f"Write down the failure modes of {a} before relying on {b}.",
        ]
        return templates[stable(self.seed, a, b) % len(templates)]


# --- JSON schema → a valid value ------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        node: Any = root
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
        seen += 1
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            options = [o for o in schema[key] if isinstance(o, dict) and o.get("type") != "null"]
            return _resolve(options[0] if options else schema[key][0], root)
    return schema


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"] or ["null"]
    if isinstance(t, str):
        return [t]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["string"]


class SchemaFaker:
    """Generate a value valid for a JSON schema, its strings taken from the prompt."""

    def __init__(self, vocab: Vocabulary, max_items: int = 5) -> None:
        self.v = vocab
        self.max_items = max_items

    def value(self, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
        return self._gen(schema, root or schema, name="")

    def _gen(self, schema: dict[str, Any], root: dict[str, Any], name: str) -> Any:
        schema = _resolve(schema, root)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        kind = _types(schema)[0]
        if kind == "object":
            props = schema.get("properties") or {}
            return {k: self._gen(s, root, k) for k, s in props.items()}
        if kind == "array":
            return self._array(schema, root, name)
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return float(schema.get("minimum", 1.0))
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        text = self._string(name)
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        if hi is not None and len(text) > hi:
            text = text[:hi]
        if len(text) < lo:
            text = text + "x" * (lo - len(text))
        return text

    def _array(self, schema: dict[str, Any], root: dict[str, Any], name: str) -> list[Any]:
        item = schema.get("items") or {}
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", self.max_items))
        n = min(hi, self.max_items)
        key = name.lower()
        if "citation" in key:
            n = min(n, len(self.v.citations))
        elif "url" in key or "source" in key:
            n = min(n, len(self.v.urls))
        elif key.endswith("s"):
            n = min(n, 3)
        n = max(n, lo)
        singular = name[:-1] if name.endswith("s") else name
        out: list[Any] = []
        for _ in range(n):
            out.append(self._gen(item, root, singular))
        return out

    def _string(self, name: str) -> str:
        v, key = self.v, name.lower()
        if "url" in key or "source" in key or "link" in key:
            return v.pick("url", v.urls) or "https://example.org/"
        if "citation" in key or key in ("location", "path"):
            return v.pick("cite", v.citations)
        if "pattern" in key or key in ("identifier", "symbol", "name", "term"):
            return v.pick("ident", v.identifiers) or v.pick("kw", v.keywords)
        if "quer" in key:
            return f"{v.phrase(2)} best practices"
        if "question" in key:
            ident = v.pick("ident", v.identifiers) or v.pick("kw", v.keywords)
            cite = v.pick("cite", v.citations)
            where = f" ({cite})" if cite else ""
            return f"Which behaviour of `{ident}`{where} should the plan keep, and what changes?"
        if key in ("title", "header", "heading", "topic"):
            return v.phrase(3).title()
        if key in ("text", "body", "summary", "insight", "answer", "content", "card"):
            url = v.pick("url", v.urls)
            name = slug(urlsplit(url).path.rsplit("/", 1)[-1], 3) if url else ""
            link = f" See [{name}]({url})." if url else ""
            return v.sentence() + link
        if "complet" in key or "continuation" in key:
            return " " + v.phrase(3)
        if key in ("reason", "why", "rationale", "evidence"):
            return v.sentence()
        return v.phrase(2)


def flatten_strings(value: Any) -> list[str]:
    """The strings of the first list in a value (objects give their first string field)."""
    if isinstance(value, dict):
        for v in value.values():
            if isinstance(v, list):
                return flatten_strings(v)
        return [v for v in value.values() if isinstance(v, str)][:1]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                first = next((v for v in item.values() if isinstance(v, str) and v), None)
                if first:
                    out.append(first)
        return out
    return [str(value)]
