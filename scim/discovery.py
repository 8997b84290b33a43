"""Discovery documents (RFC 7643 §5-§7, RFC 7644 §4): ServiceProviderConfig,
ResourceTypes and Schemas. They advertise exactly what the endpoints do: PATCH and
filtering (maxResults = the page cap) yes; bulk, sort, ETag and change-password no;
bearer tokens only. The User schema does not list ``password`` (the Entra Validator
rejects it), although a password sent by an IdP is accepted and discarded.
"""

from __future__ import annotations

from scim.constants import (
    ENTERPRISE_USER_URN,
    GROUP_URN,
    MAX_COUNT,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    USER_URN,
)


def _attr(name, type_="string", *, multi=False, required=False, case_exact=False, mutability="readWrite",
          returned="default", uniqueness="none", description="", sub=None, canonical=None, refs=None):  # fmt: skip
    attribute = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub:
        attribute["subAttributes"] = sub
    if canonical:
        attribute["canonicalValues"] = canonical
    if refs:
        attribute["referenceTypes"] = refs
    return attribute


def _multi(name, types, *, extra=()):
    subs = [_attr("value", description=f"The {name} value."), _attr("display", mutability="readWrite")]
    subs += [_attr(s) for s in extra]
    subs += [
        _attr("type", canonical=types, description="A label such as 'work' or 'home'."),
        _attr("primary", "boolean", description="The primary value."),
    ]
    return _attr(name, "complex", multi=True, sub=subs)


def user_schema() -> dict:
    name = _attr(
        "name",
        "complex",
        sub=[
            _attr("formatted"),
            _attr("familyName"),
            _attr("givenName"),
            _attr("middleName"),
            _attr("honorificPrefix"),
            _attr("honorificSuffix"),
        ],
    )
    groups = _attr(
        "groups",
        "complex",
        multi=True,
        mutability="readOnly",
        description="The SCIM groups the user belongs to. Read-only.",
        sub=[
            _attr("value", mutability="readOnly"),
            _attr("$ref", "reference", mutability="readOnly", refs=["Group"]),
            _attr("display", mutability="readOnly"),
        ],
    )
    return {
        "id": USER_URN,
        "name": "User",
        "description": "User account. userName is the work email address.",
        "attributes": [
            _attr("userName", required=True, uniqueness="server", description="Work email address, unique."),
            _attr("externalId", case_exact=True, description="Identifier assigned by the IdP."),
            name,
            _attr("displayName"),
            _attr("nickName"),
            _attr("profileUrl", "reference", refs=["external"]),
            _attr("title"),
            _attr("userType"),
            _attr("preferredLanguage"),
            _attr("locale"),
            _attr("timezone"),
            _attr("active", "boolean", description="false deactivates the user."),
            _multi("emails", ["work", "home", "other"]),
            _multi("phoneNumbers", ["work", "home", "mobile", "fax", "pager", "other"]),
            _multi("ims", ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            _multi("photos", ["photo", "thumbnail"]),
            _multi(
                "addresses",
                ["work", "home", "other"],
                extra=("formatted", "streetAddress", "locality", "region", "postalCode", "country"),
            ),
            groups,
        ],
        "meta": {"resourceType": "Schema", "location": f"/Schemas/{USER_URN}"},
    }


def enterprise_schema() -> dict:
    manager = _attr(
        "manager",
        "complex",
        sub=[
            _attr("value", description="The id of the manager's User."),
            _attr("$ref", "reference", refs=["User"]),
            _attr("displayName", mutability="readOnly"),
        ],
    )
    return {
        "id": ENTERPRISE_USER_URN,
        "name": "EnterpriseUser",
        "description": "Enterprise User extension.",
        "attributes": [
            _attr("employeeNumber"),
            _attr("costCenter"),
            _attr("organization"),
            _attr("division"),
            _attr("department"),
            manager,
        ],
        "meta": {"resourceType": "Schema", "location": f"/Schemas/{ENTERPRISE_USER_URN}"},
    }


def group_schema() -> dict:
    members = _attr(
        "members",
        "complex",
        multi=True,
        description="Users only: nested groups are not supported.",
        sub=[
            _attr("value", mutability="immutable"),
            _attr("$ref", "reference", mutability="immutable", refs=["User"]),
            _attr("display", mutability="readOnly"),
            _attr("type", mutability="immutable", canonical=["User"]),
        ],
    )
    return {
        "id": GROUP_URN,
        "name": "Group",
        "description": "Group pushed by the IdP.",
        "attributes": [
            _attr("displayName", required=True, uniqueness="server"),
            _attr("externalId", case_exact=True),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": f"/Schemas/{GROUP_URN}"},
    }


def schemas(base_url: str) -> list[dict]:
    result = [user_schema(), enterprise_schema(), group_schema()]
    for schema in result:
        schema["schemas"] = [SCHEMA_URN]
        schema["meta"]["location"] = base_url + schema["meta"]["location"]
    return result


def resource_types(base_url: str) -> list[dict]:
    return [
        {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User account",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_USER_URN, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_URN,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/Group"},
        },
    ]


def service_provider_config(base_url: str) -> dict:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a SCIM token generated in the Admin Center "
                "(Settings > SCIM tokens), sent as 'Authorization: Bearer <token>'.",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }
