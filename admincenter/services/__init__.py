"""Every write of the Admin Center goes through these functions.

Conventions (docs/architecture.md): ``<entity>_<verb>(*, organization, ..., actor)``,
keyword-only arguments, one transaction per call, the ``AuditEvent`` written inside it,
domain rules enforced by raising ``admincenter.errors`` exceptions.
"""

from admincenter.audit.record import Actor, audit_record
from admincenter.services.groups import (
    group_create,
    group_delete,
    group_grant_add,
    group_grant_remove,
    group_members_add,
    group_members_remove,
    group_rename,
)
from admincenter.services.organizations import (
    organization_create,
    product_instance_create,
)
from admincenter.services.signin import (
    organization_require_sso_set,
    password_sign_in,
    sso_sign_in,
    sso_validation_failed,
    user_local_login_set,
)
from admincenter.services.sso import (
    provisioning_mode_set,
    scim_disable,
    scim_disable_impact,
    scim_enable,
    sso_connection_create,
    sso_connection_delete,
    sso_connection_update,
)
from admincenter.services.tokens import (
    IssuedToken,
    scim_token_authenticate,
    scim_token_find,
    scim_token_issue,
    scim_token_revoke,
)
from admincenter.services.users import (
    collaborator_add,
    collaborator_remove,
    user_create,
    user_delete,
    user_set_active,
    user_update,
)

__all__ = [
    "Actor",
    "IssuedToken",
    "audit_record",
    "collaborator_add",
    "collaborator_remove",
    "group_create",
    "group_delete",
    "group_grant_add",
    "group_grant_remove",
    "group_members_add",
    "group_members_remove",
    "group_rename",
    "organization_create",
    "organization_require_sso_set",
    "password_sign_in",
    "product_instance_create",
    "provisioning_mode_set",
    "scim_disable",
    "scim_disable_impact",
    "scim_enable",
    "scim_token_authenticate",
    "scim_token_find",
    "scim_token_issue",
    "scim_token_revoke",
    "sso_connection_create",
    "sso_connection_delete",
    "sso_connection_update",
    "sso_sign_in",
    "sso_validation_failed",
    "user_create",
    "user_delete",
    "user_local_login_set",
    "user_set_active",
    "user_update",
]
