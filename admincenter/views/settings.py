"""Settings: SSO connections, the provisioning mode (JIT or SCIM), SCIM tokens and the
"Connect your IdP" guides (what each IdP then sends: docs/idp-notes.md).

A generated SCIM token is shown in the response to the POST that created it and
nowhere else: it is never put in the session, a message, a redirect or the database
(only its hash is stored, by the service), and the page is sent ``no-store``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admincenter import services
from admincenter.errors import DomainError
from admincenter.forms import (
    ScimDeactivateForm,
    ScimEnableConfirmForm,
    ScimEnableForm,
    SsoConnectionForm,
    TokenIssueForm,
    add_domain_error,
)
from admincenter.models import (
    MAX_SSO_CONNECTIONS,
    OidcTokenAuthMethod,
    ProvisioningMode,
    SsoConnection,
)
from admincenter.permissions import admin_required
from admincenter.selectors import groups as groups_selectors
from admincenter.selectors import sso as sso_selectors
from admincenter.selectors import tokens as tokens_selectors
from admincenter.services.settings import organization_scim_deactivate_set
from admincenter.views.common import form_write, scim_base_url, status_for, write_or_refuse
from sso.endpoints import public_base_url, sp_values

USED_TOKEN_NONCES = "admincenter.used_token_form_nonces"


@admin_required
@require_GET
def settings_index(request):
    organization = request.organization
    return render(
        request,
        "admincenter/settings/index.html",
        {
            "section": "settings",
            "connection_count": sso_selectors.sso_connection_count(organization=organization),
            "live_token_count": tokens_selectors.live_token_count(organization=organization),
            "max_connections": MAX_SSO_CONNECTIONS,
        },
    )


# --- SSO connections ------------------------------------------------------------


def _connection_or_404(request, connection_id) -> SsoConnection:
    connection = sso_selectors.sso_connection_get(organization=request.organization, connection_id=connection_id)
    if connection is None:
        raise Http404("No such SSO connection in this organization.")
    return connection


@admin_required
@require_GET
def sso_list(request):
    connections = list(sso_selectors.sso_connection_list(organization=request.organization, with_domains=True))
    return render(
        request,
        "admincenter/settings/sso_list.html",
        {
            "section": "settings",
            "connections": connections,
            "max_connections": MAX_SSO_CONNECTIONS,
            "can_add": len(connections) < MAX_SSO_CONNECTIONS,
        },
    )


def _sso_form_page(request, form, *, connection=None, status=200):
    """The add/edit page. Editing also shows the values to paste into the IdP and, once the
    connection is ready, the Test sign-in button."""
    context = {"section": "settings", "form": form, "connection": connection}
    if connection is not None:
        context["sp"] = sp_values(connection, request)
        context["test_url"] = reverse("sso:test", kwargs={"public_id": connection.public_id})
    response = render(request, "admincenter/settings/sso_form.html", context, status=status)
    # The page may carry a just-typed client secret in the POST it answers: never cache it.
    add_never_cache_headers(response)
    return response


@admin_required
@require_http_methods(["GET", "POST"])
def sso_create(request):
    form = SsoConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        write = form_write(
            form,
            lambda _data: services.sso_connection_create(
                organization=request.organization, actor=request.actor, **form.connection_values()
            ),
        )
        if write.done:
            connection = write.result
            state = "" if connection.is_ready else " It is a draft until its IdP settings are complete."
            messages.success(request, f"SSO connection {connection.name} was added.{state}")
            return redirect("sso_edit", connection_id=connection.pk)
        status = write.status
    return _sso_form_page(request, form, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def sso_edit(request, connection_id):
    connection = _connection_or_404(request, connection_id)
    status = 200
    if request.method == "POST":
        form = SsoConnectionForm(request.POST, connection=connection)
        write = form_write(
            form,
            lambda _data: services.sso_connection_update(
                organization=request.organization,
                connection=connection,
                actor=request.actor,
                **form.connection_values(),
            ),
        )
        if write.done:
            messages.success(request, f"SSO connection {form.cleaned_data['name']} was saved.")
            return redirect("sso_edit", connection_id=connection.pk)
        status = write.status
    else:
        form = SsoConnectionForm(initial=SsoConnectionForm.initial_for(connection), connection=connection)
    return _sso_form_page(request, form, connection=connection, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def sso_delete(request, connection_id):
    connection = _connection_or_404(request, connection_id)
    page = "admincenter/settings/sso_delete.html"
    context = {"section": "settings", "connection": connection, "page_error": None}
    if request.method == "POST":
        return write_or_refuse(
            request,
            lambda: services.sso_connection_delete(
                organization=request.organization, connection=connection, actor=request.actor
            ),
            refuse=lambda error: render(
                request, page, {**context, "page_error": error.message}, status=status_for(error)
            ),
            success=f"SSO connection {connection.name} was deleted.",
            next_url="sso_list",
        )
    return render(request, page, context)


# --- Provisioning ---------------------------------------------------------------


def _provisioning_context(request, **extra):
    organization = request.organization
    context = {
        "section": "settings",
        "organization": organization,
        "scim_connection": sso_selectors.scim_connection_for(organization=organization),
        "has_connections": sso_selectors.sso_connections_exist(organization=organization),
        "enable_form": ScimEnableForm(organization=organization),
        "deactivate_form": ScimDeactivateForm(initial={"on_scim_deactivate": organization.on_scim_deactivate}),
        "impact": (
            services.scim_disable_impact(organization=organization)
            if organization.provisioning_mode == ProvisioningMode.SCIM
            else None
        ),
    }
    context.update(extra)
    return context


@admin_required
@require_GET
def provisioning(request):
    return render(request, "admincenter/settings/provisioning.html", _provisioning_context(request))


@admin_required
@require_http_methods(["GET", "POST"])
def provisioning_scim(request):
    """Switch to SCIM. GET (with ``connection``) shows what changes; POST confirms, and
    with a label also generates the first token, shown once on the token page."""
    organization = request.organization
    data = request.POST if request.method == "POST" else request.GET
    form = ScimEnableConfirmForm(data or None, organization=organization)
    if not form.is_bound or not form.is_valid():
        if request.method == "GET" and not form.is_bound:
            return redirect("provisioning")
        return render(
            request,
            "admincenter/settings/provisioning.html",
            _provisioning_context(request, enable_form=form),
            status=400,
        )
    connection = form.cleaned_data["connection"]
    preview = {
        "section": "settings",
        "form": form,
        "connection": connection,
        "domains": connection.domain_names,
        "colliding_groups": list(groups_selectors.custom_groups_that_could_collide(organization=organization)[:100]),
        "scim_base_url": scim_base_url(request),
    }
    if request.method == "GET":
        form.initial["first_token_label"] = f"{connection.name} SCIM"
        return render(request, "admincenter/settings/scim_enable.html", preview)
    try:
        services.provisioning_mode_set(
            organization=organization, mode=ProvisioningMode.SCIM, connection=connection, actor=request.actor
        )
    except DomainError as error:
        add_domain_error(form, error)
        return render(request, "admincenter/settings/scim_enable.html", preview, status=status_for(error))
    organization.refresh_from_db()
    messages.success(request, f"SCIM provisioning is on, through {connection.name}. JIT provisioning is off.")
    label = form.cleaned_data.get("first_token_label", "").strip()
    if not label:
        return redirect("scim_tokens")
    return _issue_token_response(request, label=label, expires_in_days=365)


@admin_required
@require_http_methods(["GET", "POST"])
def provisioning_jit(request):
    """Switch back to JIT. GET explains what happens
    (docs/domain.md#disabling-scim-releases-and-deletes-nothing); POST confirms."""
    organization = request.organization
    if organization.provisioning_mode != ProvisioningMode.SCIM:
        messages.info(request, "Your organization already uses JIT provisioning.")
        return redirect("provisioning")
    impact = services.scim_disable_impact(organization=organization)
    if request.method == "POST":
        try:
            released = services.provisioning_mode_set(
                organization=organization, mode=ProvisioningMode.JIT, actor=request.actor
            )
        except DomainError as error:
            return render(
                request,
                "admincenter/settings/scim_disable.html",
                {"section": "settings", "impact": impact, "page_error": error.message},
                status=status_for(error),
            )
        messages.success(
            request,
            "SCIM provisioning is off and JIT is back. "
            f"{released['tokens_revoked']} token(s) revoked; {released['users_released']} user(s) and "
            f"{released['groups_released']} group(s) can now be edited here.",
        )
        return redirect("provisioning")
    return render(
        request,
        "admincenter/settings/scim_disable.html",
        {
            "section": "settings",
            "impact": impact,
            "scim_connection": sso_selectors.scim_connection_for(organization=organization),
        },
    )


@admin_required
@require_POST
def provisioning_deactivate_action(request):
    form = ScimDeactivateForm(request.POST)
    if form.is_valid():
        try:
            organization_scim_deactivate_set(
                organization=request.organization,
                action=form.cleaned_data["on_scim_deactivate"],
                actor=request.actor,
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Saved what happens when your identity provider deactivates a user.")
            return redirect("provisioning")
    request.organization.refresh_from_db()
    return render(
        request,
        "admincenter/settings/provisioning.html",
        _provisioning_context(request, deactivate_form=form),
        status=400,
    )


# --- SCIM tokens ----------------------------------------------------------------


def _tokens_context(request, **extra):
    organization = request.organization
    context = {
        "section": "settings",
        "organization": organization,
        "tokens": list(tokens_selectors.token_list(organization=organization)),
        "form": TokenIssueForm(),
        "scim_base_url": scim_base_url(request),
        "scim_connection": sso_selectors.scim_connection_for(organization=organization),
        "issued": None,
    }
    context.update(extra)
    return context


def _issue_token_response(request, *, label: str, expires_in_days: int | None, form=None, nonce: str = ""):
    """Issue a token and render the token page with the raw value, once."""
    try:
        issued = services.scim_token_issue(
            organization=request.organization, label=label, expires_in_days=expires_in_days, actor=request.actor
        )
    except DomainError as error:
        extra = {"page_error": error.message}
        if form is not None:  # a bound form shows the refusal next to its field instead
            add_domain_error(form, error)
            extra = {"form": form}
        response = render(
            request, "admincenter/settings/tokens.html", _tokens_context(request, **extra), status=status_for(error)
        )
    else:
        if nonce:
            used = request.session.get(USED_TOKEN_NONCES, [])
            request.session[USED_TOKEN_NONCES] = [*used[-19:], nonce]
        response = render(request, "admincenter/settings/tokens.html", _tokens_context(request, issued=issued))
    add_never_cache_headers(response)
    return response


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def scim_tokens(request):
    if request.method == "GET":
        return render(request, "admincenter/settings/tokens.html", _tokens_context(request))
    form = TokenIssueForm(request.POST)
    if not form.is_valid():
        return render(request, "admincenter/settings/tokens.html", _tokens_context(request, form=form), status=400)
    # A browser "resubmit" of the POST that showed a token must not mint another one.
    used = request.session.get(USED_TOKEN_NONCES, [])
    nonce = form.cleaned_data["nonce"]
    if nonce in used:
        message = (
            "This form was already submitted and its token was shown once. "
            "If you did not copy it, revoke it and generate a new one."
        )
        return render(
            request, "admincenter/settings/tokens.html", _tokens_context(request, page_error=message), status=409
        )
    return _issue_token_response(
        request, label=form.cleaned_data["label"], expires_in_days=form.expires_in_days(), form=form, nonce=nonce
    )


@admin_required
@require_http_methods(["GET", "POST"])
def scim_token_revoke(request, token_id):
    token = tokens_selectors.token_get(organization=request.organization, token_id=token_id)
    if token is None:
        raise Http404("No such SCIM token in this organization.")
    page = "admincenter/settings/token_revoke.html"
    context = {"section": "settings", "token": token, "page_error": None}
    if request.method == "POST":
        return write_or_refuse(
            request,
            lambda: services.scim_token_revoke(organization=request.organization, token=token, actor=request.actor),
            refuse=lambda error: render(
                request, page, {**context, "page_error": error.message}, status=status_for(error)
            ),
            success=f"Token {token.label} ({token.token_prefix}…) was revoked.",
            next_url="scim_tokens",
        )
    return render(request, page, context)


# --- Connect your IdP -----------------------------------------------------------

IDPS = [("pingone", "PingOne"), ("entra", "Microsoft Entra ID"), ("okta", "Okta")]


def _guide_connection(connections: list[SsoConnection], requested: str) -> SsoConnection | None:
    """The connection whose values the SSO guide shows: the one asked for (of this
    organization only), else the first ready one, else the first."""
    for connection in connections:
        if str(connection.pk) == requested:
            return connection
    return next((c for c in connections if c.is_ready), connections[0] if connections else None)


@admin_required
@require_GET
def connect_idp(request):
    idp = request.GET.get("idp", "pingone")
    if idp not in dict(IDPS):
        idp = "pingone"
    base_url = scim_base_url(request)
    host = base_url.split("://", 1)[-1].split("/", 1)[0]
    organization = request.organization
    connections = list(sso_selectors.sso_connection_list(organization=organization))
    sso_connection = _guide_connection(connections, request.GET.get("connection", ""))
    return render(
        request,
        "admincenter/settings/connect_idp.html",
        {
            "section": "settings",
            "idp": idp,
            "idps": IDPS,
            "connections": connections,
            "sso_connection": sso_connection,
            "sp": sp_values(sso_connection, request) if sso_connection else None,
            "sp_not_https": not public_base_url(request).startswith("https://"),
            # PingOne's words for the token endpoint authentication methods.
            "pingone_token_auth": "Client Secret Post"
            if sso_connection and sso_connection.oidc_token_auth_method == OidcTokenAuthMethod.CLIENT_SECRET_POST
            else "Client Secret Basic",
            "scim_base_url": base_url,
            "not_https": not base_url.startswith("https://"),
            "host_has_underscore": "_" in host,
            "scim_connection": sso_selectors.scim_connection_for(organization=organization),
            "live_token_count": tokens_selectors.live_token_count(organization=organization),
        },
    )
