"""Organizations and product instances: creation by operators, with the groups that
come with them (docs/domain.md#organization, docs/domain.md#product-role-and-instance)."""

from __future__ import annotations

import secrets

from django.db import IntegrityError
from django.db.models import Q
from django.utils.text import slugify

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.catalogue import ADMIN_CENTER_PRODUCT, ADMIN_CENTER_ROLE
from admincenter.errors import Conflict, InvalidValue, NotFound
from admincenter.models import (
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    Product,
    ProductInstance,
    Role,
    SystemGroupKey,
    UserSource,
)
from admincenter.services.groups import group_audit_record
from admincenter.services.users import user_create
from admincenter.transactions import atomic


@atomic
def organization_create(
    *,
    name: str,
    slug: str,
    actor: Actor,
    admin_email: str | None = None,
    admin_password: str | None = None,
) -> Organization:
    """Create an organization with its two system groups and its Admin Center instance;
    optionally its first admin, who joins *Admin Center Administrators*."""
    name = (name or "").strip()
    slug = (slug or "").strip().lower()
    if not name:
        raise InvalidValue("The organization needs a name.", field="name")
    _check_length(Organization, "name", name)
    _check_length(Organization, "slug", slug)
    if not slug or slugify(slug) != slug:
        raise InvalidValue(
            f"'{slug}' is not a valid slug: use lower-case letters, digits and hyphens.",
            field="slug",
        )
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with the slug '{slug}' already exists.", field="slug")
    try:
        with atomic():
            organization = Organization.objects.create(name=name, slug=slug, created_by=actor.display)
    except IntegrityError:
        raise Conflict(f"An organization with the slug '{slug}' already exists.", field="slug") from None

    Group.objects.create(
        organization=organization,
        name="Everyone",
        kind=GroupKind.SYSTEM,
        system_key=SystemGroupKey.EVERYONE,
    )
    admins = Group.objects.create(
        organization=organization,
        name="Admin Center Administrators",
        kind=GroupKind.SYSTEM,
        system_key=SystemGroupKey.ADMIN_CENTER_ADMINS,
    )
    admin_center = ProductInstance.objects.create(
        organization=organization,
        product=_product(ADMIN_CENTER_PRODUCT),
        nickname="Admin Center",
        instance_id=_new_instance_id(),
    )
    GroupGrant.objects.create(
        group=admins,
        product_instance=admin_center,
        role=Role.objects.get(product=admin_center.product, key=ADMIN_CENTER_ROLE),
        granted_by=actor.display,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.ORGANIZATION_CREATE,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        after={"name": name, "slug": slug},
    )
    if admin_email:
        admin = user_create(
            organization=organization,
            email=admin_email,
            password=admin_password,
            source=UserSource.MANUAL,
            actor=actor,
        )
        GroupMembership.objects.create(
            group=admins,
            user=admin,
            managed_by=MembershipOwner.ADMIN,
            added_by=actor.display,
        )
        group_audit_record(
            actions.GROUP_MEMBER_ADD,
            organization=organization,
            actor=actor,
            group=admins,
            after={"members": [admin.email]},
        )
    return organization


@atomic
def product_instance_create(
    *, organization: Organization, product_code: str, nickname: str, actor: Actor
) -> ProductInstance:
    """An operator entitles the organization to a product; one hidden product group is
    created per system role of the product (none for the Admin Center)."""
    product = _product(product_code)
    nickname = (nickname or "").strip()
    if not nickname:
        raise InvalidValue("The instance needs a nickname.", field="nickname")
    _check_length(ProductInstance, "nickname", nickname)
    if ProductInstance.objects.filter(organization=organization, product=product, nickname__iexact=nickname).exists():
        raise Conflict(
            f"{product.name} already has an instance named '{nickname}'.",
            field="nickname",
        )
    instance = ProductInstance.objects.create(
        organization=organization,
        product=product,
        nickname=nickname,
        instance_id=_new_instance_id(),
    )
    if product.code != ADMIN_CENTER_PRODUCT:
        roles = list(product.roles.filter(kind="system"))
        names = [product_group_name(instance, role) for role in roles]
        # Group names are unique per organization across kinds: an existing group may
        # already hold a product group's name. Say so instead of failing on the constraint.
        clash_query = Q()
        for group_name in names:
            clash_query |= Q(name__iexact=group_name)
        clash = Group.objects.filter(clash_query, organization=organization).first() if names else None
        if clash is not None:
            raise Conflict(
                f"A group named '{clash.name}' already exists. Rename it before creating this instance.",
                field="nickname",
            )
        Group.objects.bulk_create(
            [
                Group(
                    organization=organization,
                    name=group_name,
                    kind=GroupKind.PRODUCT,
                    product_instance=instance,
                    role=role,
                )
                for group_name, role in zip(names, roles, strict=True)
            ]
        )
        product_groups = Group.objects.filter(product_instance=instance, kind=GroupKind.PRODUCT)
        GroupGrant.objects.bulk_create(
            [
                GroupGrant(
                    group=g,
                    product_instance=instance,
                    role_id=g.role_id,
                    granted_by=actor.display,
                )
                for g in product_groups
            ]
        )
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.PRODUCT_INSTANCE_CREATE,
        target_type="product_instance",
        target_id=instance.pk,
        target_label=str(instance),
        after={
            "product": product.code,
            "nickname": nickname,
            "instance_id": instance.instance_id,
        },
    )
    return instance


def product_group_name(instance: ProductInstance, role: Role) -> str:
    return f"{instance.product.name} – {instance.nickname} – {role.name}"


def _check_length(model, field: str, value: str) -> None:
    """Refuse what the column cannot hold: PostgreSQL raises DataError, SQLite stores it."""
    limit = model._meta.get_field(field).max_length
    if len(value) > limit:
        raise InvalidValue(f"The {field} can be at most {limit} characters.", field=field)


def _product(code: str) -> Product:
    try:
        return Product.objects.get(code=code)
    except Product.DoesNotExist:
        raise NotFound(f"There is no product with the code '{code}'.", field="product") from None


def _new_instance_id() -> str:
    return secrets.token_hex(8)
