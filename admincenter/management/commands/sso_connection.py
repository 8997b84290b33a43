"""``manage.py sso_connection add|update|show|list|delete``: SSO connections of an
organization (docs/domain.md#sso-connection) and the values to paste into the IdP.

The rules (at most 5 connections, unique names, domains, valid URLs and certificates, the
write-only client secret, the SCIM connection cannot be deleted) are the services'; this
command parses arguments, reads or fetches IdP metadata (``sso.metadata``) and prints
results. ``show`` prints one ``key: value`` line per value on stdout, so scripts can read
it; notes for the human go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import CommandError

from admincenter import services
from admincenter.errors import InvalidValue
from admincenter.management.base import OperatorCommand, connection_by_name, format_time, table
from admincenter.models import OidcTokenAuthMethod, SsoConnection, SsoProtocol
from sso.endpoints import sp_values
from sso.metadata import fetch_idp_metadata, parse_idp_metadata

SHOW_KEYS = ("sp_entity_id", "acs_url", "sp_metadata_url", "oidc_redirect_uri", "login_url")
# Metadata files are local and chosen by the operator, but a wrong path (a log, a disk
# image) should fail fast rather than be read whole.
METADATA_FILE_MAX_BYTES = 5_000_000


class Command(OperatorCommand):
    help = "Add, update, show, list or delete the SSO connections of an organization."

    def add_arguments(self, parser):
        actions = self.add_actions(parser, "add", "update", "show", "list", "delete")

        add = self.add_action(
            actions,
            "add",
            help="Create an SSO connection.",
            description=(
                "Create an SSO connection (at most 5 per organization; names are unique per organization). "
                "Without its protocol settings the connection is a draft that signs nobody in yet."
            ),
        )
        add.add_argument(
            "--name",
            required=True,
            help="Connection name, e.g. 'PingOne'; shown when a sign-in through it is refused or fails.",
        )
        add.add_argument(
            "--protocol",
            required=True,
            metavar="{saml,oidc}",
            help=f"Single sign-on protocol: {' or '.join(SsoProtocol.values)}.",
        )
        self._add_settings_arguments(add)

        update = self.add_action(
            actions,
            "update",
            help="Change an SSO connection.",
            description=(
                "Change an SSO connection, selected by --name. Options left out keep their value; "
                "--domains replaces the whole list. The client secret is write-only: give it only to replace it."
            ),
        )
        update.add_argument("--name", required=True, help="Name of the connection to change (case-insensitive).")
        update.add_argument("--new-name", metavar="NAME", help="Rename the connection.")
        update.add_argument(
            "--protocol",
            metavar="{saml,oidc}",
            help="Switch the protocol (the other protocol's settings are cleared).",
        )
        self._add_settings_arguments(update)

        show = self.add_action(
            actions,
            "show",
            help="Print the values to paste into the IdP.",
            description=(
                "Print one 'key: value' line each for sp_entity_id, acs_url, sp_metadata_url, oidc_redirect_uri "
                "and login_url. URLs start with PUBLIC_BASE_URL (http://localhost:8000 when it is unset)."
            ),
        )
        show.add_argument("--name", required=True, help="Name of the connection (case-insensitive).")

        self.add_action(
            actions,
            "list",
            help="List the SSO connections.",
            description=(
                "List the SSO connections of an organization, with their state (ready or draft), "
                "domains and SCIM state."
            ),
        )

        delete = self.add_action(
            actions,
            "delete",
            help="Delete an SSO connection.",
            description=(
                "Delete an SSO connection and its domains. The SCIM connection cannot be deleted: "
                "switch the organization to JIT first (manage.py provisioning --mode jit)."
            ),
        )
        delete.add_argument("--name", required=True, help="Name of the connection to delete (case-insensitive).")

    @staticmethod
    def _add_settings_arguments(parser) -> None:
        parser.add_argument(
            "--domains",
            metavar="DOMAINS",
            help=(
                "Comma-separated email domains served by this connection, e.g. 'acme.com,acme.de'. "
                "Public mail domains are refused."
            ),
        )
        saml = parser.add_argument_group("SAML 2.0 (--protocol saml)")
        metadata = saml.add_mutually_exclusive_group()
        metadata.add_argument(
            "--metadata-url",
            metavar="URL",
            help="The IdP's metadata URL; fetched now (entity ID, SSO URL and signing certificate are read from it).",
        )
        metadata.add_argument(
            "--metadata-file", metavar="PATH", help="A file with the IdP's metadata XML, read the same way."
        )
        oidc = parser.add_argument_group("OpenID Connect (--protocol oidc)")
        oidc.add_argument("--issuer", metavar="URL", help="Issuer URL; discovery is read from it at sign-in.")
        oidc.add_argument("--client-id", metavar="ID", help="Client ID registered at the provider.")
        oidc.add_argument(
            "--client-secret",
            metavar="SECRET",
            help="Client secret, stored encrypted and never printed. '-' reads it from the first line of stdin.",
        )
        oidc.add_argument("--scopes", metavar="SCOPES", help="Space-separated scopes (must include openid).")
        oidc.add_argument(
            "--token-auth-method",
            choices=OidcTokenAuthMethod.values,
            help="How the client authenticates at the token endpoint (default client_secret_basic).",
        )

    def handle(self, *args, action, org, **options):
        organization = self.organization(org)
        if action == "add":
            self.add(organization, options)
        elif action == "update":
            self.update(organization, options)
        elif action == "show":
            self.show(organization, options["name"])
        elif action == "list":
            self.list(organization)
        else:
            self.delete(organization, options["name"])

    # --- arguments to service keywords ----------------------------------------------------

    @staticmethod
    def _domains(value: str | None) -> list[str] | None:
        if value is None:
            return None
        return [d for d in value.replace(" ", ",").split(",") if d]

    def _client_secret(self, value: str | None) -> str | None:
        if value != "-":
            return value
        return sys.stdin.readline().rstrip("\r\n")

    def _settings(self, options: dict, protocol: str) -> dict:
        """Service keywords for the protocol options given; a SAML option with an OIDC
        connection (or the reverse) is refused before any metadata is fetched."""
        saml_given = [o for o in ("metadata_url", "metadata_file") if options.get(o)]
        oidc_given = [
            o for o in ("issuer", "client_id", "client_secret", "scopes", "token_auth_method") if options.get(o)
        ]
        wrong = saml_given if protocol == SsoProtocol.OIDC else oidc_given if protocol == SsoProtocol.SAML else []
        if wrong:
            flags = ", ".join("--" + o.replace("_", "-") for o in wrong)
            raise CommandError(f"{flags} does not apply to a {protocol} connection.")
        settings: dict = {}
        if options.get("metadata_url"):
            url = options["metadata_url"]
            settings.update(fetch_idp_metadata(url).connection_settings(), saml_idp_metadata_url=url)
        elif options.get("metadata_file"):
            settings.update(self._metadata_file(options["metadata_file"]).connection_settings())
            settings["saml_idp_metadata_url"] = ""  # the file, not an earlier URL, is now the source
        if protocol == SsoProtocol.OIDC:
            settings.update(
                oidc_issuer=options.get("issuer"),
                oidc_client_id=options.get("client_id"),
                oidc_client_secret=self._client_secret(options.get("client_secret")),
                oidc_scopes=options.get("scopes"),
                oidc_token_auth_method=options.get("token_auth_method"),
            )
        return settings

    @staticmethod
    def _metadata_file(path: str):
        file = Path(path)
        try:
            size = file.stat().st_size
            if size > METADATA_FILE_MAX_BYTES:
                raise InvalidValue(f"{path} is larger than {METADATA_FILE_MAX_BYTES} bytes: not IdP metadata.")
            xml = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read the metadata file {path}: {error.strerror}.") from None
        return parse_idp_metadata(xml)

    # --- actions ---------------------------------------------------------------------------

    def add(self, organization, options):
        protocol = (options["protocol"] or "").strip().lower()
        connection = services.sso_connection_create(
            organization=organization,
            name=options["name"],
            protocol=protocol,
            domains=self._domains(options["domains"]) or [],
            actor=self.actor,
            **self._settings(options, protocol),
        )
        self.stdout.write(
            f"Created SSO connection '{connection.name}' ({connection.get_protocol_display()}) "
            f"in {organization.slug}; domains: {', '.join(connection.domain_names) or 'none'}."
        )
        self._readiness_note(organization, connection)

    def update(self, organization, options):
        connection = connection_by_name(organization=organization, name=options["name"])
        protocol = (options["protocol"] or connection.protocol).strip().lower()
        connection = services.sso_connection_update(
            organization=organization,
            connection=connection,
            name=options["new_name"],
            protocol=options["protocol"],
            domains=self._domains(options["domains"]),
            actor=self.actor,
            **self._settings(options, protocol),
        )
        self.stdout.write(
            f"Updated SSO connection '{connection.name}' ({connection.get_protocol_display()}) "
            f"in {organization.slug}; domains: {', '.join(connection.domain_names) or 'none'}."
        )
        self._readiness_note(organization, connection)

    def _readiness_note(self, organization, connection: SsoConnection) -> None:
        if connection.is_ready:
            self.info(
                f"Paste the values from 'manage.py sso_connection show --org {organization.slug} "
                f'--name "{connection.name}"\' into your IdP.'
            )
        elif connection.is_saml:
            self.info("Draft: it signs nobody in until it has the IdP's metadata (--metadata-url or --metadata-file).")
        else:
            self.info("Draft: it signs nobody in until it has --issuer, --client-id and --client-secret.")

    def show(self, organization, name):
        connection = connection_by_name(organization=organization, name=name)
        values = sp_values(connection, request=None).as_dict()
        self.stdout.write("\n".join(f"{key}: {values[key]}" for key in SHOW_KEYS))
        if not connection.is_ready:
            self.info(f"'{connection.name}' is a draft: it signs nobody in until its IdP settings are complete.")

    def list(self, organization):
        connections = organization.sso_connections.prefetch_related("domains")
        rows = [
            (
                c.name,
                c.protocol,
                "ready" if c.is_ready else "draft",
                ",".join(c.domain_names) or "-",
                "enabled" if c.scim_enabled else "-",
                format_time(c.created_at),
            )
            for c in connections
        ]
        if not rows:
            self.stdout.write(f"No SSO connections in {organization.slug}.")
            return
        self.stdout.write(table(("name", "protocol", "state", "domains", "scim", "created"), rows))

    def delete(self, organization, name):
        connection = connection_by_name(organization=organization, name=name)
        services.sso_connection_delete(organization=organization, connection=connection, actor=self.actor)
        self.stdout.write(f"Deleted SSO connection '{connection.name}' from {organization.slug}.")
