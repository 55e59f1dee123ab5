"""Shared state of the service, behind one protocol per concern, in memory or in Redis.

* `feed_rules`: how a user's feed absorbs new cards (per-type cap, near duplicates), the
  one merge both feed stores apply;
* `redis_client`: connecting to `PARALLIZER_REDIS_URL`, and knowing whether Redis is there;
* `shared_cache`: web answers and single-flight across workers;
* `redis_limits`: per-backend limits across processes (a semaphore of expiring leases).

The feed stores themselves (in memory, in Redis) are the service's: `service/feed.py` and
`service/feed_redis.py`, both applying `feed_rules`.
"""
