"""``manage.py scim_token issue|list|revoke``: the bearer tokens an IdP uses for SCIM
(docs/domain.md#scim-token).

``issue`` prints only the raw token on stdout, as one line, so that
``TOKEN=$(python manage.py scim_token issue --org acme)`` works; notes go to stderr.
The raw value is never stored: it cannot be shown again, only revoked and replaced.
"""

from admincenter import services
from admincenter.management.base import OperatorCommand, format_time, table


class Command(OperatorCommand):
    help = "Issue, list or revoke the SCIM bearer tokens of an organization."

    def add_arguments(self, parser):
        actions = self.add_actions(parser, "issue", "list", "revoke")

        issue = self.add_action(
            actions,
            "issue",
            help="Issue a token and print it (once) on stdout.",
            description=(
                "Issue a SCIM token for the organization's SCIM connection. Only the token is printed on stdout, "
                "so TOKEN=$(python manage.py scim_token issue --org acme) works; it is never shown again. "
                "The organization must be in SCIM mode (manage.py provisioning --mode scim)."
            ),
        )
        issue.add_argument(
            "--label",
            default="",
            help="What the token is for, e.g. 'PingOne production' (default: 'SCIM token', at most 100 characters).",
        )
        issue.add_argument(
            "--expires-days",
            type=int,
            metavar="N",
            help="Expire the token after N days (at least 1). Default: the token does not expire.",
        )

        self.add_action(
            actions,
            "list",
            help="List the tokens (prefix, label, dates, state).",
            description="List the SCIM tokens of an organization, newest first; times are in UTC.",
        )

        revoke = self.add_action(
            actions,
            "revoke",
            help="Revoke a token for good.",
            description="Revoke a SCIM token: the IdP's requests with it get 401 from now on. This cannot be undone.",
        )
        revoke.add_argument(
            "token",
            metavar="PREFIX_OR_ID",
            help="The token's prefix or id, as shown by 'scim_token list'.",
        )

    def handle(self, *args, action, org, **options):
        organization = self.organization(org)
        if action == "issue":
            self.issue(organization, options["label"], options["expires_days"], options["verbosity"])
        elif action == "list":
            self.list(organization)
        else:
            self.revoke(organization, options["token"])

    def issue(self, organization, label, expires_days, verbosity):
        issued = services.scim_token_issue(
            organization=organization,
            label=label,
            expires_in_days=expires_days,
            actor=self.actor,
        )
        self.stdout.write(issued.raw)
        if verbosity >= 1:
            token = issued.token
            expiry = f"expires {format_time(token.expires_at)} UTC" if token.expires_at else "does not expire"
            self.info(
                f"Issued SCIM token {token.token_prefix} ('{token.label}') for {organization.slug}; it {expiry}. "
                "It is shown only once: store it in the IdP now."
            )

    def list(self, organization):
        tokens = organization.scim_tokens.all()
        rows = [
            (
                t.token_prefix,
                t.label,
                format_time(t.created_at),
                format_time(t.last_used_at, "never"),
                format_time(t.expires_at, "never"),
                t.state,
                t.pk,
            )
            for t in tokens
        ]
        if not rows:
            self.stdout.write(f"No SCIM tokens in {organization.slug}.")
            return
        self.stdout.write(table(("prefix", "label", "created", "last used", "expires", "state", "id"), rows))

    def revoke(self, organization, prefix_or_id):
        token = services.scim_token_find(organization=organization, prefix_or_id=prefix_or_id)
        token = services.scim_token_revoke(organization=organization, token=token, actor=self.actor)
        self.stdout.write(f"Revoked SCIM token {token.token_prefix} ('{token.label}') of {organization.slug}.")
