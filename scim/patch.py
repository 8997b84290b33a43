"""PATCH (RFC 7644 §3.5.2) for users and groups, tolerant of what the IdPs send.

Users: the operations are applied in order to a copy of the user's representation, so
several operations on one attribute end with the last one and a failing operation
leaves nothing applied; the result is then translated like a PUT. Groups: operations
become a name / externalId change and an ordered list of member operations that the
service applies as set operations under a row lock.

Forms handled (docs/idp-notes.md#entra-patch-forms, docs/idp-notes.md#okta-group-patch): ``op`` in any
case; simple,
sub-attribute, URN-qualified and filtered value paths (``emails[type eq "work"].value``;
``add`` creates a missing element); path-less add/replace with dotted and URN keys;
``members[value eq "id"]`` removal and removal with a ``value`` array.
"""

from __future__ import annotations

import copy
import re

from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from admincenter.services.scim import MemberOp
from scim.constants import ENTERPRISE_USER_URN, MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS, PATCH_OP_URN
from scim.errors import ScimError
from scim.resources import (
    ENTERPRISE,
    ENTRY_SUBS,
    MULTI_VALUED,
    NAME_SUB,
    coerce,
    entry,
    invalid_syntax,
    normalise_multi,
    resolve_key,
)

_PATH = re.compile(r"^(?P<head>[^\[\]]+?)(?:\[(?P<filter>.*)\](?:\.(?P<sub>[A-Za-z$][\w$-]*))?)?$", re.DOTALL)
_HEAD = re.compile(r"^(?:urn:[\w.:-]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$")
_OPS = {"add", "replace", "remove"}


def operations_of(body: dict) -> list[tuple[str, str | None, object]]:
    """Validate a PatchOp body and return (op, path, value) triples, op lower-cased."""
    if not isinstance(body, dict):
        raise invalid_syntax("The PATCH body must be a JSON object.")
    schemas = body.get("schemas")
    if isinstance(schemas, list) and schemas and PATCH_OP_URN not in schemas:
        raise invalid_syntax(f"A PATCH body declares the schema {PATCH_OP_URN}.")
    operations = {k.lower(): v for k, v in body.items()}.get("operations")
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("'Operations' must be a non-empty array.")
    if len(operations) > MAX_PATCH_OPERATIONS:
        raise ScimError(400, "invalidValue", f"At most {MAX_PATCH_OPERATIONS} operations per request.")
    result = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid_syntax("Each operation must be a JSON object.")
        fields = {k.lower(): v for k, v in operation.items()}
        op = fields.get("op")
        if not isinstance(op, str) or op.lower() not in _OPS:
            raise invalid_syntax("Each operation needs 'op': add, replace or remove.")
        path = fields.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "invalidPath", "'path' must be a string.")
        path = path.strip() if path else None
        value = fields.get("value")
        if path is None:
            if op.lower() == "remove":
                raise ScimError(400, "noTarget", "A remove operation needs a 'path'.")
            if not isinstance(value, dict):
                raise invalid_syntax("An operation without 'path' needs an object 'value'.")
        result.append((op.lower(), path, value))
    return result


def split_path(path: str, *, strict: bool = True):
    """``head[filter].sub`` → (head, filter AST or None, sub or None).

    ``strict`` (explicit ``path`` values) also checks the head's grammar (RFC 7644 §3.5.2:
    optional URN, attribute, optional sub-attribute); keys of a path-less value object are
    only split, so an odd key an IdP adds is ignored rather than refused."""
    match = _PATH.match(path)
    if not match or not match.group("head").strip():
        raise ScimError(400, "invalidPath", f"'{path}' is not a valid attribute path.")
    if strict and not _HEAD.match(match.group("head").strip()):
        raise ScimError(400, "invalidPath", f"'{path}' is not a valid attribute path.")
    filter_text = match.group("filter")
    ast = None
    if filter_text is not None:
        try:
            ast = SCIMParser().parse(SCIMLexer().tokenize(filter_text))
        except Exception:
            raise ScimError(400, "invalidPath", f"The filter in '{path}' could not be parsed.") from None
    return match.group("head").strip(), ast, match.group("sub")


