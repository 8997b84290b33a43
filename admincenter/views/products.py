"""Products (the organization's instances, their roles, who has each role and through
which group) and the access export (CSV of every user's effective access)."""

from __future__ import annotations

import csv
from collections import OrderedDict

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from admincenter.forms import ExportFilterForm
from admincenter.permissions import admin_required
from admincenter.selectors import access as access_selectors
from admincenter.selectors import products as products_selectors
from admincenter.views.common import paginate

ACCESS_ROWS_PER_PAGE = 100


@admin_required
@require_GET
def product_list(request):
    instances = list(products_selectors.instance_list(organization=request.organization))
    products: OrderedDict = OrderedDict()
    for instance in instances:
        products.setdefault(instance.product, []).append(instance)
    return render(request, "admincenter/products/list.html", {"section": "products", "products": products})


@admin_required
@require_GET
def product_detail(request, instance_pk):
    instance = products_selectors.instance_get(organization=request.organization, instance_id=instance_pk)
    if instance is None:
        raise Http404("No such product instance in this organization.")
    grants = list(products_selectors.instance_grants(instance=instance))
    product_groups = products_selectors.instance_product_groups(instance=instance)
    roles = []
    for role in products_selectors.instance_roles(instance=instance):
        roles.append(
            {
                "role": role,
                "product_group": product_groups.get(role.pk),
                "grants": [g for g in grants if g.role_id == role.pk],
            }
        )
    access = paginate(
        request, products_selectors.instance_access_rows(instance=instance), per_page=ACCESS_ROWS_PER_PAGE
    )
    return render(
        request,
        "admincenter/products/detail.html",
        {"section": "products", "instance": instance, "roles": roles, "access": access},
    )


@admin_required
@require_GET
def access_export(request):
    """The page with the export's filters and its download button."""
    instances = list(products_selectors.instance_list(organization=request.organization))
    form = ExportFilterForm(request.GET or None, instances=instances)
    return render(request, "admincenter/products/export.html", {"section": "products", "form": form})


class _Echo:
    """A file-like object whose ``write`` returns the line, for streaming csv.writer."""

    def write(self, value):
        return value


def _cell(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection): names and group names come
    from admins and from the IdP."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


@admin_required
@require_GET
def access_export_csv(request):
    organization = request.organization
    instances = list(products_selectors.instance_list(organization=organization))
    form = ExportFilterForm(request.GET or None, instances=instances)
    product = instance = ""
    if form.is_bound and form.is_valid():
        product = form.cleaned_data["product"]
        instance = form.cleaned_data["instance"]
    rows = access_selectors.access_export_rows(organization=organization, product=product, instance=instance)
    writer = csv.writer(_Echo())

    def stream():
        yield writer.writerow(access_selectors.EXPORT_HEADER)
        for (
            email,
            given_name,
            family_name,
            product_name,
            nickname,
            instance_id,
            role,
            group,
            group_kind,
            source,
            scim_connection_id,
            scim_released_at,
            home_organization_id,
        ) in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _cell(email),
                    _cell(given_name),
                    _cell(family_name),
                    _cell(product_name),
                    _cell(nickname),
                    _cell(instance_id),
                    _cell(role),
                    _cell(group),
                    group_kind,
                    access_selectors.source_label(
                        organization_id=organization.pk,
                        source=source,
                        scim_connection_id=scim_connection_id,
                        scim_released_at=scim_released_at,
                        home_organization_id=home_organization_id,
                    ),
                ]
            )

    filename = f"access-{organization.slug}-{timezone.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
