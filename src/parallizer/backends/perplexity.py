"""Perplexity (Sonar) web search over its chat-completions API, with aiohttp.

`POST {base}/chat/completions` with the query as the user message; the answer comes back as
`choices[0].message.content`, its sources as `citations` (URLs, which the answer's `[n]`
markers refer to, 1-based) and `search_results` (title, url, date, snippet). The key goes in
the `Authorization` header and nowhere else.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadAnswer
from ..limits import AdaptiveLimiter
from .base import Availability, WebResult, WebSource
from .http import HttpClient

SYSTEM_PROMPT = (
    "You are a research assistant for a software engineer writing a technical plan. "
    "Answer concisely and factually in at most four sentences, citing your sources."
)


class PerplexityBackend:
    name = "perplexity"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.perplexity.ai",
        model: str = "sonar",
        timeout: float = 30.0,
        start_concurrent: int | None = None,
        max_concurrent: int = 10,
        max_tokens: int = 512,
        temperature: float = 0.2,
    ) -> None:
        if not api_key:
            raise ValueError("a Perplexity API key is required")
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        # a hosted API with per-key rate limits: it answers 429 at once (a network round
        # trip after the call left), it does not queue
        self.limiter = AdaptiveLimiter(
            self.name,
            max_concurrent,
            initial=start_concurrent,
            refuses=True,
            round_trip=lambda: self.http.round_trip,
        )
        self.http = HttpClient(
            "perplexity",
            base_url,
            timeout=timeout,
            max_connections=max_concurrent,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
            },
            secrets=(api_key,),
            key_setting="PERPLEXITY_API_KEY",
        )

    def availability(self) -> Availability:
        return Availability.yes(
            f"Perplexity at {self.http.where}, model {self.model}, "
            f"up to {self.limiter.limit} searches in flight now, adaptive up to "
            f"{self.limiter.capacity} (API key set)"
        )

    async def search(self, query: str) -> WebResult:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": query},
            ],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        data = await self.http.request_json("POST", "/chat/completions", json_body=body)
        return parse_answer(query, data)

    async def aclose(self) -> None:
        await self.http.aclose()


def parse_answer(query: str, data: Any) -> WebResult:
    """A Perplexity chat completion as a `WebResult`; `malformed` when it is not one."""
    if not isinstance(data, dict):
        raise BadAnswer("perplexity: answer is JSON but not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BadAnswer("perplexity: answer has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise BadAnswer("perplexity: answer has no message content")

    sources: list[WebSource] = []
    seen: dict[str, int] = {}
    for url in data.get("citations") or []:
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in seen:
            seen[url] = len(sources)
            sources.append(WebSource(url=url))
    for item in data.get("search_results") or []:
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            continue
        title = item.get("title") if isinstance(item.get("title"), str) else None
        snippet = item.get("snippet") if isinstance(item.get("snippet"), str) else None
        if url in seen:  # enrich the citation of the same URL (keeps citation order for [n])
            src = sources[seen[url]]
            sources[seen[url]] = src.model_copy(
                update={"title": src.title or title, "snippet": src.snippet or snippet}
            )
        else:
            seen[url] = len(sources)
            sources.append(WebSource(url=url, title=title, snippet=snippet))
    return WebResult(query=query, answer=content.strip(), sources=sources)
