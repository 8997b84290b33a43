"""``manage.py create_organization``: an operator creates a tenant (docs/domain.md#organization).

The organization comes with its two system groups and its Admin Center instance
(``services.organization_create``); the optional first admin joins *Admin Center
Administrators*, so they can sign in at /login/ and run the organization from there.
"""

from django.core.management.base import CommandError

from admincenter import services
from admincenter.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create an organization (a tenant) with its system groups and its Admin Center instance, "
        "optionally with a first administrator who joins Admin Center Administrators."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display name, for example 'Acme Corporation'.")
        parser.add_argument(
            "--slug",
            required=True,
            help="Unique identifier used by the other commands: lower-case letters, digits and hyphens.",
        )
        parser.add_argument(
            "--admin-email",
            metavar="EMAIL",
            help="Email of the first administrator, created as a manual user in Admin Center Administrators.",
        )
        parser.add_argument(
            "--admin-password",
            metavar="PASSWORD",
            help=(
                "Password of the first administrator (checked by the password validators; only with "
                "--admin-email). It ends up in your shell history: change it after the first sign-in."
            ),
        )

    def handle(self, *args, name, slug, admin_email, admin_password, **options):
        if admin_password and not admin_email:
            raise CommandError("--admin-password needs --admin-email.")
        organization = services.organization_create(
            name=name,
            slug=slug,
            admin_email=admin_email,
            admin_password=admin_password,
            actor=self.actor,
        )
        if admin_email:
            admin = organization.home_users.get()
            self.stdout.write(
                f"Created organization '{organization.name}' (slug {organization.slug}) "
                f"with administrator {admin.email} in Admin Center Administrators."
            )
            if not admin_password:
                self.info(
                    f"{admin.email} has no password yet: set one with "
                    f"'python manage.py changepassword {admin.email}' or sign in through SSO."
                )
        else:
            self.stdout.write(
                f"Created organization '{organization.name}' (slug {organization.slug}) without an administrator."
            )
