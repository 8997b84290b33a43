"""Domain errors raised by services and selectors.

They carry a human message (safe to show to an admin or an IdP) and, for form errors,
the field it concerns. Translating them into HTTP statuses is the callers' job:
the SCIM edge maps them to SCIM error bodies, the Admin Center to form errors.
"""


class DomainError(Exception):
    """Base class. ``message`` is safe to show; ``field`` names the input it concerns."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """A uniqueness rule would be broken (email taken, group name collision...)."""

    code = "conflict"


class Forbidden(DomainError):
    """The rule set forbids the action (locked SCIM resource, wrong provisioning mode...)."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """Credentials are missing, unknown, revoked or expired."""

    code = "unauthenticated"


class InvalidValue(DomainError):
    """The input is well-formed but not acceptable (public mail domain, bad member ids...)."""

    code = "invalid_value"
