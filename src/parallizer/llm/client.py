"""An OpenAI-compatible chat endpoint (K2 Think, OpenAI, OpenRouter, vLLM, Ollama, llama.cpp)
spoken over the shared aiohttp `HttpClient`: `POST {base}/chat/completions`, the answer in
`choices[0].message`.

* Its own process-wide `AdaptiveLimiter` (ceiling `PARALLIZER_LLM_MAX_CONCURRENT`, start
  `PARALLIZER_LLM_START_CONCURRENT`), timeout from `PARALLIZER_TIMEOUT`, no retries of its
  own: the fan-out owns time budgets, failures and the one retry policy (429/503 within the
  deadline).
* Not the `openai` SDK: for the one call we make it spent 4-6 ms of event-loop CPU per call
  against 0.5 ms here (measured at 10-200 calls in flight), which under 50 concurrent
  requests was a third of the server's loop; and every HTTP failure now maps to the same
  `BackendError` kinds and messages as the web backends.
* `complete_json` asks for structured output (`response_format` with a JSON schema). When the
  endpoint rejects that (HTTP 400/422), the client remembers it for the process and asks
  again with the schema written into the prompt; whatever comes back is read tolerantly
  (`parse.parse_structured`). A refusal, an empty answer or garbage is a `BackendError`, so
  the caller's outcome fails and its fulfiller falls back to the offline path.
* Messages never hold the API key (some servers echo the key they rejected).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar

from ..backends.base import Availability
from ..backends.http import HttpClient
from ..errors import BackendError, BadAnswer, EmptyAnswer, HttpError, Refused
from ..fanout import Call
from ..limits import AdaptiveLimiter, ConcurrencyLimit
from .parse import drop_reasoning, parse_structured, strip_reasoning

log = logging.getLogger("parallizer.llm")
T = TypeVar("T")


class LLM(Protocol):
    """What fulfillers and planners ask of an LLM: availability, a fan-out call on its limit,
    and answers as JSON or text."""

    name: str

    def availability(self) -> Availability: ...

    def call(
        self, label: str, run: Callable[[], Awaitable[T]], *, key: Hashable | None = None
    ) -> Call[T]: ...

    async def complete_json(
        self,
        *,
        system: str,
        user: str,
        schema: dict[str, Any],
        name: str,
        max_tokens: int = ...,
    ) -> Any: ...

    async def complete_text(self, *, system: str, user: str, max_tokens: int = ...) -> str: ...


class LLMClient:
    name = "llm"

    def __init__(
        self,
        *,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        start_concurrent: int | None = None,
        max_concurrent: int = 8,
        temperature: float = 0.2,
        limiter: ConcurrencyLimit | None = None,
    ) -> None:
        """`limiter`: the limit its calls share (default: an adaptive one of this process
        from `start_concurrent` up to `max_concurrent`; several workers pass a shared one)."""
        self.model = model or "default"
        self.timeout = timeout
        self.temperature = temperature
        self.limiter: ConcurrencyLimit = limiter or AdaptiveLimiter(
            self.name, max_concurrent, initial=start_concurrent
        )
        self._api_key = api_key or None
        headers = {"Accept": "application/json"}
        if self._api_key:  # local servers (Ollama, llama.cpp) want none
            headers["Authorization"] = f"Bearer {self._api_key}"
        self.http = HttpClient(
            "llm",
            base_url,
            timeout=timeout,
            max_connections=max_concurrent,
            headers=headers,
            secrets=(self._api_key or "",),
            key_setting="PARALLIZER_LLM_API_KEY",
        )
        self.structured: bool | None = None
        """Whether the endpoint accepts `response_format` json_schema (None: not known yet)."""

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def where(self) -> str:
        return self.http.where

    def availability(self) -> Availability:
        key = "API key set" if self._api_key else "no API key"
        fmt = {None: "", True: ", structured output", False: ", no structured output"}[
            self.structured
        ]
        return Availability.yes(f"LLM at {self.where}, model {self.model} ({key}{fmt})")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def call(
        self, label: str, run: Callable[[], Awaitable[T]], *, key: Hashable | None = None
    ) -> Call[T]:
        """A fan-out call on this client's limiter, for `ctx.run([...])` (backend `llm`)."""
        return Call(
            label=label,
            backend=self.name,
            run=run,
            limiter=self.limiter,
            timeout=self.timeout,
            key=("llm", key) if key is not None else None,
            size=_size,
        )

    # --- requests -------------------------------------------------------------------------

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 800,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        """The assistant's text for `messages`; BackendError on any failure, refusal or empty."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
        }
        if response_format is not None:
            body["response_format"] = response_format
        data = await self.http.request_json("POST", "/chat/completions", json_body=body)
        return self._content(data)

    def _content(self, data: Any) -> str:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BadAnswer("llm: answer has no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise BadAnswer("llm: answer has no message")
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal.strip():
            refusal = self.http.safe(" ".join(refusal.split()))
            raise Refused(f"llm: the model refused: {refusal[:160]}")
        content = message.get("content")
        if not isinstance(content, str) or not strip_reasoning(content):
            raise EmptyAnswer("llm: the model returned an empty answer")
        return content

    async def complete_json(
        self,
        *,
        system: str,
        user: str,
        schema: dict[str, Any],
        name: str,
        max_tokens: int = 800,
    ) -> Any:
        """A JSON value (or a list of strings read from a list) answering `user`."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if self.structured is not False:
            fmt = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
            try:
                content = await self.chat(messages, max_tokens=max_tokens, response_format=fmt)
            except HttpError as exc:
                if exc.status not in (400, 422):
                    raise
                self.structured = False
                log.info(
                    "llm at %s rejected structured output (%s); asking with the schema in the prompt",
                    self.where,
                    exc.message,
                )
            else:
                self.structured = True
                return _parse(content)
        hint = (
            f"{system}\n\nReply with only a JSON object valid for this JSON Schema, "
            f"no prose:\n```json\n{json.dumps(schema)}\n```"
        )
        content = await self.chat(
            [{"role": "system", "content": hint}, {"role": "user", "content": user}],
            max_tokens=max_tokens,
        )
        return _parse(content)

    async def complete_text(self, *, system: str, user: str, max_tokens: int = 60) -> str:
        content = await self.chat(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=max_tokens,
        )
        return drop_reasoning(content)


def _parse(content: str) -> Any:
    try:
        return parse_structured(content)
    except BackendError as exc:
        raise exc.reworded(f"llm: {exc.message}") from None


def _size(value: Any) -> int | None:
    if isinstance(value, str):
        return None  # a completion is one answer, not a count of results
    try:
        return len(value)
    except TypeError:
        return None
