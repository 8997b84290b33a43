"""Bearer-token authentication for the SCIM API (docs/domain.md#scim-token,
docs/domain.md#scim-outside-scim-mode).

``Authorization: Bearer <token>``, the scheme matched case-insensitively; the token is
hashed and looked up by hash. Anything else (missing header, Basic, an unknown, revoked
or expired token) is 401 with ``WWW-Authenticate: Bearer``; a live token whose
organization left SCIM mode is 403. The token row becomes ``request.auth``.
"""

from rest_framework import authentication, exceptions, permissions

from admincenter.errors import Forbidden, Unauthenticated
from admincenter.services.tokens import scim_token_check, scim_token_lookup


class ScimBearerAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.strip():
            return None
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise exceptions.AuthenticationFailed(
                "Only bearer tokens are accepted: send 'Authorization: Bearer <SCIM token>'."
            )
        token = scim_token_lookup(credentials.strip())
        # Kept on the Django request for the request log, also when the token is refused:
        # a revoked or expired token still names its organization.
        request._request.scim_token = token
        try:
            scim_token_check(token)
        except Unauthenticated as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        except Forbidden as exc:
            raise exceptions.PermissionDenied(exc.message) from None
        return (None, token)

    def authenticate_header(self, request):
        return 'Bearer realm="scim"'


class ScimTokenRequired(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.auth is not None
