"""PATCH (RFC 7644 §3.5.2) as the IdPs send it: Entra, Okta, ZIA's own example, Saviynt; and its errors."""

from __future__ import annotations

import pytest

from sims.core.scim import ENTERPRISE_USER, ScimError

from .helpers import enterprise, patch, snapshot, user


@pytest.fixture
def alice(directory):
    return directory.create("User", user(**enterprise(department="IT", manager={"value": "m1"})))


def do(directory, rec, *ops, kind="User"):
    return directory.patch(kind, rec.id, patch(*ops))


def fails(directory, rec, *ops, kind="User") -> ScimError:
    before = snapshot(directory)
    with pytest.raises(ScimError) as caught:
        directory.patch(kind, rec.id, patch(*ops))
    assert snapshot(directory) == before, "a refused PATCH changed the directory"
    return caught.value


def test_simple_attributes(directory, alice):
    rec = do(directory, alice, {"op": "replace", "path": "displayName", "value": "Al"})
    assert rec.data["displayName"] == "Al" and rec.version == 2
    rec = do(directory, rec, {"op": "add", "path": "title", "value": "CTO"})
    assert rec.data["title"] == "CTO"
    rec = do(directory, rec, {"op": "remove", "path": "title"})
    assert "title" not in rec.data
    rec = do(directory, rec, {"op": "replace", "path": "nickName", "value": None})  # null: unassigned
    assert "nickName" not in rec.data
    rec = do(directory, rec, {"op": "remove", "path": "nickName"})  # removing what is absent: no-op
    assert rec.version == 4  # the last two changed nothing: the version stays


def test_capitalised_ops_and_string_booleans_as_entra_sends(directory, alice):
    rec = do(
        directory,
        alice,
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "name.honorificPrefix", "value": "Dr"},
        {"op": "REMOVE", "path": "name.familyName"},
    )
    assert rec.data["active"] is False
    assert rec.data["name"] == {"givenName": "Alice", "honorificPrefix": "Dr"}


def test_entra_value_path_replace_creates_the_value(directory, alice):
    rec = do(
        directory,
        alice,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Paris"},
    )
    assert rec.data["emails"] == [{"value": "new@example.com", "type": "work", "primary": True}]
    assert rec.data["phoneNumbers"] == [{"type": "mobile", "value": "+1 555"}]
    assert rec.data["addresses"] == [{"type": "work", "locality": "Paris"}]


def test_value_path_without_match_under_the_strict_rfc(make_directory):
    d = make_directory(patch_creates_missing=False)
    rec = d.create("User", user())
    e = fails(d, rec, {"op": "replace", "path": 'emails[type eq "home"].value', "value": "h@x"})
    assert (e.status, e.scim_type) == (400, "noTarget")


