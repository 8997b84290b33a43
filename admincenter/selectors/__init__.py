"""Every read of the Admin Center goes through these modules, one per area.

``users``, ``groups``, ``products``, ``access``, ``organizations``, ``sso``, ``tokens``,
``dashboard`` and ``scim``. Each function takes the organization (the tenant) as a
required keyword and applies it inside the query; none of them writes. Writes live in
``admincenter.services``; views and the SCIM edge call both and build no queryset
themselves (docs/architecture.md).

The reads shared by commands, permissions and views are re-exported here.
"""

from admincenter.selectors.access import AccessRow, effective_access, is_admin_center_admin
from admincenter.selectors.organizations import organization_by_slug

__all__ = ["AccessRow", "effective_access", "is_admin_center_admin", "organization_by_slug"]
