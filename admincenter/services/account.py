"""A signed-in person's own account: changing their password (Admin Center
"Change password"). Audited like every other change; the password never is."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from admincenter.audit import actions
from admincenter.audit.record import Actor
from admincenter.errors import Forbidden, InvalidValue
from admincenter.models import User
from admincenter.services.signin import user_audit_record
from admincenter.transactions import atomic


@atomic
def user_password_change(*, user: User, old_password: str, new_password: str, actor: Actor) -> User:
    """Check the current password, validate the new one and save it.

    SCIM-managed users sign in through their identity provider and have no usable
    local password (docs/domain.md#user), so they cannot set one here.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_scim_managed:
        raise Forbidden("Your account is managed by your identity provider. Sign in with SSO instead.")
    if not user.check_password(old_password or ""):
        raise InvalidValue("Your current password was entered incorrectly.", field="old_password")
    try:
        validate_password(new_password or "", user)
    except ValidationError as exc:
        raise InvalidValue(" ".join(exc.messages), field="new_password1") from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_audit_record(
        actions.USER_PASSWORD_CHANGE,
        organization=user.home_organization,
        actor=actor,
        user=user,
    )
    return user
