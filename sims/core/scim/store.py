"""A SCIM directory: the Users and Groups one identity provider provisions into one tenant.

No HTTP here. Every write is checked whole on a working copy (types, required attributes,
uniqueness, immutability, members, the dialect's rules), then the dialect's hook runs, then the
change is stored, which cannot fail: an error anywhere leaves the directory as it was.

Memory: a record is a __slots__ object holding its attributes as a compact JSON dict; ``groups`` of
users and all of ``meta`` but two timestamps are derived when rendered.
Indexes: userName (case-insensitive), group displayName, externalId, and member -> groups.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sims.core.clock import iso
from sims.core.scim.dialect import Dialect
from sims.core.scim.errors import (
    invalid_value,
    mutability,
    not_found,
    precondition_failed,
    uniqueness,
)
from sims.core.scim.evaluate import Projection, select, sort_records
from sims.core.scim.filter import split_attr_path
from sims.core.scim.patch import Patcher, operations
from sims.core.scim.schema import Extension, ResourceType
from sims.core.scim.values import copy_data, member_items, normalize

KINDS = ("User", "Group")


class Record:
    """One stored resource. ``data`` holds its attributes (extensions under their URN); ``members``
    a Group's members in order: id -> the ``display`` the client gave (dict: O(1) membership)."""

    __slots__ = ("created", "data", "id", "members", "modified", "version")

    def __init__(
        self, rid: str, data: dict, created: float, modified: float, version: int, members=None
    ) -> None:
        self.id = rid
        self.data = data
        self.created = created
        self.modified = modified
        self.version = version
        self.members: dict[str, str | None] | None = members

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


def etag_matches(header: str | None, rec: Record) -> bool:
    """If-Match semantics with weak comparison (RFC 7232 §3.1, §2.3.2): ``*`` or any listed tag."""
    if header is None:
        return True
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags:
        return True
    mine = str(rec.version)
    return any(t.removeprefix("W/").strip('"') == mine for t in tags)


