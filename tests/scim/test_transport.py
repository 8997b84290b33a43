"""HTTP details IdPs differ on: Accept and Content-Type headers, charset parameters."""

import json

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
