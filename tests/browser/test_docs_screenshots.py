"""Regenerates docs/dashboard.png and docs/users.png from the demo organization
(``manage.py seed_demo``) plus a week of SCIM traffic and IdP-pushed people.

Skipped unless UPDATE_DOCS_SCREENSHOTS=1, so the normal suite never rewrites tracked
files:  UPDATE_DOCS_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_docs_screenshots.py
"""

import os
import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from admincenter import services
from admincenter.models import Group, GroupKind, Organization, ScimRequestLog, UserSource
from admincenter.services import Actor
from tests.browser.conftest import ROOT
from tests.factories import GroupFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("UPDATE_DOCS_SCREENSHOTS") != "1", reason="set UPDATE_DOCS_SCREENSHOTS=1 to rewrite docs/*.png"
    ),
]

PEOPLE = [
    ("Ana", "Silva"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("David", "Kim"), ("Elena", "Rossi"),
    ("Farid", "Haddad"), ("Grace", "Lee"), ("Hugo", "Lambert"), ("Ines", "Costa"), ("Jonas", "Berg"),
    ("Kira", "Novak"), ("Liam", "Walsh"), ("Mei", "Chen"), ("Nora", "Jensen"), ("Omar", "Farouk"),
    ("Paula", "Schmidt"), ("Quentin", "Moreau"), ("Rosa", "Alvarez"),
]  # fmt: skip


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "Docs-Screenshots-1")
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    org = Organization.objects.get(slug="acme")
    connection = org.sso_connections.get(scim_enabled=True)
    rng = random.Random(7)
    pushed = []
    for given, family in PEOPLE:
        pushed.append(
            UserFactory(
                organization=org,
                email=f"{given.lower()}.{family.lower()}@acme.test",
                given_name=given,
                family_name=family,
                source=UserSource.SCIM,
                scim_connection=connection,
                is_active=rng.random() > 0.1,
            )
        )
    engineering = GroupFactory(
        organization=org,
        name="Opti_SCIM_Engineering",
        kind=GroupKind.SCIM,
        scim_connection=connection,
        members=pushed[:10],
    )
    GroupFactory(
        organization=org,
        name="Opti_SCIM_Sales",
        kind=GroupKind.SCIM,
        scim_connection=connection,
        members=pushed[8:],
    )
    instance = org.product_instances.get(product__code="cms", nickname="Production")
    services.group_grant_add(
        organization=org,
        group=engineering,
        instance=instance,
        roles=[instance.product.roles.get(key="content_admins")],
        actor=Actor.operator("docs"),
    )
    other = services.organization_create(name="Agency Partners", slug="agency", actor=Actor.operator("docs"))
    UserFactory(organization=other, email="lena@agency.example", given_name="Lena", family_name="Vogel")
    services.collaborator_add(organization=org, email="lena@agency.example", actor=Actor.operator("docs"))
    partners = Group.objects.get(organization=org, name="Partners")
    lena = other.home_users.get(email="lena@agency.example")
    services.group_members_add(organization=org, group=partners, user_ids=[lena.pk], actor=Actor.operator("docs"))
    now = timezone.now()
    logs = []
    for hour in range(7 * 24):
        moment = now - timedelta(hours=hour)
        busy = 8 <= moment.hour <= 18 and moment.weekday() < 5
        for _ in range(rng.randint(6, 16) if busy else rng.randint(0, 4)):
            failed = rng.random() < 0.06
            logs.append(
                ScimRequestLog(
                    organization=org,
                    method=rng.choice(["GET", "PUT", "PATCH", "POST"]),
                    path="/Users",
                    status_code=rng.choice([409, 400, 401]) if failed else 200,
                    scim_type="uniqueness" if failed else "",
                    occurred_at=moment - timedelta(minutes=rng.randint(0, 59)),
                )
            )
    logs.append(ScimRequestLog(organization=org, method="PUT", path="/Users/…", status_code=200, occurred_at=now))
    ScimRequestLog.objects.bulk_create(logs)
    return org


def test_docs_screenshots(page, demo, settings):
    settings.SCIM_BASE_URL = "https://admin.acme.example/api/scim/v2"
    page.goto("/login/")
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("Docs-Screenshots-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("svg[role=img]")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)
    page.goto("/users/")
    page.screenshot(path=str(ROOT / "docs" / "users.png"), full_page=True)
