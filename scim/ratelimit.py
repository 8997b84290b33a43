"""Per-token request budget (docs/domain.md#limits): a fixed one-minute window. Over budget → 429
with Retry-After, which Okta honours by slowing down. The default is far above what IdPs
send (Entra: 25 requests/s per tenant).

With ``REDIS_URL`` the count lives in Redis, shared by every worker. Each process takes
request numbers from it in blocks (one INCRBY and EXPIRE round trip per block, not per
request) and hands them out itself; a request whose number is over the budget gets 429.
A block is 1% of the budget (1 to 100 numbers), so numbers a process holds but has not
used can bring the limit forward by at most that much per process; it never lets more
requests through than the budget. Without Redis, the local-memory cache counts per process.
"""

from __future__ import annotations

import threading
from time import time as now_seconds

import redis
from django.conf import settings
from django.core.cache import cache

from admincenter.shared_redis import shared_redis

WINDOW_SECONDS = 60
MAX_BLOCK = 100

# Per process: counter key -> (next number to hand out, last number of the block). One lock
# guards it, held across a refill too, so concurrent threads never take two blocks at once
# (the numbers of the one overwritten would be lost, bringing the limit forward).
_blocks: dict[str, tuple[int, int]] = {}
_blocks_lock = threading.Lock()


def block_size(limit: int) -> int:
    return max(1, min(MAX_BLOCK, limit // 100))


def _next_number(client: redis.Redis, key: str, size: int) -> int:
    """This request's number in the window: the next of this process's block, or the first
    of a new block of ``size`` numbers taken from the shared counter."""
    with _blocks_lock:
        block = _blocks.get(key)
        if block is not None and block[0] <= block[1]:
            _blocks[key] = (block[0] + 1, block[1])
            return block[0]
        pipe = client.pipeline(transaction=False)
        pipe.incrby(key, size)
        pipe.expire(key, WINDOW_SECONDS + 30)
        last = int(pipe.execute()[0])
        _forget_earlier_windows(key)
        _blocks[key] = (last - size + 2, last)
        return last - size + 1


def _forget_earlier_windows(key: str) -> None:  # with _blocks_lock held
    token, window = key.rsplit(":", 1)
    for other in [k for k in _blocks if k.rsplit(":", 1)[0] == token and int(k.rsplit(":", 1)[1]) < int(window)]:
        del _blocks[other]


def _count(key: str, limit: int) -> int:
    """This request's number in the window."""
    client = shared_redis()
    if client is not None:
        return _next_number(client, key, block_size(limit))
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
        count = _count(key, limit)
    except (redis.RedisError, OSError):
        return None
    if count <= limit:
        return None
    return max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
