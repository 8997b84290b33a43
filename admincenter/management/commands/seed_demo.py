"""``manage.py seed_demo``: the demo organization ``acme`` for a laptop (``make run``).

It creates, through the services and in one transaction (so a failed run leaves
nothing behind): the organization with its administrator, the PingOne SAML connection
with SCIM enabled, a few product instances, custom groups with grants and manual users
in them, and a first SCIM token, printed once.

Idempotent by design: ``make run`` runs it on every start, so once ``acme`` exists it
changes nothing at all. It does not re-create what an admin deleted nor re-enable SCIM
an admin turned off; it only prints where to sign in again. Delete ``db.sqlite3`` (or
the organization) to seed afresh.
"""

import os

from django.conf import settings

from admincenter import services
from admincenter.management.base import OperatorCommand
from admincenter.models import Organization, ProvisioningMode, Role
from admincenter.transactions import atomic

SLUG = "acme"
NAME = "Acme Corporation"
ADMIN_EMAIL = "admin@acme.test"
# A fixed, documented password for the local demo only; DEMO_ADMIN_PASSWORD overrides it.
DEFAULT_DEMO_PASSWORD = "acme-admin-demo-2026"
CONNECTION = "PingOne"
DOMAIN = "acme.test"
TOKEN_LABEL = "PingOne (demo)"
SITE_URL = "http://127.0.0.1:8000"

# (product code, nickname)
INSTANCES = [
    ("cms", "Production"),
    ("cms", "Staging"),
    ("web_experimentation", "Main"),
    ("odp", "EU"),
]
# group name -> [(product code, instance nickname, role key)]
GROUPS = {
    "Marketing": [("web_experimentation", "Main", "editor"), ("odp", "EU", "user")],
    "Content Editors": [("cms", "Production", "content_editors"), ("cms", "Staging", "content_editors")],
    "Partners": [("cms", "Staging", "content_editors")],
}
# (email, given name, family name, [group names])
USERS = [
    ("maria.garcia@acme.test", "Maria", "Garcia", ["Marketing", "Content Editors"]),
    ("tom.baker@acme.test", "Tom", "Baker", ["Content Editors"]),
    ("priya.shah@acme.test", "Priya", "Shah", ["Partners"]),
]


class Command(OperatorCommand):
    help = (
        "Create the demo organization 'acme' (Acme Corporation) with an administrator, a PingOne SAML "
        "connection with SCIM enabled, product instances, groups with grants, users and a SCIM token. "
        "Idempotent: when 'acme' exists it changes nothing and only prints the sign-in details. "
        f"The admin password is '{DEFAULT_DEMO_PASSWORD}' unless DEMO_ADMIN_PASSWORD is set."
    )

    def handle(self, *args, **options):
        password_from_env = bool(os.environ.get("DEMO_ADMIN_PASSWORD"))
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_DEMO_PASSWORD
        existing = Organization.objects.filter(slug=SLUG).first()
        raw_token = None
        if existing is None:
            with atomic():
                raw_token = self.seed(password)
            self.stdout.write(f"Created the demo organization {NAME} ({SLUG}).")
        else:
            self.stdout.write(f"The demo organization {existing.name} ({SLUG}) already exists: nothing was changed.")
            if existing.created_by != self.actor.display:
                self.info(
                    f"'{SLUG}' was not created by seed_demo (created by '{existing.created_by}'): "
                    "the demo sign-in details below may not apply."
                )
        self.print_details(password="the value of DEMO_ADMIN_PASSWORD" if password_from_env else password)
        self.print_token(raw_token)

    def seed(self, password: str) -> str:
        actor = self.actor
        org = services.organization_create(
            name=NAME, slug=SLUG, admin_email=ADMIN_EMAIL, admin_password=password, actor=actor
        )
        # A named admin: the Okta SCIM Spec Test reads the first user of the list and expects
        # name.givenName and name.familyName.
        services.user_update(
            organization=org,
            user=org.home_users.get(email=ADMIN_EMAIL),
            given_name="Alex",
            family_name="Admin",
            actor=actor,
        )
        connection = services.sso_connection_create(
            organization=org, name=CONNECTION, protocol="saml", domains=[DOMAIN], actor=actor
        )
        instances = {
            (code, nickname): services.product_instance_create(
                organization=org, product_code=code, nickname=nickname, actor=actor
            )
            for code, nickname in INSTANCES
        }
        groups = {}
        for name, grants in GROUPS.items():
            group = services.group_create(organization=org, name=name, actor=actor)
            for code, nickname, role_key in grants:
                instance = instances[(code, nickname)]
                role = Role.objects.get(product=instance.product, key=role_key)
                services.group_grant_add(organization=org, group=group, instance=instance, roles=[role], actor=actor)
            groups[name] = group
        for email, given, family, group_names in USERS:
            user = services.user_create(
                organization=org, email=email, given_name=given, family_name=family, actor=actor
            )
            for name in group_names:
                services.group_members_add(organization=org, group=groups[name], user_ids=[user.pk], actor=actor)
        # Last, as in real life: the users above exist before SCIM, so PingOne adopts them (docs/domain.md#adoption).
        services.provisioning_mode_set(organization=org, mode=ProvisioningMode.SCIM, connection=connection, actor=actor)
        return services.scim_token_issue(organization=org, label=TOKEN_LABEL, actor=actor).raw

    def print_details(self, *, password: str) -> None:
        scim_base = settings.SCIM_BASE_URL or f"{SITE_URL}{settings.SCIM_PATH}"
        site = scim_base.removesuffix(settings.SCIM_PATH) if scim_base.endswith(settings.SCIM_PATH) else SITE_URL
        self.stdout.write(f"Sign in:        {site}/login/")
        self.stdout.write(f"  email:        {ADMIN_EMAIL}")
        self.stdout.write(f"  password:     {password}")
        self.stdout.write(f"SCIM base URL:  {scim_base}")

    def print_token(self, raw_token: str | None) -> None:
        if raw_token:
            self.stdout.write(f"SCIM token:     {raw_token}")
            self.stdout.write("                Shown only this once: paste it into PingOne now.")
        else:
            self.stdout.write("SCIM token:     shown on the first run only. Issue another with:")
            self.stdout.write(
                f'                python manage.py scim_token issue --org {SLUG} --label "PingOne (demo 2)"'
            )
