"""An IdP's SAML metadata: parsed with python3-saml, fetched server-side with requests.

An administrator gives the IdP's metadata either as pasted XML or as a URL; both end up as
the three values a SAML connection needs (entity ID, HTTP-Redirect SSO URL, signing
certificate). Parsing is python3-saml's ``OneLogin_Saml2_IdPMetadataParser`` (its parser
refuses DTDs and entities, so a pasted document cannot expand or fetch anything).

Fetching a URL the administrator typed is a request from our server, so it is bounded:
http(s) only, ``SSO_HTTP_TIMEOUT_SECONDS`` per socket operation and for the whole body,
and at most ``SSO_METADATA_MAX_BYTES`` read, streamed so a huge answer is never held in
memory. Every failure is an ``InvalidValue`` whose message can be shown next to the field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from admincenter.errors import InvalidValue

METADATA_XML_FIELD = "saml_idp_metadata_xml"
METADATA_URL_FIELD = "saml_idp_metadata_url"


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    # Base64 body of the first signing certificate (python3-saml strips the whitespace).
    x509_cert: str
    # The first NameIDFormat the IdP lists, or "" (informational: the connection keeps its own).
    nameid_format: str = ""

    def connection_settings(self) -> dict[str, str]:
        """The keyword arguments of ``sso_connection_create``/``_update`` these values fill."""
        return {
            "saml_idp_entity_id": self.entity_id,
            "saml_idp_sso_url": self.sso_url,
            "saml_idp_x509_cert": self.x509_cert,
        }


def _signing_certificate(idp: dict) -> str:
    if idp.get("x509cert"):
        return idp["x509cert"]
    several = idp.get("x509certMulti") or {}
    # Several signing certificates mean a key rollover in progress: the first is current.
    for use in ("signing", "encryption"):
        if several.get(use):
            return several[use][0]
    return ""


def parse_idp_metadata(xml: str | bytes, *, field: str = METADATA_XML_FIELD) -> IdpMetadata:
    """The IdP values in a metadata document, or InvalidValue naming what is missing."""
    if isinstance(xml, str):
        xml = xml.strip().encode()
    if not xml.strip():
        raise InvalidValue("The IdP metadata is empty.", field=field)
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except (etree.LxmlError, ValueError) as error:
        # DTDForbidden and EntitiesForbidden are ValueErrors; malformed XML is an LxmlError.
        raise InvalidValue(f"This is not SAML metadata XML ({error}).", field=field) from None
    idp = parsed.get("idp")
    if not idp:
        raise InvalidValue(
            "This XML has no IdP description (an EntityDescriptor with an IDPSSODescriptor).", field=field
        )
    missing = []
    if not idp.get("entityId"):
        missing.append("entity ID")
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    if not sso_url:
        missing.append("single sign-on URL for the HTTP-Redirect binding")
    certificate = _signing_certificate(idp)
    if not certificate:
        missing.append("signing certificate")
    if missing:
        raise InvalidValue(f"The IdP metadata has no {', no '.join(missing)}.", field=field)
    return IdpMetadata(
        entity_id=idp["entityId"],
        sso_url=sso_url,
        x509_cert=certificate,
        nameid_format=(parsed.get("sp") or {}).get("NameIDFormat", ""),
    )


def fetch_metadata_xml(url: str, *, field: str = METADATA_URL_FIELD) -> bytes:
    """GET ``url`` from this server within the time and size limits."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue("The metadata URL must be an http:// or https:// URL.", field=field)
    timeout = settings.SSO_HTTP_TIMEOUT_SECONDS
    limit = settings.SSO_METADATA_MAX_BYTES
    # requests' timeout bounds each socket wait; a server dripping bytes is bounded by this deadline.
    deadline = time.monotonic() + timeout
    too_large = InvalidValue(f"The metadata at {url} is larger than {limit} bytes.", field=field)
    try:
        with requests.get(
            url, timeout=timeout, stream=True, headers={"Accept": "application/samlmetadata+xml, application/xml"}
        ) as response:
            if response.status_code != 200:
                raise InvalidValue(f"The metadata URL answered HTTP {response.status_code}.", field=field)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large
            body = bytearray()
            while True:
                # read1 returns what has arrived (decompressed, so the cap also bounds a gzip bomb)
                # instead of waiting for a full chunk, so the deadline is checked as bytes trickle in.
                chunk = response.raw.read1(16384, decode_content=True)
                if not chunk:
                    return bytes(body)
                body.extend(chunk)
                if len(body) > limit:
                    raise too_large
                if time.monotonic() > deadline:
                    raise InvalidValue(f"The metadata URL took longer than {timeout} s to answer.", field=field)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise InvalidValue(f"The metadata URL took longer than {timeout} s to answer.", field=field) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        reason = type(error).__name__.replace("Error", " error").strip()
        raise InvalidValue(f"The metadata URL could not be reached ({reason}).", field=field) from None


def fetch_idp_metadata(url: str, *, field: str = METADATA_URL_FIELD) -> IdpMetadata:
    """Fetch and parse the metadata at ``url``; errors name ``field``."""
    return parse_idp_metadata(fetch_metadata_xml(url, field=field), field=field)