def test_entra_manager_and_urn_paths(directory, alice):
    rec = do(directory, alice, {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": "boss-2"})
    assert rec.data[ENTERPRISE_USER]["manager"] == {"value": "boss-2"}
    rec = do(directory, rec, {"op": "Replace", "path": f"{ENTERPRISE_USER}:manager.value", "value": "b3"})
    assert rec.data[ENTERPRISE_USER]["manager"] == {"value": "b3"}
    rec = do(directory, rec, {"op": "Remove", "path": f"{ENTERPRISE_USER}:manager"})
    assert rec.data[ENTERPRISE_USER] == {"department": "IT"}
    rec = do(directory, rec, {"op": "remove", "path": f"{ENTERPRISE_USER}:department"})
    assert ENTERPRISE_USER not in rec.data  # an emptied extension disappears
    rec = do(directory, rec, {"op": "add", "path": ENTERPRISE_USER, "value": {"division": "R&D"}})
    assert rec.data[ENTERPRISE_USER] == {"division": "R&D"}
    rec = do(directory, rec, {"op": "remove", "path": ENTERPRISE_USER})
    assert ENTERPRISE_USER not in rec.data


def test_pathless_values(directory, alice):
    # Okta's deactivate, with the read-only id it echoes; Entra's dotted and URN keys
    rec = do(
        directory,
        alice,
        {
            "op": "replace",
            "value": {
                "id": alice.id,
                "active": False,
                "name.givenName": "Alicia",
                f"{ENTERPRISE_USER}:department": "Ops",
                "meta": {"version": "x"},
            },
        },
    )
    assert rec.data["active"] is False and rec.data["name"]["givenName"] == "Alicia"
    assert rec.data[ENTERPRISE_USER]["department"] == "Ops"
    # replace of a complex attribute keeps the sub-attributes it does not name (RFC 7644 §3.5.2.3)
    rec = do(directory, rec, {"op": "replace", "value": {"name": {"familyName": "Jones"}}})
    assert rec.data["name"] == {"givenName": "Alicia", "familyName": "Jones"}
    rec = do(directory, rec, {"op": "add", "value": {ENTERPRISE_USER: {"costCenter": "9"}}})
    assert rec.data[ENTERPRISE_USER] == {"department": "Ops", "manager": {"value": "m1"}, "costCenter": "9"}
    rec = do(directory, rec, {"op": "add", "value": [{"title": "wrapped in an array"}]})
    assert rec.data["title"] == "wrapped in an array"
    rec = do(directory, rec, {"op": "replace", "value": {"unknownAttribute": 1, "nickName": "Al"}})
    assert rec.data["nickName"] == "Al"  # unknown keys are ignored unless the dialect is strict


def test_multi_valued_add_replace_remove(directory, alice):
    rec = do(directory, alice, {"op": "add", "path": "emails", "value": [{"value": "h@x", "type": "home"}]})
    assert [e["value"] for e in rec.data["emails"]] == ["alice@example.com", "h@x"]
    rec = do(directory, rec, {"op": "add", "path": "emails", "value": {"value": "h@x", "type": "home"}})
    assert len(rec.data["emails"]) == 2  # the same value is not added twice
    rec = do(directory, rec, {"op": "add", "path": "emails", "value": [{"value": "o@x", "primary": True}]})
    assert [e.get("primary") for e in rec.data["emails"]] == [False, None, True]  # one primary
    rec = do(directory, rec, {"op": "replace", "path": 'emails[value eq "h@x"]', "value": {"type": "other"}})
    assert rec.data["emails"][1] == {"value": "h@x", "type": "other"}
    rec = do(directory, rec, {"op": "remove", "path": 'emails[type eq "other"]'})
    assert [e["value"] for e in rec.data["emails"]] == ["alice@example.com", "o@x"]
    rec = do(directory, rec, {"op": "remove", "path": 'emails[value sw "o@"].primary'})
    assert rec.data["emails"][1] == {"value": "o@x"}
    rec = do(directory, rec, {"op": "replace", "path": "emails.type", "value": "work"})
    assert {e["type"] for e in rec.data["emails"]} == {"work"}
    rec = do(directory, rec, {"op": "remove", "path": "emails", "value": [{"value": "o@x"}]})
    assert [e["value"] for e in rec.data["emails"]] == ["alice@example.com"]
    rec = do(directory, rec, {"op": "replace", "path": "emails", "value": [{"value": "z@x"}]})
    assert rec.data["emails"] == [{"value": "z@x"}]
    rec = do(directory, rec, {"op": "remove", "path": "emails"})
    assert "emails" not in rec.data
    rec = do(directory, rec, {"op": "remove", "path": 'emails[type eq "work"]'})  # nothing to remove
    assert "emails" not in rec.data


def test_group_members_every_way_the_idps_send_them(directory):
    a, b, c = (directory.create("User", user(f"{n}@x.io")) for n in "abc")
    g = directory.create("Group", {"displayName": "Sales", "members": []})  # Entra creates it empty
    # ZIA's documented example (and Saviynt's add): pathless add with display
    g = do(directory, g, {"op": "add", "value": {"members": [{"display": "A", "value": a.id}]}}, kind="Group")
    # Entra: path members, $ref null; Okta: plain add
    g = do(
        directory, g, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": b.id}]}, kind="Group"
    )
    g = do(
        directory,
        g,
        {"op": "add", "path": "members", "value": [{"value": c.id, "display": "C"}]},
        kind="Group",
    )
    assert list(g.members.items()) == [(a.id, "A"), (b.id, None), (c.id, "C")]
    # Saviynt / Okta: remove by value path; Entra: remove with a value list
    g = do(directory, g, {"op": "remove", "path": f'members[value eq "{a.id}"]'}, kind="Group")
    g = do(directory, g, {"op": "Remove", "path": "members", "value": [{"value": b.id}]}, kind="Group")
    assert list(g.members) == [c.id]
    assert list(directory.groups_of(c.id)) == [g.id] and list(directory.groups_of(a.id)) == []
    # Okta: full replace of the members; then a name sync echoing the id
    g = do(
        directory,
        g,
        {"op": "replace", "path": "members", "value": [{"value": a.id}, {"value": b.id}]},
        kind="Group",
    )
    g = do(directory, g, {"op": "replace", "value": {"id": g.id, "displayName": "Sales EMEA"}}, kind="Group")
    assert list(g.members) == [a.id, b.id] and g.data["displayName"] == "Sales EMEA"
    g = do(
        directory,
        g,
        {"op": "remove", "path": 'members[display eq "nobody" or value eq "' + b.id + '"]'},
        kind="Group",
    )
    assert list(g.members) == [a.id]
    g = do(
        directory,
        g,
        {"op": "replace", "path": f'members[value eq "{a.id}"]', "value": [{"value": c.id}]},
        kind="Group",
    )
    assert list(g.members) == [c.id]
    g = do(directory, g, {"op": "remove", "path": "members"}, kind="Group")
    assert g.members == {} and list(directory.groups_of(c.id)) == []
    assert directory.query("Group", filter='displayName eq "sales emea"')[0] == 1


def test_member_errors(directory):
    a = directory.create("User", user("a@x.io"))
    g = directory.create("Group", {"displayName": "G", "members": [{"value": a.id}]})
    e = fails(directory, g, {"op": "add", "path": "members", "value": [{"value": "ghost"}]}, kind="Group")
    assert (e.status, e.scim_type) == (400, "invalidValue")
    e = fails(directory, g, {"op": "add", "path": "members", "value": [{"display": "x"}]}, kind="Group")
    assert e.scim_type == "invalidValue"
    e = fails(directory, g, {"op": "add", "path": "members", "value": [5]}, kind="Group")
    assert e.scim_type == "invalidValue"
    e = fails(directory, g, {"op": "replace", "path": "members.display", "value": "x"}, kind="Group")
    assert e.scim_type == "mutability"
    e = fails(directory, g, {"op": "add", "path": f'members[value eq "{a.id}"]', "value": []}, kind="Group")
    assert e.scim_type == "invalidPath"


def test_all_or_nothing(directory, alice):
    # the first operations are valid; the last one is not: nothing at all may change
    e = fails(
        directory,
        alice,
        {"op": "replace", "path": "displayName", "value": "changed"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "active", "value": "maybe"},
    )
    assert (e.status, e.scim_type) == (400, "invalidValue")
    directory.create("User", user("bob@example.com"))
    e = fails(
        directory,
        alice,
        {"op": "replace", "path": "title", "value": "x"},
        {"op": "replace", "path": "userName", "value": "BOB@example.com"},
    )
    assert (e.status, e.scim_type) == (409, "uniqueness")
    e = fails(directory, alice, {"op": "remove", "path": "userName"})
    assert (e.status, e.scim_type) == (400, "invalidValue")


@pytest.mark.parametrize(
    ("op", "scim_type"),
    [
        ({"op": "remove"}, "noTarget"),
        ({"op": "remove", "path": ""}, "noTarget"),
        ({"op": "add", "path": "title"}, "invalidValue"),  # no value
        ({"op": "replace"}, "invalidValue"),
        ({"op": "add", "value": "not an object"}, "invalidValue"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": None, "path": "title", "value": "x"}, "invalidSyntax"),
        ({"path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": "add", "path": 5, "value": "x"}, "invalidPath"),
        ({"op": "add", "path": "nothing", "value": "x"}, "invalidPath"),
        ({"op": "add", "path": "name.nothing", "value": "x"}, "invalidPath"),
        ({"op": "add", "path": "title.sub", "value": "x"}, "invalidPath"),
        ({"op": "add", "path": 'title[value eq "x"]', "value": "x"}, "invalidPath"),
        ({"op": "add", "path": 'emails[type eq "work"', "value": "x"}, "invalidPath"),
        ({"op": "add", "path": 'emails[nothing eq "work"].value', "value": "x"}, "invalidFilter"),
        ({"op": "add", "path": "urn:nope:2.0:User:x", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "replace", "path": "meta.created", "value": "x"}, "mutability"),
        ({"op": "add", "path": "groups", "value": [{"value": "g"}]}, "mutability"),
        ({"op": "replace", "path": "name", "value": "Alice"}, "invalidValue"),
        ({"op": "replace", "path": "emails", "value": [{"value": 5}]}, "invalidValue"),
        ({"op": "replace", "path": 'emails[type eq "work"].primary', "value": "sometimes"}, "invalidValue"),
    ],
)
def test_errors(directory, alice, op, scim_type):
    e = fails(directory, alice, op)
    assert (e.status, e.scim_type) == (400, scim_type), e


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": []},
        {"Operations": "add"},
        {"operations": [1]},
        {},
        [],
        {"schemas": ["urn:wrong"], "Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"Operations": [{"op": "add", "path": "title", "value": "x"}] * 1001},
    ],
)
def test_malformed_bodies(directory, alice, body):
    before = snapshot(directory)
    with pytest.raises(ScimError) as caught:
        directory.patch("User", alice.id, body)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidSyntax")
    assert snapshot(directory) == before


def test_strict_dialect_refuses_unknown_pathless_keys(make_directory):
    d = make_directory(strict=True)
    rec = d.create("User", user())
    e = fails(d, rec, {"op": "replace", "value": {"unknownAttribute": 1}})
    assert e.scim_type == "invalidPath"
    with pytest.raises(ScimError):  # strict: the PatchOp schema is required
        d.patch("User", rec.id, {"Operations": [{"op": "add", "path": "title", "value": "x"}]})
    assert d.patch("User", rec.id, patch({"op": "add", "path": "title", "value": "x"})).data["title"] == "x"


def test_password_is_accepted_and_dropped(directory, alice):
    rec = do(directory, alice, {"op": "replace", "path": "password", "value": "new"})
    assert "password" not in rec.data and rec.version == 1