# --- value filters on elements of multi-valued attributes ----------------------


def _matches(node, element: dict) -> bool:
    if isinstance(node, scim_ast.Filter):
        result = _matches(node.expr, element)
        return not result if node.negated else result
    if isinstance(node, scim_ast.LogExpr):
        left, right = _matches(node.expr1, element), _matches(node.expr2, element)
        return (left and right) if node.op.lower() == "and" else (left or right)
    if isinstance(node, scim_ast.AttrExpr) and not isinstance(node.attr_path.attr_name, scim_ast.AST):
        key = ENTRY_SUBS.get(str(node.attr_path.attr_name).lower())
        op = node.value.lower()
        actual = element.get(key) if key else None
        if op == "pr":
            return actual not in (None, "")
        expected = node.comp_value.value if node.comp_value is not None else None
        if key == "primary" or isinstance(expected, bool):
            expected = str(expected).lower() == "true"
            actual = bool(actual) if not isinstance(actual, str) else actual.lower() == "true"
            return (actual == expected) if op == "eq" else (actual != expected) if op == "ne" else False
        actual_text, expected_text = str(actual or "").lower(), str(expected or "").lower()
        return {
            "eq": actual_text == expected_text,
            "ne": actual_text != expected_text,
            "co": expected_text in actual_text,
            "sw": actual_text.startswith(expected_text),
            "ew": actual_text.endswith(expected_text),
        }.get(op, False)
    raise ScimError(400, "invalidPath", "Unsupported expression in a value filter.")


def _template(node) -> dict | None:
    """The element an ``add`` creates when a filter matches nothing: the ``eq`` terms of
    an and-only filter (``type eq "home"`` → {"type": "home"}); None if not that shape."""
    if isinstance(node, scim_ast.Filter) and not node.negated:
        return _template(node.expr)
    if isinstance(node, scim_ast.LogExpr) and node.op.lower() == "and":
        left, right = _template(node.expr1), _template(node.expr2)
        return None if left is None or right is None else {**left, **right}
    if isinstance(node, scim_ast.AttrExpr) and node.value.lower() == "eq" and node.comp_value is not None:
        key = ENTRY_SUBS.get(str(node.attr_path.attr_name).lower())
        if key is None:
            return None
        value = node.comp_value.value
        return {key: str(value).lower() == "true" if key == "primary" else value}
    return None


# --- users ----------------------------------------------------------------------


def apply_user_patch(representation: dict, operations) -> dict:
    """Apply PATCH operations to a copy of a user's working representation."""
    rep = copy.deepcopy(representation)
    for op, path, value in operations:
        if path is None:
            for key, item in value.items():
                _apply_user_path(rep, op, key, item, pathless=True)
        else:
            _apply_user_path(rep, op, path, value, pathless=False)
    return rep


def _apply_user_path(rep: dict, op: str, path: str, value, *, pathless: bool) -> None:
    head, filter_ast, filter_sub = split_path(path, strict=not pathless)
    container, attribute, sub = resolve_key(head)
    if container is None and attribute is None:  # the enterprise extension object itself
        if op == "remove":
            rep.pop(ENTERPRISE, None)
            return
        if not isinstance(value, dict):
            raise invalid_syntax("The enterprise extension value must be an object.")
        for key, item in value.items():
            _apply_user_path(rep, op, f"{ENTERPRISE_USER_URN}:{key}", item, pathless=pathless)
        return
    if container == "ignore":
        if head.strip().lower() == "id" and not pathless and op != "remove" and value != rep.get("id"):
            raise ScimError(400, "mutability", "'id' is immutable.")
        if head.strip().lower() == "id" and op == "remove" and not pathless:
            raise ScimError(400, "mutability", "'id' is immutable.")
        return  # read-only, write-only (password) or unknown attributes are ignored
    target = rep.setdefault(ENTERPRISE, {}) if container == ENTERPRISE else rep
    if filter_ast is not None:
        if attribute not in MULTI_VALUED:
            raise ScimError(400, "invalidPath", f"'{attribute}' is not multi-valued; it cannot be filtered.")
        _apply_filtered(target, op, attribute, filter_ast, filter_sub, value)
        return
    if sub is not None:
        _apply_sub(target, op, attribute, sub, value)
        return
    if op == "remove":
        if attribute == "userName":
            raise ScimError(400, "mutability", "userName is required and cannot be removed.")
        if attribute in MULTI_VALUED and isinstance(value, list) and value:
            listed = {str(entry(v, attribute=attribute).get("value", "")).lower() for v in value}
            target[attribute] = [e for e in target.get(attribute, []) if str(e.get("value", "")).lower() not in listed]
        else:
            target.pop(attribute, None)
        return
    coerced = coerce(container, attribute, value)
    if coerced is None:
        target.pop(attribute, None)
    elif attribute in MULTI_VALUED and op == "add":
        target[attribute] = normalise_multi([*target.get(attribute, []), *coerced], attribute=attribute)
    elif attribute == "name" and isinstance(coerced, dict):
        target["name"] = {**target.get("name", {}), **coerced}  # sub-attributes not given stay
    else:
        target[attribute] = coerced


