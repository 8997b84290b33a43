"""Admin Center pages. Views parse input, call one service or selector, and render."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from admincenter.selectors import effective_access, is_admin_center_admin


@login_required
def home(request):
    user = request.user
    organization = user.home_organization
    context = {"organization": organization, "is_admin": False, "access": []}
    if organization is not None:
        context["is_admin"] = is_admin_center_admin(organization=organization, user=user)
        context["access"] = effective_access(organization=organization, user=user)
    return render(request, "admincenter/home.html", context)
