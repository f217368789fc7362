"""Input values checked and coerced against attribute definitions (RFC 7643 §2.3), into the stored form:
plain JSON dicts keyed by canonical attribute names, extension data under the extension's URN.

Lenient where real clients need it: Entra's boolean strings ("True", "False"), and a bare string
for a complex attribute with a ``value`` sub-attribute (Entra's ``manager``). ``null`` means unassigned.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sims.core.scim.errors import invalid_syntax, invalid_value
from sims.core.scim.filter import split_attr_path
from sims.core.scim.schema import Attr, ResourceType

_BOOLS = {"true": True, "false": False}


def parse_datetime(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 / xsd:dateTime string; None when it is not one."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def coerce(attr: Attr, value: object, where: str, strict: bool) -> object:
    """The stored form of ``value`` for ``attr`` (None when unassigned); ScimError 400 when it is wrong."""
    if value is None:
        return None
    if not attr.multi_valued:
        return coerce_single(attr, value, where, strict)
    if not isinstance(value, list):
        raise invalid_value(f"{where} is multi-valued: an array is expected")
    out = []
    primaries = 0
    for i, item in enumerate(value):
        v = coerce_single(attr, item, f"{where}[{i}]", strict)
        if v is None:
            continue
        if isinstance(v, dict) and v.get("primary") is True:
            primaries += 1
        out.append(v)
    if primaries > 1:  # RFC 7643 §2.4: "primary" true at most once
        raise invalid_value(f"{where}: more than one value is primary")
    return out or None


def coerce_single(attr: Attr, value: object, where: str, strict: bool) -> object:
    if value is None:
        return None
    kind = attr.type
    if kind in ("string", "reference", "binary"):
        if isinstance(value, str):
            return value
        raise invalid_value(f"{where} must be a string")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOLS:  # Entra sends "True" / "False"
            return _BOOLS[value.lower()]
        raise invalid_value(f"{where} must be a boolean")
    if kind == "complex":
        if isinstance(value, str) and attr.sub("value") is not None and not attr.multi_valued:
            value = {"value": value}  # Entra: "manager": "<id>"
        if not isinstance(value, dict):
            raise invalid_value(f"{where} must be an object")
        out = {}
        for key, item in value.items():
            sub = attr.sub(key)
            if sub is None:
                if strict:
                    raise invalid_syntax(f"{where}.{key} is not a defined attribute")
                continue
            if sub.mutability == "readOnly":
                continue
            v = coerce_single(sub, item, f"{where}.{sub.name}", strict)
            if v is not None:
                out[sub.name] = v
        return out or None
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise invalid_value(f"{where} must be an integer")
    if kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise invalid_value(f"{where} must be a number")
    if kind == "dateTime":
        if isinstance(value, str) and parse_datetime(value) is not None:
            return value
        raise invalid_value(f"{where} must be a dateTime (xsd:dateTime, e.g. 2026-01-15T09:00:00Z)")
    raise invalid_value(f"{where}: unsupported type {kind}")  # pragma: no cover - types are checked


def normalize(
    rt: ResourceType, body: object, *, strict: bool, aliases: dict[str, str]
) -> tuple[dict, list[dict] | None]:
    """A resource body (POST or PUT) into stored data, plus the raw ``members`` list of a Group
    (None when the body has none). Read-only attributes are ignored (RFC 7644 §3.3, §3.5.1); so is
    ``password`` (write-only: accepted, never kept or returned)."""
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    data: dict = {}
    members = None
    aliased: list[tuple[str, object]] = []
    if strict and not any(isinstance(k, str) and k.lower() == "schemas" for k in body):
        raise invalid_syntax(f"schemas is required (with {rt.schema.id})")
    for key, value in body.items():
        if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
            continue
        lowered = key.lower()
        if lowered == "schemas":
            _check_schemas(rt, value, strict)
            continue
        if lowered in ("id", "meta"):
            continue
        ext = rt.extension(key)
        if ext is not None:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid_value(f"{key} must be an object")
            for sub_key, sub_value in value.items():
                _put(rt, data, ext.schema.id, sub_key, sub_value, f"{ext.schema.id}:{sub_key}", strict)
            continue
        if lowered in aliases:
            aliased.append((aliases[lowered], value))
            continue
        if lowered.startswith("urn:"):  # "urn:...:User:department": an attribute named with its schema
            path = split_attr_path(key)
            resolved = rt.resolve(path.uri, path.attr) if path and not path.sub else None
            if resolved is None:
                if strict:
                    raise invalid_syntax(f"{key} is not a defined attribute")
                continue
            _put(rt, data, resolved[0], resolved[1].name, value, key, strict)
            continue
        if rt.kind == "Group" and lowered == "members":
            if value is not None and not isinstance(value, list):
                raise invalid_value("members is multi-valued: an array is expected")
            members = value or []
            continue
        _put(rt, data, None, key, value, key, strict)
    for target, value in aliased:  # an alias fills its target only when the body did not set it
        path = split_attr_path(target)
        resolved = rt.resolve(path.uri, path.attr) if path else None
        if resolved is None:  # pragma: no cover - aliases are checked when the dialect is built
            continue
        container, attr = resolved
        holder = data if container is None else data.get(container, {})
        if attr.name not in holder:
            _put(rt, data, container, attr.name, value, target, strict)
    return data, members


def _put(
    rt: ResourceType, data: dict, container: str | None, name: str, value: object, where: str, strict: bool
) -> None:
    if container is None:
        attr = rt.core_attr(name)
    else:
        ext = rt.extension(container)
        attr = ext.schema.attr(name) if ext else None
    if attr is None:
        if strict:
            raise invalid_syntax(f"{where} is not a defined attribute")
        return
    if attr.mutability in ("readOnly", "writeOnly") or attr.name in ("id", "meta"):
        return
    v = coerce(attr, value, where, strict)
    if v is None:
        return
    if container is None:
        data[attr.name] = v
    else:
        data.setdefault(container, {})[attr.name] = v


def _check_schemas(rt: ResourceType, value: object, strict: bool) -> None:
    if value is None and not strict:
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid_syntax("schemas must be an array of schema URNs")
    if not strict:
        return
    known = {s.id.lower() for s in rt.schemas}
    lowered = [s.lower() for s in value]
    if rt.schema.id.lower() not in lowered:
        raise invalid_value(f"schemas must include {rt.schema.id}")
    unknown = [s for s, low in zip(value, lowered, strict=True) if low not in known]
    if unknown:
        raise invalid_value(f"unknown schema {unknown[0]}")


def copy_data(value: object) -> object:
    """A deep copy of stored JSON data (dicts, lists, scalars): much faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_data(v) for v in value]
    return value


def member_items(raw: object, where: str = "members") -> dict[str, str | None]:
    """Members as a client sends them ([{"value": id, "display": ...}], or bare ids) into id -> display."""
    out: dict[str, str | None] = {}
    for i, item in enumerate(raw if isinstance(raw, list) else [raw]):
        display = None
        if item is None:
            continue
        if isinstance(item, dict):
            keys = {k.lower(): k for k in item}
            value = item.get(keys.get("value", "value"))
            display = item.get(keys.get("display", "display"))
            if display is not None and not isinstance(display, str):
                raise invalid_value(f"{where}[{i}].display must be a string")
        else:
            value = item
        if not isinstance(value, str) or not value:
            raise invalid_value(f"{where}[{i}].value must be a resource id")
        out[value] = display
    return out
