"""Response bodies of the HTTP API that are not already wire models of the core."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..backends.base import Availability
from ..models import Card, Finding, Timings


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, in a sentence")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='where: e.g. ["body", "cursor_position"]')
    msg: str
    type: str


class InvalidBody(BaseModel):
    detail: list[FieldError] | str = Field(
        description="the fields that are wrong (malformed JSON, wrong types, cursor outside the "
        "document), or a sentence (unknown fulfiller, scope_root not a directory)"
    )


class CachedFeed(BaseModel):
    cards: list[Card] = Field(default_factory=list)
    last_updated: float | None = Field(
        default=None, description="epoch seconds the feed last changed; null if never"
    )
    processing: bool = Field(default=False, description="a request of this user is running")


class ReviewResponse(BaseModel):
    findings: list[Finding] = Field(
        description="every finding of the plan, best first: `error` and `warning`, and the "
        "low-confidence `info` ones too with `?all=true`"
    )
    timings: Timings


class FeedCleared(BaseModel):
    status: Literal["success", "not_found"] = Field(
        description="success: the user had cards or a running request; not_found otherwise"
    )
    message: str
    user_id: str
    cleared: bool = Field(description="the user had cards or a running request")
    cancelled: bool = Field(description="a running request of the user was cancelled")


SERVICE_NAME = "Parallizer Backend"


class Root(BaseModel):
    service: str = SERVICE_NAME
    status: Literal["running"] = "running"
    version: str
    fulfillers: int = Field(description="how many fulfillers this server has")
    active_users: int = Field(description="users with a feed held now")


class FulfillerHealth(BaseModel):
    name: str
    available: bool
    reason: str = ""


class RedisHealth(BaseModel):
    url: str = Field(description="PARALLIZER_REDIS_URL without its password")
    available: bool
    reason: str
    since: float = Field(description="when it last changed state (epoch seconds)")


class DependencyHealth(BaseModel):
    scope: str = Field(description="the scope's directory name")
    ecosystem: str = Field(description="python, npm, go, cargo or maven")
    reason: str = Field(description="why its installed dependencies cannot be read")


class IndexScopeHealth(BaseModel):
    scope: str = Field(description="the scope's directory name")
    origin: Literal["loaded", "built", ""] = Field(
        description="loaded from the persisted index, or built (parsed) by this process"
    )
    files: int
    definitions: int


class IndexHealth(BaseModel):
    dir: str | None = Field(
        default=None,
        description="where code indexes persist (PARALLIZER_INDEX_DIR); null: memory only",
    )
    scopes: list[IndexScopeHealth] = Field(default_factory=list)


class Health(BaseModel):
    service: str = SERVICE_NAME
    status: Literal["healthy", "degraded"] = Field(
        default="healthy",
        description="healthy while the service answers; degraded while Redis is unavailable",
    )
    version: str
    fulfillers: list[FulfillerHealth]
    backends: dict[str, Availability]
    active_users: int
    redis: RedisHealth | None = Field(
        default=None, description="the shared state, when PARALLIZER_REDIS_URL is set"
    )
    dependencies: list[DependencyHealth] = Field(
        default_factory=list,
        description="each scope seen whose installed dependencies cannot be read (no "
        "virtualenv, no node_modules, ...), once: its plans get their own-code questions only",
    )
    index: IndexHealth = Field(
        default_factory=IndexHealth,
        description="the code index: where it persists, each scope held and how it was made",
    )


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
}
PARAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    422: {"model": InvalidBody, "description": "malformed parameter"},
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    403: {"model": ErrorBody, "description": "scope_root or plan_path outside the allowed roots"},
    413: {"model": ErrorBody, "description": "body or document over the size limit"},
    422: {"model": InvalidBody, "description": "malformed body, cursor or parameter"},
}


def as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """`responses` documented as application/json on a route whose own answer is another
    media type (the event stream): FastAPI would file a `model` under the route's type.
    The models are referenced by name: other routes register them."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, spec in responses.items():
        ref = {"$ref": f"#/components/schemas/{spec['model'].__name__}"}
        out[status] = {
            "description": spec["description"],
            "content": {"application/json": {"schema": ref}},
        }
    return out
