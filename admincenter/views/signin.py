"""The sign-in page (email first, then the IdP or a password), where a person lands, the
My access page, and the sign-in policy settings (docs/sso.md, "Require SSO and break-glass").

The email step only ever redirects: it never says which organization a domain belongs to,
or whether an address exists. ``next`` is kept through both steps and through the IdP
round trip, and only ever points to this site.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admincenter.errors import DomainError
from admincenter.forms import LocalLoginForm, RequireSsoForm, SignInEmailForm, SignInPasswordForm, add_domain_error
from admincenter.permissions import admin_required, is_admin, request_id_for
from admincenter.selectors import effective_access, is_admin_center_admin
from admincenter.selectors import users as users_selectors
from admincenter.services.domains import verified_domain_for
from admincenter.services.signin import (
    SignInContext,
    SignInRefused,
    organization_require_sso_set,
    password_sign_in,
    user_local_login_set,
)
from admincenter.views.common import status_for
from admincenter.views.users import _detail_context

# Django records this backend in the session; it reloads the user on every request and
# treats an inactive or deleted user as signed out (docs/sso.md, "Sessions").
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def safe_next_url(request, candidate: str | None) -> str:
    """``candidate`` when it is a URL of this very host (same scheme rules as Django's
    LoginView), else ""."""
    candidate = (candidate or "").strip()
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def landing_url(user) -> str:
    """Administrators land on the dashboard, everyone else on My access."""
    organization = user.home_organization
    if organization is None or is_admin_center_admin(organization=organization, user=user):
        return reverse("home")
    return reverse("my_access")


def sign_in_context(request) -> SignInContext:
    return SignInContext(
        request_id=request_id_for(request),
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def complete_sign_in(request, user, next_url: str = ""):
    """Start the session (a new session key: no fixation) and send the person on."""
    auth_login(request, user, backend=SESSION_BACKEND)
    return redirect(safe_next_url(request, next_url) or landing_url(user))


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _sso_start_for(email: str) -> str | None:
    """The sign-in URL of the ready connection that serves ``email``'s verified domain."""
    domain = verified_domain_for(email)
    if domain is None or domain.connection.organization_id != domain.organization_id:
        return None
    if not domain.connection.is_ready:
        return None
    return reverse("sso:login", kwargs={"public_id": domain.connection.public_id})


def _render_login(request, *, step: str, form, next_url: str, status: int = 200):
    return render(
        request,
        "registration/login.html",
        {
            "step": step,
            "form": form,
            "next": next_url,
            "email_step_url": _with_next(reverse("login"), next_url),
            "password_step_url": reverse("login") + "?" + urlencode({"step": "password", "next": next_url}),
        },
        status=status,
    )


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request):
    """Email first: a verified domain with a ready connection goes to its IdP; any other
    email gets the password step. A POST carrying a password is the password step (the
    second page, or a direct POST of email and password)."""
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url or landing_url(request.user))
    if request.method == "GET":
        if request.GET.get("step") == "password":
            return _render_login(request, step="password", form=SignInPasswordForm(request), next_url=next_url)
        return _render_login(request, step="email", form=SignInEmailForm(), next_url=next_url)

    data = request.POST.copy()
    if not data.get("username") and data.get("email"):
        data["username"] = data["email"]  # a direct POST may name the field "email"
    if "password" in data:
        return _password_step(request, data, next_url)
    form = SignInEmailForm(data)
    if not form.is_valid():
        return _render_login(request, step="email", form=form, next_url=next_url, status=400)
    email = form.cleaned_data["username"]
    sso_url = _sso_start_for(email)
    if sso_url:
        return redirect(_with_next(sso_url, next_url))
    password_form = SignInPasswordForm(request, initial={"username": email})
    return _render_login(request, step="password", form=password_form, next_url=next_url)


def _password_step(request, data, next_url: str):
    form = SignInPasswordForm(request, data=data)
    if not form.is_valid():
        return _render_login(request, step="password", form=form, next_url=next_url)
    user = form.get_user()
    try:
        password_sign_in(user=user, context=sign_in_context(request))
    except SignInRefused as refusal:
        form.add_error(None, refusal.message)
        return _render_login(request, step="password", form=form, next_url=next_url, status=403)
    return complete_sign_in(request, user, next_url)


# --- My access ---------------------------------------------------------------------


@login_required
@require_GET
def my_access(request):
    """The signed-in person's product instances and roles in their home organization."""
    user = request.user
    organization = user.home_organization
    access = effective_access(organization=organization, user=user) if organization is not None else []
    return render(
        request,
        "admincenter/my_access.html",
        {"organization": organization, "access": access, "is_admin": is_admin(request)},
    )


# --- Settings > Sign-in policy, and break-glass on a user's page ---------------------


def _policy_context(request, form=None):
    organization = request.organization
    return {
        "section": "settings",
        "organization": organization,
        "form": form or RequireSsoForm(initial={"require_sso": organization.require_sso}),
        "break_glass_users": users_selectors.break_glass_users(organization=organization),
    }


@admin_required
@require_http_methods(["GET", "POST"])
def sign_in_policy(request):
    if request.method == "GET":
        return render(request, "admincenter/settings/sign_in_policy.html", _policy_context(request))
    form = RequireSsoForm(request.POST)
    status = 400
    if form.is_valid():
        require = form.cleaned_data["require_sso"]
        try:
            organization_require_sso_set(organization=request.organization, require=require, actor=request.actor)
        except DomainError as error:
            add_domain_error(form, error)
            status = status_for(error)
        else:
            messages.success(request, "SSO is now required." if require else "Password sign-in is allowed again.")
            return redirect("sign_in_policy")
    return render(request, "admincenter/settings/sign_in_policy.html", _policy_context(request, form), status=status)


@admin_required
@require_POST
def user_local_login(request, user_id):
    """The break-glass switch of a home user (POST from the user's page)."""
    user = users_selectors.user_get(organization=request.organization, user_id=user_id)
    if user is None or user.home_organization_id != request.organization.pk:
        raise Http404("No such user in this organization.")
    form = LocalLoginForm(request.POST)
    status = 400
    if form.is_valid():
        allowed = form.cleaned_data["local_login_allowed"]
        try:
            user_local_login_set(organization=request.organization, user=user, allowed=allowed, actor=request.actor)
        except DomainError as error:
            add_domain_error(form, error)
            status = status_for(error)
        else:
            messages.success(
                request,
                f"{user.email} may sign in with a password while SSO is required."
                if allowed
                else f"{user.email} signs in like everyone else.",
            )
            return redirect("user_detail", user_id=user.pk)
    user.refresh_from_db()
    return render(
        request, "admincenter/users/detail.html", _detail_context(request, user, local_login_form=form), status=status
    )
