"""A self-hosted SearXNG instance as a web backend (its JSON API).

`GET {url}/search?q=...&format=json` returns `results` (url, title, content, engine, score),
sometimes direct `answers` and `infoboxes`. SearXNG writes no prose answer of its own, so
`WebResult.answer` is a direct answer or infobox text when there is one, else empty, and the
sources carry the result snippets. The instance must allow the `json` format
(`search.formats` in its settings.yml), otherwise it answers 403.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadAnswer, HttpError
from ..limits import AdaptiveLimiter
from .base import Availability, WebResult, WebSource
from .http import HttpClient

MAX_SOURCES = 6


class SearxngBackend:
    name = "searxng"

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float = 30.0,
        start_concurrent: int | None = None,
        max_concurrent: int = 10,
        language: str = "en",
    ) -> None:
        self.timeout = timeout
        self.language = language
        self.limiter = AdaptiveLimiter(self.name, max_concurrent, initial=start_concurrent)
        self.http = HttpClient(
            "searxng",
            base_url,
            timeout=timeout,
            max_connections=max_concurrent,
            headers={"Accept": "application/json"},
        )

    def availability(self) -> Availability:
        return Availability.yes(
            f"SearXNG at {self.http.where}, up to {self.limiter.limit} searches in flight now, "
            f"adaptive up to {self.limiter.capacity}"
        )

    async def search(self, query: str) -> WebResult:
        params = {"q": query, "format": "json", "language": self.language, "safesearch": "1"}
        try:
            data = await self.http.request_json("GET", "/search", params=params)
        except HttpError as exc:
            if exc.status == 403:
                raise HttpError(
                    403,
                    "searxng: HTTP 403: the instance refuses format=json "
                    "(add json to search.formats in its settings.yml)",
                ) from None
            raise
        return parse_results(query, data)

    async def aclose(self) -> None:
        await self.http.aclose()


def _answer_text(item: Any) -> str:
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):  # newer SearXNG: {"answer": ..., "url": ...}
        val = item.get("answer") or item.get("content")
        return val.strip() if isinstance(val, str) else ""
    return ""


def parse_results(query: str, data: Any) -> WebResult:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise BadAnswer("searxng: answer has no results list")
    sources: list[WebSource] = []
    seen: set[str] = set()
    for item in data["results"]:
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        title = item.get("title") if isinstance(item.get("title"), str) else None
        content = item.get("content") if isinstance(item.get("content"), str) else None
        sources.append(WebSource(url=url, title=title or None, snippet=content or None))
        if len(sources) >= MAX_SOURCES:
            break
    answer = next((t for t in map(_answer_text, data.get("answers") or []) if t), "")
    if not answer:
        for box in data.get("infoboxes") or []:
            if isinstance(box, dict) and isinstance(box.get("content"), str) and box["content"]:
                answer = box["content"].strip()
                break
    return WebResult(query=query, answer=answer, sources=sources)
