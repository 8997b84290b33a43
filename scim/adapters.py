"""django-scim2 adapters for our User and Group models.

They translate both ways and record the intended change; ``save()`` and ``delete()``
hand it to ``admincenter.services.scim``, which owns rules, transactions and audit.
Nothing here writes to a model directly.

Users have a *working representation*: the SCIM attributes we store, keyed by their
canonical names with the enterprise extension under ``"enterprise"``. PUT overlays the
body on it, PATCH applies operations to it (scim/patch.py); both are then translated to
model values by ``_values_from``.
"""

from __future__ import annotations

from django_scim.adapters import SCIMGroup, SCIMUser

from admincenter.models import Group, User
from admincenter.services import scim as scim_services
from scim.constants import ENTERPRISE_USER_URN, GROUP_URN, USER_URN
from scim.errors import ScimError
from scim.patch import apply_user_patch, group_changes, member_ids, operations_of
from scim.resources import (
    ENTERPRISE,
    MULTI_VALUED,
    NAME_SUBS,
    coerce,
    invalid_syntax,
    resolve_key,
)

# Attributes kept in User.scim_attributes (everything the IdP owns that has no column).
_EXTRA_SIMPLE = ("nickName", "profileUrl", "userType", "preferredLanguage", "locale", "timezone")
_EXTRA_NAME = tuple(s for s in NAME_SUBS if s not in ("givenName", "familyName"))
_EXTRA_ENTERPRISE = ("costCenter", "organization", "division")


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Context:
    """What every adapter of one request shares: the tenant, the connection, the actor
    and the base URL used in ``location`` and ``$ref``."""

    def __init__(self, *, organization, connection, actor, base_url: str):
        self.organization = organization
        self.connection = connection
        self.actor = actor
        self.base_url = base_url


class ScimUserAdapter(SCIMUser):
    resource_type = "User"

    def __init__(self, obj: User | None, request, context: Context):
        super().__init__(obj, request)
        self.context = context
        self.values: dict = {}
        self.deleted = False

    # --- reading ----------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.obj.pk)

    @property
    def location(self) -> str:
        return f"{self.context.base_url}/Users/{self.id}"

    def working_representation(self) -> dict:
        user = self.obj
        attrs = user.scim_attributes or {}
        rep: dict = {"userName": user.email, "active": user.is_active}
        for key, value in (
            ("displayName", user.display_name),
            ("externalId", user.external_id),
            ("title", user.title),
        ):
            if value:
                rep[key] = value
        for key in _EXTRA_SIMPLE:
            if attrs.get(key):
                rep[key] = attrs[key]
        name = {k: v for k, v in (attrs.get("name") or {}).items() if k in _EXTRA_NAME and v}
        if user.given_name:
            name["givenName"] = user.given_name
        if user.family_name:
            name["familyName"] = user.family_name
        if name:
            rep["name"] = name
        # One primary work email is userName (docs/domain.md#what-scim-may-do); other emails are kept as sent.
        rep["emails"] = [{"value": user.email, "type": "work", "primary": True}, *(attrs.get("emails") or [])]
        for key in ("phoneNumbers", "addresses", "ims", "photos"):
            if attrs.get(key):
                rep[key] = [dict(e) for e in attrs[key]]
        enterprise = {k: v for k, v in (attrs.get("enterprise") or {}).items() if k in _EXTRA_ENTERPRISE and v}
        if user.department:
            enterprise["department"] = user.department
        if user.employee_number:
            enterprise["employeeNumber"] = user.employee_number
        if user.manager_id:
            enterprise["manager"] = {"value": str(user.manager_id)}
        if enterprise:
            rep[ENTERPRISE] = enterprise
        return rep

    def to_dict(self) -> dict:
        rep = self.working_representation()
        user = self.obj
        body: dict = {"schemas": [USER_URN, ENTERPRISE_USER_URN], "id": self.id}
        for key, value in rep.items():
            if key == ENTERPRISE:
                continue
            if key in MULTI_VALUED:
                value = [_entry_out(e) for e in value]
            body[key] = value
        name = body.get("name")
        if name is not None and "formatted" not in name and (user.given_name or user.family_name):
            name["formatted"] = user.full_name
        body["groups"] = [
            {"value": str(group_id), "display": name, "$ref": f"{self.context.base_url}/Groups/{group_id}"}
            for group_id, name in getattr(user, "scim_groups", None) or []
        ]
        if ENTERPRISE in rep:
            enterprise = dict(rep[ENTERPRISE])
            if "manager" in enterprise:
                manager_id = enterprise["manager"]["value"]
                enterprise["manager"] = {"value": manager_id, "$ref": f"{self.context.base_url}/Users/{manager_id}"}
            body[ENTERPRISE_USER_URN] = enterprise
        body["meta"] = {
            "resourceType": "User",
            "created": _iso(user.created_at),
            "lastModified": _iso(user.updated_at),
            "location": self.location,
        }
        return body

    # --- writing: record the intended change ---------------------------------
    def from_dict(self, d: dict) -> None:
        """POST body → model values."""
        self.values = _values_from(_overlay({}, d))
        if "email" not in self.values:
            raise ScimError(400, "invalidValue", "userName is required.")

    def replace_from_dict(self, d: dict) -> None:
        """PUT body: attributes it leaves out keep their stored value; explicit null
        clears; no ``active`` leaves it unchanged (docs/idp-notes.md#put-keeps-what-it-leaves-out)."""
        _check_id(d, self.id)
        self.values = _values_from(_overlay(self.working_representation(), d))

    def handle_operations(self, operations) -> None:
        rep = self.working_representation()
        rep["id"] = self.id
        self.values = _values_from(apply_user_patch(rep, operations_of(operations)))

    def save(self) -> None:
        context = self.context
        if self.obj is None:
            self.obj = scim_services.scim_user_create(
                organization=context.organization,
                connection=context.connection,
                values=self.values,
                actor=context.actor,
            )
            return
        result = scim_services.scim_user_update(
            organization=context.organization,
            connection=context.connection,
            user=self.obj,
            values=self.values,
            actor=context.actor,
        )
        self.obj, self.deleted = result.user, result.deleted

    def delete(self) -> None:
        # django-scim2's own delete() is unscoped and unaudited; SCIM deletes users by id.
        scim_services.scim_user_delete(
            organization=self.context.organization,
            connection=self.context.connection,
            user_id=self.obj.pk,
            actor=self.context.actor,
        )


