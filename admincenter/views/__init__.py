"""Admin Center pages. Views parse input, call one service or selector, and render.

Every page is wrapped in ``admincenter.permissions.admin_required`` (login, then
membership of *Admin Center Administrators*), reads through
``admincenter.views.queries`` scoped to ``request.organization``, and writes only
through ``admincenter.services``. Routes: ``admincenter.views.routes``.
"""

from admincenter.views.dashboard import home

__all__ = ["home"]
