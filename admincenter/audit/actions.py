"""The audit action registry: every action the audit trail knows, declared once.

Each ``AuditAction`` carries its dotted name (stored in ``AuditEvent.action``), the phrase
used in summaries for a success (``done``: "created group Sales") and for a refusal or
failure (``attempted``: "tried to create group Sales"), and the hourly roll-up counter it
adds to, if any. ``audit_record`` refuses a name that is not registered here, so a new action
is added in this module before any service can write it.

The boundary: names and wording only. No database access; summaries are assembled in
``admincenter.audit.summaries``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Phrase = Callable[[str, dict, dict], str]  # (target label, before, after) -> phrase


class UnknownAuditAction(ValueError):
    """An audit action name that is not registered in this module."""


@dataclass(frozen=True)
class AuditAction:
    """One registered action: its stored name, its two phrases and its roll-up counter."""

    name: str
    done: Phrase | None = None  # None: the summary shows the action's name and target
    attempted: Phrase | None = None
    counter: str = ""  # an ``AuditHourlyRollup`` field, counted for successes only

    def __str__(self) -> str:
        return self.name


_REGISTRY: dict[str, AuditAction] = {}


def _register(
    name: str, *, done: Phrase | None = None, attempted: Phrase | None = None, counter: str = ""
) -> AuditAction:
    if name in _REGISTRY:
        raise ValueError(f"Audit action {name!r} is registered twice.")
    action = AuditAction(name=name, done=done, attempted=attempted, counter=counter)
    _REGISTRY[name] = action
    return action


def _register_on_target(name: str, done: str, attempted: str, *, counter: str = "") -> AuditAction:
    """An action whose two phrases are a verb phrase followed by the target's label
    ("created group Sales", "tried to create group Sales")."""
    return _register(
        name,
        done=lambda t, b, a: f"{done} {t}",
        attempted=lambda t, b, a: f"{attempted} {t}",
        counter=counter,
    )


def action_get(action: AuditAction | str) -> AuditAction:
    """The registered action for ``action`` (an ``AuditAction`` or its name); raises
    ``UnknownAuditAction`` for anything else."""
    name = action.name if isinstance(action, AuditAction) else action
    try:
        registered = _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownAuditAction(f"Audit action {name!r} is not registered in admincenter.audit.actions.") from None
    if isinstance(action, AuditAction) and action is not registered:
        raise UnknownAuditAction(f"Audit action {name!r} is not the registered one.")
    return registered


def action_find(name: str) -> AuditAction | None:
    """The registered action named ``name``, or None (rows written before a rename)."""
    return _REGISTRY.get(name)


def _n(value) -> int:
    return len(value) if isinstance(value, list | tuple) else int(bool(value))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _fields(values: dict) -> str:
    return ", ".join(sorted(values)) or "profile"


def _grant(values: dict) -> str:
    roles = ", ".join(values.get("roles") or []) or "roles"
    instance = values.get("instance") or "an instance"
    return f"{roles} on {instance}"


# The phrases read as "PingOne added 3 members to Sales" once the actor is put in front.
USER_CREATE = _register_on_target("user.create", "created user", "create user", counter="users_created")
USER_UPDATE = _register(
    "user.update",
    done=lambda t, b, a: f"updated {t} ({_fields(a)})",
    attempted=lambda t, b, a: f"update {t} ({_fields(a)})",
    counter="users_updated",
)
USER_EMAIL_CHANGE = _register(
    "user.email.change",
    done=lambda t, b, a: f"changed the email of {b.get('email', '?')} to {a.get('email', t)}",
    attempted=lambda t, b, a: f"change the email of {b.get('email', t)}",
    counter="users_updated",
)
USER_SCIM_ADOPT = _register_on_target(
    "user.scim_adopt", "took over existing user", "take over existing user", counter="users_updated"
)
USER_DEACTIVATE = _register_on_target("user.deactivate", "deactivated", "deactivate", counter="users_deprovisioned")
USER_ACTIVATE = _register_on_target("user.activate", "reactivated", "reactivate", counter="users_updated")
USER_DELETE = _register_on_target("user.delete", "deleted user", "delete user", counter="users_deprovisioned")
COLLABORATOR_ADD = _register_on_target("collaborator.add", "admitted collaborator", "admit collaborator")
COLLABORATOR_REMOVE = _register_on_target("collaborator.remove", "removed collaborator", "remove collaborator")
GROUP_CREATE = _register_on_target("group.create", "created group", "create group", counter="groups_created")
GROUP_UPDATE = _register_on_target("group.update", "updated group", "update group", counter="groups_updated")
GROUP_RENAME = _register(
    "group.rename",
    done=lambda t, b, a: f"renamed group {b.get('name', '?')} to {a.get('name', t)}",
    attempted=lambda t, b, a: f"rename group {b.get('name', t)}",
    counter="groups_updated",
)
GROUP_DELETE = _register_on_target("group.delete", "deleted group", "delete group", counter="groups_deleted")
GROUP_MEMBER_ADD = _register(
    "group.member.add",
    done=lambda t, b, a: f"added {plural(_n(a.get('members')), 'member')} to {t}",
    attempted=lambda t, b, a: f"add members to {t}",
    counter="groups_updated",
)
GROUP_MEMBER_REMOVE = _register(
    "group.member.remove",
    done=lambda t, b, a: f"removed {plural(_n(b.get('members')), 'member')} from {t}",
    attempted=lambda t, b, a: f"remove members from {t}",
    counter="groups_updated",
)
GROUP_GRANT_ADD = _register(
    "group.grant.add",
    done=lambda t, b, a: f"gave {t} {_grant(a)}",
    attempted=lambda t, b, a: f"give {t} {_grant(a)}",
    counter="groups_updated",
)
GROUP_GRANT_REMOVE = _register(
    "group.grant.remove",
    done=lambda t, b, a: f"took {_grant(b)} away from {t}",
    attempted=lambda t, b, a: f"take {_grant(b)} away from {t}",
    counter="groups_updated",
)
SCIM_TOKEN_CREATE = _register_on_target("scim.token.create", "generated SCIM token", "generate SCIM token")
SCIM_TOKEN_REVOKE = _register_on_target("scim.token.revoke", "revoked SCIM token", "revoke SCIM token")
SCIM_ENABLE = _register_on_target("scim.enable", "enabled SCIM on", "enable SCIM on")
SCIM_DISABLE = _register(
    "scim.disable",
    done=lambda t, b, a: f"disabled SCIM and released {plural(int(a.get('users_released') or 0), 'user')}",
    attempted=lambda t, b, a: "disable SCIM",
)
SCIM_REQUEST_REJECTED = _register(
    "scim.request.rejected",
    done=lambda t, b, a: "sent a request that was rejected",
    attempted=lambda t, b, a: "send a request",
)
SSO_CONNECTION_CREATE = _register_on_target("sso_connection.create", "added SSO connection", "add SSO connection")
SSO_CONNECTION_UPDATE = _register_on_target("sso_connection.update", "updated SSO connection", "update SSO connection")
SSO_CONNECTION_DELETE = _register_on_target("sso_connection.delete", "deleted SSO connection", "delete SSO connection")
ORGANIZATION_CREATE = _register_on_target("organization.create", "created organization", "create organization")
PRODUCT_INSTANCE_CREATE = _register_on_target(
    "product_instance.create", "added product instance", "add product instance"
)
LOGIN_JIT_REFUSED = _register(
    "login.jit_refused",
    done=lambda t, b, a: f"was refused at sign-in: {a.get('reason', '')}".rstrip(": "),
    attempted=lambda t, b, a: "sign in",
)
# Sign-in outcomes (sso/ and the password form): the reason, never the assertion.
LOGIN_SUCCESS = _register(
    "login.success",
    done=lambda t, b, a: f"{t} signed in with {a.get('method', 'SSO')}",
    attempted=lambda t, b, a: "sign in",
)
LOGIN_REFUSED = _register(
    "login.refused",
    done=lambda t, b, a: f"refused sign-in of {t}: {a.get('reason', '')}".rstrip(": "),
    attempted=lambda t, b, a: "sign in",
)
LOGIN_FAILURE = _register(
    "login.failure",
    done=lambda t, b, a: f"sign-in failed at {t}: {a.get('reason', '')}".rstrip(": "),
    attempted=lambda t, b, a: "sign in",
)
SSO_CONNECTION_TEST = _register_on_target(
    "sso_connection.test", "tested sign-in with SSO connection", "test SSO connection"
)
DOMAIN_VERIFY = _register_on_target("domain.verify", "verified domain", "verify domain")
DOMAIN_VERIFY_FAILED = _register(
    "domain.verify_failed",
    done=lambda t, b, a: f"could not verify domain {t}: {a.get('reason', '')}".rstrip(": "),
    attempted=lambda t, b, a: f"verify domain {t}",
)
ORGANIZATION_REQUIRE_SSO = _register(
    "organization.require_sso",
    done=lambda t, b, a: "required SSO sign-in" if a.get("require_sso") else "allowed password sign-in again",
    attempted=lambda t, b, a: "change the sign-in policy",
)
USER_LOCAL_LOGIN = _register(
    "user.local_login",
    done=lambda t, b, a: (
        f"allowed password sign-in for {t}" if a.get("local_login_allowed") else f"removed break-glass from {t}"
    ),
    attempted=lambda t, b, a: f"change the sign-in options of {t}",
)
AUDIT_PURGE = _register(
    "audit.purge",
    done=lambda t, b, a: (
        f"purged {plural(int(a.get('events') or 0), 'audit event')} and "
        f"{plural(int(a.get('requests') or 0), 'SCIM request row')} past retention"
    ),
    attempted=lambda t, b, a: "purge the audit log",
)
# Recorded without a phrase of their own: their summaries read "Operator: organization.update Acme".
USER_PASSWORD_CHANGE = _register("user.password.change")
ORGANIZATION_UPDATE = _register("organization.update")

KNOWN_ACTIONS = tuple(sorted(_REGISTRY))
