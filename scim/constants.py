"""SCIM URNs, media type and limits, in one place (RFC 7643 / RFC 7644)."""

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
SERVICE_PROVIDER_CONFIG_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"

SCIM_CONTENT_TYPE = "application/scim+json"

DEFAULT_COUNT = 100
MAX_COUNT = 1000  # PingOne asks for pages of 1000 (docs/domain.md#paging)
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB (docs/domain.md#limits)
MAX_MEMBERS_PER_REQUEST = 10_000  # PingOne and Okta send the full member list on PUT (docs/domain.md#limits)
MAX_PATCH_OPERATIONS = 1000