def _apply_sub(target: dict, op: str, attribute: str, sub: str, value) -> None:
    if attribute == "name":
        name_sub = NAME_SUB.get(sub.lower())
        if name_sub is None:
            return
        name = target.setdefault("name", {})
        if op == "remove" or value is None:
            name.pop(name_sub, None)
        else:
            name[name_sub] = coerce("core", "userName", value)  # a string, like any name part
        return
    if attribute == "manager":
        if sub.lower() != "value":
            return
        manager = coerce(ENTERPRISE, "manager", None if op == "remove" else value)
        if manager is None:
            target.pop("manager", None)
        else:
            target["manager"] = manager
        return
    if attribute in MULTI_VALUED:
        # `emails.value` without a filter addresses every element; with none, one is created.
        key = ENTRY_SUBS.get(sub.lower())
        if key is None:
            return
        elements = target.get(attribute) or []
        if op == "remove":
            for element in elements:
                element.pop(key, None)
        elif elements:
            for element in elements:
                element[key] = entry({key: value}, attribute=attribute).get(key)
        else:
            elements = [entry({key: value}, attribute=attribute)]
        target[attribute] = normalise_multi(elements, attribute=attribute)
        return
    raise ScimError(400, "invalidPath", f"'{attribute}' has no sub-attribute '{sub}'.")


def _apply_filtered(target: dict, op: str, attribute: str, filter_ast, sub: str | None, value) -> None:
    elements = [dict(e) for e in target.get(attribute) or []]
    matched = [e for e in elements if _matches(filter_ast, e)]
    key = ENTRY_SUBS.get(sub.lower()) if sub else None
    if sub and key is None:
        return  # an unknown sub-attribute of a known element is ignored
    if op == "remove":
        if key:
            for element in matched:
                element.pop(key, None)
        else:
            elements = [e for e in elements if e not in matched]
    elif matched:
        for element in matched:
            if key:
                element[key] = entry({key: value}, attribute=attribute).get(key)
            else:
                element.update(entry(value, attribute=attribute))
    else:
        template = _template(filter_ast)
        if template is None:
            raise ScimError(400, "noTarget", f"No element of '{attribute}' matches the filter.")
        created = dict(template)
        if key:
            created.update(entry({key: value}, attribute=attribute))
        else:
            created.update(entry(value, attribute=attribute))
        elements.append(created)
    target[attribute] = normalise_multi(elements, attribute=attribute)


# --- groups ---------------------------------------------------------------------


