"""Which identity provider sent a SCIM request, guessed from its User-Agent header.

Used by the audit pipeline to label request-log rows and to write summaries such as
"PingOne added 3 members to Sales". A guess only: the header is whatever the client
sends, so it is never used for a security decision.
"""

from __future__ import annotations

import re

PINGONE = "PingOne"
ENTRA_ID = "Microsoft Entra ID"
OKTA = "Okta"
UNKNOWN = "unknown"

KNOWN_IDPS = (PINGONE, ENTRA_ID, OKTA)

# Order matters: the first match wins.
_PATTERNS = (
    # PingOne and PingFederate send "PingOne" / "Ping Identity" style agents.
    (PINGONE, re.compile(r"ping\s*one|ping\s*identity|pingfederate", re.IGNORECASE)),
    # Entra ID (formerly Azure AD) provisioning sends agents such as
    # "Microsoft.AAD.Provisioning" or "Azure AD SCIM"; "AAD" is matched as a word only.
    (ENTRA_ID, re.compile(r"azure\s*ad|microsoft|entra|(?<![a-z])aad(?![a-z])", re.IGNORECASE)),
    (OKTA, re.compile(r"okta", re.IGNORECASE)),
)


def idp_from_user_agent(user_agent: str | None) -> str:
    """``PingOne``, ``Microsoft Entra ID``, ``Okta`` or ``unknown``."""
    if not user_agent:
        return UNKNOWN
    for name, pattern in _PATTERNS:
        if pattern.search(user_agent):
            return name
    return UNKNOWN
