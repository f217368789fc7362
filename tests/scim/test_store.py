"""The Directory without HTTP: create / replace / delete, meta and versions on the injected clock,
uniqueness, members and derived groups, the dialect's rules and hooks, state export, memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from sims.core.clock import iso
from sims.core.scim import CORE_USER, ENTERPRISE_USER, USER_SCHEMA, Attr, Directory, ScimError
from sims.core.scim.errors import uniqueness
from sims.core.scim.testing import FrozenClock, demo_dialect

from .helpers import enterprise, snapshot, user


def err(fn, *args, **kwargs) -> ScimError:
    with pytest.raises(ScimError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_create_meta_and_clock(directory, clock):
    rec = directory.create("User", user())
    doc = directory.render("User", rec, "http://h/scim")
    assert doc["schemas"] == [CORE_USER]
    assert doc["userName"] == "alice@example.com" and doc["active"] is True
    assert doc["meta"] == {
        "resourceType": "User",
        "created": iso(clock.at),
        "lastModified": iso(clock.at),
        "location": f"http://h/scim/Users/{rec.id}",
        "version": 'W/"1"',
    }
    assert "password" not in doc
    clock.advance(3600)
    rec2 = directory.replace("User", rec.id, user(displayName="Alice S."))
    doc2 = directory.render("User", rec2)
    assert doc2["meta"]["created"] == doc["meta"]["created"]
    assert doc2["meta"]["lastModified"] == iso(clock.at)
    assert doc2["meta"]["version"] == 'W/"2"'


def test_ids_are_deterministic_and_unique(clock):
    a, b = (Directory(demo_dialect(), clock, name="x", seed=1) for _ in range(2))
    ids_a = [a.create("User", user(f"u{i}@x.com")).id for i in range(5)]
    ids_b = [b.create("User", user(f"u{i}@x.com")).id for i in range(5)]
    assert ids_a == ids_b and len(set(ids_a)) == 5
    c = Directory(demo_dialect(), clock, name="y", seed=1)
    assert c.create("User", user()).id not in ids_a
    numeric = Directory(demo_dialect(id_factory=lambda d, n: str(290000 + n)), clock)
    assert numeric.create("User", user()).id == "290001"  # ZPA's "older SCIM users" have numbers


def test_password_and_read_only_input_ignored(directory):
    rec = directory.create(
        "User",
        user(
            password="s3cret",
            id="mine",
            meta={"created": "2000-01-01T00:00:00Z"},
            groups=[{"value": "g"}],  # groups are read-only: ignored (ZPA documents this)
        ),
    )
    assert rec.id != "mine" and "password" not in rec.data and "groups" not in rec.data
    assert "password" not in directory.render("User", rec)


def test_user_name_unique_case_insensitively(directory):
    first = directory.create("User", user("Alice@Example.com"))
    before = snapshot(directory)
    e = err(directory.create, "User", user("alice@EXAMPLE.COM"))
    assert (e.status, e.scim_type) == (409, "uniqueness")
    assert snapshot(directory) == before
    other = directory.create("User", user("bob@example.com"))
    e = err(directory.replace, "User", other.id, user("ALICE@example.com"))
    assert e.status == 409 and snapshot(directory) != before
    # renaming itself with another case is fine, and frees the old name
    directory.replace("User", first.id, user("alice@example.com"))
    assert directory.user_by_name("ALICE@EXAMPLE.COM").id == first.id
    directory.replace("User", first.id, user("alice2@example.com"))
    assert directory.create("User", user("alice@example.com"))


def test_group_names_unique_unless_the_dialect_allows(make_directory):
    d = make_directory()
    d.create("Group", {"displayName": "Sales"})
    assert err(d.create, "Group", {"displayName": "SALES"}).status == 409
    lax = make_directory(unique_group_names=False)
    lax.create("Group", {"displayName": "Sales"})
    lax.create("Group", {"displayName": "Sales"})
    assert lax.query("Group", filter='displayName eq "sales"')[0] == 2  # scanned, no index


def test_required_and_types(directory):
    for body, scim_type in [
        ({"name": {"givenName": "x"}}, "invalidValue"),  # no userName
        (user(""), "invalidValue"),
        (user("  "), "invalidValue"),
        (user(userName=5), "invalidValue"),
        (user(active="yes"), "invalidValue"),
        (user(active=1), "invalidValue"),
        (user(emails={"value": "a"}), "invalidValue"),  # multi-valued needs an array
        (user(emails=["a@b"]), "invalidValue"),  # complex values need objects
        (user(name="Alice"), "invalidValue"),
        (user(emails=[{"value": 1}]), "invalidValue"),
        (user(emails=[{"value": "a", "primary": True}, {"value": "b", "primary": True}]), "invalidValue"),
        (user(schemas="urn:x"), "invalidSyntax"),
        ([], "invalidSyntax"),
        ("text", "invalidSyntax"),
    ]:
        e = err(directory.create, "User", body)
        assert (e.status, e.scim_type) == (400, scim_type), (body, e)
    assert directory.users == {}
    assert err(directory.create, "Group", {"members": []}).scim_type == "invalidValue"


def test_lenient_values(directory):
    rec = directory.create(
        "User",
        {
            "userName": "x@y.z",
            "active": "False",  # Entra's boolean strings
            ENTERPRISE_USER: {"manager": "boss-id", "department": None},
            "nickName": None,  # null: unassigned
            "unknownThing": 1,  # not strict: ignored
            "name": {"givenName": "X", "bogus": 1},
        },
    )
    assert rec.data == {
        "userName": "x@y.z",
        "active": False,
        ENTERPRISE_USER: {"manager": {"value": "boss-id"}},
        "name": {"givenName": "X"},
    }


def test_strict_dialect_refuses_unknowns(make_directory):
    d = make_directory(strict=True)
    assert err(d.create, "User", user(unknownThing=1)).scim_type == "invalidSyntax"
    assert err(d.create, "User", user(name={"bogus": 1})).scim_type == "invalidSyntax"
    body = user()
    body.pop("schemas")
    assert err(d.create, "User", body).scim_type == "invalidSyntax"
    assert err(d.create, "User", user(schemas=["urn:other"])).scim_type == "invalidValue"
    assert err(d.create, "User", user(schemas=[CORE_USER, "urn:unknown:ext"])).scim_type == "invalidValue"
    assert d.create("User", user(schemas=[CORE_USER, ENTERPRISE_USER], **enterprise(department="IT")))


def test_urn_qualified_top_level_attributes(directory):
    rec = directory.create(
        "User", {"userName": "u@x.io", f"{ENTERPRISE_USER}:department": "Ops", f"{CORE_USER}:title": "Boss"}
    )
    assert rec.data == {"userName": "u@x.io", ENTERPRISE_USER: {"department": "Ops"}, "title": "Boss"}


def test_put_replaces_everything_writable(directory, clock):
    rec = directory.create("User", user(title="Eng", externalId="e1", **enterprise(department="IT")))
    new = directory.replace("User", rec.id, {"userName": "alice@example.com", "displayName": "A"})
    assert new.data == {"userName": "alice@example.com", "displayName": "A"}  # CyberArk's sparse PUT
    assert directory.lookup("User", "externalId", "e1") == []
    same = directory.replace("User", rec.id, {"userName": "alice@example.com", "displayName": "A"})
    assert same is new and same.version == 2  # nothing changed: same version


def test_immutable_attributes(make_directory):
    schema = USER_SCHEMA.with_changes("userName", mutability="immutable")  # ZPA: userName not modifiable
    d = make_directory(user_schema=schema)
    rec = d.create("User", user())
    before = snapshot(d)
    e = err(d.replace, "User", rec.id, user("other@example.com"))
    assert (e.status, e.scim_type) == (400, "mutability") and snapshot(d) == before
    e = err(
        d.patch, "User", rec.id, {"Operations": [{"op": "replace", "path": "userName", "value": "z@z.z"}]}
    )
    assert e.scim_type == "mutability"
    assert d.replace("User", rec.id, user(displayName="ok")).data["userName"] == "alice@example.com"


def test_members_and_derived_groups(directory, clock):
    a = directory.create("User", user("a@x.io"))
    b = directory.create("User", user("b@x.io"))
    g = directory.create("Group", {"displayName": "G", "members": [{"value": a.id, "display": "A"}, b.id]})
    h = directory.create("Group", {"displayName": "H", "members": [{"value": a.id}]})
    doc = directory.render("User", directory.get("User", a.id), "http://s")
    assert doc["groups"] == [
        {"value": g.id, "display": "G", "$ref": f"http://s/Groups/{g.id}", "type": "direct"},
        {"value": h.id, "display": "H", "$ref": f"http://s/Groups/{h.id}", "type": "direct"},
    ]
    assert directory.render("Group", g, "http://s")["members"] == [
        {"value": a.id, "display": "A", "type": "User", "$ref": f"http://s/Users/{a.id}"},
        {"value": b.id, "type": "User", "$ref": f"http://s/Users/{b.id}"},
    ]
    clock.advance(5)
    directory.delete("User", a.id)  # a deleted member leaves its groups
    g2 = directory.get("Group", g.id)
    assert list(g2.members) == [b.id] and g2.version == 2 and g2.modified == clock.at
    assert directory.get("Group", h.id).members == {}
    directory.delete("Group", g.id)
    assert "groups" not in directory.render("User", directory.get("User", b.id))


def test_unknown_members(make_directory):
    d = make_directory()
    u = d.create("User", user())
    e = err(d.create, "Group", {"displayName": "G", "members": [{"value": u.id}, {"value": "nobody"}]})
    assert (e.status, e.scim_type) == (400, "invalidValue") and d.groups == {}
    assert err(d.create, "Group", {"displayName": "G", "members": [{"display": "no value"}]}).status == 400
    lax = make_directory(unknown_members="ignore")
    u = lax.create("User", user())
    g = lax.create("Group", {"displayName": "G", "members": [{"value": u.id}, {"value": "nobody"}]})
    assert list(g.members) == [u.id]


def test_nested_groups(make_directory):
    d = make_directory()
    inner = d.create("Group", {"displayName": "inner"})
    assert err(d.create, "Group", {"displayName": "outer", "members": [{"value": inner.id}]}).status == 400
    nested = make_directory(nested_groups=True)
    inner = nested.create("Group", {"displayName": "inner"})
    outer = nested.create(
        "Group", {"displayName": "outer", "members": [{"value": inner.id, "type": "Group"}]}
    )
    assert nested.render("Group", outer)["members"][0]["type"] == "Group"
    assert nested.render("Group", outer)["members"][0]["$ref"] == f"/Groups/{inner.id}"
    assert (
        err(nested.replace, "Group", outer.id, {"displayName": "outer", "members": [outer.id]}).status == 400
    )


def test_max_groups_per_user(make_directory):
    d = make_directory(max_groups_per_user=3)  # ZIA: 128
    u = d.create("User", user())
    groups = [d.create("Group", {"displayName": f"G{i}", "members": [u.id]}) for i in range(3)]
    before = snapshot(d)
    e = err(d.create, "Group", {"displayName": "G4", "members": [u.id]})
    assert (e.status, e.scim_type) == (400, "invalidValue") and "3 groups" in e.detail
    spare = d.create("Group", {"displayName": "spare"})
    e = err(d.patch, "Group", spare.id, {"Operations": [{"op": "add", "path": "members", "value": [u.id]}]})
    assert e.status == 400
    d.replace("Group", groups[0].id, {"displayName": "G0", "members": [u.id]})  # already a member: fine
    assert snapshot(d) != before  # (the spare group exists)
    assert len(list(d.groups_of(u.id))) == 3


def test_user_name_domains(make_directory):
    d = make_directory(allow_user_name=lambda dr, name: name.lower().endswith("@safemarch.example"))
    assert d.create("User", user("a@SafeMarch.example"))
    e = err(d.create, "User", user("a@elsewhere.example"))
    assert (e.status, e.scim_type) == (400, "invalidValue") and "domain" in e.detail


def test_inactive_means_delete(make_directory):
    d = make_directory(inactive_means_delete=True)  # ZPA
    rec = d.create("User", user())
    assert d.patch("User", rec.id, {"Operations": [{"op": "replace", "value": {"active": "false"}}]}) is None
    assert d.users == {} and d.user_by_name("alice@example.com") is None
    rec = d.create("User", user())
    assert d.replace("User", rec.id, user(active=False)) is None and d.users == {}
    assert d.create("User", user(active=False)).id and d.users == {}  # answered, not kept


def test_mirrors_and_aliases(make_directory):
    zia_like = USER_SCHEMA.with_attributes(Attr("department"))
    d = make_directory(
        user_schema=zia_like,
        mirrors=(("department", f"{ENTERPRISE_USER}:department"),),
        input_aliases={"costcenter": f"{ENTERPRISE_USER}:costCenter"},
    )
    rec = d.create("User", user(department="Sales", costCenter="42"))
    assert rec.data["department"] == "Sales"
    assert rec.data[ENTERPRISE_USER] == {"department": "Sales", "costCenter": "42"}
    rec = d.patch(
        "User",
        rec.id,
        {"Operations": [{"op": "replace", "path": f"{ENTERPRISE_USER}:department", "value": "IT"}]},
    )
    assert rec.data["department"] == "IT" and rec.data[ENTERPRISE_USER]["department"] == "IT"
    rec = d.replace("User", rec.id, user(department="Ops"))  # PUT with only the top-level one
    assert rec.data["department"] == "Ops" and rec.data[ENTERPRISE_USER] == {"department": "Ops"}
    rec = d.patch("User", rec.id, {"Operations": [{"op": "remove", "path": "department"}]})
    assert "department" not in rec.data and ENTERPRISE_USER not in rec.data
    rec = d.replace("User", rec.id, user(costCenter="7", **enterprise(costCenter="8")))
    assert rec.data[ENTERPRISE_USER]["costCenter"] == "8"  # the explicit one wins over the alias
    with pytest.raises(ValueError):
        make_directory(mirrors=(("department", "nothing"),))
    with pytest.raises(ValueError):
        make_directory(input_aliases={"x": "nothing"})


def test_hooks_see_views_and_can_refuse(make_directory):
    seen = []

    def on_delete(d, kind, view):
        seen.append(("delete", kind, view["userName"] if kind == "User" else view["displayName"]))
        if kind == "User" and view["userName"].startswith("admin"):
            raise ScimError(409, "Admin user cannot be deleted")  # ZIA's wording for admin-linked users

    def on_update(d, kind, before, after):
        seen.append(("update", kind, before.get("members", []), after.get("members", [])))
        after["displayName"] = "mutated"  # a hook's views are copies

    d = make_directory(
        on_create=lambda d, kind, view: seen.append(("create", kind, view["id"], d.name)),
        on_update=on_update,
        on_delete=on_delete,
    )
    admin = d.create("User", user("admin@x.io"))
    g = d.create("Group", {"displayName": "G"})
    d.patch("Group", g.id, {"Operations": [{"op": "add", "path": "members", "value": [{"value": admin.id}]}]})
    before = snapshot(d)
    e = err(d.delete, "User", admin.id)
    assert (e.status, e.detail) == (409, "Admin user cannot be deleted")
    assert snapshot(d) == before  # refused: still there, still a member
    assert seen[0] == ("create", "User", admin.id, "t1")
    assert seen[2][0:2] == ("update", "Group") and seen[2][3][0]["value"] == admin.id
    assert d.get("Group", g.id).data["displayName"] == "G"
    d.create("User", user("quiet@x.io"), run_hooks=False)
    assert len([s for s in seen if s[0] == "create"]) == 2


def test_a_failing_create_hook_stores_nothing(make_directory):
    def refuse(d, kind, view):
        raise uniqueness("taken elsewhere")

    d = make_directory(on_create=refuse)
    before = snapshot(d)
    assert err(d.create, "User", user()).status == 409
    assert snapshot(d) == before and d.user_by_name("alice@example.com") is None
    assert d.export_state()["seq"] == 0  # not even an id was used


def test_if_match(directory):
    rec = directory.create("User", user())
    assert err(directory.replace, "User", rec.id, user(), if_match='W/"7"').status == 412
    assert err(directory.delete, "User", rec.id, if_match='"2"').status == 412
    rec = directory.replace("User", rec.id, user(title="x"), if_match='W/"1"')
    rec = directory.patch("User", rec.id, {"Operations": [{"op": "remove", "path": "title"}]}, if_match='"2"')
    assert rec.version == 3
    directory.delete("User", rec.id, if_match='W/"1", *')


def test_export_import_round_trip(directory, clock):
    a = directory.create("User", user("a@x.io", externalId="E"))
    directory.create("Group", {"displayName": "G", "members": [{"value": a.id, "display": "A"}]})
    state = directory.export_state()
    other = Directory(directory.dialect, clock, name="t1")
    other.import_state(state)
    assert snapshot(other) == snapshot(directory)
    assert other.user_by_name("A@X.IO").id == a.id
    assert [r.id for r in other.lookup("User", "externalId", "E")] == [a.id]
    assert other.render("User", other.get("User", a.id))["groups"][0]["display"] == "G"
    assert other.create("User", user("b@x.io")).id == directory.create("User", user("b@x.io")).id
    before = snapshot(other)
    with pytest.raises(ValueError):
        other.import_state({"users": [{"id": "x"}], "groups": [], "seq": 1})
    assert snapshot(other) == before


def test_memory_per_user():
    """Prints what the store holds per user (the issue's bound: scim2-server's 5-6 KB)."""
    directory = Directory(demo_dialect(), FrozenClock(), name="mem")
    bodies = [
        {
            "userName": f"user{n}@example.com",
            "externalId": f"ext-{n}",
            "name": {"givenName": "Given", "familyName": f"Family {n}"},
            "displayName": f"Given Family {n}",
            "emails": [{"value": f"user{n}@example.com", "type": "work", "primary": True}],
            "active": True,
            ENTERPRISE_USER: {"department": "Engineering"},
        }
        for n in range(5000)
    ]
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for body in bodies:
        directory.create("User", body)
    gc.collect()
    per_user = (tracemalloc.get_traced_memory()[0] - start) / len(bodies)
    tracemalloc.stop()
    print(f"\nSCIM store: {per_user:.0f} bytes per user (tracemalloc, 5000 users with enterprise data)")
    assert per_user < 5000
