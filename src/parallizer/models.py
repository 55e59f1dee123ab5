"""Wire models: the request, the cards and the timing report of SPEC.md."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class CardType(StrEnum):
    question = "question"
    context = "context"
    completion = "completion"


class CardMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = Field(description="the fulfiller that made the card")
    citations: list[str] = Field(
        default_factory=list,
        description="what the card rests on: `path:line` relative to scope_root, or URLs",
    )


class Card(BaseModel):
    header: str
    text: str
    type: CardType
    metadata: CardMetadata

    @classmethod
    def make(
        cls,
        *,
        type: CardType,
        header: str,
        text: str,
        source: str,
        citations: list[str] | None = None,
        **extra: Any,
    ) -> Card:
        return cls(
            header=header,
            text=text,
            type=type,
            metadata=CardMetadata(source=source, citations=citations or [], **extra),
        )


class GlobalContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    scope_root: str | None = Field(default=None, max_length=4096)
    plan_path: str | None = Field(default=None, max_length=4096)


class FulfillRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(min_length=1, max_length=256)
    document_text: str
    cursor_position: tuple[int, int] = Field(
        description="[line, column], 0-based; line and column must lie inside the document"
    )
    global_context: GlobalContext = Field(default_factory=GlobalContext)
    fulfillers: list[str] | None = Field(default=None, max_length=32)

    @field_validator("document_text", "user_id")
    @classmethod
    def _encodable(cls, v: str) -> str:
        """A lone UTF-16 surrogate (an editor cutting an emoji in half) is not text."""
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"not valid Unicode text: a lone surrogate at character {exc.start}"
            ) from None
        return v

    @model_validator(mode="after")
    def _cursor_inside_document(self) -> FulfillRequest:
        line, col = self.cursor_position
        if line < 0 or col < 0:
            raise ValueError("cursor_position must be non-negative [line, column]")
        lines = self.document_text.split("\n")
        if line >= len(lines):
            raise ValueError(
                f"cursor_position line {line} is past the end of the document ({len(lines)} lines)"
            )
        if col > len(lines[line]):
            raise ValueError(
                f"cursor_position column {col} is past the end of line {line} "
                f"({len(lines[line])} characters)"
            )
        return self


class QueryTiming(BaseModel):
    query: str
    backend: str
    start_ms: float = Field(description="start offset from the request's start")
    ms: float
    ok: bool
    error: str | None = None
    error_kind: str | None = None
    results: int | None = None
    queued_ms: float | None = Field(default=None, description="time spent waiting for a slot")
    shared: bool | None = Field(
        default=None, description="answered by an identical query already in flight or cached"
    )
    batched: bool | None = Field(
        default=None,
        description="ran in one pass shared with other queries (one rg for many patterns); "
        "ms is that pass's time",
    )


class FulfillerTiming(BaseModel):
    ms: float
    ok: bool
    start_ms: float = 0.0
    error: str | None = None
    mode: str | None = Field(default=None, description="offline or llm")
    skipped: str | None = Field(default=None, description="why the fulfiller did no work")
    cards: int = 0
    queries: list[QueryTiming] = Field(default_factory=list)


class Timings(BaseModel):
    total_ms: float
    fulfillers: dict[str, FulfillerTiming] = Field(default_factory=dict)


class FulfillResponse(BaseModel):
    cards: list[Card] = Field(default_factory=list)
    processing: bool = False
    timings: Timings | None = None

    def to_wire(self) -> dict[str, Any]:
        """The exact JSON body of `POST /fulfill` (also what `fulfill --json` prints)."""
        return self.model_dump(mode="json", exclude_none=True)
