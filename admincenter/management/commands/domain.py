"""``manage.py domain list|verify``: the email domains an organization's SSO connections
claim, and their verification.

A claimed domain identifies the organization (home realm discovery, JIT, closed to other
organizations' users) only once verified. ``verify`` looks up the TXT record the
organization publishes on the domain itself, exactly as the Admin Center's Verify button
does; ``verify --force`` is for an operator who established ownership another way (a
support ticket, a registrar record): it skips the DNS lookup and is audited with
``method: operator``. Neither can verify a domain another organization verified.
"""

from admincenter.management.base import OperatorCommand, format_time, table
from admincenter.services.domains import domain_verify, domain_verify_without_dns, verification_record


class Command(OperatorCommand):
    help = "List or verify the email domains of an organization's SSO connections."

    def add_arguments(self, parser):
        actions = self.add_actions(parser, "list", "verify")

        self.add_action(
            actions,
            "list",
            help="List the claimed domains.",
            description=(
                "List the domains claimed by the organization's SSO connections: connection, when it was "
                "verified, and the TXT record to publish on the domain to verify it."
            ),
        )

        verify = self.add_action(
            actions,
            "verify",
            help="Verify a domain.",
            description=(
                "Verify a claimed domain by looking up its TXT record "
                "(see 'manage.py domain list' for the value). With --force, mark it verified without the "
                "DNS lookup. A domain is verified by one organization at most."
            ),
        )
        verify.add_argument("--domain", required=True, metavar="D", help="The domain, e.g. 'acme.com'.")
        verify.add_argument(
            "--force",
            action="store_true",
            help=(
                "Mark the domain verified without looking up its TXT record, for an operator who checked "
                "ownership otherwise. Audited as the operator's decision."
            ),
        )

    def handle(self, *args, action, org, **options):
        organization = self.organization(org)
        if action == "list":
            self.list(organization)
        else:
            self.verify(organization, options["domain"], force=options["force"])

    def list(self, organization):
        claimed = organization.sso_domains.select_related("connection").order_by("domain")
        rows = [
            (d.domain, d.connection.name, format_time(d.verified_at, empty="not verified"), verification_record(d))
            for d in claimed
        ]
        if not rows:
            self.stdout.write(f"No domains in {organization.slug}: add them to an SSO connection first.")
            return
        self.stdout.write(table(("domain", "connection", "verified", "txt record"), rows))
        self.info("Publish each TXT record on the domain itself (name: the domain, type: TXT), then verify it.")

    def verify(self, organization, domain, *, force):
        name = (domain or "").strip().lower().rstrip(".")
        already = organization.sso_domains.filter(domain=name, verified_at__isnull=False).first()
        if already is not None:
            since = format_time(already.verified_at)
            self.stdout.write(f"{already.domain} is already verified in {organization.slug} (since {since}).")
            return
        if force:
            verified = domain_verify_without_dns(organization=organization, domain=name, actor=self.actor)
            how = "without a DNS lookup (--force)"
        else:
            verified = domain_verify(organization=organization, domain=name, actor=self.actor)
            how = "by its DNS TXT record"
        self.stdout.write(f"Verified {verified.domain} in {organization.slug} {how}.")
