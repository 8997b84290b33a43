"""SCIM 2.0 endpoints mounted at /api/scim/v2 (filled by the SCIM issue)."""

urlpatterns = []
