"""What the operator commands share: the operator actor, organization and connection
look-ups, domain errors turned into ``CommandError``, and plain-text tables.

The contract for operators and their scripts: a wrong slug, a wrong connection name or
a refused change is one line on stderr (``CommandError: <message>``) and exit code 1,
never a traceback. Services raise ``admincenter.errors.DomainError`` subclasses whose
``message`` is safe to print, so ``OperatorCommand.execute`` converts them once here
instead of every command catching them. Bad usage (a missing required option) stays
argparse's business: usage text and exit code 2, the shell convention.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from admincenter import selectors, services
from admincenter.errors import DomainError, NotFound
from admincenter.models import Organization, SsoConnection


class OperatorCommand(BaseCommand):
    """Base class of the operator commands."""

    def execute(self, *args, **options):
        # run_from_argv() prints a CommandError as one line and exits 1; call_command()
        # lets it propagate, so tests and scripts see the same message either way.
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @property
    def command_name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]

    @property
    def actor(self) -> services.Actor:
        """Audit events of commands read ``operator`` / ``manage.py <command>``."""
        return services.Actor.operator(f"manage.py {self.command_name}")

    @staticmethod
    def add_org_argument(parser) -> None:
        parser.add_argument(
            "--org",
            required=True,
            metavar="SLUG",
            help="Slug of the organization (as given to create_organization), for example 'acme'.",
        )

    def add_actions(self, parser, *names: str):
        """The command's ``ACTION`` subcommands, each with its own ``--help``."""
        parser.epilog = f"Run 'manage.py {self.command_name} ACTION --help' for the options of an action."
        metavar = "{" + ",".join(names) + "}"
        return parser.add_subparsers(dest="action", required=True, title="actions", metavar=metavar)

    def add_action(self, actions, name: str, *, help: str, description: str, org: bool = True):
        """One ``ACTION``; ``org`` gives it the ``--org`` of the organization it works on."""
        action = actions.add_parser(name, help=help, description=description)
        if org:
            self.add_org_argument(action)
        return action

    @staticmethod
    def organization(slug: str) -> Organization:
        return selectors.organization_by_slug(slug)

    def info(self, message: str) -> None:
        """A note for the human at the terminal, on stderr so stdout stays machine-readable."""
        # Colour only on a terminal: scripts and tests capture plain text.
        self.stderr.write(message, style_func=self.style.WARNING if self.stderr.isatty() else str)


def connection_by_name(*, organization: Organization, name: str) -> SsoConnection:
    """Connection names are unique per organization, compared case-insensitively (docs/domain.md#sso-connection)."""
    name = (name or "").strip()
    connection = organization.sso_connections.filter(name__iexact=name).first()
    if connection is None:
        existing = ", ".join(organization.sso_connections.values_list("name", flat=True)) or "none"
        raise NotFound(
            f"No SSO connection named '{name}' in organization '{organization.slug}' (existing: {existing})."
        )
    return connection


def format_time(value: datetime | None, empty: str = "-") -> str:
    if value is None:
        return empty
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, headers in capitals."""
    rows = [[str(cell) for cell in row] for row in rows]
    headers = [h.upper() for h in headers]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    ]
    return "\n".join(lines)
