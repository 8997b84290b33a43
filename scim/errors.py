"""The one SCIM error type of the protocol edge (RFC 7644 §3.12).

Built on django-scim2's ``SCIMException`` so its adapters' exceptions and ours render the
same way: ``status`` as a string (the Okta Spec Test asserts it), ``scimType`` where one
applies, a ``detail`` that is safe to show. Exception text never reaches the body.
"""

from django_scim.exceptions import SCIMException

from admincenter import errors as domain
from scim.constants import ERROR_URN


class ScimError(SCIMException):
    def __init__(self, status: int, scim_type: str | None, detail: str, *, headers: dict | None = None):
        super().__init__(detail, status=status, scim_type=scim_type)
        self.headers = headers or {}

    def to_dict(self) -> dict:
        body = {"schemas": [ERROR_URN], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def from_scim_exception(exc: SCIMException) -> ScimError:
    """Wrap an exception raised by django-scim2 code into our error type."""
    if isinstance(exc, ScimError):
        return exc
    return ScimError(int(exc.status), exc.scim_type, exc.detail or "The request could not be processed.")


def from_domain_error(exc: domain.DomainError) -> ScimError:
    """Map admincenter's domain errors onto SCIM statuses and scimTypes."""
    if isinstance(exc, domain.NotFound):
        return ScimError(404, None, exc.message)
    if isinstance(exc, domain.Conflict):
        return ScimError(409, "uniqueness", exc.message)
    if isinstance(exc, domain.Unauthenticated):
        return ScimError(401, None, exc.message, headers={"WWW-Authenticate": 'Bearer realm="scim"'})
    if isinstance(exc, domain.Forbidden):
        return ScimError(403, None, exc.message)
    if isinstance(exc, domain.InvalidValue):
        return ScimError(400, "invalidValue", exc.message)
    return ScimError(400, None, exc.message)
