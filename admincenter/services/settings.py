"""Organization settings an admin changes from the Admin Center (docs/domain.md#organization).

Kept apart from ``organizations`` (operator-side creation) so the Admin Center's
settings writes have one home. Every change is audited in its own transaction.
"""

from __future__ import annotations

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.errors import InvalidValue
from admincenter.models import Organization, ScimDeactivateAction
from admincenter.transactions import atomic


@atomic
def organization_scim_deactivate_set(*, organization: Organization, action: str, actor: Actor) -> Organization:
    """Choose what SCIM ``active=false`` does: deactivate the user (the default,
    docs/domain.md#deactivation-keeps-the-user) or delete them (docs/domain.md#deactivation-can-delete)."""
    if action not in ScimDeactivateAction.values:
        raise InvalidValue(
            f"Choose one of: {', '.join(ScimDeactivateAction.values)}.",
            field="on_scim_deactivate",
        )
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    before = organization.on_scim_deactivate
    if before == action:
        return organization
    organization.on_scim_deactivate = action
    organization.save(update_fields=["on_scim_deactivate"])
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.ORGANIZATION_UPDATE,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        before={"on_scim_deactivate": before},
        after={"on_scim_deactivate": action},
    )
    return organization