class Directory:
    """Users and Groups of one directory (one IdP of a tenant), under one dialect."""

    def __init__(
        self,
        dialect: Dialect,
        clock: Callable[[], float],
        *,
        name: str = "",
        seed: object = 0,
        context: Any = None,
        extra_user_extensions: tuple[Extension, ...] = (),
    ) -> None:
        self.dialect = dialect
        self.clock = clock  # the simulated clock's now(): every timestamp comes from it
        self.name = name
        self.seed = seed
        self.context = context  # whatever the owning sim wants back in its hooks (its tenant, IdP)
        self.types = dialect.resource_types(extra_user_extensions)
        self._mirrors = {kind: self._resolve_mirrors(rt) for kind, rt in self.types.items()}
        for alias, target in dialect.input_aliases.items():
            path = split_attr_path(target)
            if path is None or self.types["User"].resolve(path.uri, path.attr) is None:
                raise ValueError(f"input alias {alias} -> {target}: no such User attribute")
        self.clear()

    def clear(self) -> None:
        self.users: dict[str, Record] = {}
        self.groups: dict[str, Record] = {}
        self._user_names: dict[str, str] = {}  # userName.lower() -> id
        self._group_names: dict[str, str] = {}  # displayName.lower() -> id (unique_group_names)
        self._external: dict[str, dict[str, str | tuple]] = {"User": {}, "Group": {}}
        self._member_of: dict[str, dict[str, None]] = {}  # member id -> group ids
        self._seq = 0

    # -- lookups -----------------------------------------------------------------------------------
    def records(self, kind: str) -> dict[str, Record]:
        return self.users if kind == "User" else self.groups

    def get(self, kind: str, rid: str) -> Record:
        rec = self.records(kind).get(rid)
        if rec is None:
            raise not_found(f"{kind} {rid} not found")
        return rec

    def user_by_name(self, user_name: str) -> Record | None:
        rid = self._user_names.get(user_name.lower())
        return self.users.get(rid) if rid else None

    def lookup(self, kind: str, attr: str, value: str) -> list[Record] | None:
        """Records whose core ``attr`` equals ``value``, from an index; None when there is none."""
        recs = self.records(kind)
        if attr == "id":
            rec = recs.get(value)
            return [rec] if rec else []
        if attr == "externalId":
            found = self._external[kind].get(value)
            ids = (found,) if isinstance(found, str) else found or ()
            return [recs[i] for i in ids]
        index = None
        if kind == "User" and attr == "userName":
            index = self._user_names
        elif kind == "Group" and attr == "displayName" and self.dialect.unique_group_names:
            index = self._group_names
        if index is None:
            return None
        rid = index.get(value.lower())
        return [recs[rid]] if rid else []

    def groups_of(self, member_id: str) -> Iterator[str]:
        return iter(self._member_of.get(member_id, ()))

    def type_of(self, rid: str) -> str | None:
        return "User" if rid in self.users else "Group" if rid in self.groups else None

    def endpoint_of(self, rid: str) -> str:
        return "/Groups" if rid in self.groups else "/Users"

    def display_of(self, rid: str) -> str | None:
        rec = self.users.get(rid)
        if rec is not None:
            return rec.data.get("displayName") or rec.data.get("userName")
        rec = self.groups.get(rid)
        return rec.data.get("displayName") if rec else None

    def member_element(self, rid: str, display: str | None = None, base: str = "") -> dict:
        """A member as rendered: ``display`` is what the client sent (scim2-tester compares it)."""
        out = {"value": rid}
        if display is not None:
            out["display"] = display
        kind = self.type_of(rid) or "User"
        out["type"] = kind
        out["$ref"] = f"{base}{'/Groups' if kind == 'Group' else '/Users'}/{rid}"
        return out

    def group_element(self, gid: str, base: str = "") -> dict:
        return {
            "value": gid,
            "display": self.groups[gid].data.get("displayName"),
            "$ref": f"{base}/Groups/{gid}",
            "type": "direct",
        }

    # -- rendering ---------------------------------------------------------------------------------
    def render(
        self,
        kind: str,
        rec: Record,
        base: str = "",
        projection: Projection | None = None,
        members: bool = True,
    ) -> dict:
        """The resource as JSON: ``base`` is the SCIM base URL for meta.location and $ref."""
        rt = self.types[kind]
        data = rec.data
        schemas = [rt.schema.id]
        for ext in rt.extensions:
            if ext.schema.id in data:
                schemas.append(ext.schema.id)
        out = {"schemas": schemas, "id": rec.id}
        out.update(data)
        if kind == "User":
            gids = self._member_of.get(rec.id)
            if gids:
                out["groups"] = [self.group_element(g, base) for g in gids]
        elif members and rec.members:
            out["members"] = [self.member_element(m, shown, base) for m, shown in rec.members.items()]
        out["meta"] = {
            "resourceType": kind,
            "created": iso(rec.created),
            "lastModified": iso(rec.modified),
            "location": f"{base}{rt.endpoint}/{rec.id}",
            "version": f'W/"{rec.version}"',
        }
        return projection.apply(out) if projection else out

    # -- queries -----------------------------------------------------------------------------------
    def query(
        self,
        kind: str,
        *,
        filter: str | None = None,
        start_index: int = 1,
        count: int | None = None,
        sort_by: str | None = None,
        descending: bool = False,
    ) -> tuple[int, list[Record]]:
        """(totalResults, the page): 1-based ``start_index``; ``count`` None means the dialect's default
        page size, and is at most its maximum (RFC 7644 §3.4.2.4: fewer may be returned)."""
        rt = self.types[kind]
        d = self.dialect
        count = d.default_page_size if count is None else max(0, min(count, d.max_page_size))
        start = max(1, start_index) - 1
        recs = self.records(kind)
        if not filter and not sort_by:
            return len(recs), list(itertools.islice(recs.values(), start, start + count))
        found = select(rt, self, recs.values(), filter)
        if sort_by:
            found = sort_records(rt, self, found, sort_by, descending)
        return len(found), found[start : start + count]

    # -- writes ------------------------------------------------------------------------------------
    def create(self, kind: str, body: object, *, run_hooks: bool = True) -> Record:
        """POST: a new resource from ``body``. With ``inactive_means_delete`` a user created inactive is
        answered but not kept (``deleted`` in the result's view is the caller's cue: it is not stored)."""
        rt = self.types[kind]
        d = self.dialect
        data, raw_members = normalize(rt, body, strict=d.strict, aliases=d.input_aliases)
        self._mirror(kind, None, data)
        rid = self._next_id()
        self._check(rt, data, None, rid)
        members = None
        if kind == "Group":
            members = self._check_members(rid, {}, member_items(raw_members or []))
        now = self.clock()
        rec = Record(rid, data, now, now, 1, members)
        if kind == "User" and d.inactive_means_delete and data.get("active") is False:
            return rec  # ZPA: an inactive user is a deleted one
        if run_hooks and d.on_create:
            d.on_create(self, kind, copy_data(self.render(kind, rec)))
        self._seq += 1
        self._store(kind, rec)
        return rec

    def replace(
        self, kind: str, rid: str, body: object, *, if_match: str | None = None, run_hooks: bool = True
    ) -> Record | None:
        """PUT: every writable attribute replaced by the body's (absent ones are cleared). None when the
        dialect turned it into a deletion (ZPA's active=false)."""
        rt = self.types[kind]
        d = self.dialect
        old = self.get(kind, rid)
        if not etag_matches(if_match, old):
            raise precondition_failed()
        data, raw_members = normalize(rt, body, strict=d.strict, aliases=d.input_aliases)
        self._keep_unwritable(rt, old.data, data)
        members = old.members
        if kind == "Group":
            members = self._check_members(rid, old.members or {}, member_items(raw_members or []))
        return self._update(kind, old, data, members, run_hooks)

    def patch(
        self, kind: str, rid: str, body: object, *, if_match: str | None = None, run_hooks: bool = True
    ) -> Record | None:
        """PATCH: the operations applied in order, all or none. None when it became a deletion."""
        rt = self.types[kind]
        d = self.dialect
        old = self.get(kind, rid)
        if not etag_matches(if_match, old):
            raise precondition_failed()
        ops = operations(body, d.strict)
        working = copy_data(old.data)
        patcher = Patcher(rt, working, dict(old.members) if old.members else None, d, self.member_element)
        for i, op in enumerate(ops):
            patcher.apply(op, i)
        members = old.members
        if kind == "Group" and patcher.members_changed:
            members = self._check_members(rid, old.members or {}, patcher.members or {})
        return self._update(kind, old, working, members, run_hooks)

    def delete(self, kind: str, rid: str, *, if_match: str | None = None, run_hooks: bool = True) -> None:
        rec = self.get(kind, rid)
        if not etag_matches(if_match, rec):
            raise precondition_failed()
        if run_hooks and self.dialect.on_delete:
            self.dialect.on_delete(self, kind, copy_data(self.render(kind, rec)))
        self._unstore(kind, rec)

    # -- internals ---------------------------------------------------------------------------------
    def _update(
        self, kind: str, old: Record, data: dict, members: dict | None, run_hooks: bool
    ) -> Record | None:
        rt = self.types[kind]
        d = self.dialect
        self._mirror(kind, old.data, data)
        self._check(rt, data, old.data, old.id)
        if kind == "User" and d.inactive_means_delete and data.get("active") is False:
            if run_hooks and d.on_delete:
                d.on_delete(self, kind, copy_data(self.render(kind, old)))
            self._unstore(kind, old)
            return None
        if data == old.data and members == old.members:
            return old  # nothing changed: same version, no hook
        new = Record(old.id, data, old.created, self.clock(), old.version + 1, members)
        if run_hooks and d.on_update:
            d.on_update(self, kind, copy_data(self.render(kind, old)), copy_data(self.render(kind, new)))
        self._unindex(kind, old)
        self._store(kind, new, previous=old)
        return new

    def _next_id(self) -> str:
        n = self._seq + 1
        while True:
            if self.dialect.id_factory is not None:
                rid = self.dialect.id_factory(self, n)
            else:  # a UUID from the directory's seed and counter: the same ids on every run
                digest = hashlib.sha256(f"{self.seed}:{self.name}:{n}".encode()).digest()
                rid = str(uuid.UUID(bytes=digest[:16], version=4))
            if rid not in self.users and rid not in self.groups:
                return rid
            n += 1
            self._seq += 1  # pragma: no cover - a colliding id factory

    def _check(self, rt: ResourceType, data: dict, old: dict | None, rid: str) -> None:
        d = self.dialect
        for attr in rt.schema.attributes:
            if attr.required and data.get(attr.name) in (None, "", [], {}):
                raise invalid_value(f"{attr.name} is required")
        for ext in rt.extensions:
            inner = data.get(ext.schema.id)
            if ext.required and not inner:
                raise invalid_value(f"the extension {ext.schema.id} is required")
            for attr in ext.schema.attributes if inner else ():
                if attr.required and inner.get(attr.name) in (None, "", [], {}):
                    raise invalid_value(f"{ext.schema.id}:{attr.name} is required")
        if old is not None:
            self._check_immutable(rt, old, data)
        if rt.kind == "User":
            name = data["userName"]
            if not name.strip():
                raise invalid_value("userName must not be empty")
            owner = self._user_names.get(name.lower())
            if owner is not None and owner != rid:
                raise uniqueness(f"userName {name} is already taken")
            changed = old is None or old.get("userName") != name
            if d.allow_user_name is not None and changed and not d.allow_user_name(self, name):
                raise invalid_value(f"userName {name}: its domain is not one of the tenant's")
        elif d.unique_group_names:
            name = data["displayName"]
            owner = self._group_names.get(name.lower())
            if owner is not None and owner != rid:
                raise uniqueness(f"a group named {name} already exists")

    def _check_immutable(self, rt: ResourceType, old: dict, new: dict) -> None:
        for container, attrs in (
            (None, rt.schema.attributes),
            *((e.schema.id, e.schema.attributes) for e in rt.extensions),
        ):
            before = old if container is None else old.get(container) or {}
            after = new if container is None else new.get(container) or {}
            for attr in attrs:
                if (
                    attr.mutability == "immutable"
                    and attr.name in before
                    and after.get(attr.name) != before[attr.name]
                ):
                    raise mutability(f"{attr.name} is immutable")

    def _keep_unwritable(self, rt: ResourceType, old: dict, new: dict) -> None:
        """PUT keeps an immutable attribute the body leaves out (RFC 7644 §3.5.1 lets it be omitted)."""
        for attr in rt.schema.attributes:
            if attr.mutability == "immutable" and attr.name in old and attr.name not in new:
                new[attr.name] = copy_data(old[attr.name])

    def _check_members(self, gid: str, old: dict, new: dict) -> dict:
        """The new members, checked: unknown ids refused or dropped, nesting, groups per user."""
        d = self.dialect
        out = {}
        for m, shown in new.items():
            if m in old:
                out[m] = shown
                continue
            ok = m in self.users or (d.nested_groups and m in self.groups and m != gid)
            if not ok:
                if d.unknown_members == "reject":
                    raise invalid_value(f"members: no user with id {m}")
                continue
            limit = d.max_groups_per_user
            if limit is not None and m in self.users and len(self._member_of.get(m, ())) >= limit:
                raise invalid_value(f"members: user {m} is already in {limit} groups, the maximum")
            out[m] = shown
        return out

    def _resolve_mirrors(self, rt: ResourceType) -> list:
        pairs = []
        for a, b in self.dialect.mirrors:
            ends = []
            for text in (a, b):
                path = split_attr_path(text)
                resolved = rt.resolve(path.uri, path.attr) if path and not path.sub else None
                if resolved is None:
                    if rt.kind == "User":
                        raise ValueError(f"mirror {a} <-> {b}: {text} is not a User attribute")
                    break
                ends.append((resolved[0], resolved[1].name))
            if len(ends) == 2:
                pairs.append(tuple(ends))
        return pairs

    def _mirror(self, kind: str, old: dict | None, new: dict) -> None:
        for a, b in self._mirrors[kind]:
            va, vb = _get(new, a), _get(new, b)
            if va == vb:
                continue
            oa, ob = (_get(old, a), _get(old, b)) if old is not None else (None, None)
            a_changed, b_changed = va != oa, vb != ob
            if a_changed and b_changed:  # both written: the one given wins, the first if both are
                src = a if va is not None else b
            elif b_changed:
                src = b
            else:
                src = a
            value = _get(new, src)
            for end in (a, b):
                _set(new, end, copy_data(value))

    def _store(self, kind: str, rec: Record, previous: Record | None = None) -> None:
        self.records(kind)[rec.id] = rec
        data = rec.data
        if kind == "User":
            self._user_names[data["userName"].lower()] = rec.id
        elif self.dialect.unique_group_names:
            self._group_names[data["displayName"].lower()] = rec.id
        ext = data.get("externalId")
        if ext is not None:
            index = self._external[kind]
            found = index.get(ext)
            index[ext] = rec.id if found is None or found == rec.id else tuple({*_ids(found), rec.id})
        if kind == "Group":
            old = previous.members if previous and previous.members else {}
            new = rec.members or {}
            for m in old:
                if m not in new:
                    self._leave(m, rec.id)
            for m in new:
                if m not in old:
                    self._member_of.setdefault(m, {})[rec.id] = None

    def _unindex(self, kind: str, rec: Record) -> None:
        data = rec.data
        if kind == "User":
            self._user_names.pop(data["userName"].lower(), None)
        elif self.dialect.unique_group_names:
            self._group_names.pop(data["displayName"].lower(), None)
        ext = data.get("externalId")
        if ext is not None:
            index = self._external[kind]
            rest = tuple(i for i in _ids(index.get(ext)) if i != rec.id)
            if not rest:
                index.pop(ext, None)
            else:
                index[ext] = rest[0] if len(rest) == 1 else rest

    def _unstore(self, kind: str, rec: Record) -> None:
        self._unindex(kind, rec)
        del self.records(kind)[rec.id]
        if kind == "Group":
            for m in rec.members or ():
                self._leave(m, rec.id)
        now = None
        for gid in self._member_of.pop(rec.id, {}):  # a deleted member leaves its groups
            group = self.groups[gid]
            now = now or self.clock()
            members = dict(group.members)
            members.pop(rec.id, None)
            self.groups[gid] = Record(gid, group.data, group.created, now, group.version + 1, members)

    def _leave(self, member: str, gid: str) -> None:
        groups = self._member_of.get(member)
        if groups is not None:
            groups.pop(gid, None)
            if not groups:
                del self._member_of[member]

    # -- state -------------------------------------------------------------------------------------
    def export_state(self) -> dict:
        def one(r: Record) -> dict:
            out = {
                "id": r.id,
                "data": r.data,
                "created": r.created,
                "modified": r.modified,
                "version": r.version,
            }
            if r.members is not None:
                out["members"] = [[m, shown] for m, shown in r.members.items()]
            return out

        return {
            "seq": self._seq,
            "users": [one(r) for r in self.users.values()],
            "groups": [one(r) for r in self.groups.values()],
        }

    def import_state(self, state: dict) -> None:
        """Replace everything with an exported state; a state that does not fit changes nothing."""
        fresh = Directory.__new__(Directory)
        fresh.__dict__.update(self.__dict__)
        fresh.clear()
        try:
            for kind, key in (("User", "users"), ("Group", "groups")):
                for item in state[key]:
                    members = {str(m): s for m, s in item["members"]} if kind == "Group" else None
                    rec = Record(
                        str(item["id"]),
                        copy_data(dict(item["data"])),
                        float(item["created"]),
                        float(item["modified"]),
                        int(item["version"]),
                        members if kind == "Group" else None,
                    )
                    fresh._store(kind, rec)
            fresh._seq = int(state["seq"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"SCIM directory {self.name}: state does not fit: {err!r}") from None
        for key in ("users", "groups", "_user_names", "_group_names", "_external", "_member_of", "_seq"):
            setattr(self, key, getattr(fresh, key))


def _ids(found: str | tuple | None) -> tuple:
    if found is None:
        return ()
    return (found,) if isinstance(found, str) else found


def _get(data: dict | None, end: tuple[str | None, str]) -> object:
    if data is None:
        return None
    container, name = end
    holder = data if container is None else data.get(container) or {}
    return holder.get(name)


def _set(data: dict, end: tuple[str | None, str], value: object) -> None:
    container, name = end
    holder = data if container is None else data.setdefault(container, {})
    if value is None:
        holder.pop(name, None)
        if container is not None and not holder:
            data.pop(container, None)
    else:
        holder[name] = value
