"""A test SAML identity provider: a key and self-signed certificate made at test time with
``cryptography``, and SAML Responses built as XML and signed with python3-saml's
``OneLogin_Saml2_Utils.add_sign`` (xmlsec), the way a real IdP signs them."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.certificates import self_signed_certificate

SAMLP = OneLogin_Saml2_Constants.NS_SAMLP
SAML = OneLogin_Saml2_Constants.NS_SAML
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"samlp": SAMLP, "saml": SAML}
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"


@dataclass(frozen=True)
class SigningIdp:
    entity_id: str
    sso_url: str
    key_pem: str
    cert_pem: str


@cache
def _key_and_cert(common_name: str) -> tuple[str, str]:
    return self_signed_certificate(common_name)


def make_idp(
    entity_id: str = "https://idp.example.test/saml2/idp/metadata.php",
    sso_url: str = "https://idp.example.test/saml2/idp/SSOService.php",
    *,
    key_name: str = "test-idp",
) -> SigningIdp:
    """An IdP; the same ``key_name`` gives the same key pair within a test run."""
    key_pem, cert_pem = _key_and_cert(key_name)
    return SigningIdp(entity_id=entity_id, sso_url=sso_url, key_pem=key_pem, cert_pem=cert_pem)


def saml_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent, ns: str, tag: str, text: str | None = None, **attrs):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def build_response(
    idp: SigningIdp,
    *,
    audience: str,
    acs_url: str,
    in_response_to: str | None = None,
    assertion_in_response_to: str | None = "same",
    nameid: str = "alice@acme.test",
    nameid_format: str | None = EMAIL_FORMAT,
    attributes: dict[str, list[str]] | None = None,
    issuer: str | None = None,
    destination: str | None = "acs",
    recipient: str | None = "acs",
    not_before: dt.datetime | None = None,
    not_on_or_after: dt.datetime | None = None,
    subject_not_on_or_after: dt.datetime | None = None,
    status: str = STATUS_SUCCESS,
    assertion_id: str | None = None,
    sign_assertion: bool = True,
    sign_response: bool = False,
    signing_idp: SigningIdp | None = None,
    sign_algorithm: str = OneLogin_Saml2_Constants.RSA_SHA256,
    digest_algorithm: str = OneLogin_Saml2_Constants.SHA256,
) -> str:
    """A SAML Response as XML text. ``destination``/``recipient`` "acs" mean ``acs_url``;
    ``assertion_in_response_to`` "same" means ``in_response_to``. Times default to a
    five-minute window around now. ``signing_idp`` signs instead of ``idp`` (wrong key)."""
    now = dt.datetime.now(dt.UTC)
    issuer = issuer or idp.entity_id
    not_before = not_before or now - dt.timedelta(seconds=30)
    not_on_or_after = not_on_or_after or now + dt.timedelta(minutes=5)
    subject_not_on_or_after = subject_not_on_or_after or not_on_or_after
    destination = acs_url if destination == "acs" else destination
    recipient = acs_url if recipient == "acs" else recipient
    assertion_in_response_to = in_response_to if assertion_in_response_to == "same" else assertion_in_response_to

    response = etree.Element(
        f"{{{SAMLP}}}Response",
        {
            k: v
            for k, v in {
                "ID": "_r" + uuid.uuid4().hex,
                "Version": "2.0",
                "IssueInstant": saml_time(now),
                "Destination": destination,
                "InResponseTo": in_response_to,
            }.items()
            if v is not None
        },
        nsmap=NSMAP,
    )
    _sub(response, SAML, "Issuer", issuer)
    status_element = _sub(response, SAMLP, "Status")
    _sub(status_element, SAMLP, "StatusCode", Value=status)
    if status != STATUS_SUCCESS:
        return etree.tostring(response).decode()

    assertion = etree.Element(
        f"{{{SAML}}}Assertion",
        {"ID": assertion_id or "_a" + uuid.uuid4().hex, "Version": "2.0", "IssueInstant": saml_time(now)},
        nsmap={"saml": SAML, "xs": XS, "xsi": XSI},
    )
    _sub(assertion, SAML, "Issuer", issuer)
    subject = _sub(assertion, SAML, "Subject")
    _sub(subject, SAML, "NameID", nameid, Format=nameid_format)
    confirmation = _sub(subject, SAML, "SubjectConfirmation", Method=OneLogin_Saml2_Constants.CM_BEARER)
    _sub(
        confirmation,
        SAML,
        "SubjectConfirmationData",
        NotOnOrAfter=saml_time(subject_not_on_or_after),
        Recipient=recipient,
        InResponseTo=assertion_in_response_to,
    )
    conditions = _sub(
        assertion, SAML, "Conditions", NotBefore=saml_time(not_before), NotOnOrAfter=saml_time(not_on_or_after)
    )
    _sub(_sub(conditions, SAML, "AudienceRestriction"), SAML, "Audience", audience)
    authn = _sub(assertion, SAML, "AuthnStatement", AuthnInstant=saml_time(now), SessionIndex="_s" + uuid.uuid4().hex)
    _sub(_sub(authn, SAML, "AuthnContext"), SAML, "AuthnContextClassRef", OneLogin_Saml2_Constants.AC_PASSWORD)
    if attributes:
        statement = _sub(assertion, SAML, "AttributeStatement")
        for name, values in attributes.items():
            attribute = _sub(
                statement, SAML, "Attribute", Name=name, NameFormat=OneLogin_Saml2_Constants.ATTRNAME_FORMAT_BASIC
            )
            for value in values:
                _sub(attribute, SAML, "AttributeValue", value, **{f"{{{XSI}}}type": "xs:string"})

    signer = signing_idp or idp
    algorithms = {"sign_algorithm": sign_algorithm, "digest_algorithm": digest_algorithm}
    if sign_assertion:
        signed = OneLogin_Saml2_Utils.add_sign(etree.tostring(assertion), signer.key_pem, signer.cert_pem, **algorithms)
        assertion = etree.fromstring(signed)
    response.append(assertion)
    xml = etree.tostring(response)
    if sign_response:
        xml = OneLogin_Saml2_Utils.add_sign(xml, signer.key_pem, signer.cert_pem, **algorithms)
    return xml.decode() if isinstance(xml, bytes) else xml


def encode(xml: str) -> str:
    """The SAMLResponse form value of the HTTP-POST binding."""
    return base64.b64encode(xml.encode()).decode()
