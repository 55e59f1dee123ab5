"""The per-user feed: read it, forget it."""

from __future__ import annotations

from fastapi import APIRouter

from ..runs import ServiceDep, UserId
from ..schemas import PARAM_RESPONSES, CachedFeed, FeedCleared

router = APIRouter(tags=["feed"])


@router.get(
    "/cached/{user_id}",
    response_model=CachedFeed,
    responses=PARAM_RESPONSES,
    summary="The user's feed",
)
async def cached(user_id: UserId, svc: ServiceDep) -> CachedFeed:
    """At most 3 cards per type, newest first, near duplicates dropped. An unknown (or
    expired) user has an empty feed and `last_updated: null`."""
    return await svc.feed(user_id)


@router.delete(
    "/user/{user_id}/feed",
    response_model=FeedCleared,
    responses=PARAM_RESPONSES,
    summary="Forget the user's feed and cancel their running request",
)
async def clear_feed(user_id: UserId, svc: ServiceDep) -> FeedCleared:
    cancelled = await svc.runs.cancel_user(user_id, "deleted")
    cleared = await svc.store.clear(user_id) or cancelled
    return FeedCleared(
        status="success" if cleared else "not_found",
        message=f"feed of user {user_id!r} cleared" if cleared else f"no feed for {user_id!r}",
        user_id=user_id,
        cleared=cleared,
        cancelled=cancelled,
    )
