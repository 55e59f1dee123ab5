"""An OpenAI-compatible chat endpoint (K2 Think, OpenAI, OpenRouter, vLLM, Ollama, llama.cpp)
through the `openai` SDK's `AsyncOpenAI`.

* Its own process-wide `AdaptiveLimiter` (ceiling `PARALLIZER_LLM_MAX_CONCURRENT`, start
  `PARALLIZER_LLM_START_CONCURRENT`), timeout from `PARALLIZER_TIMEOUT`, SDK retries off: the
  fan-out owns time budgets, failures and the one retry policy (429/503 within the deadline).
* `complete_json` asks for structured output (`response_format` with a JSON schema). When the
  endpoint rejects that (HTTP 400/422), the client remembers it for the process and asks
  again with the schema written into the prompt; whatever comes back is read tolerantly
  (`parse.parse_structured`). A refusal, an empty answer or garbage is a `BackendError`, so
  the caller's outcome fails and its fulfiller falls back to the offline path.
* Every SDK failure becomes a `BackendError` with a kind and a message that never holds the
  API key (some servers echo the key they rejected).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from ..backends.base import Availability
from ..backends.wire import api_error_message, host_of, retry_after_seconds
from ..errors import BackendError, redact
from ..fanout import Call
from ..limits import AdaptiveLimiter, ConcurrencyLimit
from .parse import drop_reasoning, parse_structured, strip_reasoning

if TYPE_CHECKING:  # the SDK takes ~0.4 s to import: only when an LLM is configured
    import openai

log = logging.getLogger("parallizer.llm")
T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
NO_KEY = "not-needed"  # local servers (Ollama, llama.cpp) take any key; the SDK wants one


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model or "default"
        self.timeout = timeout
        self.temperature = temperature
        self.limiter: ConcurrencyLimit = AdaptiveLimiter(
            self.name, max_concurrent, initial=start_concurrent
        )
        self._api_key = api_key or None
        # built now, at startup: importing the SDK (~0.4 s) and its TLS setup (~60 ms) are
        # blocking work that must not land on a request's event loop
        self._client: openai.AsyncOpenAI | None = None
        self._sdk()
        self.structured: bool | None = None
        """Whether the endpoint accepts `response_format` json_schema (None: not known yet)."""

    @property
    def where(self) -> str:
        return host_of(self.base_url)

    def availability(self) -> Availability:
        key = "API key set" if self._api_key else "no API key"
        fmt = {None: "", True: ", structured output", False: ", no structured output"}[
            self.structured
        ]
        return Availability.yes(f"LLM at {self.where}, model {self.model} ({key}{fmt})")

    def _sdk(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self._api_key or NO_KEY,
                base_url=self.base_url,
                # per read/write; the fan-out's Call.timeout bounds the whole call
                timeout=openai.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout)),
                max_retries=0,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

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
        import openai

        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        try:
            completion = await self._sdk().chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=self.temperature if temperature is None else temperature,
                **extra,
            )
        except openai.APIError as exc:
            raise self._error(exc) from None
        except ValueError as exc:  # the SDK could not decode the body (cut-off JSON, HTML)
            raise BackendError(
                "malformed", f"llm: answer is not valid JSON ({type(exc).__name__})"
            ) from None
        if not getattr(completion, "choices", None):
            raise BackendError("malformed", "llm: answer has no choices")
        message = completion.choices[0].message
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise BackendError("refused", f"llm: the model refused: {self._safe(refusal)[:160]}")
        content = message.content
        if not isinstance(content, str) or not strip_reasoning(content):
            raise BackendError("empty", "llm: the model returned an empty answer")
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
            except BackendError as exc:
                if exc.kind not in ("http_400", "http_422"):
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

    # --- errors ---------------------------------------------------------------------------

    def _safe(self, text: str) -> str:
        return redact(text, [self._api_key] if self._api_key else [])

    def _error(self, exc: openai.APIError) -> BackendError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return BackendError("timeout", f"llm: no answer within {self.timeout:g}s")
        if isinstance(exc, openai.APIConnectionError):
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "error"
            if "Connect" in cause:
                return BackendError("connection", f"llm: cannot connect to {self.where} ({cause})")
            return BackendError(
                "connection", f"llm: connection to {self.where} broke without an answer ({cause})"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            msg = api_error_message(exc.body) or api_error_message({"error": exc.body}) or ""
            msg = self._safe(" ".join((msg or exc.message or "").split()))[:200]
            if status == 429:
                ra = retry_after_seconds(exc.response.headers.get("retry-after"))
                wait = f"; retry after {ra:g}s" if ra is not None else ""
                return BackendError(
                    "rate_limited", f"llm: HTTP 429 rate limited: {msg}{wait}", retry_after=ra
                )
            hint = " (check PARALLIZER_LLM_API_KEY)" if status in (401, 403) else ""
            return BackendError(f"http_{status}", f"llm: HTTP {status}: {msg}{hint}")
        # the body was not the JSON the SDK expected
        return BackendError("malformed", f"llm: unreadable answer ({type(exc).__name__})")


def _parse(content: str) -> Any:
    try:
        return parse_structured(content)
    except BackendError as exc:
        raise BackendError(exc.kind, f"llm: {exc.message}") from None


def _size(value: Any) -> int | None:
    if isinstance(value, str):
        return None  # a completion is one answer, not a count of results
    try:
        return len(value)
    except TypeError:
        return None
