"""Builders for the SCIM payloads the tests expect, and a small client for /api/scim/v2.

The builders read the model (never the adapters) and write down, independently of the
code under test, what RFC 7643/7644, docs/domain.md#what-scim-may-do and
docs/idp-notes.md#what-every-client-gets say a response must be. Tests compare whole bodies against them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.test import Client
from django.utils import timezone

from admincenter.models import Group, GroupKind, GroupMembership, User, UserSource

BASE_PATH = "/api/scim/v2"
BASE = f"http://testserver{BASE_PATH}"

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
ENTRA_GROUP_URN = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
SCIM_CONTENT_TYPE = "application/scim+json"

OKTA_UA = "Okta SCIM Client 1.0.0"


# --- small helpers ------------------------------------------------------------------


def iso(value) -> str:
    """RFC 3339 in UTC with a ``Z``, as ``meta`` timestamps are rendered."""
    return value.isoformat().replace("+00:00", "Z")


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def op(name: str, path: str | None = None, value: Any = None, **extra) -> dict:
    """One PATCH operation; ``value`` is left out when None (use ``extra`` for an explicit null)."""
    result: dict = {"op": name}
    if path is not None:
        result["path"] = path
    if value is not None:
        result["value"] = value
    result.update(extra)
    return result


# --- expected bodies ------------------------------------------------------------------


def expected_error(status: int, detail: str, scim_type: str | None = None) -> dict:
    body = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def expected_list(resources: list[dict], *, total: int | None = None, start: int = 1) -> dict:
    return {
        "schemas": [LIST_URN],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


EMPTY_LIST = expected_list([])


def scim_groups_of(user: User) -> list[Group]:
    """The user's SCIM groups, in membership order (what ``groups`` lists,
    docs/domain.md#the-groups-attribute)."""
    return [
        m.group
        for m in GroupMembership.objects.filter(user=user, group__kind=GroupKind.SCIM)
        .select_related("group")
        .order_by("added_at", "id")
    ]


def expected_user(user: User, base: str = BASE, *, groups: list[Group] | None = None, **overrides) -> dict:
    """A User resource as GET /Users/{id} returns it, built from the stored model.

    ``groups`` defaults to the user's SCIM groups read from the database. ``overrides``
    replace top-level keys (a value of ``...`` removes the key)."""
    user.refresh_from_db()
    extra = user.scim_attributes or {}
    body: dict = {"schemas": [USER_URN, ENTERPRISE_URN], "id": str(user.pk), "userName": user.email}
    body["active"] = user.is_active
    if user.display_name:
        body["displayName"] = user.display_name
    if user.external_id:
        body["externalId"] = user.external_id
    if user.title:
        body["title"] = user.title
    for key in ("nickName", "profileUrl", "userType", "preferredLanguage", "locale", "timezone"):
        if extra.get(key):
            body[key] = extra[key]
    name = dict(extra.get("name") or {})
    if user.given_name:
        name["givenName"] = user.given_name
    if user.family_name:
        name["familyName"] = user.family_name
    if name:
        if "formatted" not in name and (user.given_name or user.family_name):
            name["formatted"] = " ".join(p for p in (user.given_name, user.family_name) if p)
        body["name"] = name
    body["emails"] = [
        {"value": user.email, "type": "work", "primary": True},
        *({"type": "other", **e, "primary": False} for e in extra.get("emails") or []),
    ]
    for key in ("phoneNumbers", "addresses", "ims", "photos"):
        if extra.get(key):
            body[key] = [{"type": "other", **e, "primary": bool(e.get("primary", False))} for e in extra[key]]
    if groups is None:
        groups = scim_groups_of(user)
    body["groups"] = [{"value": str(g.pk), "display": g.name, "$ref": f"{base}/Groups/{g.pk}"} for g in groups]
    enterprise = dict(extra.get("enterprise") or {})
    if user.department:
        enterprise["department"] = user.department
    if user.employee_number:
        enterprise["employeeNumber"] = user.employee_number
    if user.manager_id:
        enterprise["manager"] = {"value": str(user.manager_id), "$ref": f"{base}/Users/{user.manager_id}"}
    if enterprise:
        body[ENTERPRISE_URN] = enterprise
    body["meta"] = {
        "resourceType": "User",
        "created": iso(user.created_at),
        "lastModified": iso(user.updated_at),
        "location": f"{base}/Users/{user.pk}",
    }
    for key, value in overrides.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def expected_deleted_user(snapshot: dict) -> dict:
    """What a write that deprovisioned the user (on_scim_deactivate=delete,
    docs/domain.md#deactivation-can-delete) answers:
    the final state, inactive and in no group."""
    return {**snapshot, "active": False, "groups": []}


def expected_group(group: Group, base: str = BASE, *, members: list[User] | None = None, with_members=True) -> dict:
    """A Group resource. ``members`` defaults to the stored members in the order they were
    added; ``with_members=False`` leaves the attribute out (excludedAttributes=members)."""
    group.refresh_from_db()
    body: dict = {"schemas": [GROUP_URN], "id": str(group.pk), "displayName": group.name}
    if group.external_id:
        body["externalId"] = group.external_id
    if with_members:
        if members is None:
            members = [
                m.user for m in GroupMembership.objects.filter(group=group).select_related("user").order_by("added_at")
            ]
        body["members"] = [
            {"value": str(u.pk), "display": u.email, "type": "User", "$ref": f"{base}/Users/{u.pk}"} for u in members
        ]
    body["meta"] = {
        "resourceType": "Group",
        "created": iso(group.created_at),
        "lastModified": iso(group.updated_at),
        "location": f"{base}/Groups/{group.pk}",
    }
    return body


