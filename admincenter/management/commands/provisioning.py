"""``manage.py provisioning``: switch an organization between JIT and SCIM provisioning
(docs/domain.md#provisioning-mode) through ``services.provisioning_mode_set``.

Switching to JIT revokes every SCIM token and releases SCIM users and groups
(docs/domain.md#disabling-scim-releases-and-deletes-nothing):
nothing is deleted, they become locally managed. The command prints those counts.
"""

from django.core.management.base import CommandError

from admincenter import services
from admincenter.management.base import OperatorCommand, connection_by_name
from admincenter.models import ProvisioningMode


class Command(OperatorCommand):
    help = (
        "Set the provisioning mode of an organization: 'scim' enables SCIM on one SSO connection "
        "(JIT user creation and group-claim sync stop); 'jit' disables SCIM, revokes every SCIM token "
        "and releases SCIM users and groups to local management."
    )

    def add_arguments(self, parser):
        self.add_org_argument(parser)
        parser.add_argument(
            "--mode",
            required=True,
            metavar="{scim,jit}",
            help="'scim' (the IdP pushes users and groups) or 'jit' (users are created at SSO sign-in).",
        )
        parser.add_argument(
            "--connection",
            metavar="NAME",
            help="With --mode scim: name of the SSO connection that carries SCIM.",
        )

    def handle(self, *args, org, mode, connection, **options):
        organization = self.organization(org)
        mode = (mode or "").strip().lower()
        if mode == ProvisioningMode.SCIM:
            if not connection:
                raise CommandError("--mode scim needs --connection NAME (see: manage.py sso_connection list).")
            sso = connection_by_name(organization=organization, name=connection)
            services.provisioning_mode_set(organization=organization, mode=mode, connection=sso, actor=self.actor)
            self.stdout.write(
                f"{organization.slug}: provisioning mode jit -> scim on SSO connection '{sso.name}'. "
                "JIT user creation and group-claim sync are off."
            )
            self.stdout.write(f"Issue a SCIM token with: python manage.py scim_token issue --org {organization.slug}")
            return
        if connection and mode == ProvisioningMode.JIT:
            raise CommandError("--connection is only used with --mode scim.")
        released = services.provisioning_mode_set(organization=organization, mode=mode, actor=self.actor)
        self.stdout.write(
            f"{organization.slug}: provisioning mode scim -> jit. "
            f"Revoked {released['tokens_revoked']} SCIM token(s); "
            f"released {released['users_released']} user(s) and {released['groups_released']} group(s) "
            f"({released['memberships_released']} membership(s)) to local management."
        )