def _entry_out(element: dict) -> dict:
    """Multi-valued elements always carry ``type`` and a boolean ``primary``
    (docs/idp-notes.md#duplicate-primary-emails)."""
    result = dict(element)
    result.setdefault("type", "other")
    result["primary"] = bool(result.get("primary", False))
    return result


def _check_id(body: dict, resource_id: str) -> None:
    body_id = {k.lower(): v for k, v in body.items()}.get("id")
    if body_id not in (None, "") and str(body_id) != resource_id:
        raise ScimError(400, "mutability", "'id' is immutable and must match the URL.")


def _overlay(base: dict, body) -> dict:
    """Overlay a POST/PUT body on a working representation. Unknown, read-only and
    write-only attributes (password) are dropped; nulls remove; the enterprise extension
    merges by sub-attribute; URN-qualified and dotted keys are expanded."""
    if not isinstance(body, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    rep = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        container, attribute, sub = resolve_key(key)
        if container is None and attribute is None:  # the enterprise extension object
            if value is None:
                rep.pop(ENTERPRISE, None)
                continue
            if not isinstance(value, dict):
                raise invalid_syntax("The enterprise extension must be an object.")
            for ext_key, ext_value in value.items():
                _set(rep, *resolve_key(f"{ENTERPRISE_USER_URN}:{ext_key}"), ext_value)
            continue
        if container == "ignore":
            continue
        _set(rep, container, attribute, sub, value)
    return rep


def _set(rep: dict, container, attribute, sub, value) -> None:
    if container == "ignore" or attribute is None:
        return
    target = rep.setdefault(ENTERPRISE, {}) if container == ENTERPRISE else rep
    if sub is not None:
        nested = dict(target.get(attribute) or {})
        if value is None:
            nested.pop(sub, None)
        else:
            nested[sub] = value
        value = nested
    coerced = coerce(container, attribute, value)
    if coerced is None or coerced == []:
        target.pop(attribute, None)
    else:
        target[attribute] = coerced


def _values_from(rep: dict) -> dict:
    """Working representation → ``User`` field values for the services."""
    values: dict = {}
    if "userName" in rep:
        values["email"] = rep["userName"]
    elif "emails" in rep:
        primary = next((e for e in rep["emails"] if e.get("primary")), None) or next(iter(rep["emails"]), None)
        if primary and primary.get("value"):
            values["email"] = primary["value"]
    name = rep.get("name") or {}
    values["given_name"] = name.get("givenName", "")
    values["family_name"] = name.get("familyName", "")
    values["display_name"] = rep.get("displayName", "")
    values["external_id"] = rep.get("externalId", "")
    values["title"] = rep.get("title", "")
    enterprise = rep.get(ENTERPRISE) or {}
    values["department"] = enterprise.get("department", "")
    values["employee_number"] = enterprise.get("employeeNumber", "")
    manager = enterprise.get("manager")
    values["manager_id"] = manager["value"] if manager else None
    if "active" in rep:
        values["is_active"] = rep["active"]
    email = str(values.get("email", "")).lower()
    attributes: dict = {}
    for key in _EXTRA_SIMPLE:
        if rep.get(key):
            attributes[key] = rep[key]
    extra_name = {k: name[k] for k in _EXTRA_NAME if name.get(k)}
    if extra_name:
        attributes["name"] = extra_name
    other_emails = [
        {**e, "primary": False}
        for e in rep.get("emails") or []
        if str(e.get("type", "")).lower() != "work" and str(e.get("value", "")).lower() != email
    ]
    if other_emails:
        attributes["emails"] = other_emails
    for key in ("phoneNumbers", "addresses", "ims", "photos"):
        if rep.get(key):
            attributes[key] = rep[key]
    extra_enterprise = {k: enterprise[k] for k in _EXTRA_ENTERPRISE if enterprise.get(k)}
    if extra_enterprise:
        attributes["enterprise"] = extra_enterprise
    values["scim_attributes"] = attributes
    for key, limit in _COLUMN_LIMITS.items():
        if len(str(values.get(key) or "")) > limit:
            raise ScimError(400, "invalidValue", f"'{_SCIM_NAMES[key]}' is longer than {limit} characters.")
    return values


# The column limits, read from the model so a migration that widens a column widens the check.
_COLUMN_LIMITS = {
    name: User._meta.get_field(name).max_length
    for name in (
        "email",
        "given_name",
        "family_name",
        "display_name",
        "external_id",
        "title",
        "department",
        "employee_number",
    )
}

_SCIM_NAMES = {
    "email": "userName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "displayName",
    "external_id": "externalId",
    "title": "title",
    "department": "department",
    "employee_number": "employeeNumber",
}


class ScimGroupAdapter(SCIMGroup):
    resource_type = "Group"

    def __init__(self, obj: Group | None, request, context: Context):
        super().__init__(obj, request)
        self.context = context
        self.name: str | None = None
        self.external_id: str | None = None
        self.member_ids: list[str] | None = None
        self.member_ops = []

    @property
    def id(self) -> str:
        return str(self.obj.pk)

    @property
    def location(self) -> str:
        return f"{self.context.base_url}/Groups/{self.id}"

    def to_dict(self, *, members: list[tuple] | None = None) -> dict:
        """``members``: (user id, email) pairs, or None to leave the attribute out."""
        group = self.obj
        body: dict = {"schemas": [GROUP_URN], "id": self.id, "displayName": group.name}
        if group.external_id:
            body["externalId"] = group.external_id
        if members is not None:
            base = self.context.base_url
            body["members"] = [
                {"value": str(uid), "display": email, "type": "User", "$ref": f"{base}/Users/{uid}"}
                for uid, email in members
            ]
        body["meta"] = {
            "resourceType": "Group",
            "created": _iso(group.created_at),
            "lastModified": _iso(group.updated_at),
            "location": self.location,
        }
        return body

    def from_dict(self, d: dict) -> None:
        """POST or PUT body → name, externalId and the complete member list."""
        if not isinstance(d, dict):
            raise invalid_syntax("The request body must be a JSON object.")
        fields = {k.lower(): v for k, v in d.items() if isinstance(k, str)}
        if self.obj is not None:
            _check_id(d, self.id)
        name = fields.get("displayname")
        if not isinstance(name, str) or not name.strip():
            raise ScimError(400, "invalidValue", "displayName is required.")
        self.name = name
        external_id = fields.get("externalid")
        if external_id is not None and not isinstance(external_id, str):
            raise invalid_syntax("'externalId' must be a string.")
        self.external_id = external_id if external_id is not None else (None if self.obj is not None else "")
        self.member_ids = member_ids(fields.get("members")) if "members" in fields else None

    replace_from_dict = from_dict  # a PUT body has the same shape as a POST body

    def handle_operations(self, operations) -> None:
        changes = group_changes(self.id, operations_of(operations))
        self.name, self.external_id, self.member_ops = changes.name, changes.external_id, changes.member_ops

    def save(self) -> None:
        context = self.context
        if self.obj is None:
            self.obj = scim_services.scim_group_create(
                organization=context.organization,
                connection=context.connection,
                name=self.name,
                external_id=self.external_id or "",
                member_ids=self.member_ids or (),
                actor=context.actor,
            )
            return
        member_ops = self.member_ops
        if self.member_ids is not None:  # PUT replaces the member list (PingOne, Okta AIW)
            member_ops = [scim_services.MemberOp("replace", self.member_ids)]
        self.obj = scim_services.scim_group_update(
            organization=context.organization,
            group=self.obj,
            name=self.name,
            external_id=self.external_id,
            member_ops=member_ops,
            actor=context.actor,
        )

    def delete(self) -> None:
        scim_services.scim_group_delete(
            organization=self.context.organization, group=self.obj, actor=self.context.actor
        )
