"""PATCH (RFC 7644 §3.5.2) applied to a working copy of a resource's data; the store validates the
result and commits it whole, or nothing.

Accepted as real clients send it: ``op`` in any case (Entra's "Add", "Replace"), no path with a
value object whose keys are attribute paths (Okta's ``{"active": false}``, ZIA's
``{"members": [...]}``, Entra's ``{"name.givenName": ...}``), ``remove`` of ``members`` with a
value list (Entra), value paths ``members[value eq "ID"]`` and ``emails[type eq "work"].value``.
In a pathless value, read-only attributes are skipped (Okta sends ``id`` back); named by a path
they are 400 mutability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sims.core.scim.errors import (
    ScimError,
    invalid_path,
    invalid_syntax,
    invalid_value,
    mutability,
    no_target,
)
from sims.core.scim.evaluate import compile_element_filter, equalities
from sims.core.scim.filter import Compare, PatchPath, parse_path
from sims.core.scim.schema import PATCH_OP, Attr, ResourceType
from sims.core.scim.values import coerce, coerce_single, member_items

if TYPE_CHECKING:
    from sims.core.scim.dialect import Dialect

OPS = ("add", "remove", "replace")
MAX_OPERATIONS = 1000


def operations(body: object, strict: bool) -> list[dict]:
    """The operations of a PatchOp body, checked for shape."""
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    keys = {k.lower(): k for k in body}
    if strict or "schemas" in keys:
        schemas = body.get(keys.get("schemas", "schemas"))
        if not isinstance(schemas, list) or PATCH_OP.lower() not in [str(s).lower() for s in schemas]:
            raise invalid_syntax(f"schemas must be [{PATCH_OP!r}]")
    ops = body.get(keys.get("operations", "Operations"))
    if not isinstance(ops, list) or not ops:
        raise invalid_syntax("Operations must be a non-empty array")
    if len(ops) > MAX_OPERATIONS:
        raise invalid_syntax(f"at most {MAX_OPERATIONS} operations in one PATCH")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise invalid_syntax(f"Operations[{i}] must be an object")
    return ops


class _Target:
    __slots__ = ("attr", "container", "filter", "sub", "whole_ext")

    def __init__(self, container, attr, flt=None, sub=None, whole_ext=None) -> None:
        self.container = container  # None (core) or an extension URN
        self.attr: Attr | None = attr
        self.filter = flt
        self.sub: Attr | None = sub
        self.whole_ext = whole_ext  # an extension URN when the path names the whole extension


class Patcher:
    """Applies operations to ``data`` (a working copy) and ``members`` (a Group's member ids, in order)."""

    def __init__(
        self,
        rt: ResourceType,
        data: dict,
        members: dict[str, str | None] | None,
        dialect: Dialect,
        member_element: Callable[[str, str | None], dict],
    ) -> None:
        self.rt = rt
        self.data = data
        self.members = members
        self.members_changed = False
        self.strict = dialect.strict
        self.creates_missing = dialect.patch_creates_missing
        self.member_element = member_element

    # -- entry -------------------------------------------------------------------------------------
    def apply(self, operation: dict, index: int) -> None:
        keys = {k.lower(): k for k in operation}
        op = operation.get(keys.get("op", "op"))
        if not isinstance(op, str) or op.lower() not in OPS:
            raise invalid_syntax(f"Operations[{index}].op must be add, remove or replace, not {op!r}")
        op = op.lower()
        has_value = "value" in keys
        value = operation.get(keys["value"]) if has_value else None
        path = operation.get(keys["path"]) if "path" in keys else None
        if path is None or (isinstance(path, str) and not path.strip()):
            if op == "remove":
                raise no_target(f"Operations[{index}]: remove needs a path")
            if not has_value:
                raise invalid_value(f"Operations[{index}]: {op} needs a value")
            self._pathless(op, value, index)
            return
        if not isinstance(path, str):
            raise invalid_path(f"Operations[{index}].path must be a string")
        if op != "remove" and not has_value:
            raise invalid_value(f"Operations[{index}]: {op} needs a value")
        target = self._target(parse_path(path), path, pathless=False)
        if target is not None:
            self._op(op, target, value, has_value, path)

    def _pathless(self, op: str, value: object, index: int) -> None:
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]  # some clients wrap the object in an array
        if not isinstance(value, dict):
            raise invalid_value(f"Operations[{index}]: without a path the value must be an object")
        for key, item in value.items():
            if key.lower() in ("schemas", "id", "meta"):
                continue
            ext = self.rt.extension(key)
            if ext is not None:
                self._op(op, _Target(None, None, whole_ext=ext.schema.id), item, True, key)
                continue
            try:
                target = self._target(parse_path(key), key, pathless=True)
            except ScimError:
                if self.strict:
                    raise
                continue  # lenient: an unknown attribute in a pathless value is ignored
            if target is None:
                continue
            self._op(op, target, item, True, key)

    # -- resolution --------------------------------------------------------------------------------
    def _target(self, pp: PatchPath, text: str, pathless: bool) -> _Target | None:
        a = pp.attr
        if pp.filter is None and pp.sub is None and a.uri and a.sub is None:
            ext = self.rt.extension(f"{a.uri}:{a.attr}")
            if ext is not None:
                return _Target(None, None, whole_ext=ext.schema.id)
        resolved = self.rt.resolve(a.uri, a.attr)
        if resolved is None:
            raise invalid_path(f"{text}: {a} is not an attribute of {self.rt.name}")
        container, attr = resolved
        sub_name = a.sub or pp.sub
        sub = None
        if sub_name is not None:
            if not attr.complex:
                raise invalid_path(f"{text}: {attr.name} has no sub-attributes")
            sub = attr.sub(sub_name)
            if sub is None:
                raise invalid_path(f"{text}: {attr.name} has no sub-attribute {sub_name}")
        flt = None
        if pp.filter is not None:
            if not (attr.complex and attr.multi_valued):
                raise invalid_path(f"{text}: {attr.name} is not a complex multi-valued attribute")
            flt = pp.filter
        if attr.mutability == "readOnly" or (sub is not None and sub.mutability == "readOnly"):
            if pathless:
                return None
            raise mutability(f"{text} is read-only")
        if attr.mutability == "writeOnly" or attr.name == "id":
            return None  # password: accepted, never kept (apply() skips it)
        return _Target(container, attr, flt, sub)

    # -- operations --------------------------------------------------------------------------------
    def _holder(self, container: str | None, create: bool) -> dict | None:
        if container is None:
            return self.data
        holder = self.data.get(container)
        if holder is None and create:
            holder = self.data[container] = {}
        return holder

    def _op(self, op: str, t: _Target, value: object, has_value: bool, text: str) -> None:
        if t.whole_ext is not None:
            self._whole_extension(op, t.whole_ext, value, text)
            return
        attr = t.attr
        if self.rt.kind == "Group" and t.container is None and attr.name == "members":
            self._members(op, t, value, has_value, text)
            return
        if not attr.multi_valued:
            self._singular(op, t, value, text)
        else:
            self._multi(op, t, value, has_value, text)
        if t.container is not None and not self.data.get(t.container):
            self.data.pop(t.container, None)

    def _whole_extension(self, op: str, urn: str, value: object, text: str) -> None:
        if op == "remove":
            self.data.pop(urn, None)
            return
        if value is None:
            if op == "replace":
                self.data.pop(urn, None)
            return
        if not isinstance(value, dict):
            raise invalid_value(f"{text}: the value must be an object")
        schema = self.rt.extension(urn).schema
        for key, item in value.items():
            attr = schema.attr(key)
            if attr is None:
                if self.strict:
                    raise invalid_path(f"{text}: {key} is not an attribute of {urn}")
                continue
            if attr.mutability in ("readOnly", "writeOnly"):
                continue
            self._op(op, _Target(urn, attr), item, True, f"{urn}:{attr.name}")

    def _singular(self, op: str, t: _Target, value: object, text: str) -> None:
        attr, sub = t.attr, t.sub
        holder = self._holder(t.container, create=op != "remove")
        if op == "remove":
            if holder is None:
                return
            if sub is None:
                holder.pop(attr.name, None)
            else:
                inner = holder.get(attr.name)
                if isinstance(inner, dict):
                    inner.pop(sub.name, None)
                    if not inner:
                        holder.pop(attr.name)
            return
        if sub is not None:
            v = coerce_single(sub, value, text, self.strict)
            inner = holder.get(attr.name)
            if v is None:
                if isinstance(inner, dict):
                    inner.pop(sub.name, None)
                    if not inner:
                        holder.pop(attr.name)
                return
            if not isinstance(inner, dict):
                inner = holder[attr.name] = {}
            inner[sub.name] = v
            return
        v = coerce_single(attr, value, text, self.strict)
        if v is None:
            holder.pop(attr.name, None)
        elif attr.complex and isinstance(holder.get(attr.name), dict):
            holder[attr.name].update(v)  # RFC 7644 §3.5.2.1/3: unspecified sub-attributes stay
        else:
            holder[attr.name] = v

    def _multi(self, op: str, t: _Target, value: object, has_value: bool, text: str) -> None:
        attr, sub = t.attr, t.sub
        holder = self._holder(t.container, create=op != "remove")
        if holder is None:
            return
        current = holder.get(attr.name) or []
        if t.filter is not None:
            self._filtered(op, t, holder, current, value, text)
            return
        if sub is not None:  # emails.value: every value's sub-attribute
            if op == "remove":
                for e in current:
                    if isinstance(e, dict):
                        e.pop(sub.name, None)
                holder[attr.name] = [e for e in current if e]
            else:
                v = coerce_single(sub, value, text, self.strict)
                if current:
                    for e in current:
                        if v is None:
                            e.pop(sub.name, None)
                        else:
                            e[sub.name] = v
                    holder[attr.name] = [e for e in current if e]
                elif v is not None:
                    holder[attr.name] = [{sub.name: v}]
            if not holder.get(attr.name):
                holder.pop(attr.name, None)
            return
        if op == "remove":
            if has_value and value is not None:  # Entra: remove the listed values only
                gone = coerce(attr, value if isinstance(value, list) else [value], text, self.strict) or []
                kept = [e for e in current if not any(_same(e, g) for g in gone)]
            else:
                kept = []
            if kept:
                holder[attr.name] = kept
            else:
                holder.pop(attr.name, None)
            return
        new = coerce(attr, value if isinstance(value, list) else [value], text, self.strict) or []
        if op == "replace":
            merged = new
        else:
            merged = list(current)
            for item in new:
                if not any(_same(item, e, exact=True) for e in merged):
                    merged.append(item)
        _one_primary(merged, new)
        if merged:
            holder[attr.name] = merged
        else:
            holder.pop(attr.name, None)

    def _filtered(self, op: str, t: _Target, holder: dict, current: list, value: object, text: str) -> None:
        attr, sub = t.attr, t.sub
        pred = compile_element_filter(t.filter, attr)
        hits = [i for i, e in enumerate(current) if isinstance(e, dict) and pred(e)]
        if op == "remove":
            if sub is None:
                gone = set(hits)
                kept = [e for i, e in enumerate(current) if i not in gone]
            else:
                for i in hits:
                    current[i].pop(sub.name, None)
                kept = [e for e in current if e]
            if kept:
                holder[attr.name] = kept
            else:
                holder.pop(attr.name, None)
            return
        if sub is not None:
            v = coerce_single(sub, value, text, self.strict)
            new = {sub.name: v} if v is not None else {}
        else:
            v = coerce_single(attr, value, text, self.strict)
            new = v or {}
        if not hits:
            base = equalities(t.filter)
            if not self.creates_missing or base is None:
                raise no_target(f"{text}: no value matches the filter")
            element = {}
            for k, lit in base.items():
                s = attr.sub(k)
                if s is not None and lit is not None:
                    element[s.name] = coerce_single(s, lit, text, self.strict)
            element.update(new)
            current = [*current, element]
            hits = [len(current) - 1]
        else:
            current = list(current)
            for i in hits:
                if sub is not None and v is None:
                    current[i].pop(sub.name, None)
                else:
                    current[i] = {**current[i], **new}
        _one_primary(current, [current[i] for i in hits])
        current = [e for e in current if e]
        if current:
            holder[attr.name] = current
        else:
            holder.pop(attr.name, None)

    # -- a Group's members -------------------------------------------------------------------------
    def _members(self, op: str, t: _Target, value: object, has_value: bool, text: str) -> None:
        if t.sub is not None:
            raise mutability(f"{text}: the sub-attributes of members cannot be changed")
        members = self.members
        if members is None:
            members = {}
        self.members_changed = True
        if t.filter is not None:
            hits = self._member_hits(t.filter, members)
            if op == "add":
                raise invalid_path(f"{text}: add takes members without a filter")
            for m in hits:
                members.pop(m, None)
            if op == "replace":
                if not hits and not self.creates_missing:
                    raise no_target(f"{text}: no member matches the filter")
                members.update(member_items(value, text))
            self.members = members
            return
        if op == "add":
            for m, shown in member_items(value, text).items():
                if m not in members or shown is not None:
                    members[m] = shown
        elif op == "replace":
            members = member_items(value, text) if value is not None else {}
        elif has_value and value is not None:  # Entra: remove the listed members
            for m in member_items(value, text):
                members.pop(m, None)
        else:
            members = {}
        self.members = members

    def _member_hits(self, flt, members: dict[str, str | None]) -> list[str]:
        if isinstance(flt, Compare) and flt.op == "eq" and flt.path.attr.lower() == "value":
            return [flt.value] if flt.value in members else []  # the usual members[value eq "ID"]
        pred = compile_element_filter(flt, self.rt.schema.attr("members"))
        return [m for m, shown in members.items() if pred(self.member_element(m, shown))]


def _same(a: object, b: object, exact: bool = False) -> bool:
    """Whether two values of a multi-valued attribute are the same value: equal, or (for removal) the
    same ``value`` sub-attribute when the removal names only that."""
    if a == b:
        return True
    if exact or not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    return "value" in b and len(b) == 1 and a.get("value") == b["value"]


def _one_primary(values: list, touched: list) -> None:
    """RFC 7644 §3.5.2: a value made primary makes the others not primary."""
    if any(isinstance(e, dict) and e.get("primary") is True for e in touched):
        keep = next(e for e in reversed(touched) if isinstance(e, dict) and e.get("primary") is True)
        for e in values:
            if isinstance(e, dict) and e is not keep and e.get("primary") is True:
                e["primary"] = False
