"""Who the end-to-end IdPs vouch for, and the relying parties they know.

Each IdP knows all of them for the whole session; each test creates, in the app, the
connection and the state its person needs (nothing, a SCIM user, ...)."""

import uuid

from admincenter.services import Actor
from tests.e2e.idp import OidcAccount, SamlUser

OPERATOR = Actor.operator("e2e tests")

# The relying parties the IdPs are configured for at session start.
SAML_CONNECTION_ID = uuid.UUID("5a3f0e1c-0000-4000-8000-000000005a31")
OIDC_CONNECTION_ID = uuid.UUID("0d1c0e1c-0000-4000-8000-000000000d1c")
OIDC_CLIENT_ID = "optiid-e2e"
OIDC_CLIENT_SECRET = "optiid-e2e-client-secret"  # the provider's test client, not a real secret
# A second client, whose connection authenticates at the token endpoint with client_secret_post.
OIDC_POST_CONNECTION_ID = uuid.UUID("0d1c0e1c-0000-4000-8000-0000000000b0")
OIDC_POST_CLIENT_ID = "optiid-e2e-post"

# The people.
NEW_HIRE = "nia.newhire@acme.test"  # unknown to the app: JIT creates her
GROUPED = "gus.grouped@acme.test"  # carries a group claim
PROVISIONED = "pat.provisioned@acme.test"  # pushed by SCIM before signing in
STRANGER = "sam.stranger@acme.test"  # never provisioned: refused in SCIM mode
DEPARTED = "dee.departed@acme.test"  # provisioned, then deactivated by SCIM
ADMIN = "admin@acme.test"  # Acme's first administrator (the ``acme`` fixture), also at the IdP
OTHER_ORG_USER = "hank@globex.test"  # home is Globex, yet Acme's IdP vouches for him
CLAIMED_GROUPS = ("Marketing", "Opti_Not_A_Group_Here")

SAML_PEOPLE = [
    SamlUser(NEW_HIRE, "Nia", "Newhire"),
    SamlUser(GROUPED, "Gus", "Grouped", groups=CLAIMED_GROUPS),
    SamlUser(PROVISIONED, "Pat", "Provisioned"),
    SamlUser(STRANGER, "Sam", "Stranger"),
    SamlUser(DEPARTED, "Dee", "Departed"),
    SamlUser(ADMIN, "Ada", "Admin"),
    SamlUser(OTHER_ORG_USER, "Hank", "Globex"),
]
OIDC_PEOPLE = [
    OidcAccount(person.email, person.email, person.given_name, person.family_name, person.groups)
    for person in SAML_PEOPLE
]
