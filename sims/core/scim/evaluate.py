"""Filters compiled into predicates over stored records, index lookups, sorting and projections.

A filter is resolved against the resource type once (unknown attributes and operators that do not
fit the attribute's type are 400 invalidFilter then), into closures that read records directly:
no resource is rendered to be filtered. Strings compare case-insensitively unless the attribute is
caseExact; dateTimes compare as instants; ``ne`` is the negation of ``eq``; a complex multi-valued
attribute named without a sub-attribute means its ``value`` (RFC 7644 §3.4.2.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sims.core.scim.errors import invalid_filter
from sims.core.scim.filter import (
    ORDERING,
    STRING_OPS,
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    Present,
    ValueFilter,
    parse_filter,
    split_attr_path,
)
from sims.core.scim.schema import Attr, ResourceType
from sims.core.scim.values import parse_datetime

if TYPE_CHECKING:
    from sims.core.scim.store import Directory, Record

Pred = Callable[[object], bool]
Getter = Callable[[object], list]

_STRINGY = ("string", "reference", "binary")


# -- comparisons -----------------------------------------------------------------------------------
def _present(v: object) -> bool:
    return v is not None and v != "" and v != [] and v != {}


def value_test(attr: Attr, op: str, literal: object, where: str) -> Callable[[object], bool]:
    """A test of one stored value of ``attr`` against ``op literal`` (``ne`` is handled by the caller)."""
    kind = attr.type
    if kind == "complex":
        raise invalid_filter(f"{where} is complex: compare one of its sub-attributes")
    if kind == "boolean":
        if isinstance(literal, str) and literal.lower() in ("true", "false"):
            literal = literal.lower() == "true"
        if not isinstance(literal, bool):
            raise invalid_filter(f"{where} is a boolean: compare it with true or false")
        if op != "eq":
            raise invalid_filter(f"{where} is a boolean: only eq, ne and pr apply")
        return lambda v: v is literal
    if kind in ("integer", "decimal"):
        if isinstance(literal, bool) or not isinstance(literal, int | float):
            raise invalid_filter(f"{where} is a number: compare it with a number")
        if op in STRING_OPS:
            raise invalid_filter(f"{where} is a number: {op} applies to strings")
        return _ordered(op, literal, lambda v: v if isinstance(v, int | float) else None)
    if kind == "dateTime":
        at = parse_datetime(literal) if isinstance(literal, str) else None
        if at is None:
            raise invalid_filter(f"{where} is a dateTime: compare it with a dateTime string")
        if op in STRING_OPS:
            raise invalid_filter(f"{where} is a dateTime: {op} applies to strings")
        return _ordered(op, at, lambda v: v if isinstance(v, float) else parse_datetime(v))
    if not isinstance(literal, str):
        raise invalid_filter(f"{where} is a string: compare it with a string")
    if attr.case_exact:
        norm = _str_or_none
    else:
        literal = literal.lower()
        norm = _lower_or_none
    if op == "eq":
        if attr.case_exact:
            return lambda v: v == literal
        return lambda v: isinstance(v, str) and v.lower() == literal
    if op == "co":
        return lambda v: (s := norm(v)) is not None and literal in s
    if op == "sw":
        return lambda v: (s := norm(v)) is not None and s.startswith(literal)
    if op == "ew":
        return lambda v: (s := norm(v)) is not None and s.endswith(literal)
    return _ordered(op, literal, norm)


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) else None


def _lower_or_none(v: object) -> str | None:
    return v.lower() if isinstance(v, str) else None


def _ordered(op: str, literal: object, norm: Callable[[object], object]) -> Callable[[object], bool]:
    if op == "eq":
        return lambda v: (x := norm(v)) is not None and x == literal
    if op == "gt":
        return lambda v: (x := norm(v)) is not None and x > literal
    if op == "ge":
        return lambda v: (x := norm(v)) is not None and x >= literal
    if op == "lt":
        return lambda v: (x := norm(v)) is not None and x < literal
    if op == "le":
        return lambda v: (x := norm(v)) is not None and x <= literal
    raise invalid_filter(f"unsupported operator {op}")  # pragma: no cover - the parser checks


# -- contexts: how a path reads values from what is filtered ---------------------------------------
class _ElementContext:
    """Inside ``attr[...]``: the subject is one value (a dict) of a complex multi-valued attribute."""

    def __init__(self, attr: Attr) -> None:
        self.attr = attr

    def getter(self, path: AttrPath, where: str) -> tuple[Attr, Getter]:
        sub = self.attr.sub(path.attr)
        if sub is None:
            raise invalid_filter(f"{where}: {self.attr.name} has no sub-attribute {path.attr}")
        name = sub.name
        return sub, lambda d: [d.get(name)] if isinstance(d, dict) else []

    def elements(self, path: AttrPath, where: str):  # pragma: no cover - the parser forbids nesting
        raise invalid_filter(f"{where}: value paths cannot nest")


class _RecordContext:
    """The subject is a stored record of ``rt`` in ``directory``."""

    def __init__(self, rt: ResourceType, directory: Directory) -> None:
        self.rt = rt
        self.directory = directory

    def _resolve(self, path: AttrPath, where: str) -> tuple[str | None, Attr]:
        resolved = self.rt.resolve(path.uri, path.attr)
        if resolved is None:
            raise invalid_filter(f"{where}: {path} is not an attribute of {self.rt.name}")
        return resolved

    def getter(self, path: AttrPath, where: str) -> tuple[Attr, Getter]:
        container, attr = self._resolve(path, where)
        sub_name = path.sub
        if sub_name is None and attr.complex and attr.multi_valued and attr.sub("value"):
            sub_name = "value"  # "emails co x" means emails.value
        sub = None
        if sub_name is not None:
            sub = attr.sub(sub_name)
            if sub is None:
                raise invalid_filter(f"{where}: {attr.name} has no sub-attribute {sub_name}")
        special = self._special(attr, sub, where)
        if special is not None:
            return (sub or attr), special
        name = attr.name
        if container is None:

            def raw(r):
                return r.data.get(name)
        else:

            def raw(r):
                ext = r.data.get(container)
                return ext.get(name) if ext else None

        if sub is None:
            if attr.multi_valued:
                return attr, lambda r: raw(r) or []
            return attr, lambda r: [raw(r)]
        sname = sub.name

        def of_sub(r):
            v = raw(r)
            if isinstance(v, list):
                return [e.get(sname) for e in v if isinstance(e, dict)]
            if isinstance(v, dict):
                return [v.get(sname)]
            return []

        return sub, of_sub

    def _special(self, attr: Attr, sub: Attr | None, where: str) -> Getter | None:
        """Attributes not kept in ``data``: id, meta, a group's members, a user's groups."""
        d = self.directory
        name = attr.name
        if name == "id":
            return lambda r: [r.id]
        if name == "schemas":  # RFC 7644 §3.4.2.2's example: schemas eq "urn:...:enterprise:2.0:User"
            core, exts = self.rt.schema.id, [e.schema.id for e in self.rt.extensions]
            return lambda r: [core, *(e for e in exts if e in r.data)]
        if name == "meta":
            if sub is None:
                raise invalid_filter(f"{where}: meta is complex: compare one of its sub-attributes")
            rt_name = self.rt.name
            return {
                "created": lambda r: [r.created],
                "lastModified": lambda r: [r.modified],
                "resourceType": lambda r: [rt_name],
                "version": lambda r: [f'W/"{r.version}"'],
                "location": lambda r: [f"{self.rt.endpoint}/{r.id}"],
            }[sub.name]
        if self.rt.kind == "Group" and name == "members":
            if sub is not None and sub.name == "display":
                return lambda r: list((r.members or {}).values())
            return _reference_getter(sub, lambda r: r.members or (), d)
        if self.rt.kind == "User" and name == "groups":
            return _reference_getter(sub, lambda r: d.groups_of(r.id), d, group_side=True)
        return None

    def elements(self, path: AttrPath, where: str) -> tuple[Attr, Callable[[object], list]]:
        container, attr = self._resolve(path, where)
        if not (attr.complex and attr.multi_valued):
            raise invalid_filter(f"{where}: {attr.name} is not a complex multi-valued attribute")
        d = self.directory
        if self.rt.kind == "Group" and attr.name == "members":
            return attr, lambda r: [d.member_element(m, s) for m, s in (r.members or {}).items()]
        if self.rt.kind == "User" and attr.name == "groups":
            return attr, lambda r: [d.group_element(g) for g in d.groups_of(r.id)]
        name = attr.name
        if container is None:
            return attr, lambda r: r.data.get(name) or []
        return attr, lambda r: (r.data.get(container) or {}).get(name) or []


def _reference_getter(sub: Attr | None, ids: Callable, d: Directory, group_side: bool = False) -> Getter:
    which = sub.name if sub is not None else "value"
    if which == "value":
        return lambda r: list(ids(r))
    if which == "display":
        return lambda r: [d.display_of(i) for i in ids(r)]
    if which == "type":
        if group_side:
            return lambda r: ["direct" for _ in ids(r)]
        return lambda r: [d.type_of(i) for i in ids(r)]
    if which == "$ref":
        return lambda r: [f"{d.endpoint_of(i)}/{i}" for i in ids(r)]
    return lambda r: []


# -- compilation -----------------------------------------------------------------------------------
def _compile(node, ctx) -> Pred:
    if isinstance(node, Compare):
        where = f"'{node.path} {node.op}'"
        attr, get = ctx.getter(node.path, where)
        op = "eq" if node.op == "ne" else node.op
        if node.value is None:  # "x eq null": no value present; "x ne null": one is
            if op != "eq":
                raise invalid_filter(f"{where}: null can only be compared with eq or ne")

            def absent(r):
                return not any(_present(v) for v in get(r))

            return absent if node.op == "eq" else (lambda r: not absent(r))
        if attr.complex:
            raise invalid_filter(f"{where}: {attr.name} is complex: compare one of its sub-attributes")
        if node.op in ORDERING and attr.type == "boolean":
            raise invalid_filter(f"{where}: {attr.name} is a boolean: only eq, ne and pr apply")
        test = value_test(attr, op, node.value, where)

        def pred(r):
            return any(test(v) for v in get(r) if v is not None)

        return (lambda r: not pred(r)) if node.op == "ne" else pred
    if isinstance(node, Present):
        _, get = ctx.getter(node.path, f"'{node.path} pr'")
        return lambda r: any(_present(v) for v in get(r))
    if isinstance(node, And):
        preds = [_compile(t, ctx) for t in node.terms]
        return lambda r: all(p(r) for p in preds)
    if isinstance(node, Or):
        preds = [_compile(t, ctx) for t in node.terms]
        return lambda r: any(p(r) for p in preds)
    if isinstance(node, Not):
        inner = _compile(node.expr, ctx)
        return lambda r: not inner(r)
    if isinstance(node, ValueFilter):
        attr, elements = ctx.elements(node.path, f"'{node.path}[...]'")
        inner = _compile(node.filter, _ElementContext(attr))
        return lambda r: any(inner(e) for e in elements(r))
    raise invalid_filter(f"unsupported filter node {node!r}")  # pragma: no cover


def compile_filter(node, rt: ResourceType, directory: Directory) -> Pred:
    """A predicate over the records of ``rt``; ScimError 400 invalidFilter when it cannot apply."""
    return _compile(node, _RecordContext(rt, directory))


def compile_element_filter(node, attr: Attr) -> Pred:
    """A predicate over the values (dicts) of the complex multi-valued ``attr`` (PATCH value paths)."""
    return _compile(node, _ElementContext(attr))


def equalities(node) -> dict[str, object] | None:
    """``type eq "work" [and ...]`` as {sub-attribute: value}; None when the filter is anything else.
    A PATCH that finds no value to change builds one from these (Entra's ``emails[type eq "work"].value``)."""
    terms = node.terms if isinstance(node, And) else (node,)
    out = {}
    for t in terms:
        if not isinstance(t, Compare) or t.op != "eq" or t.path.sub or t.path.uri:
            return None
        out[t.path.attr] = t.value
    return out


# -- index lookups ---------------------------------------------------------------------------------
def candidates(node, rt: ResourceType, directory: Directory) -> list | None:
    """The records that can match, from an index, when the filter allows (else None: scan them all).
    ``userName eq`` (and ``displayName eq`` of groups), ``id eq`` and ``externalId eq`` use one."""
    if isinstance(node, Compare):
        if node.op != "eq" or not isinstance(node.value, str) or node.path.sub:
            return None
        resolved = rt.resolve(node.path.uri, node.path.attr)
        if resolved is None or resolved[0] is not None:
            return None
        return directory.lookup(rt.kind, resolved[1].name, node.value)
    if isinstance(node, And):
        best = None
        for t in node.terms:
            found = candidates(t, rt, directory)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best
    if isinstance(node, Or):
        out: dict[str, object] = {}
        for t in node.terms:
            found = candidates(t, rt, directory)
            if found is None:
                return None
            for rec in found:
                out[rec.id] = rec
        return list(out.values())
    return None


def select(
    rt: ResourceType, directory: Directory, records: Iterable[Record], filter_text: str | None
) -> list[Record]:
    """The records of ``records`` (all of ``rt``'s, in storage order) that match ``filter_text``."""
    if not filter_text:
        return list(records)
    node = parse_filter(filter_text)
    pred = compile_filter(node, rt, directory)
    found = candidates(node, rt, directory)
    pool = records if found is None else found
    return [r for r in pool if pred(r)]


# -- sorting ---------------------------------------------------------------------------------------
def sort_records(
    rt: ResourceType, directory: Directory, records: list, sort_by: str, descending: bool
) -> list:
    """Sorted by the first value of ``sort_by``; resources without a value sort last (RFC 7644 §3.4.2.3)."""
    path = split_attr_path(sort_by) if isinstance(sort_by, str) else None
    if path is None:
        raise invalid_filter(f"sortBy: {sort_by!r} is not an attribute path")  # RFC names no better type
    attr, get = _RecordContext(rt, directory).getter(path, f"sortBy {sort_by!r}")
    if attr.complex:
        raise invalid_filter(f"sortBy: {sort_by} is complex")
    fold = attr.type in _STRINGY and not attr.case_exact
    is_date = attr.type == "dateTime"

    def key(r):
        values = [v for v in get(r) if v is not None]
        if not values:
            return None
        v = values[0]
        if fold and isinstance(v, str):
            return v.lower()
        if is_date and isinstance(v, str):
            return parse_datetime(v)
        return v

    keyed = [(key(r), r) for r in records]
    present = [kr for kr in keyed if kr[0] is not None]
    missing = [kr[1] for kr in keyed if kr[0] is None]
    try:
        present.sort(key=lambda kr: kr[0], reverse=descending)
    except TypeError:  # mixed value types in bad data: fall back to their text
        present.sort(key=lambda kr: str(kr[0]), reverse=descending)
    return [r for _, r in present] + missing


# -- attributes / excludedAttributes (RFC 7644 §3.4.2.5) -------------------------------------------
ALWAYS = frozenset(("schemas", "id"))


class Projection:
    """Which attributes of a rendered resource to keep: ``{top-level key: None (all) | {sub keys}}``."""

    __slots__ = ("exclude", "include")

    def __init__(self, include: dict | None, exclude: dict | None) -> None:
        self.include = include
        self.exclude = exclude

    def apply(self, doc: dict) -> dict:
        if self.include is not None:
            out = {}
            for k, v in doc.items():
                if k in ALWAYS:
                    out[k] = v
                elif k in self.include:
                    subs = self.include[k]
                    out[k] = v if subs is None else _keep(v, subs)
            return out
        out = {}
        for k, v in doc.items():
            if k in ALWAYS or k not in self.exclude:
                out[k] = v
            else:
                subs = self.exclude[k]
                if subs is not None:
                    out[k] = _drop(v, subs)
        return out


def _keep(v: object, subs: set) -> object:
    if isinstance(v, dict):
        return {k: x for k, x in v.items() if k in subs}
    if isinstance(v, list):
        return [{k: x for k, x in e.items() if k in subs} if isinstance(e, dict) else e for e in v]
    return v


def _drop(v: object, subs: set) -> object:
    if isinstance(v, dict):
        return {k: x for k, x in v.items() if k not in subs}
    if isinstance(v, list):
        return [{k: x for k, x in e.items() if k not in subs} if isinstance(e, dict) else e for e in v]
    return v


def _spec(rt: ResourceType, names: str) -> dict:
    """``userName,name.givenName,urn:...:User:department`` as {key: None | {sub}}; unknown names ignored.
    Extension attributes select inside the extension's object: {urn: {attr}}."""
    out: dict = {}
    for raw in names.split(","):
        raw = raw.strip()
        if not raw:
            continue
        ext = rt.extension(raw)
        if ext is not None:
            out[ext.schema.id] = None
            continue
        path = split_attr_path(raw)
        resolved = rt.resolve(path.uri, path.attr) if path else None
        if resolved is None:
            continue
        container, attr = resolved
        if container is not None:
            if out.get(container, set()) is not None:
                out.setdefault(container, set()).add(attr.name)
            continue
        if path.sub is None:
            out[attr.name] = None
        elif attr.sub(path.sub) is not None and out.get(attr.name, set()) is not None:
            out.setdefault(attr.name, set()).add(attr.sub(path.sub).name)
    return out


def projection(rt: ResourceType, attributes: str | None, excluded: str | None) -> Projection | None:
    if attributes:
        return Projection(_spec(rt, attributes), None)
    if excluded:
        return Projection(None, _spec(rt, excluded))
    return None
