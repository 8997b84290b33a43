"""Fixtures the SCIM tests share; the payload builders and the client are in tests/scim/helpers.py."""

import pytest

from tests.scim.helpers import ScimClient


@pytest.fixture
def scim(scim_token):
    """A SCIM client with ``scim_token``, as a generic IdP (a module that plays one IdP defines its own)."""
    return ScimClient(scim_token)
