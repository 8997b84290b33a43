"""Who the end-to-end IdPs vouch for. Each IdP knows all of them for the whole session;
each test creates, in the app, the state its person needs (nothing, a SCIM user, ...)."""

from admincenter.services import Actor
from tests.e2e.idp import OidcAccount, SamlUser

OPERATOR = Actor.operator("e2e tests")

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
