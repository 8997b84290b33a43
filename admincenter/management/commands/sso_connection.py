"""``manage.py sso_connection add|list|delete``: SSO connections of an organization
(domain.md §2.2). The rules (at most 5 connections, unique names, domains owned by one
connection, no public mail domains, the SCIM connection cannot be deleted) are the
services'; this command only parses arguments and prints results."""

from admincenter import services
from admincenter.management.base import OperatorCommand, connection_by_name, format_time, table
from admincenter.models import SsoProtocol


class Command(OperatorCommand):
    help = "Add, list or delete the SSO connections of an organization."

    def add_arguments(self, parser):
        parser.epilog = "Run 'manage.py sso_connection ACTION --help' for the options of an action."
        actions = parser.add_subparsers(
            dest="action",
            required=True,
            title="actions",
            metavar="{add,list,delete}",
        )

        add = actions.add_parser(
            "add",
            help="Create an SSO connection.",
            description="Create an SSO connection (at most 5 per organization; names are unique per organization).",
        )
        self.add_org_argument(add)
        add.add_argument("--name", required=True, help="Connection name, shown on the login page, e.g. 'PingOne'.")
        add.add_argument(
            "--protocol",
            required=True,
            metavar="{saml,oidc}",
            help=f"Single sign-on protocol: {' or '.join(SsoProtocol.values)}.",
        )
        add.add_argument(
            "--domains",
            default="",
            metavar="DOMAINS",
            help=(
                "Comma-separated email domains served by this connection, e.g. 'acme.com,acme.de'. "
                "A domain belongs to one connection only; public mail domains are refused."
            ),
        )

        listing = actions.add_parser(
            "list",
            help="List the SSO connections.",
            description="List the SSO connections of an organization, with their domains and SCIM state.",
        )
        self.add_org_argument(listing)

        delete = actions.add_parser(
            "delete",
            help="Delete an SSO connection.",
            description=(
                "Delete an SSO connection and its domains. The SCIM connection cannot be deleted: "
                "switch the organization to JIT first (manage.py provisioning --mode jit)."
            ),
        )
        self.add_org_argument(delete)
        delete.add_argument("--name", required=True, help="Name of the connection to delete (case-insensitive).")

    def handle(self, *args, action, org, **options):
        organization = self.organization(org)
        if action == "add":
            self.add(organization, options["name"], options["protocol"], options["domains"])
        elif action == "list":
            self.list(organization)
        else:
            self.delete(organization, options["name"])

    def add(self, organization, name, protocol, domains):
        connection = services.sso_connection_create(
            organization=organization,
            name=name,
            protocol=protocol,
            domains=[d for d in domains.replace(" ", ",").split(",") if d],
            actor=self.actor,
        )
        self.stdout.write(
            f"Created SSO connection '{connection.name}' ({connection.get_protocol_display()}) "
            f"in {organization.slug}; domains: {', '.join(connection.domain_names) or 'none'}."
        )

    def list(self, organization):
        connections = organization.sso_connections.prefetch_related("domains")
        rows = [
            (
                c.name,
                c.protocol,
                ",".join(c.domain_names) or "-",
                "enabled" if c.scim_enabled else "-",
                format_time(c.created_at),
            )
            for c in connections
        ]
        if not rows:
            self.stdout.write(f"No SSO connections in {organization.slug}.")
            return
        self.stdout.write(table(("name", "protocol", "domains", "scim", "created"), rows))

    def delete(self, organization, name):
        connection = connection_by_name(organization=organization, name=name)
        services.sso_connection_delete(organization=organization, connection=connection, actor=self.actor)
        self.stdout.write(f"Deleted SSO connection '{connection.name}' from {organization.slug}.")
