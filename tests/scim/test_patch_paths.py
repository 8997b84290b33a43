"""Explicit PATCH paths must follow RFC 7644 §3.5.2's grammar; keys inside a path-less
value object are more forgiving (unknown ones are ignored)."""

import json

import pytest
from django.test import Client

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _patch(token, url, operations):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}").patch(
        url, data=json.dumps({"schemas": [PATCH], "Operations": operations}), content_type="application/scim+json"
    )


@pytest.mark.parametrize("path", ["name..givenName", "name.givenName.x", ".title", "emails[type eq", "title x"])
def test_malformed_user_paths_are_invalid_path(scim_token, scim_managed_user, path):
    response = _patch(
        scim_token, f"/api/scim/v2/Users/{scim_managed_user.pk}", [{"op": "replace", "path": path, "value": "x"}]
    )
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidPath")


@pytest.mark.parametrize("path", ["members.value", "displayName.x", "members..value"])
def test_group_paths_with_sub_attributes_are_invalid_path(scim_token, scim_group, path):
    response = _patch(
        scim_token, f"/api/scim/v2/Groups/{scim_group.pk}", [{"op": "replace", "path": path, "value": "x"}]
    )
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidPath")


def test_odd_keys_in_a_pathless_value_are_ignored(scim_token, scim_managed_user):
    response = _patch(
        scim_token,
        f"/api/scim/v2/Users/{scim_managed_user.pk}",
        [{"op": "replace", "value": {"title x": "ignored", "title": "Engineer"}}],
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Engineer"
