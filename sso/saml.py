"""SAML 2.0 service provider for one SSO connection, on python3-saml (OneLogin).

python3-saml does every XML and signature check (schema, XML-DSig with the connection's
certificate, audience, Destination/Recipient, InResponseTo, Conditions and
SubjectConfirmation times, issuer). This module only:
- builds its settings from the connection and the values the admin pasted into the IdP
  (``sso.endpoints.sp_values``), so what is pasted is exactly what is checked;
- turns its error codes into the short reasons of ``SsoValidationError``;
- adds what python3-saml leaves to the caller: a signature is required (on the Response or
  the Assertion), the assertion must expire, its ID is remembered until then (replay), and
  an unsolicited response is refused unless the connection allows IdP-initiated sign-in.
"""

from __future__ import annotations

import binascii
import logging
import math
import time
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.cache import cache
from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from admincenter.models import SamlNameIdFormat, SsoConnection
from sso.endpoints import public_base_url, sp_values
from sso.identity import SsoIdentity, SsoValidationError, identity_from_attributes

logger = logging.getLogger(__name__)

# Shortest time an assertion ID is remembered, even when its NotOnOrAfter is nearly reached.
MIN_REPLAY_CACHE_SECONDS = 60

_V = OneLogin_Saml2_ValidationError
# python3-saml's validation error codes -> our reason codes. Codes not listed (unsupported
# version, wrong number of assertions, schema, missing Conditions/AuthnStatement/NameID,
# encrypted parts we do not accept, ...) are ``invalid_response``.
_REASONS_BY_CODE = {
    _V.STATUS_CODE_IS_NOT_SUCCESS: "idp_error",
    _V.WRONG_INRESPONSETO: "in_response_to_mismatch",
    _V.ASSERTION_EXPIRED: "expired",
    _V.RESPONSE_EXPIRED: "expired",
    _V.SESSION_EXPIRED: "expired",
    # Outside the validity window on the early side: same reason, the detail says which side.
    _V.ASSERTION_TOO_EARLY: "expired",
    _V.WRONG_DESTINATION: "destination_mismatch",
    _V.EMPTY_DESTINATION: "destination_mismatch",
    _V.WRONG_AUDIENCE: "audience_mismatch",
    _V.WRONG_ISSUER: "issuer_mismatch",
    _V.ISSUER_MULTIPLE_IN_RESPONSE: "issuer_mismatch",
    _V.ISSUER_NOT_FOUND_IN_ASSERTION: "issuer_mismatch",
    _V.NO_SIGNATURE_FOUND: "signature_invalid",
    _V.INVALID_SIGNATURE: "signature_invalid",
    _V.WRONG_NUMBER_OF_SIGNATURES: "signature_invalid",
    _V.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "signature_invalid",
    _V.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "signature_invalid",
    _V.WRONG_SIGNED_ELEMENT: "signature_invalid",
    _V.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "signature_invalid",
    _V.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "signature_invalid",
    _V.INVALID_SIGNED_ELEMENT: "signature_invalid",
    _V.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "signature_invalid",
    _V.UNEXPECTED_SIGNED_ELEMENTS: "signature_invalid",
    _V.NO_SIGNED_MESSAGE: "signature_invalid",
    _V.NO_SIGNED_ASSERTION: "signature_invalid",
    _V.DEPRECATED_SIGNATURE_METHOD: "signature_invalid",
    _V.DEPRECATED_DIGEST_METHOD: "signature_invalid",
}

_NS = OneLogin_Saml2_Constants.NSMAP


def _clock_skew_seconds() -> int:
    return int(django_settings.SSO_CLOCK_SKEW_SECONDS)


def _apply_clock_skew() -> None:
    # python3-saml 1.16 reads the allowed drift for Conditions NotBefore/NotOnOrAfter from this
    # class attribute only (there is no per-settings key); keep it equal to our setting.
    OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT = _clock_skew_seconds()


def saml_settings_dict(connection: SsoConnection, request=None) -> dict:
    """python3-saml settings for ``connection``: strict, no SP key (we sign nothing), a
    signature on the Response or the Assertion required (checked in ``validate_response``,
    as python3-saml can only require one of them specifically)."""
    values = sp_values(connection, request)
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": values.sp_entity_id,
            "assertionConsumerService": {"url": values.acs_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
            "NameIDFormat": values.nameid_format,
            "x509cert": "",
            "privateKey": "",
        },
        "idp": {
            "entityId": connection.saml_idp_entity_id,
            "singleSignOnService": {
                "url": connection.saml_idp_sso_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            },
            "x509cert": connection.saml_idp_x509_cert,
        },
        "security": {
            "authnRequestsSigned": False,
            "wantMessagesSigned": False,
            "wantAssertionsSigned": False,
            "wantAssertionsEncrypted": False,
            "wantNameIdEncrypted": False,
            "wantNameId": True,
            # Email-by-NameID IdPs send no attributes at all.
            "wantAttributeStatement": False,
            # SHA-1 signatures and digests are refused.
            "rejectDeprecatedAlgorithm": True,
            # No RequestedAuthnContext: an exact "password" context makes Entra ID and Okta
            # refuse users who signed in with MFA, Kerberos or a passkey.
            "requestedAuthnContext": False,
            "signMetadata": False,
            # Intranet IdPs (https://adfs/...) and the test server have single-label hosts.
            "allowSingleLabelDomains": True,
        },
    }


