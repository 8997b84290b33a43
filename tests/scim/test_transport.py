"""HTTP details IdPs differ on: Accept and Content-Type headers, charset parameters."""

import json
import uuid

import pytest
from django.test import Client

from scim import ratelimit

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "accept@acme.test"}


@pytest.mark.parametrize(
    "accept",
    ["application/scim+json", "application/json", "application/scim+json; charset=utf-8", "*/*", "text/html", None],
)
def test_every_accept_header_gets_scim_json(scim_token, accept):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {scim_token}"}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    response = Client(**headers).get("/api/scim/v2/Users?count=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


@pytest.mark.parametrize(
    "content_type", ["application/scim+json; charset=utf-8", "application/json", "text/plain", None]
)
def test_bodies_are_json_whatever_the_content_type(scim_token, content_type):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}", HTTP_ACCEPT="application/scim+json; charset=utf-8")
    kwargs = {"content_type": content_type} if content_type else {"content_type": ""}
    response = client.post("/api/scim/v2/Users", data=json.dumps(USER), **kwargs)
    assert response.status_code == 201, response.content
    assert response.json()["userName"] == "accept@acme.test"


def test_nul_characters_are_refused_not_a_500(scim_token):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}")
    body = json.dumps({**USER, "title": "a\u0000b"})
    response = client.post("/api/scim/v2/Users", data=body, content_type="application/scim+json")
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidValue")
    response = client.get("/api/scim/v2/Users", {"filter": 'userName eq "a\x00b"'})
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidFilter")


def test_over_the_per_token_budget_is_429_with_retry_after(scim_token, settings, monkeypatch):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 3
    monkeypatch.setattr(ratelimit, "now_seconds", lambda: 1_800_000_030.0)  # mid-window: no minute rollover
    client = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}")
    statuses = [client.get("/api/scim/v2/Users?count=0").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/scim/v2/Users?count=0")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "429",
        "detail": "Too many requests for this SCIM token; retry after the delay in Retry-After.",
    }
    assert response["Retry-After"] == "30"


class _Token:
    def __init__(self, prefix: str):
        self.token_prefix = prefix


@pytest.fixture
def blocks_of_ten(settings, monkeypatch):
    """A fresh token with a budget of 1,000 a minute (blocks of 10), mid-window, and its
    Redis counter key; the key is removed afterwards."""
    from admincenter.shared_redis import shared_redis

    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1000
    monkeypatch.setattr(ratelimit, "now_seconds", lambda: 1_800_000_030.0)
    token = _Token(f"optiid_scim_{uuid.uuid4().hex[:8]}")
    key = f"optiid:scim-rate:{token.token_prefix}:{1_800_000_030 // 60}"
    yield token, key, shared_redis()
    shared_redis().delete(key)


@pytest.mark.redis
def test_workers_take_request_numbers_from_redis_in_blocks(blocks_of_ten):
    """One Redis round trip per block of 1% of the budget; the budget is never exceeded."""
    token, key, client = blocks_of_ten
    assert [ratelimit.rate_limit_exceeded(token) for _ in range(25)] == [None] * 25
    assert int(client.get(key)) == 30  # three blocks: three round trips
    assert 0 < client.ttl(key) <= ratelimit.WINDOW_SECONDS + 30

    # Another worker already took the rest of the budget: this one is refused past its block.
    client.incrby(key, 970)
    results = [ratelimit.rate_limit_exceeded(token) for _ in range(10)]
    assert results == [None] * 5 + [30] * 5  # numbers 26-30 are its own; then 1001 and on


def test_block_sizes_follow_the_budget():
    assert [ratelimit.block_size(n) for n in (1, 3, 99, 100, 1000, 30000, 10**6)] == [1, 1, 1, 1, 10, 100, 100]


@pytest.mark.redis
def test_concurrent_threads_never_waste_numbers(blocks_of_ten):
    """Threads that find the block empty at once take one new block between them."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    token, key, client = blocks_of_ten
    barrier = threading.Barrier(8)

    def requests(_):
        barrier.wait(timeout=10)
        return [ratelimit.rate_limit_exceeded(token) for _ in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for batch in pool.map(requests, range(8)) for r in batch]
    assert results == [None] * 200
    assert int(client.get(key)) == 200  # exactly 20 blocks for 200 requests
