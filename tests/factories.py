"""factory_boy builders. They create through the services where the domain has rules
(organizations get their system groups, users join *Everyone*), so tests start from
states the product can really reach. The SSO helpers at the end write the two things a
test cannot reach through a service without an IdP or DNS: a SAML connection's IdP
settings and a domain's verification."""

import factory
from django.utils import timezone

from admincenter import services
from admincenter.models import (
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    SsoConnection,
    SsoDomain,
    User,
    UserSource,
)
from admincenter.services import Actor
from admincenter.services.groups import add_new_user_to_everyone

OPERATOR = Actor.operator("tests")


class OrganizationFactory(factory.Factory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")

    @classmethod
    def _create(cls, model_class, name, slug, **kwargs):
        return services.organization_create(name=name, slug=slug, actor=OPERATOR, **kwargs)


class UserFactory(factory.Factory):
    """A home user of ``organization``. ``source=scim`` with ``scim_connection`` builds a
    SCIM-managed user as SCIM would leave it."""

    class Meta:
        model = User

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    source = UserSource.MANUAL
    password = None
    scim_connection = None
    external_id = ""
    is_active = True

    @classmethod
    def _create(cls, model_class, organization, password=None, **kwargs):
        user = User(home_organization=organization, **kwargs)
        if kwargs["email"]:
            user.email = kwargs["email"].lower()
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        if not user.is_active:
            user.deactivated_at = timezone.now()
        user.save(force_insert=True)
        add_new_user_to_everyone(organization, user, OPERATOR)
        return user


class GroupFactory(factory.Factory):
    class Meta:
        model = Group

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    kind = GroupKind.CUSTOM
    scim_connection = None
    external_id = ""

    @classmethod
    def _create(cls, model_class, members=(), **kwargs):
        group = Group.objects.create(**kwargs)
        owner = MembershipOwner.SCIM if group.kind == GroupKind.SCIM else MembershipOwner.ADMIN
        GroupMembership.objects.bulk_create([GroupMembership(group=group, user=u, managed_by=owner) for u in members])
        return group


def sso_connection_make_ready(connection: SsoConnection) -> SsoConnection:
    """Give a SAML connection made-up IdP settings, so it counts as ready; no signature is checked with them."""
    SsoConnection.objects.filter(pk=connection.pk).update(
        saml_idp_entity_id="https://idp.example.test/",
        saml_idp_sso_url="https://idp.example.test/sso",
        saml_idp_x509_cert="MIIC-not-checked-here",
    )
    connection.refresh_from_db()
    return connection


def sso_domain_verify(organization: Organization, domain: str = "acme.test") -> None:
    """Mark an organization's claimed domain verified, as the DNS TXT check would."""
    SsoDomain.objects.filter(organization=organization, domain=domain).update(
        verified_at=timezone.now(), verified_by="tests"
    )


def globex_create(*, admin_password: str) -> tuple[Organization, SsoConnection]:
    """Globex, the other tenant: its admin@globex.test and an Okta SAML connection claiming
    globex.test (not yet verified)."""
    organization = services.organization_create(
        name="Globex", slug="globex", actor=OPERATOR, admin_email="admin@globex.test", admin_password=admin_password
    )
    connection = services.sso_connection_create(
        organization=organization, name="Okta", protocol="saml", domains=["globex.test"], actor=OPERATOR
    )
    return organization, connection
