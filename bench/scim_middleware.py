"""What the SCIM shortcut middleware (scim/middleware.py) saves: CPU and wall time per request of
``GET /ServiceProviderConfig`` through ``django.test.Client``, with the shortcut and with the full
middleware stack, on a throw-away test database.

    .venv/bin/python bench/scim_middleware.py [--requests 2000]

ServiceProviderConfig reads nothing but the token, so the difference is the middleware's own cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiid.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

SHORTCUT = "scim.middleware.ScimShortcutMiddleware"


def token_create() -> str:
    from admincenter import services
    from admincenter.services import Actor

    operator = Actor.operator("bench")
    organization = services.organization_create(
        name="Bench", slug="bench", actor=operator, admin_email="admin@bench.test", admin_password="Bench-Pass-42"
    )
    connection_ = services.sso_connection_create(
        organization=organization, name="PingOne", protocol="saml", domains=["bench.test"], actor=operator
    )
    services.scim_enable(organization=organization, connection=connection_, actor=operator)
    return services.scim_token_issue(organization=organization, label="bench", actor=operator).raw


def per_request_ms(client: Client, path: str, requests: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per request, after a warm-up."""
    for _ in range(50):
        assert client.get(path).status_code == 200
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        client.get(path)
    return (time.process_time() - cpu) * 1000 / requests, (time.perf_counter() - wall) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds; the best of each is kept.")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        raw = token_create()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        path = f"{settings.SCIM_PATH}/ServiceProviderConfig"
        without = [m for m in settings.MIDDLEWARE if m != SHORTCUT]
        shortcut, full = [], []
        for _ in range(args.rounds):
            shortcut.append(per_request_ms(client, path, args.requests))
            with override_settings(MIDDLEWARE=without):
                full.append(per_request_ms(client, path, args.requests))
        best_shortcut, best_full = min(shortcut), min(full)
        print(f"{args.requests} x GET {path}, best of {args.rounds} rounds ({connection.vendor})")
        print(f"  with the shortcut:   {best_shortcut[0]:.3f} ms CPU, {best_shortcut[1]:.3f} ms wall per request")
        print(f"  full middleware:     {best_full[0]:.3f} ms CPU, {best_full[1]:.3f} ms wall per request")
        print(f"  saved:               {best_full[0] - best_shortcut[0]:.3f} ms CPU per request")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
