"""Small presentation helpers for the Admin Center templates: navigation links that
know the current section, badges, and actor labels."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from admincenter.models import GroupKind

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str) -> str:
    """A top-navigation link, marked ``aria-current="page"`` in its section. Renders
    nothing when ``url_name`` does not resolve, so a section whose pages are not
    installed yet (for example the audit log) never breaks every page."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    request = context.get("request")
    path = getattr(request, "path", "")
    current = path == url if url == "/" else path.startswith(url)
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)


@register.filter
def actor_display(value: str) -> str:
    """``admin_user:ada@example.com`` (``Actor.display``) → ``ada@example.com``."""
    value = value or ""
    prefix, sep, rest = value.partition(":")
    if sep and prefix in {"admin_user", "scim_token", "system", "operator", "jit_login"}:
        return rest
    return value


SOURCE_LABELS = {
    "scim": "SCIM",
    "formerly_scim": "Formerly SCIM",
    "jit": "JIT",
    "manual": "Manual",
    "invited": "Invited",
    "collaborator": "Collaborator",
}


def user_source_key(user) -> str:
    if getattr(user, "is_collaborator", False):
        return "collaborator"
    if user.scim_connection_id is not None:
        return "scim"
    if user.scim_released_at is not None:
        return "formerly_scim"
    return user.source


@register.simple_tag
def source_badge(user) -> str:
    key = user_source_key(user)
    return format_html('<span class="badge badge-{}">{}</span>', key, SOURCE_LABELS.get(key, key))


@register.simple_tag
def source_badge_for(key: str) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', key, SOURCE_LABELS.get(key, key))


@register.simple_tag
def kind_badge(group) -> str:
    kind = group.kind
    label = {GroupKind.SCIM: "SCIM", GroupKind.SYSTEM: "System", GroupKind.PRODUCT: "Product"}.get(kind, "Custom")
    if kind == GroupKind.CUSTOM and group.scim_released_at:
        return format_html('<span class="badge badge-custom">Custom</span> <span class="badge">Formerly SCIM</span>')
    return format_html('<span class="badge badge-{}">{}</span>', kind, label)
