"""A self-signed IdP certificate and an IdP metadata document, for configuration tests."""

from __future__ import annotations

import base64
from functools import lru_cache

from tests.certificates import self_signed_certificate

IDP_ENTITY_ID = "https://idp.example.test/saml2/metadata"
IDP_SSO_URL = "https://idp.example.test/saml2/sso"


@lru_cache(maxsize=4)
def certificate_pem(common_name: str = "idp.example.test") -> str:
    return self_signed_certificate(common_name)[1]


def certificate_body(pem: str) -> str:
    """The base64 body of a PEM certificate, on one line (what metadata carries)."""
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def certificate_der(pem: str) -> bytes:
    return base64.b64decode(certificate_body(pem))


def idp_metadata_xml(
    *,
    entity_id: str = IDP_ENTITY_ID,
    sso_url: str = IDP_SSO_URL,
    certificate: str | None = None,
    binding: str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    padding: int = 0,
) -> str:
    body = certificate_body(certificate or certificate_pem())
    comment = f"<!-- {'x' * padding} -->" if padding else ""
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  {comment}
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="{binding}" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