def member_ids(value, *, attribute: str = "members") -> list[str]:
    """Member values from ``[{"value": id, ...}]`` (a single object is accepted too).
    A member of type Group is refused: nested groups are not supported
    (docs/domain.md#no-nested-groups)."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid_syntax(f"'{attribute}' must be an array of objects with a 'value'.")
    if len(value) > MAX_MEMBERS_PER_REQUEST:
        raise ScimError(400, "invalidValue", f"At most {MAX_MEMBERS_PER_REQUEST} members per request.")
    ids = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid_syntax(f"Each element of '{attribute}' must be an object with a 'value'.")
        fields = {k.lower(): v for k, v in item.items()}
        member = fields.get("value")
        if not isinstance(member, str) or not member.strip():
            raise invalid_syntax(f"Each element of '{attribute}' needs a string 'value'.")
        if str(fields.get("type") or "").lower() == "group" or "/groups/" in str(fields.get("$ref") or "").lower():
            raise ScimError(
                400, "invalidValue", f"Groups cannot be members of groups (nested groups are not supported): {member}"
            )
        ids.append(member.strip())
    return ids


def _member_filter_ids(node) -> list[str]:
    """``members[value eq "a" or value eq "b"]`` → ["a", "b"]."""
    if isinstance(node, scim_ast.Filter) and not node.negated:
        return _member_filter_ids(node.expr)
    if isinstance(node, scim_ast.LogExpr) and node.op.lower() == "or":
        return _member_filter_ids(node.expr1) + _member_filter_ids(node.expr2)
    if (
        isinstance(node, scim_ast.AttrExpr)
        and str(node.attr_path.attr_name).lower() == "value"
        and node.value.lower() == "eq"
        and node.comp_value is not None
    ):
        return [str(node.comp_value.value)]
    raise ScimError(400, "invalidPath", 'Only members[value eq "<id>"] filters are supported.')


class GroupChanges:
    """What a group PATCH asks for, in request order."""

    def __init__(self):
        self.name: str | None = None
        self.external_id: str | None = None
        self.member_ops: list[MemberOp] = []


def group_changes(group_id: str, operations) -> GroupChanges:
    changes = GroupChanges()
    for op, path, value in operations:
        if path is None:
            for key, item in value.items():
                _group_path(changes, group_id, op, key, item, pathless=True)
        else:
            _group_path(changes, group_id, op, path, value, pathless=False)
    return changes


def _group_path(changes: GroupChanges, group_id: str, op: str, path: str, value, *, pathless: bool) -> None:
    head, filter_ast, sub = split_path(path, strict=not pathless)
    attribute = head.lower()
    if attribute.startswith("urn:ietf:params:scim:schemas:core:2.0:group:"):
        attribute = attribute.rsplit(":", 1)[1]
    attribute, dot, _ = attribute.partition(".")
    if dot and not pathless:
        raise ScimError(400, "invalidPath", f"'{path}': group attributes have no sub-attributes to change.")
    if dot:
        return  # an odd dotted key inside a path-less value is ignored
    if attribute == "members":
        if sub is not None:
            raise ScimError(400, "invalidPath", "Member sub-attributes cannot be changed.")
        if filter_ast is not None:
            if op != "remove":
                raise ScimError(400, "invalidPath", "Only 'remove' can use a members[...] filter.")
            changes.member_ops.append(MemberOp("remove", _member_filter_ids(filter_ast)))
        elif op == "remove":
            # Entra lists the members to remove in `value`; with no value RFC 7644 clears.
            ids = member_ids(value) if value not in (None, [], "") else None
            changes.member_ops.append(MemberOp("remove", ids) if ids is not None else MemberOp("clear"))
        else:
            changes.member_ops.append(MemberOp(op if op == "add" else "replace", member_ids(value)))
        return
    if filter_ast is not None or sub is not None:
        raise ScimError(400, "invalidPath", f"'{path}' is not a valid group attribute path.")
    if attribute == "displayname":
        if op == "remove" or value in (None, ""):
            raise ScimError(400, "mutability", "displayName is required and cannot be removed.")
        if not isinstance(value, str):
            raise invalid_syntax("'displayName' must be a string.")
        changes.name = value
    elif attribute == "externalid":
        if op == "remove" or value is None:
            changes.external_id = ""
        elif isinstance(value, str):
            changes.external_id = value
        else:
            raise invalid_syntax("'externalId' must be a string.")
    elif attribute == "id" and not pathless and (op == "remove" or str(value) != group_id):
        # A path-less value may carry the id next to the new name (Okta): the URL wins
        # (docs/idp-notes.md#okta-group-patch). An explicit change of the id is refused.
        raise ScimError(400, "mutability", "'id' is immutable.")
    # schemas, meta and unknown attributes are ignored
