"""The URLs and values an administrator pastes into their IdP, for one connection.

One function computes them for the Admin Center (Settings > SSO connections), the
operator command (``manage.py sso_connection show``) and the SAML/OIDC code itself, so
what the admin pastes is exactly what the code checks (audience, ACS, redirect URI).

The base URL is ``PUBLIC_BASE_URL`` when set (production: the public HTTPS origin), else
the current request's origin, else ``http://localhost:8000`` for a command on a laptop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.urls import reverse

from admincenter.models import SamlNameIdFormat, SsoConnection

_LAPTOP_BASE_URL = "http://localhost:8000"


def public_base_url(request=None) -> str:
    configured = getattr(settings, "PUBLIC_BASE_URL", "")
    if configured:
        return configured
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return _LAPTOP_BASE_URL


@dataclass(frozen=True)
class SpValues:
    sp_entity_id: str
    acs_url: str
    sp_metadata_url: str
    nameid_format: str
    oidc_redirect_uri: str
    login_url: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def sp_values(connection: SsoConnection, request=None) -> SpValues:
    base = public_base_url(request)
    key = {"public_id": connection.public_id}
    metadata_url = base + reverse("sso:saml_metadata", kwargs=key)
    return SpValues(
        # The SP entity ID is the metadata URL: unique per connection and self-describing.
        sp_entity_id=metadata_url,
        acs_url=base + reverse("sso:saml_acs", kwargs=key),
        sp_metadata_url=metadata_url,
        nameid_format=SamlNameIdFormat(connection.saml_nameid_format).value
        if connection.saml_nameid_format
        else SamlNameIdFormat.EMAIL.value,
        oidc_redirect_uri=base + reverse("sso:oidc_callback", kwargs=key),
        login_url=base + reverse("sso:login", kwargs=key),
    )
