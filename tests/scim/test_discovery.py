"""Discovery endpoints (RFC 7643 §5-§7, RFC 7644 §4; docs/idp-notes.md#what-every-client-gets and
the Okta Spec Test steps 1-6), the unsupported /Bulk and /Me, unknown paths, and the URL
forms connectors produce (trailing slash, ``//``)."""

import pytest

from tests.scim.helpers import (
    BASE,
    ENTERPRISE_URN,
    GROUP_URN,
    LIST_URN,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SPC_URN,
    USER_URN,
    assert_error,
    assert_scim,
    assert_service_provider_config_complete,
    expected_error,
    expected_list,
)

EXPECTED_SPC = {
    "schemas": [SPC_URN],
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
    "filter": {"supported": True, "maxResults": 1000},
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
    "meta": {"resourceType": "ServiceProviderConfig", "location": f"{BASE}/ServiceProviderConfig"},
}

USER_RESOURCE_TYPE = {
    "schemas": [RESOURCE_TYPE_URN],
    "id": "User",
    "name": "User",
    "endpoint": "/Users",
    "description": "User account",
    "schema": USER_URN,
    "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": False}],
    "meta": {"resourceType": "ResourceType", "location": f"{BASE}/ResourceTypes/User"},
}
GROUP_RESOURCE_TYPE = {
    "schemas": [RESOURCE_TYPE_URN],
    "id": "Group",
    "name": "Group",
    "endpoint": "/Groups",
    "description": "Group",
    "schema": GROUP_URN,
    "schemaExtensions": [],
    "meta": {"resourceType": "ResourceType", "location": f"{BASE}/ResourceTypes/Group"},
}

DISCOVERY_PATHS = [
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    "/Schemas",
    f"/Schemas/{USER_URN}",
]


# --- ServiceProviderConfig ---------------------------------------------------------------


def test_service_provider_config_whole_body(scim):
    assert_scim(scim.get("/ServiceProviderConfig"), 200, EXPECTED_SPC)


def test_service_provider_config_has_every_field_the_okta_spec_test_checks(scim):
    body = assert_scim(scim.get("/ServiceProviderConfig"), 200)
    assert SPC_URN in body["schemas"]
    # Step 1 asserts these are present and non-empty.
    assert_service_provider_config_complete(body)
    assert body["patch"]["supported"] is True
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    for unsupported in ("etag", "sort", "bulk", "changePassword"):
        assert body[unsupported]["supported"] is False
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]


# --- ResourceTypes ------------------------------------------------------------------------


def test_resource_types_list(scim):
    body = assert_scim(scim.get("/ResourceTypes"), 200, expected_list([USER_RESOURCE_TYPE, GROUP_RESOURCE_TYPE]))
    # Okta Spec Test step 3.
    assert body["Resources"][0]["name"] and body["Resources"][0]["endpoint"] and body["Resources"][0]["schema"]


@pytest.mark.parametrize(("resource_id", "expected"), [("User", USER_RESOURCE_TYPE), ("Group", GROUP_RESOURCE_TYPE)])
def test_resource_type_by_id(scim, resource_id, expected):
    assert_scim(scim.get(f"/ResourceTypes/{resource_id}"), 200, expected)


def test_unknown_resource_type_is_404(scim):
    assert_error(scim.get("/ResourceTypes/Device"), 404, detail="Resource type Device not found.")


# --- Schemas ------------------------------------------------------------------------------


