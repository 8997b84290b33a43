"""Thin DRF views for /api/scim/v2 (RFC 7644).

Each view authenticates the bearer token (scim/authentication.py), parses query and body,
calls one adapter or selector, and renders SCIM JSON. ``ScimView.dispatch`` runs the
whole request in one transaction together with its request-log row, turns every error
into an RFC 7644 §3.12 body, and rolls back anything a failed request had changed.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django_scim.exceptions import SCIMException
from rest_framework import exceptions as drf_exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import BaseRenderer
from rest_framework.views import APIView

from admincenter import errors as domain
from admincenter import metrics
from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.idp import idp_from_user_agent
from admincenter.models import Outcome
from admincenter.permissions import request_id_for
from admincenter.selectors import scim as scim_selectors
from admincenter.services import scim as scim_services
from admincenter.transactions import all_or_nothing
from scim import discovery
from scim.adapters import Context, ScimGroupAdapter, ScimUserAdapter
from scim.attributes import AttributeSelection
from scim.authentication import ScimBearerAuthentication, ScimTokenRequired
from scim.constants import DEFAULT_COUNT, LIST_RESPONSE_URN, MAX_BODY_BYTES, MAX_COUNT, SCIM_CONTENT_TYPE
from scim.errors import ScimError, from_domain_error, from_scim_exception
from scim.filters import group_equality, group_filter, user_equality, user_filter
from scim.ratelimit import rate_limit_exceeded

logger = logging.getLogger("scim")


def scim_response(body: dict | None, status: int = 200, headers: dict | None = None) -> HttpResponse:
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    response = HttpResponse(content, status=status, content_type=SCIM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


class _RollBack(Exception):
    def __init__(self, response):
        self.response = response


class ScimRenderer(BaseRenderer):
    media_type = SCIM_CONTENT_TYPE
    format = "scim"


class ScimView(APIView):
    authentication_classes = [ScimBearerAuthentication]
    permission_classes = [ScimTokenRequired]
    parser_classes: list = []  # bodies are read by read_json(): any or no Content-Type is JSON
    renderer_classes = [ScimRenderer]

    def perform_content_negotiation(self, request, force=False):
        """Every answer is SCIM JSON, whatever ``Accept`` says (IdPs send
        application/scim+json, application/json, */* or nothing)."""
        renderer = ScimRenderer()
        return renderer, renderer.media_type

    # --- request lifecycle -------------------------------------------------
    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        self.request_id = request_id_for(request)  # the one optiid/middleware.py set
        # Reads change nothing, so they skip the transaction (two round trips); their only
        # write, the request-log row, commits on its own. A write commits or rolls back
        # whole, so the services' nested blocks inside it need no savepoints.
        scope = all_or_nothing() if request.method not in SAFE_METHODS else nullcontext()
        try:
            with scope:
                response = super().dispatch(request, *args, **kwargs)
                if response.status_code >= 400:
                    raise _RollBack(response)
                self._log(request, response, started)
        except _RollBack as rollback:
            response = rollback.response
            self._log_rejection(request, response, started)
        except DatabaseError as exc:
            # Raised as the write's transaction ends (a deferred foreign key, or the rows
            # written at commit), after the view answered: everything rolled back.
            response = self.handle_exception(exc)
            self._log_rejection(request, response, started)
        return response  # optiid/middleware.py echoes the request id on every response

    def handle_exception(self, exc):
        if isinstance(exc, OperationalError | InterfaceError):  # the database is down or dropped the connection
            metrics.database_error_count()
        if isinstance(exc, ScimError):
            error = exc
        elif isinstance(exc, domain.DomainError):
            error = from_domain_error(exc)
        elif isinstance(exc, SCIMException):
            error = from_scim_exception(exc)
        elif isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            detail = str(exc.detail) if isinstance(exc, drf_exceptions.AuthenticationFailed) else None
            error = ScimError(
                401,
                None,
                detail or "Authentication required: send 'Authorization: Bearer <SCIM token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="scim"'},
            )
        elif isinstance(exc, drf_exceptions.PermissionDenied):
            error = ScimError(403, None, str(exc.detail))
        elif isinstance(exc, drf_exceptions.MethodNotAllowed):
            error = ScimError(
                405,
                None,
                f"{self.request.method} is not supported on this endpoint.",
                headers={"Allow": ", ".join(self.allowed_methods)},
            )
        elif isinstance(exc, drf_exceptions.APIException):
            error = ScimError(exc.status_code, None, str(exc.detail))
        else:
            logger.exception("Unhandled error in SCIM %s %s", self.request.method, self.request.path)
            error = ScimError(500, None, "The server could not process the request. It has been logged.")
        self.scim_error = error
        return scim_response(error.to_dict(), status=int(error.status), headers=error.headers)

    def options(self, request, *args, **kwargs):
        """RFC 7644 defines no OPTIONS answer, so the methods this endpoint takes, in ``Allow``, and no
        body (DRF's default is a metadata document in its own format, which no IdP reads)."""
        return scim_response(None, status=204, headers={"Allow": ", ".join(self.allowed_methods)})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticates
        retry_after = rate_limit_exceeded(request.auth) if request.auth is not None else None
        if retry_after is not None:
            raise ScimError(
                429,
                None,
                "Too many requests for this SCIM token; retry after the delay in Retry-After.",
                headers={"Retry-After": str(retry_after)},
            )

    # --- shared helpers ----------------------------------------------------
    @property
    def token(self):
        return self.request.auth

    @property
    def base_url(self) -> str:
        return settings.SCIM_BASE_URL or self.request.build_absolute_uri(settings.SCIM_PATH)

    def context(self) -> Context:
        token = self.token
        actor = Actor.scim(token).with_request(
            request_id=self.request_id,
            ip=self.request.META.get("REMOTE_ADDR"),
            user_agent=self.request.headers.get("User-Agent", ""),
        )
        return Context(
            organization=token.organization, connection=token.sso_connection, actor=actor, base_url=self.base_url
        )

    def read_json(self):
        """Parse the body as JSON whatever its Content-Type (Okta's Spec Test sends none)."""
        length = self.request.META.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise ScimError(413, None, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        raw = self.request.body
        if len(raw) > MAX_BODY_BYTES:
            raise ScimError(413, None, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        try:
            text = raw.decode("utf-8")
            body = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..." nesting
            raise ScimError(400, "invalidSyntax", "The request body is not valid JSON.") from None
        if "\x00" in text or "\\u0000" in text.lower():
            # PostgreSQL text cannot hold NUL; no IdP sends it.
            raise ScimError(400, "invalidValue", "NUL characters are not allowed in SCIM values.")
        return body

    def selection(self) -> AttributeSelection:
        return AttributeSelection.from_query(self.request.query_params)

    def filtered_page(self, scoped, translators: tuple) -> tuple[list, int, int]:
        """The requested page of a list (``filter``, ``startIndex``, ``count``): its rows,
        the total and the start index."""
        params = self.request.query_params
        start, count = page_bounds(params)
        page, total = scim_selectors.filtered_page(
            scoped, self.token.organization, params.get("filter"), translators, start=start, count=count
        )
        return page, total, start

    def _log(self, request, response, started) -> None:
        token = getattr(request, "scim_token", None)
        error = getattr(self, "scim_error", None)
        query = request.META.get("QUERY_STRING", "")
        path = request.path + (f"?{query}" if query else "")
        scim_services.scim_request_log_record(
            organization=token.organization if token else None,
            token_prefix=token.token_prefix if token else "",
            method=request.method,
            path=path[:512],
            status_code=response.status_code,
            scim_type=(error.scim_type or "") if error else "",
            duration_ms=int((time.monotonic() - started) * 1000),
            request_id=self.request_id,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:512],
            idp=idp_from_user_agent(request.headers.get("User-Agent", "")),
        )

    def _log_rejection(self, request, response, started) -> None:
        """Rejected requests are logged (and audited when the organization is known) after
        their changes were rolled back. If the database cannot take even that (it is down,
        or the failure was the log row itself), the client still gets its SCIM error and
        the application log says which request went unrecorded."""
        try:
            self._record_rejection(request, response, started)
        except DatabaseError:
            logger.exception(
                "Could not write the request log of SCIM %s %s (status %s, request id %s)",
                request.method,
                request.path,
                response.status_code,
                self.request_id,
            )

    def _record_rejection(self, request, response, started) -> None:
        with all_or_nothing():
            self._log(request, response, started)
            token = getattr(request, "scim_token", None)
            error = getattr(self, "scim_error", None)
            if token is None or error is None or response.status_code >= 500:
                return
            actor = Actor.scim(token).with_request(
                request_id=self.request_id,
                ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", ""),
            )
            audit_record(
                organization=token.organization,
                actor=actor,
                action=actions.SCIM_REQUEST_REJECTED,
                target_type="scim_request",
                target_label=f"{request.method} {request.path}"[:255],
                after={"detail": error.detail[:500], "scimType": error.scim_type or ""},
                outcome=Outcome.DENIED if response.status_code in (401, 403) else Outcome.FAILED,
                status_code=response.status_code,
            )


# --- pagination -------------------------------------------------------------


def _int_param(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ScimError(400, "invalidValue", f"'{name}' must be an integer.") from None


def page_bounds(params) -> tuple[int, int]:
    """1-based startIndex (below 1 reads as 1); count defaults to 100, is capped at 1000,
    and a negative count reads as 0 (RFC 7644 §3.4.2.4)."""
    start = max(_int_param(params, "startIndex", 1), 1)
    count = min(max(_int_param(params, "count", DEFAULT_COUNT), 0), MAX_COUNT)
    return start, count


def list_response(resources: list[dict], *, total: int, start: int) -> HttpResponse:
    return scim_response(
        {
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


# --- Users --------------------------------------------------------------------


class UsersView(ScimView):
    def get(self, request):
        context = self.context()
        selection = self.selection()
        page, total, start = self.filtered_page(scim_selectors.scim_users, (user_equality, user_filter))
        if selection.wants("groups"):
            scim_selectors.attach_scim_groups(page)
        resources = [selection.apply(ScimUserAdapter(u, request, context).to_dict()) for u in page]
        return list_response(resources, total=total, start=start)

    def post(self, request):
        context = self.context()
        adapter = ScimUserAdapter(None, request, context)
        adapter.from_dict(self.read_json())
        adapter.save()
        adapter.obj.scim_groups = []  # a new user is in no SCIM group yet
        body = self.selection().apply(adapter.to_dict())
        return scim_response(body, status=201, headers={"Location": adapter.location})


class ResourceView(ScimView):
    """GET/PUT/PATCH/DELETE of one resource; subclasses load (``_adapter``) and render."""

    def get(self, request, pk):
        return self._render(self._adapter(pk))

    # Writes read the row under lock: the new state is computed from it, so a concurrent
    # PATCH to the same resource waits instead of being overwritten by a stale copy.
    def put(self, request, pk):
        adapter = self._adapter(pk, for_update=True)
        adapter.replace_from_dict(self.read_json())
        adapter.save()
        return self._render(adapter)

    def patch(self, request, pk):
        adapter = self._adapter(pk, for_update=True)
        adapter.handle_operations(self.read_json())
        adapter.save()
        return self._render(adapter)

    def delete(self, request, pk):
        self._adapter(pk, for_update=True).delete()
        return scim_response(None, status=204)


class UserView(ResourceView):
    def _adapter(self, pk, *, for_update: bool = False) -> ScimUserAdapter:
        context = self.context()
        user = scim_selectors.scim_user_get(organization=context.organization, user_id=pk, for_update=for_update)
        return ScimUserAdapter(user, self.request, context)

    def delete(self, request, pk):
        # By id, without reading the user first: deprovisioning comes by the thousand.
        context = self.context()
        scim_services.scim_user_delete(
            organization=context.organization, connection=context.connection, user_id=pk, actor=context.actor
        )
        return scim_response(None, status=204)

    def _render(self, adapter: ScimUserAdapter) -> HttpResponse:
        selection = self.selection()
        if adapter.deleted:
            adapter.obj.scim_groups = []
        elif selection.wants("groups"):
            scim_selectors.attach_scim_groups([adapter.obj])
        return scim_response(selection.apply(adapter.to_dict()))


# --- Groups -------------------------------------------------------------------


class GroupsView(ScimView):
    def get(self, request):
        context = self.context()
        selection = self.selection()
        page, total, start = self.filtered_page(scim_selectors.scim_groups, (group_equality, group_filter))
        members = (
            scim_selectors.scim_members_by_group([g.pk for g in page]) if page and selection.wants("members") else {}
        )
        resources = [
            selection.apply(ScimGroupAdapter(g, request, context).to_dict(members=members.get(g.pk))) for g in page
        ]
        return list_response(resources, total=total, start=start)

    def post(self, request):
        adapter = ScimGroupAdapter(None, request, self.context())
        adapter.from_dict(self.read_json())
        adapter.save()
        return self._created(adapter)

    def _created(self, adapter: ScimGroupAdapter) -> HttpResponse:
        selection = self.selection()
        members = (
            scim_selectors.scim_members_by_group([adapter.obj.pk])[adapter.obj.pk]
            if selection.wants("members")
            else None
        )
        body = selection.apply(adapter.to_dict(members=members))
        return scim_response(body, status=201, headers={"Location": adapter.location})


class GroupView(ResourceView):
    def _adapter(self, pk, *, for_update: bool = False) -> ScimGroupAdapter:
        context = self.context()
        group = scim_selectors.scim_group_get(organization=context.organization, group_id=pk, for_update=for_update)
        return ScimGroupAdapter(group, self.request, context)

    def _render(self, adapter: ScimGroupAdapter) -> HttpResponse:
        selection = self.selection()
        members = (
            scim_selectors.scim_members_by_group([adapter.obj.pk])[adapter.obj.pk]
            if selection.wants("members")
            else None
        )
        return scim_response(selection.apply(adapter.to_dict(members=members)))


# --- Discovery ------------------------------------------------------------------


class ServiceProviderConfigView(ScimView):
    def get(self, request):
        return scim_response(discovery.service_provider_config(self.base_url))


class ResourceTypesView(ScimView):
    def get(self, request, resource_id=None):
        types = discovery.resource_types(self.base_url)
        if resource_id is None:
            return list_response(types, total=len(types), start=1)
        for resource_type in types:
            if resource_type["id"].lower() == resource_id.lower():
                return scim_response(resource_type)
        raise ScimError(404, None, f"Resource type {resource_id} not found.")


class SchemasView(ScimView):
    def get(self, request, schema_id=None):
        schemas = discovery.schemas(self.base_url)
        if schema_id is None:
            return list_response(schemas, total=len(schemas), start=1)
        for schema in schemas:
            if schema["id"].lower() == schema_id.lower():
                return scim_response(schema)
        raise ScimError(404, None, f"Schema {schema_id} not found.")


class NotImplementedView(ScimView):
    """/Bulk and /Me are not supported (ServiceProviderConfig says bulk.supported=false)."""

    feature = ""

    def _refuse(self, request, *args, **kwargs):
        raise ScimError(501, None, f"{self.feature} is not supported by this service provider.")

    get = post = put = patch = delete = options = _refuse


class UnknownEndpointView(ScimView):
    def _refuse(self, request, *args, **kwargs):
        raise ScimError(404, None, f"There is no SCIM endpoint at {request.path}.")

    get = post = put = patch = delete = options = _refuse
