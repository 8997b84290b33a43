"""``/healthz`` (liveness) and ``/readyz`` (readiness) for load balancers and orchestrators.

Unauthenticated and cheap: liveness touches nothing; readiness runs the checks of
``admincenter/health.py``, each with its own short timeout. Neither is under the SCIM path, so
the SCIM rate limit and request log never see them, and neither is wrapped in
``admin_required``, so no probe is redirected to the login page.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from admincenter import health


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    results = health.readiness_checks()
    failed = any(result.failed for result in results)
    body = {
        "status": "error" if failed else "ok",
        "checks": {result.name: {"state": result.state, "detail": result.detail} for result in results},
    }
    return JsonResponse(body, status=503 if failed else 200)
