"""The latest request of each user across workers: a newer request anywhere stops the older.

Each worker announces the requests it begins (user, feed generation) on one Redis pub/sub
channel and listens to the others' announcements; hearing of a newer generation for a user
it is running a request for, it cancels that request (`on_newer`). Late results of a
superseded request never land anyway: the feed store refuses merges of a generation that is
not the user's latest. The listener reconnects by itself when Redis comes back; while Redis is
away announcements are dropped (the feed's generation check still keeps results right).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from contextlib import suppress

from .redis_client import RedisLink, RedisUnavailable

log = logging.getLogger("parallizer.redis")

RETRY_S = 0.5


class RequestRegistry:
    def __init__(self, link: RedisLink, on_newer: Callable[[str, int], None]) -> None:
        """`on_newer(user_id, generation)`: another worker began a request of that user."""
        self.link = link
        self.on_newer = on_newer
        self.worker = secrets.token_hex(6)
        self.channel = link.key("requests")
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set while subscribed (tests wait for it before announcing)."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="request-registry")

    async def announce(self, user_id: str, generation: int) -> None:
        msg = json.dumps({"w": self.worker, "u": user_id, "g": generation})
        try:
            await self.link.call(lambda r: r.publish(self.channel, msg))
        except RedisUnavailable as exc:
            log.warning("could not tell other workers of user %s's new request: %s", user_id, exc)

    async def _listen(self) -> None:
        while True:
            pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
            try:
                await self.link.call(lambda r: pubsub.subscribe(self.channel))  # noqa: B023
                self.ready.set()
                while True:
                    msg = await self.link.call(
                        lambda r: pubsub.get_message(timeout=1.0)  # noqa: B023
                    )
                    if msg is not None:
                        self._heard(msg.get("data"))
            except RedisUnavailable:
                self.ready.clear()
                await asyncio.sleep(RETRY_S)
            finally:
                with suppress(Exception):
                    await pubsub.aclose()

    def _heard(self, data: object) -> None:
        try:
            d = json.loads(data)  # type: ignore[arg-type]
            worker, user, gen = d["w"], d["u"], int(d["g"])
        except (TypeError, ValueError, KeyError):
            return
        if worker != self.worker:
            self.on_newer(user, gen)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
