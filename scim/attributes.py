"""``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5), applied to rendered
resources. ``id``, ``schemas`` and ``meta`` are always returned. Names are
case-insensitive and may be dotted (``name.givenName``) or URN-qualified."""

from __future__ import annotations

from dataclasses import dataclass

from scim.constants import ENTERPRISE_USER_URN, GROUP_URN, USER_URN

ALWAYS = {"id", "schemas", "meta"}
_CORE_PREFIXES = (USER_URN.lower() + ":", GROUP_URN.lower() + ":")
_ENTERPRISE = ENTERPRISE_USER_URN.lower()


def _parse(raw: str | None) -> list[tuple[str, str | None]]:
    """ "name.givenName, urn:...:enterprise:2.0:User:department" → [(top, sub), ...]
    where ``top`` is lower-case and the enterprise extension's top is its URN."""
    result = []
    for item in (raw or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        if item.startswith(_ENTERPRISE):
            rest = item[len(_ENTERPRISE) :].lstrip(":")
            result.append((_ENTERPRISE, rest.split(".")[0] or None))
            continue
        for prefix in _CORE_PREFIXES:
            if item.startswith(prefix):
                item = item[len(prefix) :]
        top, _, sub = item.partition(".")
        result.append((top, sub or None))
    return result


@dataclass(frozen=True)
class AttributeSelection:
    include: tuple = ()
    exclude: tuple = ()

    @classmethod
    def from_query(cls, params) -> AttributeSelection:
        return cls(tuple(_parse(params.get("attributes"))), tuple(_parse(params.get("excludedAttributes"))))

    def wants(self, attribute: str) -> bool:
        """Whether a top-level attribute will be returned, so callers can skip loading it."""
        name = attribute.lower()
        if self.include:
            return any(top == name for top, _ in self.include)
        return not any(top == name and sub is None for top, sub in self.exclude)

    def apply(self, resource: dict) -> dict:
        if not self.include and not self.exclude:
            return resource
        result = {}
        for key, value in resource.items():
            name = key.lower()
            if name in ALWAYS:
                result[key] = value
                continue
            if self.include:
                subs = [sub for top, sub in self.include if top == name]
                if not subs:
                    continue
                if None not in subs:
                    value = _sub_attributes(value, lambda k, subs=subs: k.lower() in subs)
            excluded = [sub for top, sub in self.exclude if top == name]
            if None in excluded:
                continue
            if excluded:
                value = _sub_attributes(value, lambda k, excluded=excluded: k.lower() not in excluded)
            result[key] = value
        return result


def _sub_attributes(value, keep):
    """Sub-attribute selection on a complex value, or on each element of a multi-valued
    one (``emails.value``, ``members.value``)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if keep(k)}
    if isinstance(value, list):
        return [_sub_attributes(item, keep) if isinstance(item, dict) else item for item in value]
    return value
