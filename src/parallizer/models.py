"""Wire models: the request, the cards and the timing report of SPEC.md."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    StrictInt,
    field_validator,
    model_serializer,
    model_validator,
)


class CardType(StrEnum):
    question = "question"
    context = "context"
    completion = "completion"


Severity = Literal["error", "warning", "info"]
Position = tuple[int, int]
"""[line, column], 0-based; the column counts UTF-16 code units (as LSP and Monaco do)."""


class Finding(BaseModel):
    """One thing the plan gets wrong or leaves open, about one name, path or phrase: the unit
    every client shares. A question card lists its findings; the Language Server publishes
    each as a diagnostic, `check` as a SARIF result or an annotation."""

    name: str = Field(description="the name, path or phrase as the plan writes it")
    kind: str = Field(
        description="wrong_name, wrong_owner, arity, missing_path, missing, ambiguous, "
        "undeclared (a package the project does not have), or an "
        "open decision (todo, question, either_or, and_or, maybe, etc, vague)"
    )
    range: tuple[Position, Position] = Field(description="where it stands in the plan")
    severity: Severity
    fix: str | None = Field(default=None, description="what to write instead, if known")
    confidence: float = Field(ge=0.0, le=1.0, description="how sure the claim is")
    message: str = Field(description="the question, in one line")
    citations: list[str] = Field(
        default_factory=list, description="the evidence: plan and code `path:line`"
    )
    ranges: list[tuple[Position, Position]] = Field(
        default_factory=list, description="every place the plan writes it (range is one)"
    )

    @model_serializer(mode="wrap")
    def _fix_always(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`fix` is on the wire as null when there is none (SPEC), even in a dump that
        leaves other None fields out."""
        data: dict[str, Any] = handler(self)
        data.setdefault("fix", self.fix)
        return data


def severity_of(confidence: float) -> Severity:
    """error: a mistake the code settles; warning: likely, or the plan's own open decision;
    info: worth a look, not a question (listed on request)."""
    if confidence >= 0.8:
        return "error"
    if confidence >= 0.6:
        return "warning"
    return "info"


SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


class CardMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = Field(description="the fulfiller that made the card")
    citations: list[str] = Field(
        default_factory=list,
        description="what the card rests on: `path:line` relative to scope_root, or URLs",
    )
    id: str = Field(
        default="",
        description="stable for the same finding or result: a card sent again with the same id "
        "(improved) replaces the earlier one",
    )
    findings: list[Finding] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="question cards: one entry per name, path or phrase",
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
        key: str | None = None,
        findings: list[Finding] | None = None,
        **extra: Any,
    ) -> Card:
        """`key`: what makes this card the same card when it is made again (a finding's kind
        and name, a searched term, a source URL); its header and text when not given."""
        key = key if key is not None else f"{header}\x00{text}"
        ident = hashlib.sha1(f"{source}\x00{type}\x00{key}".encode()).hexdigest()[:16]
        return cls(
            header=header,
            text=text,
            type=type,
            metadata=CardMetadata(
                source=source, citations=citations or [], id=ident, findings=findings, **extra
            ),
        )

    def marked(self, *, new: bool) -> FeedCard:
        """This card as an answer lists it: `new` when the answering request made it."""
        return FeedCard(header=self.header, text=self.text, type=self.type,
                        metadata=self.metadata, new=new)  # fmt: skip


class FeedCard(Card):
    """A card in a fulfill answer (the user's feed): `new` marks this request's own cards.
    Clients that know only header/text/type/metadata ignore it."""

    new: bool = Field(description="made by this request (the rest were in the feed before)")


class GlobalContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    scope_root: str | None = Field(default=None, max_length=4096)
    plan_path: str | None = Field(default=None, max_length=4096)

    @field_validator("scope_root", "plan_path")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        """Absent or null means none; an empty string is a mistake, not "none"."""
        if v is not None and not v.strip():
            raise ValueError("must be an absolute path, or null/absent for none (not empty)")
        return v


#: C0 and C1 control characters and DEL: never part of a user id (they would reach logs raw)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(v: str) -> str:
    """A lone UTF-16 surrogate (an editor cutting an emoji in half) is not text."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"not valid Unicode text: a lone surrogate at character {exc.start}"
        ) from None
    return v


def code_points(line: str, utf16_column: int) -> int:
    """The code-point column of a UTF-16 column on `line` (Monaco and LSP count UTF-16 code
    units: an emoji is two). Past the end of the line is the end; inside a surrogate pair
    is after the character."""
    units = 0
    for i, ch in enumerate(line):
        if units >= utf16_column:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def utf16_column(line: str, column: int) -> int:
    """The UTF-16 column of a code-point column on `line` (the inverse of `code_points`)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in line[:column])


class FulfillRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(
        min_length=1, max_length=256, description="any text without control characters"
    )
    document_text: str
    cursor_position: tuple[StrictInt, StrictInt] = Field(
        description="[line, column], 0-based integers; the column counts UTF-16 code units as "
        "editors (Monaco, LSP) send it; a line or column past the end is clamped to it"
    )
    global_context: GlobalContext = Field(default_factory=GlobalContext)
    fulfillers: list[str] | None = Field(default=None, max_length=32)
    _cursor: tuple[int, int] = PrivateAttr(default=(0, 0))

    @field_validator("document_text")
    @classmethod
    def _encodable(cls, v: str) -> str:
        return _text(v)

    @field_validator("user_id")
    @classmethod
    def _printable(cls, v: str) -> str:
        _text(v)
        if m := _CONTROL.search(v):
            raise ValueError(
                f"user_id must not contain control characters (U+{ord(m.group()):04X} at {m.start()})"
            )
        return v

    @field_validator("fulfillers")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        for name in v:
            _text(name)
            if not 0 < len(name) <= 64 or _CONTROL.search(name):
                raise ValueError("a fulfiller name is 1 to 64 printable characters")
        return v

    @field_validator("cursor_position")
    @classmethod
    def _non_negative(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 0 or v[1] < 0:
            raise ValueError("cursor_position must be non-negative [line, column]")
        return v

    @model_validator(mode="after")
    def _cursor_in_code_points(self) -> FulfillRequest:
        line, col = self.cursor_position
        lines = self.document_text.split("\n")
        line = min(line, len(lines) - 1)
        self._cursor = (line, code_points(lines[line], col))
        return self

    @property
    def cursor(self) -> tuple[int, int]:
        """The cursor in code points, inside the document (clamped), 0-based."""
        return self._cursor


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
    cards: list[SerializeAsAny[Card]] = Field(
        default_factory=list,
        description="the user's feed after this request's cards were merged; each card of "
        "this request has `new: true`, the others `new: false`",
    )
    processing: bool = False
    timings: Timings | None = None

    def to_wire(self) -> dict[str, Any]:
        """The exact JSON body of `POST /fulfill` (also what `fulfill --json` prints)."""
        return self.model_dump(mode="json", exclude_none=True)
