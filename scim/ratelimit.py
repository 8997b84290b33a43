"""Per-token request budget (domain.md O14): a fixed one-minute window. Over budget → 429
with Retry-After, which Okta honours by slowing down. The default is far above what IdPs
send (Entra: 25 requests/s per tenant).

With ``REDIS_URL`` the counter lives in Redis, shared by every worker, and costs one round
trip (INCR and EXPIRE pipelined). Without it, the local-memory cache counts per process.
"""

from __future__ import annotations

from time import time as now_seconds

import redis
from django.conf import settings
from django.core.cache import cache

from admincenter.shared_redis import shared_redis

WINDOW_SECONDS = 60


def _count(key: str) -> int:
    client = shared_redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 30)
        return int(pipe.execute()[0])
    return 1 if cache.add(key, 1, timeout=WINDOW_SECONDS + 30) else cache.incr(key)


def rate_limit_exceeded(token) -> int | None:
    """Seconds to wait when ``token`` is over its budget for this minute, else None.
    If the counter cannot be reached the request is let through: the limit protects the
    service, it must not take it down with Redis."""
    limit = settings.SCIM_RATE_LIMIT_PER_MINUTE
    if not limit:
        return None
    now = now_seconds()
    key = f"optiid:scim-rate:{token.token_prefix}:{int(now // WINDOW_SECONDS)}"
    try:
        count = _count(key)
    except (redis.RedisError, OSError):
        return None
    if count <= limit:
        return None
    return max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
