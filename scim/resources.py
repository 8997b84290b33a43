"""The SCIM attribute model of our User resource: which attributes exist, how their
names are spelled, how request values are coerced and multi-valued lists normalised.

Shared by the adapters (representation, PUT/POST translation) and the PATCH engine.
Attribute names are case-insensitive (RFC 7643 §2.1), so every lookup goes through the
lower-case maps below. Unknown attributes are ignored, never stored (docs/domain.md#what-scim-may-do).
"""

from __future__ import annotations

from scim.constants import ENTERPRISE_USER_URN, USER_URN
from scim.errors import ScimError

ENTERPRISE = "enterprise"  # key of the extension object inside our working representation

SIMPLE_STRINGS = (
    "userName",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "externalId",
)
NAME_SUBS = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")
MULTI_VALUED = ("emails", "phoneNumbers", "addresses", "ims", "photos")
ADDRESS_SUBS = ("formatted", "streetAddress", "locality", "region", "postalCode", "country")
ENTERPRISE_STRINGS = ("employeeNumber", "costCenter", "organization", "division", "department")

CORE = {name.lower(): name for name in (*SIMPLE_STRINGS, "name", "active", *MULTI_VALUED)}
ENTERPRISE_ATTRS = {name.lower(): name for name in (*ENTERPRISE_STRINGS, "manager")}
NAME_SUB = {name.lower(): name for name in NAME_SUBS}
ENTRY_SUBS = {s.lower(): s for s in ("value", "display", "type", "primary", *ADDRESS_SUBS)}

USER_URN_LOWER = USER_URN.lower()
ENTERPRISE_URN_LOWER = ENTERPRISE_USER_URN.lower()


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, "invalidSyntax", detail)


def as_bool(value, *, attribute: str) -> bool:
    """Entra sends booleans as the strings "True"/"False" (docs/idp-notes.md#entra-booleans-as-strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise invalid_syntax(f"'{attribute}' must be a boolean (true or false).")


def as_string(value, *, attribute: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise invalid_syntax(f"'{attribute}' must be a string.")
    if isinstance(value, int | float):
        return str(value)  # employeeNumber 42 means "42"
    raise invalid_syntax(f"'{attribute}' must be a string.")


def manager_value(value) -> dict | None:
    """Manager arrives as "<id>", {"value": "<id>"} or [{"$ref": ..., "value": "<id>"}];
    "" or null removes it (docs/idp-notes.md#entra-manager)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = {k.lower(): v for k, v in value.items()}.get("value")
    if value is None or value == "":
        return None
    return {"value": as_string(value, attribute="manager")}


def entry(value, *, attribute: str) -> dict:
    """One element of a multi-valued attribute, sub-attribute names canonicalised."""
    if isinstance(value, str):
        return {"value": value}
    if not isinstance(value, dict):
        raise invalid_syntax(f"Each element of '{attribute}' must be an object.")
    result = {}
    for key, sub_value in value.items():
        name = ENTRY_SUBS.get(key.lower())
        if name is None or sub_value is None:
            continue  # unknown sub-attributes and nulls are ignored
        result[name] = as_bool(sub_value, attribute=f"{attribute}.primary") if name == "primary" else sub_value
    return result


def normalise_multi(values, *, attribute: str) -> list[dict]:
    """At most one element per ``type`` (the later one wins), at most one primary; two
    identical primaries (PingOne) collapse into one (docs/idp-notes.md#duplicate-primary-emails)."""
    if values is None:
        return []
    if isinstance(values, dict):
        values = [values]
    if not isinstance(values, list):
        raise invalid_syntax(f"'{attribute}' must be an array.")
    by_key: dict = {}
    for raw in values:
        item = entry(raw, attribute=attribute)
        key = str(item.get("type", "")).lower() or ("value", str(item.get("value", "")).lower())
        by_key[key] = item
    result = list(by_key.values())
    seen_primary = False
    for item in result:
        if item.get("primary") and not seen_primary:
            seen_primary = True
            item["primary"] = True
        else:
            item["primary"] = False
    return result


def coerce(container: str, name: str, value):
    """Coerce a request value of a known attribute; ``None`` means "remove"."""
    if value is None:
        return None
    if container == ENTERPRISE:
        if name == "manager":
            return manager_value(value)
        return as_string(value, attribute=name)
    if name == "active":
        return as_bool(value, attribute="active")
    if name in MULTI_VALUED:
        return normalise_multi(value, attribute=name)
    if name == "name":
        if not isinstance(value, dict):
            raise invalid_syntax("'name' must be an object.")
        result = {}
        for key, sub_value in value.items():
            sub = NAME_SUB.get(key.lower())
            if sub is not None and sub_value is not None:
                result[sub] = as_string(sub_value, attribute=f"name.{sub}")
        return result
    return as_string(value, attribute=name)


def resolve_key(key: str) -> tuple[str | None, str | None, str | None]:
    """Map a body key or path head to (container, attribute, sub-attribute).

    ``container`` is "core", ENTERPRISE, "ignore" (known but ignored, unknown, or a custom
    extension) or None for the enterprise extension object itself. Dotted keys
    (``name.givenName``) and URN-qualified keys are expanded (docs/idp-notes.md#entra-patch-forms).
    """
    lowered = key.strip().lower()
    if lowered == ENTERPRISE_URN_LOWER:
        return None, None, None
    container = "core"
    if lowered.startswith(ENTERPRISE_URN_LOWER + ":"):
        container, rest = ENTERPRISE, key.strip()[len(ENTERPRISE_URN_LOWER) + 1 :]
    elif lowered.startswith(USER_URN_LOWER + ":"):
        rest = key.strip()[len(USER_URN_LOWER) + 1 :]
    elif lowered.startswith("urn:"):
        return "ignore", None, None  # a custom extension we do not store
    else:
        rest = key.strip()
    head, _, sub = rest.partition(".")
    table = ENTERPRISE_ATTRS if container == ENTERPRISE else CORE
    attribute = table.get(head.lower())
    if attribute is None and container == "core" and head.lower() == "manager":
        # Entra's legacy shape addresses the enterprise manager without its URN:
        # {"op":"Add","path":"manager","value":[{"$ref":...,"value":"<id>"}]} (docs/idp-notes.md#entra-manager).
        container, attribute = ENTERPRISE, "manager"
    if attribute is None:
        return "ignore", None, None
    return container, attribute, sub or None