def _settings(connection: SsoConnection, request=None, *, sp_only: bool = False) -> OneLogin_Saml2_Settings:
    if not sp_only and not (connection.is_saml and connection.is_ready):
        raise SsoValidationError("connection_not_ready", f"connection {connection.public_id} lacks IdP settings")
    try:
        return OneLogin_Saml2_Settings(saml_settings_dict(connection, request), sp_validation_only=sp_only)
    except OneLogin_Saml2_Error as err:
        raise SsoValidationError("connection_not_ready", f"python3-saml refused the settings: {err}") from err


def request_data(request) -> dict:
    """python3-saml's view of the current request, built from the public base URL so the
    Destination/Recipient check compares against the ACS URL pasted into the IdP, not the
    host and scheme seen behind a proxy."""
    base = urlsplit(public_base_url(request))
    return {
        "https": "on" if base.scheme == "https" else "off",
        "http_host": base.netloc,
        "script_name": base.path.rstrip("/") + request.path,
        "get_data": {},
        "post_data": {},
    }


def authn_request_redirect(connection: SsoConnection, request) -> tuple[str, str]:
    """The IdP URL carrying an HTTP-Redirect AuthnRequest, and the request's ID (what the
    response's InResponseTo must be). No RelayState: the pending sign-in is kept server-side."""
    saml_settings = _settings(connection, request)
    authn_request = OneLogin_Saml2_Authn_Request(saml_settings)
    url = OneLogin_Saml2_Utils.redirect(
        saml_settings.get_idp_sso_url(), {"SAMLRequest": authn_request.get_request()}, request_data(request)
    )
    return url, authn_request.get_id()


