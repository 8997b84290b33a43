"""The process's Redis client for small shared counters and flags (SCIM rate limit, the
audit enqueue window), separate from Django's cache client, which is per thread.

redis-py clients are thread-safe and pool their connections, so one per URL per process
serves the request threads and the audit enqueue thread alike. Short timeouts: callers
treat an unreachable Redis as "let it through" and must not wait on it.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def shared_redis() -> redis.Redis | None:
    """The client for ``REDIS_URL``, or None when the deployment has no Redis."""
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None
