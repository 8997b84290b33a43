"""SCIM filter expressions (RFC 7644 §3.4.2.2) → Django ``Q`` objects.

Parsing is scim2-filter-parser's lexer and parser; translation subclasses its Django
``Q`` transpiler with stricter rules than the stock one:

- an attribute we do not map is a 400 ``invalidFilter``, never a silently dropped clause;
- each attribute has a type, and operators that make no sense for it are refused;
- comparisons are written so that the indexes serve them: ``userName`` (stored lower-case)
  compares ``email = lower(value)`` on its unique index, a group ``displayName`` compares
  ``lower(name)`` on the (organization, lower(name)) unique index.

The tenant is not applied here: views AND the returned ``Q`` onto an organization-scoped
queryset.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils.dateparse import parse_datetime
from django.utils.timezone import make_aware
from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from scim2_filter_parser.transpilers.django_q_object import Transpiler

from scim.constants import ENTERPRISE_USER_URN, GROUP_URN, USER_URN
from scim.errors import ScimError

# Attribute kinds decide which operators are allowed and how values are compared.
LOWERCASE = "lowercase"  # stored lower-cased: compare with lower(value), case-sensitive lookups
CI_TEXT = "ci_text"  # case-insensitive text (iexact, icontains...)
CI_INDEXED = "ci_indexed"  # case-insensitive text served by a lower(field) index
EXACT_TEXT = "exact_text"  # caseExact text (externalId)
UUID = "uuid"
BOOLEAN = "boolean"
DATETIME = "datetime"
MEMBER = "member"  # group membership by user id

_TEXT_OPS = {"eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"}
ALLOWED_OPS = {
    LOWERCASE: _TEXT_OPS,
    CI_TEXT: _TEXT_OPS,
    CI_INDEXED: _TEXT_OPS,
    EXACT_TEXT: _TEXT_OPS,
    UUID: {"eq", "ne", "pr"},
    BOOLEAN: {"eq", "ne", "pr"},
    DATETIME: {"eq", "ne", "gt", "ge", "lt", "le", "pr"},
    MEMBER: {"eq", "pr"},
}


@dataclass(frozen=True)
class Field:
    orm: str
    kind: str


def _user_attrs() -> dict[tuple, Field]:
    email = Field("email", LOWERCASE)
    attrs = {
        ("username", None): email,
        # PingOne setup guides use `email` / `email.value` (docs/idp-notes.md#email-aliases-in-filters).
        ("email", None): email,
        ("email", "value"): email,
        ("emails", None): email,
        ("emails", "value"): email,
        ("externalid", None): Field("external_id", EXACT_TEXT),
        ("id", None): Field("pk", UUID),
        ("name", "givenname"): Field("given_name", CI_TEXT),
        ("name", "familyname"): Field("family_name", CI_TEXT),
        ("displayname", None): Field("display_name", CI_TEXT),
        ("title", None): Field("title", CI_TEXT),
        ("active", None): Field("is_active", BOOLEAN),
        ("meta", "lastmodified"): Field("updated_at", DATETIME),
        ("meta", "created"): Field("created_at", DATETIME),
        ("manager", None): Field("manager_id", UUID),
        ("manager", "value"): Field("manager_id", UUID),
        ("department", None): Field("department", CI_TEXT),
        ("employeenumber", None): Field("employee_number", EXACT_TEXT),
    }
    return attrs


USER_ATTRS = _user_attrs()
# Attributes that may be addressed with the enterprise extension URN prefix.
USER_ENTERPRISE_ATTRS = {"manager", "department", "employeenumber"}

GROUP_ATTRS = {
    ("displayname", None): Field("name", CI_INDEXED),
    ("externalid", None): Field("external_id", EXACT_TEXT),
    ("id", None): Field("pk", UUID),
    ("members", None): Field("memberships__user_id", MEMBER),
    ("members", "value"): Field("memberships__user_id", MEMBER),
    ("meta", "lastmodified"): Field("updated_at", DATETIME),
    ("meta", "created"): Field("created_at", DATETIME),
}

# Values written without quotes (Entra's old samples, PingOne's default `userName eq x`).
_BARE_VALUE = re.compile(r"""(?P<head>\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)(?P<value>[^\s"()\[\]]+)""", re.IGNORECASE)
_LITERALS = {"true", "false", "null"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _quote_bare_values(expression: str) -> str:
    def quote(match: re.Match) -> str:
        value = match.group("value")
        if value.lower() in _LITERALS or _NUMBER.match(value):
            return match.group(0)
        return f'{match.group("head")}"{value}"'

    return _BARE_VALUE.sub(quote, expression)


def parse(expression: str):
    """Parse a filter into scim2-filter-parser's AST; any failure is ``invalidFilter``."""
    if not expression or not expression.strip():
        raise ScimError(400, "invalidFilter", "The filter is empty.")
    if "\x00" in expression:
        raise ScimError(400, "invalidFilter", "NUL characters are not allowed in a filter.")
    if len(expression) > 4096:
        raise ScimError(400, "invalidFilter", "The filter is too long (at most 4096 characters).")
    for candidate in (expression, _quote_bare_values(expression)):
        try:
            return SCIMParser().parse(SCIMLexer().tokenize(candidate))
        except Exception:  # noqa: S112 - the lexer/parser raise bare Exceptions and ValueErrors
            continue
    raise ScimError(400, "invalidFilter", f"The filter could not be parsed: {expression[:200]}")


class StrictTranspiler(Transpiler):
    """scim2-filter-parser's Django ``Q`` transpiler, made strict and index-aware."""

    def __init__(self, attrs: dict[tuple, Field], *, core_urn: str, extension_attrs: set[str] = frozenset()):
        super().__init__({})
        self.attrs = attrs
        self.core_urn = core_urn.lower()
        self.extension_attrs = extension_attrs

    # --- tree -----------------------------------------------------------------
    def visit_Filter(self, node):
        if node.namespace is not None:
            return self._value_path_filter(node.namespace, node.expr, negated=node.negated)
        query = self.visit(node.expr)
        return ~query if node.negated else query

    def visit_LogExpr(self, node):
        left, right = self.visit(node.expr1), self.visit(node.expr2)
        return left & right if node.op.lower() == "and" else left | right

    def visit_AttrExpr(self, node):
        attr_path = node.attr_path
        if isinstance(attr_path.attr_name, scim_ast.Filter):
            # emails[type eq "work"].value eq "x": the bracket selects elements, the
            # trailing sub-attribute is compared.
            bracket = attr_path.attr_name
            namespace = bracket.namespace
            return self._value_path_filter(
                scim_ast.AttrPath(namespace.attr_name, None, namespace.uri),
                bracket.expr,
                negated=bracket.negated,
                compare=(namespace.sub_attr.value if namespace.sub_attr else None, node),
            )
        field = self._field(attr_path.attr_name, attr_path.sub_attr, attr_path.uri)
        return self._compare(field, node.value.lower(), self._comp_value(node), attr_path)

    # --- helpers --------------------------------------------------------------
    def _field(self, attr_name, sub_attr, uri) -> Field:
        name = str(attr_name).lower()
        sub = sub_attr.value.lower() if sub_attr is not None else None
        shown = f"{attr_name}{'.' + sub_attr.value if sub_attr is not None else ''}"
        if uri:
            uri = uri.lower().rstrip(":")
            allowed = uri == self.core_urn or (uri == ENTERPRISE_USER_URN.lower() and name in self.extension_attrs)
            if not allowed:
                raise ScimError(400, "invalidFilter", f"Filtering on '{uri}:{shown}' is not supported.")
        field = self.attrs.get((name, sub))
        if field is None:
            raise ScimError(400, "invalidFilter", f"Filtering on '{shown}' is not supported.")
        return field

    @staticmethod
    def _comp_value(node):
        if node.comp_value is None:
            return None
        return Transpiler.visit_CompValue(node.comp_value)

    def _value_path_filter(self, namespace, expr, *, negated: bool, compare=None):
        """Filters with brackets: ``emails[type eq "work"].value eq "x"``,
        ``emails[value eq "x"]``, ``members[value eq "id"]``."""
        name = str(namespace.attr_name).lower()
        if name in {"emails", "email"}:
            query = self._email_bracket(expr)
            if compare is not None:
                sub, node = compare
                field = self._field(name, scim_ast.SubAttr(sub) if sub else None, None)
                query &= self._compare(field, node.value.lower(), self._comp_value(node), namespace)
        elif name == "members" and compare is None:
            query = self._bracket_on(expr, namespace)
        else:
            raise ScimError(400, "invalidFilter", f"Filtering inside '{namespace.attr_name}[...]' is not supported.")
        return ~query if negated else query

    def _bracket_on(self, expr, namespace):
        """Inside ``members[...]`` only ``value`` comparisons (with and/or/not) apply."""
        if isinstance(expr, scim_ast.Filter):
            inner = self._bracket_on(expr.expr, namespace)
            return ~inner if expr.negated else inner
        if isinstance(expr, scim_ast.LogExpr):
            left, right = self._bracket_on(expr.expr1, namespace), self._bracket_on(expr.expr2, namespace)
            return left & right if expr.op.lower() == "and" else left | right
        if isinstance(expr, scim_ast.AttrExpr) and str(expr.attr_path.attr_name).lower() == "value":
            field = self._field(namespace.attr_name, scim_ast.SubAttr("value"), None)
            return self._compare(field, expr.value.lower(), self._comp_value(expr), namespace)
        raise ScimError(400, "invalidFilter", "Only 'value' can be compared inside members[...].")

    def _email_bracket(self, expr):
        """We store one primary work email per user: ``type eq "work"`` and ``primary eq true``
        select it, any other type selects nothing; ``value`` compares the address."""
        if isinstance(expr, scim_ast.Filter):
            inner = self._email_bracket(expr.expr)
            return ~inner if expr.negated else inner
        if isinstance(expr, scim_ast.LogExpr):
            left, right = self._email_bracket(expr.expr1), self._email_bracket(expr.expr2)
            return left & right if expr.op.lower() == "and" else left | right
        if not isinstance(expr, scim_ast.AttrExpr) or isinstance(expr.attr_path.attr_name, scim_ast.Filter):
            raise ScimError(400, "invalidFilter", "Unsupported expression inside emails[...].")
        sub = str(expr.attr_path.attr_name).lower()
        op = expr.value.lower()
        value = self._comp_value(expr)
        if sub == "value":
            return self._compare(self.attrs[("emails", "value")], op, value, expr.attr_path)
        if sub == "type" and op == "eq":
            return Q() if str(value).lower() == "work" else Q(pk__in=[])
        if sub == "primary" and op == "eq":
            return Q() if _as_bool(value) else Q(pk__in=[])
        raise ScimError(400, "invalidFilter", f"Unsupported comparison on emails.{sub}.")

    def _compare(self, field: Field, op: str, value, attr_path) -> Q:
        if op not in ALLOWED_OPS[field.kind]:
            raise ScimError(400, "invalidFilter", f"The operator '{op}' cannot be used with '{_path_text(attr_path)}'.")
        if op == "pr":
            return self._present(field)
        if value is None:  # `attr eq null` means "has no value" (RFC 7643 §2.5)
            if op == "eq":
                return ~self._present(field)
            if op == "ne":
                return self._present(field)
            raise ScimError(400, "invalidFilter", f"'{op} null' is not a valid comparison.")
        query = self._compare_value(field, op, value, attr_path)
        return ~query if op == "ne" else query

    @staticmethod
    def _present(field: Field) -> Q:
        if field.kind in {UUID, BOOLEAN, DATETIME}:
            return Q(**{f"{field.orm}__isnull": False}) if field.orm != "pk" else Q()
        if field.kind == MEMBER:
            from admincenter.models import GroupMembership

            return Q(pk__in=GroupMembership.objects.values("group_id"))
        return ~Q(**{field.orm: ""})

    def _compare_value(self, field: Field, op: str, value, attr_path) -> Q:
        kind = field.kind
        if kind == BOOLEAN:
            flag = _as_bool(value)
            if flag is None:
                raise ScimError(400, "invalidFilter", f"'{_path_text(attr_path)}' compares with true or false.")
            return Q(**{field.orm: flag})
        if kind == UUID:
            try:
                return Q(**{field.orm: uuid.UUID(str(value))})
            except ValueError:
                return Q(pk__in=[])  # an id that cannot exist matches nothing
        if kind == MEMBER:
            from admincenter.models import GroupMembership

            try:
                member = uuid.UUID(str(value))
            except ValueError:
                return Q(pk__in=[])
            return Q(pk__in=GroupMembership.objects.filter(user_id=member).values("group_id"))
        if kind == DATETIME:
            return Q(**{f"{field.orm}__{_RANGE_OPS.get(op, 'exact')}": _as_datetime(value, attr_path)})
        text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        if kind in EQUALITY_KINDS and op in {"eq", "ne"}:
            return equals(field, compared_text(field, text))
        if kind == LOWERCASE:
            return Q(**{f"{field.orm}__{_TEXT_LOOKUPS[op]}": text.lower()})
        if kind == EXACT_TEXT:
            return Q(**{f"{field.orm}__{_TEXT_LOOKUPS[op]}": text})
        return Q(**{f"{field.orm}__{_CI_LOOKUPS[op]}": text})


# Text attributes whose `eq` is one indexed comparison (the look-ups IdPs send before writes).
EQUALITY_KINDS = {LOWERCASE, CI_INDEXED, EXACT_TEXT}


def compared_text(field: Field, text: str) -> str:
    """The value as the column compares it: lower-cased unless the attribute is caseExact."""
    return text if field.kind == EXACT_TEXT else text.lower()


def equals(field: Field, compared: str) -> Q:
    """``field eq value`` for an already ``compared_text`` value, written so the index serves it."""
    if field.kind == CI_INDEXED:
        return Q(Exact(Lower(field.orm), compared))
    return Q(**{field.orm: compared})


@dataclass(frozen=True)
class Equality:
    """A filter that is exactly one ``attribute eq "text"`` on an indexed text attribute."""

    field: Field
    value: str  # as the column compares it

    def q(self) -> Q:
        return equals(self.field, self.value)


def _equality(expression: str, transpiler: StrictTranspiler) -> Equality | None:
    tree = parse(expression)
    node = tree.expr if isinstance(tree, scim_ast.Filter) and not tree.negated and tree.namespace is None else None
    if not isinstance(node, scim_ast.AttrExpr) or node.value.lower() != "eq":
        return None
    attr_path = node.attr_path
    if isinstance(attr_path.attr_name, scim_ast.Filter):
        return None
    field = transpiler._field(attr_path.attr_name, attr_path.sub_attr, attr_path.uri)
    value = transpiler._comp_value(node)
    if field.kind not in EQUALITY_KINDS or not isinstance(value, str):
        return None
    return Equality(field, compared_text(field, value))


_RANGE_OPS = {"eq": "exact", "ne": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
_TEXT_LOOKUPS = {
    "eq": "exact", "ne": "exact", "co": "contains", "sw": "startswith", "ew": "endswith",
    "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte",
}  # fmt: skip
_CI_LOOKUPS = {
    "eq": "iexact", "ne": "iexact", "co": "icontains", "sw": "istartswith", "ew": "iendswith",
    "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte",
}  # fmt: skip


def _path_text(attr_path) -> str:
    if isinstance(attr_path, scim_ast.AttrPath) and not isinstance(attr_path.attr_name, scim_ast.AST):
        sub = f".{attr_path.sub_attr.value}" if attr_path.sub_attr is not None else ""
        return f"{attr_path.attr_name}{sub}"
    return "attribute"


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def _as_datetime(value, attr_path) -> datetime:
    try:
        parsed = parse_datetime(str(value)) if isinstance(value, str) else None
    except ValueError:  # well formed but not a real date-time ("2024-13-45T00:00:00Z")
        parsed = None
    if parsed is None:
        raise ScimError(
            400,
            "invalidFilter",
            f"'{_path_text(attr_path)}' compares with an RFC 3339 date-time such as 2024-05-01T10:00:00Z.",
        )
    return parsed if parsed.tzinfo else make_aware(parsed)


def _user_transpiler() -> StrictTranspiler:
    return StrictTranspiler(USER_ATTRS, core_urn=USER_URN, extension_attrs=USER_ENTERPRISE_ATTRS)


def _group_transpiler() -> StrictTranspiler:
    return StrictTranspiler(GROUP_ATTRS, core_urn=GROUP_URN)


def user_filter(expression: str) -> Q:
    return _user_transpiler().transpile(parse(expression))


def group_filter(expression: str) -> Q:
    return _group_transpiler().transpile(parse(expression))


def user_equality(expression: str) -> Equality | None:
    """The filter as one indexed equality (``userName eq "x"``, ``externalId eq "x"``), or
    None when it is anything else; ``user_filter`` translates every filter the same way."""
    return _equality(expression, _user_transpiler())


def group_equality(expression: str) -> Equality | None:
    """As ``user_equality``, for groups (``displayName eq "x"``, ``externalId eq "x"``)."""
    return _equality(expression, _group_transpiler())