def sp_metadata_xml(connection: SsoConnection, request=None) -> str:
    """The SP metadata for the connection; available before the IdP side is configured."""
    saml_settings = _settings(connection, request, sp_only=True)
    metadata = saml_settings.get_sp_metadata()
    errors = saml_settings.validate_metadata(metadata)
    if errors:  # our own settings are wrong: a bug, not client input
        raise ValueError(f"invalid SP metadata: {errors}")
    # python3-saml stamps validUntil two days ahead; an IdP that honours it would stop
    # trusting a pasted copy. cacheDuration alone tells URL-fetching IdPs when to refresh.
    root = etree.fromstring(metadata if isinstance(metadata, bytes) else metadata.encode())
    root.attrib.pop("validUntil", None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def _decoded_document(saml_response: str):
    """Parse a posted SAMLResponse without trusting it (no DTDs, no entities)."""
    try:
        xml = OneLogin_Saml2_Utils.b64decode(saml_response)
        return OneLogin_Saml2_XML.to_etree(xml)
    except (binascii.Error, ValueError, etree.LxmlError) as err:
        raise SsoValidationError("invalid_response", f"SAMLResponse is not base64 XML: {err}") from err


def peek_in_response_to(saml_response: str) -> str:
    """The InResponseTo of a response that is NOT yet verified: only to find which pending
    request it claims to answer. The Response's attribute, else the SubjectConfirmationData's."""
    document = _decoded_document(saml_response)
    if document.tag != f"{{{OneLogin_Saml2_Constants.NS_SAMLP}}}Response":
        raise SsoValidationError("invalid_response", f"root element is {document.tag}, not samlp:Response")
    value = document.get("InResponseTo")
    if value:
        return value
    for data in document.iterfind(
        "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", _NS
    ):
        if data.get("InResponseTo"):
            return data.get("InResponseTo")
    return ""


def _reason_for(err: Exception, document, *, current_url: str, in_response_to: str | None) -> str:
    code = getattr(err, "code", None)
    if isinstance(err, OneLogin_Saml2_ValidationError) and code in _REASONS_BY_CODE:
        return _REASONS_BY_CODE[code]
    if isinstance(err, OneLogin_Saml2_ValidationError) and code == _V.WRONG_SUBJECTCONFIRMATION:
        return _subject_confirmation_reason(document, current_url=current_url, in_response_to=in_response_to)
    return "invalid_response"


def _subject_confirmation_reason(document, *, current_url: str, in_response_to: str | None) -> str:
    """python3-saml reports one code when no SubjectConfirmation fits; say which check failed
    (read from the rejected document, only to choose the reason)."""
    now = OneLogin_Saml2_Utils.now()
    for data in document.iterfind(
        "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", _NS
    ):
        recipient, not_on_or_after = data.get("Recipient"), data.get("NotOnOrAfter")
        if recipient and current_url not in recipient:
            return "destination_mismatch"
        try:
            if not_on_or_after and OneLogin_Saml2_Utils.parse_SAML_to_time(not_on_or_after) <= now:
                return "expired"
        except Exception:  # python3-saml raises a bare Exception for a malformed time
            return "invalid_response"
        if data.get("InResponseTo") and data.get("InResponseTo") != in_response_to:
            return "in_response_to_mismatch"
    return "invalid_response"


# ``_query_assertion`` is python3-saml's own lookup of the assertion its signature check
# covered (by the signed Reference URI), which is what defeats signature-wrapping; reading
# the document with a plain XPath here would not be.
def _signed_assertion_in_response_to(response: OneLogin_Saml2_Response) -> set[str]:
    """InResponseTo values inside the verified assertion (its SubjectConfirmationData)."""
    nodes = response._query_assertion("/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData")
    return {node.get("InResponseTo") for node in nodes if node.get("InResponseTo")}


def _assertion_expires_at(response: OneLogin_Saml2_Response) -> float | None:
    """The latest NotOnOrAfter of the verified assertion (Conditions or SubjectConfirmation)."""
    candidates = []
    for node in response._query_assertion("/saml:Conditions[@NotOnOrAfter]"):
        candidates.append(OneLogin_Saml2_Utils.parse_SAML_to_time(node.get("NotOnOrAfter")))
    if response.get_assertion_not_on_or_after():
        candidates.append(response.get_assertion_not_on_or_after())
    return max(candidates) if candidates else None


def _nameid_is_email(connection: SsoConnection, nameid_format: str | None) -> bool:
    if nameid_format == SamlNameIdFormat.EMAIL:
        return True
    # An IdP that sends no format (or "unspecified") for a connection set to emailAddress.
    return connection.saml_nameid_format == SamlNameIdFormat.EMAIL and nameid_format in (
        None,
        "",
        SamlNameIdFormat.UNSPECIFIED,
    )


def validate_response(connection: SsoConnection, request, *, expected_request_id: str | None) -> SsoIdentity:
    """Verify the SAMLResponse POSTed to the connection's ACS and return who it identifies.

    ``expected_request_id`` is the ID of the AuthnRequest this browser started (already
    checked to be a pending request of this connection); ``None`` means an IdP-initiated
    (unsolicited) response, refused unless the connection allows it. Raises
    ``SsoValidationError`` for every failure; a valid assertion's ID is remembered until it
    expires, so the same assertion never signs in twice."""
    saml_settings = _settings(connection, request)
    posted = request.POST.get("SAMLResponse", "")
    if not posted.strip():
        raise SsoValidationError("invalid_response", "no SAMLResponse in the POST body")
    if expected_request_id is None and not connection.saml_allow_idp_initiated:
        raise SsoValidationError("unsolicited_refused", "IdP-initiated sign-in is off for this connection")
    _decoded_document(posted)  # garbage is invalid_response before python3-saml sees it

    _apply_clock_skew()
    data = request_data(request)
    try:
        response = OneLogin_Saml2_Response(saml_settings, posted)
        response.is_valid(data, request_id=expected_request_id, raise_exceptions=True)
        assertion_id = response.get_assertion_id()
        nameid = response.get_nameid()
        nameid_format = response.get_nameid_format()
        attributes = response.get_attributes()
    except Exception as err:
        # Client-sent XML: python3-saml raises its own errors for failed checks and bare
        # Exceptions for some malformed values (times, encrypted parts); none may become a 500.
        reason = _reason_for(
            err,
            _decoded_document(posted),
            current_url=OneLogin_Saml2_Utils.get_self_url_no_query(data),
            in_response_to=expected_request_id,
        )
        logger.info("SAML response refused for connection %s: %s (%s)", connection.public_id, reason, err)
        raise SsoValidationError(reason, str(err)) from err

    # python3-saml compares the Response's InResponseTo only when both it and the request ID
    # exist. The signed assertion's own (SubjectConfirmationData) must answer the same
    # request, and an unsolicited response must not carry one minted for another request.
    in_response_to = _signed_assertion_in_response_to(response) | ({response.get_in_response_to()} - {None})
    if in_response_to - {expected_request_id}:
        raise SsoValidationError(
            "in_response_to_mismatch", f"response answers {sorted(in_response_to)}, expected {expected_request_id!r}"
        )

    expires_at = _assertion_expires_at(response)
    if expires_at is None:
        # The Web SSO profile requires a bearer NotOnOrAfter; without one the assertion
        # could be replayed forever once it leaves the replay cache.
        raise SsoValidationError("invalid_response", "the assertion has no NotOnOrAfter")
    if not assertion_id:
        raise SsoValidationError("invalid_response", "the assertion has no ID")
    ttl = max(MIN_REPLAY_CACHE_SECONDS, math.ceil(expires_at + _clock_skew_seconds() - time.time()))
    if not cache.add(f"sso:saml:assertion:{connection.pk}:{assertion_id}", 1, timeout=ttl):
        raise SsoValidationError("replayed", f"assertion {assertion_id} was already used")

    return identity_from_attributes(
        connection,
        attributes,
        subject=nameid or "",
        nameid_email=nameid if nameid and _nameid_is_email(connection, nameid_format) else "",
    )
