"""Per-token request budget (domain.md O14): a fixed one-minute window counted in the
cache (Redis in production, so the budget is shared by every worker; per process with the
local-memory cache). Over budget → 429 with Retry-After, which Okta honours by slowing
down. The default is far above what IdPs send (Entra: 25 requests/s per tenant)."""

import time

from django.conf import settings
from django.core.cache import cache


def rate_limit_exceeded(token) -> int | None:
    """Seconds to wait when ``token`` is over its budget for this minute, else None."""
    limit = settings.SCIM_RATE_LIMIT_PER_MINUTE
    if not limit:
        return None
    now = time.time()
    key = f"scim-rate:{token.token_prefix}:{int(now // 60)}"
    count = 1 if cache.add(key, 1, timeout=90) else cache.incr(key)
    if count <= limit:
        return None
    return max(1, 60 - int(now % 60))