def _walk(value, path="$"):
    """Every (path, value) pair of a JSON document."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _attributes(attributes, prefix=""):
    for attribute in attributes:
        yield prefix + attribute["name"], attribute
        yield from _attributes(attribute.get("subAttributes", []), prefix + attribute["name"] + ".")


def test_schemas_list(scim):
    body = assert_scim(scim.get("/Schemas"), 200)
    assert {k: v for k, v in body.items() if k != "Resources"} == {
        k: v for k, v in expected_list([{}, {}, {}]).items() if k != "Resources"
    }
    assert body["schemas"] == [LIST_URN]
    assert [s["id"] for s in body["Resources"]] == [USER_URN, ENTERPRISE_URN, GROUP_URN]
    for schema in body["Resources"]:
        # Okta Spec Test step 5: Resources[0].id and .attributes are non-empty.
        assert schema["id"] and schema["attributes"]
        assert schema["schemas"] == [SCHEMA_URN]
        assert schema["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{schema['id']}"}


@pytest.mark.parametrize("urn", [USER_URN, ENTERPRISE_URN, GROUP_URN])
def test_schema_by_urn_is_the_list_entry(scim, urn):
    listed = {s["id"]: s for s in assert_scim(scim.get("/Schemas"), 200)["Resources"]}
    assert_scim(scim.get(f"/Schemas/{urn}"), 200, listed[urn])


def test_schemas_have_no_nulls_and_camel_case_property_values(scim):
    body = assert_scim(scim.get("/Schemas"), 200)
    assert [p for p, v in _walk(body) if v is None] == []
    for schema in body["Resources"]:
        for name, attribute in _attributes(schema["attributes"]):
            assert attribute["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}, name
            assert attribute["returned"] in {"always", "never", "default", "request"}, name
            assert attribute["uniqueness"] in {"none", "server", "global"}, name
            assert attribute["type"] in {
                "string",
                "boolean",
                "decimal",
                "integer",
                "dateTime",
                "reference",
                "binary",
                "complex",
            }, name
            for flag in ("multiValued", "required", "caseExact"):
                assert isinstance(attribute[flag], bool), (name, flag)
            assert isinstance(attribute["description"], str) and attribute["description"], name


def test_user_schema_does_not_list_password(scim):
    """The Entra Validator rejects a User schema that lists password (docs/idp-notes.md#microsoft-entra-id)."""
    schema = assert_scim(scim.get(f"/Schemas/{USER_URN}"), 200)
    names = {name.lower() for name, _ in _attributes(schema["attributes"])}
    assert "password" not in names
    assert {"username", "name.givenname", "name.familyname", "emails.value", "active", "externalid"} <= names
    user_name = next(a for a in schema["attributes"] if a["name"] == "userName")
    assert (user_name["required"], user_name["uniqueness"], user_name["caseExact"]) == (True, "server", False)
    groups = next(a for a in schema["attributes"] if a["name"] == "groups")
    assert groups["mutability"] == "readOnly"


def test_enterprise_schema_lists_manager_and_department(scim):
    schema = assert_scim(scim.get(f"/Schemas/{ENTERPRISE_URN}"), 200)
    names = {name for name, _ in _attributes(schema["attributes"])}
    assert {"employeeNumber", "department", "manager", "manager.value", "manager.$ref"} <= names


def test_unknown_schema_is_404(scim):
    assert_error(
        scim.get("/Schemas/urn:example:unknown"),
        404,
        detail="Schema urn:example:unknown not found.",
    )


# --- methods other than GET ---------------------------------------------------------------


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_to_discovery_endpoints_are_405_with_allow(scim, path, method):
    # Okta Spec Test steps 2, 4 and 6 POST the plain text body "test".
    response = scim.request(method, path, raw="test", content_type="text/plain")
    assert_error(response, 405, detail=f"{method} is not supported on this endpoint.")
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert "GET" in allowed
    assert method not in allowed


@pytest.mark.parametrize("path", ["/Bulk", "/Me"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_bulk_and_me_are_not_implemented(scim, path, method):
    feature = "Bulk" if path == "/Bulk" else "/Me"
    response = scim.request(method, path, body={"schemas": []})
    assert_scim(response, 501, expected_error(501, f"{feature} is not supported by this service provider."))


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/Devices", "/Users/1/extra", "/users2", "/Group"])
def test_unknown_path_is_a_scim_404(scim, path):
    assert_error(scim.get(path), 404, detail=f"There is no SCIM endpoint at /api/scim/v2{path}.")


@pytest.mark.parametrize(
    "path",
    [
        "/Users/",
        "//Users",
        "//Users/",
        "/Users?startIndex=1&count=1",
        "//Groups",
        "/Groups/",
        "/ServiceProviderConfig/",
    ],
)
def test_trailing_slash_and_double_slash_are_tolerated(scim, path):
    response = scim.get(path)
    assert_scim(response, 200)


def test_double_slash_before_an_id(scim, scim_managed_user, scim_group):
    assert assert_scim(scim.get(f"//Users//{scim_managed_user.pk}/"), 200)["id"] == str(scim_managed_user.pk)
    assert assert_scim(scim.get(f"/Groups//{scim_group.pk}"), 200)["id"] == str(scim_group.pk)


def test_discovery_ignores_unknown_query_parameters(scim):
    assert_scim(scim.get("/ServiceProviderConfig?aadOptscim062020"), 200, EXPECTED_SPC)
