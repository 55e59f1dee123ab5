"""Shared state of the service, behind one protocol per concern, in memory or in Redis.

* `redis_client`: connecting to `PARALLIZER_REDIS_URL`, and knowing whether Redis is there;
* `shared_cache`: web answers and single-flight across workers;
* `redis_limits`: per-backend limits across processes (a semaphore of expiring leases);
* `shared_backends`: a process's web backend and LLM limit, shared through those.

The feed stores themselves (in memory, in Redis) are the service's: `service/runs.py` (with
the one merge both apply) and `service/feed_redis.py`.
"""