def member_ids(group: Group) -> set[str]:
    return {str(u) for u in GroupMembership.objects.filter(group=group).values_list("user_id", flat=True)}


# --- client -------------------------------------------------------------------------


class ScimClient:
    """Sends SCIM requests with a bearer token; ``path`` is relative to /api/scim/v2 and
    may carry a query string exactly as an IdP encodes it."""

    def __init__(
        self,
        token: str | None,
        *,
        user_agent: str | None = None,
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.client = Client()
        self.headers: dict[str, str] = {}
        if authorization is not None:
            self.headers["Authorization"] = authorization
        elif token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        if user_agent is not None:
            self.headers["User-Agent"] = user_agent
        # What an IdP sends on every request besides these (Accept, Accept-Charset, ...).
        self.headers.update(headers or {})

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str | None = SCIM_CONTENT_TYPE,
        headers: dict | None = None,
        params: dict | None = None,
    ):
        url = BASE_PATH + path
        if params:
            from urllib.parse import urlencode

            url += ("&" if "?" in url else "?") + urlencode(params)
        data = b""
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        merged = {**self.headers, **(headers or {})}
        extra: dict = {}
        if content_type is not None and data:
            extra["content_type"] = content_type
        elif data:
            # Django's test client always sets a Content-Type; drop it to mimic a client that sends none.
            extra["CONTENT_TYPE"] = ""
        response = self.client.generic(method, url, data=data, headers=merged, **extra)
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


def body_of(response) -> dict:
    assert response["Content-Type"].startswith(SCIM_CONTENT_TYPE), response["Content-Type"]
    return json.loads(response.content)


def assert_scim(response, status: int, expected: dict | None = None) -> dict | None:
    """Status, SCIM content type, and (when given) the whole body."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    if status == 204:
        assert response.content == b""
        return None
    body = body_of(response)
    if expected is not None:
        assert body == expected
    return body


def assert_error(response, status: int, scim_type: str | None = None, detail: str | None = None) -> dict:
    """An RFC 7644 §3.12 error: status as a string, a non-empty detail, the given scimType
    (or none), and the exact detail when given."""
    body = assert_scim(response, status)
    assert set(body) <= {"schemas", "status", "detail", "scimType"}, body
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    assert body.get("scimType") == scim_type, body
    if detail is not None:
        assert body == expected_error(status, detail, scim_type)
    return body


def user_body(user_name: str, **attributes) -> dict:
    """A minimal POST /Users body."""
    return {"schemas": [USER_URN], "userName": user_name, **attributes}


def group_body(name: str, members: list | None = None, **attributes) -> dict:
    body: dict = {"schemas": [GROUP_URN], "displayName": name, **attributes}
    if members is not None:
        body["members"] = [{"value": str(getattr(m, "pk", m))} for m in members]
    return body


# A custom extension schema PingOne sends with a create (docs/idp-notes.md#pingone); the server does not keep it.
CUSTOM_URN = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"


def pingone_user_body(email: str, external_id: str, **overrides) -> dict:
    """A user POST as PingOne sends it, enterprise extension and an unknown one included."""
    body = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": email,
        "externalId": external_id,
        "name": {"givenName": "Janet", "familyName": "Smith", "formatted": "Janet Smith"},
        "displayName": "Janet Smith",
        "emails": [{"value": email, "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1-201-555-0123", "type": "work"}],
        "title": "Engineer",
        "active": True,
        ENTERPRISE_URN: {"employeeNumber": "42", "department": "R&D"},
        CUSTOM_URN: {"costCode": "X1"},
    }
    body.update(overrides)
    return body


# --- many rows at once ------------------------------------------------------------------


def scim_users_bulk_create(
    organization, connection, count: int, *, email: str, external_id: str = "", created_at=None
) -> list[User]:
    """``count`` SCIM-provisioned users in one bulk insert, for list, filter and query-count
    tests: no audit events and no *Everyone* memberships, which these tests do not read.
    ``email`` and ``external_id`` are format strings of the row number ``i``."""
    now = created_at or timezone.now()
    users = [
        User(
            id=uuid.uuid4(),
            email=email.format(i=i),
            home_organization=organization,
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            source=UserSource.SCIM,
            scim_connection=connection,
            external_id=external_id.format(i=i),
            password="!",
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]
    return User.objects.bulk_create(users, batch_size=1000)


def assert_service_provider_config_complete(body: dict) -> None:
    """Every capability of /ServiceProviderConfig is present with a value (booleans and zeros
    count as values), as RFC 7643 section 5 requires and IdP test connections check."""
    for key in ("patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"):
        assert body[key] not in (None, "", [], {}), key
    scheme = body["authenticationSchemes"][0]
    assert scheme["type"] and scheme["description"] and scheme["name"]
    for section, key in (
        ("etag", "supported"),
        ("sort", "supported"),
        ("changePassword", "supported"),
        ("filter", "maxResults"),
        ("filter", "supported"),
        ("bulk", "supported"),
        ("bulk", "maxOperations"),
        ("bulk", "maxPayloadSize"),
        ("patch", "supported"),
    ):
        assert body[section][key] is not None, (section, key)
