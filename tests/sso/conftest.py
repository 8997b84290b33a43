"""Fixtures the SSO protocol tests share. The protocol modules keep state in Django's cache
(OIDC discovery and JWKS in sso/oidc.py, SAML assertion IDs seen and pending requests in
sso/saml.py and sso/views_saml.py); ``empty_cache`` starts a module's tests without it."""

import pytest
from django.core.cache import cache


@pytest.fixture
def empty_cache():
    """Each test starts from a provider never seen and no assertion or request remembered."""
    cache.clear()
    yield
    cache.clear()
