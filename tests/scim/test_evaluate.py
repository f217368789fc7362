"""Filter semantics over stored resources, index lookups, sorting and attribute projections."""

from __future__ import annotations

import pytest

from sims.core.scim import ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, Attr, Extension, Schema
from sims.core.scim.errors import ScimError
from sims.core.scim.evaluate import candidates, projection
from sims.core.scim.filter import parse_filter

from .helpers import enterprise, user

EXT = "urn:example:params:scim:schemas:extension:custom:2.0:User"


@pytest.fixture
def people(make_directory, clock):
    custom = Schema(
        EXT, "Custom", (Attr("badge", "integer"), Attr("since", "dateTime"), Attr("vip", "boolean"))
    )
    d = make_directory(user_extensions=(Extension(ENTERPRISE_USER_SCHEMA), Extension(custom)))
    ids = {}
    rows = [
        ("alice@example.com", "Alice", "Smith", "IT", 7, "2020-01-01T00:00:00Z", True, True),
        ("bob@example.com", "Bob", "Jones", "Sales", 3, "2021-06-01T12:00:00+02:00", False, True),
        ("carol@other.org", "Carol", "O'Hara", "it", 12, "2019-12-31T23:59:59Z", None, False),
        ("Dave@Example.com", "Dave", None, None, None, None, None, None),
    ]
    for name, given, family, dept, badge, since, vip, active in rows:
        body = user(name, name={"givenName": given, **({"familyName": family} if family else {})})
        body["displayName"] = given
        if active is None:
            body.pop("active")
        else:
            body["active"] = active
        if dept:
            body.update(enterprise(department=dept))
        custom_attrs = {k: v for k, v in (("badge", badge), ("since", since), ("vip", vip)) if v is not None}
        if custom_attrs:
            body[EXT] = custom_attrs
        if name.startswith("carol"):
            body["emails"] = [
                {"value": "carol@home.example", "type": "home"},
                {"value": "carol@other.org", "type": "work", "primary": True},
            ]
            body["externalId"] = "EXT-3"
        ids[given] = d.create("User", body).id
        clock.advance(60)
    g1 = d.create(
        "Group", {"displayName": "Admins", "members": [{"value": ids["Alice"]}, {"value": ids["Bob"]}]}
    )
    d.create("Group", {"displayName": "Everyone", "externalId": "e-1", "members": [{"value": ids["Carol"]}]})
    ids["Admins"] = g1.id
    return d, ids


def names(d, text, kind="User"):
    total, recs = d.query(kind, filter=text)
    assert total == len(recs)
    return sorted(r.data.get("displayName") for r in recs)


def test_string_operators_case_insensitive(people):
    d, _ = people
    assert names(d, 'userName eq "ALICE@example.COM"') == ["Alice"]
    assert names(d, 'userName ne "alice@example.com"') == ["Bob", "Carol", "Dave"]
    assert names(d, 'userName co "EXAMPLE"') == ["Alice", "Bob", "Dave"]
    assert names(d, 'userName sw "b"') == ["Bob"]
    assert names(d, 'userName ew ".ORG"') == ["Carol"]
    assert names(d, 'name.familyName gt "k"') == ["Alice", "Carol"]  # smith, o'hara > k; jones < k
    assert names(d, 'displayName ge "C" and displayName le "carol"') == ["Carol"]
    assert names(d, 'displayName lt "b"') == ["Alice"]


def test_case_exact_attributes(people):
    d, ids = people
    assert names(d, 'externalId eq "EXT-3"') == ["Carol"]
    assert names(d, 'externalId eq "ext-3"') == []
    assert names(d, f'id eq "{ids["Bob"]}"') == ["Bob"]
    assert names(d, f'id eq "{ids["Bob"].upper()}"') == []


def test_logic_and_presence(people):
    d, _ = people
    assert names(d, "name.familyName pr") == ["Alice", "Bob", "Carol"]
    assert names(d, "not (name.familyName pr)") == ["Dave"]
    assert names(d, 'active eq true and (displayName eq "Alice" or displayName eq "Carol")') == ["Alice"]
    assert names(d, 'active eq false or userName sw "dave"') == ["Carol", "Dave"]
    assert names(d, "title eq null") == ["Alice", "Bob", "Carol", "Dave"]
    assert names(d, "active ne null") == ["Alice", "Bob", "Carol"]
    assert names(d, 'active eq "true"') == ["Alice", "Bob"]  # a boolean string, as some clients send


def test_urn_names_extensions_and_types(people):
    d, _ = people
    assert names(d, f'{ENTERPRISE_USER}:department eq "it"') == ["Alice", "Carol"]
    assert names(d, 'urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "bob"') == ["Bob"]
    assert names(d, f"{ENTERPRISE_USER}:department pr") == ["Alice", "Bob", "Carol"]
    assert names(d, f'schemas eq "{ENTERPRISE_USER}"') == ["Alice", "Bob", "Carol"]  # RFC 7644's example
    assert names(d, f'not (schemas eq "{EXT}")') == ["Dave"]
    assert names(d, f"{EXT}:badge gt 5") == ["Alice", "Carol"]
    assert names(d, f"{EXT}:badge le 7") == ["Alice", "Bob"]
    assert names(d, f"{EXT}:vip eq false") == ["Bob"]
    # dates compare as instants: 2021-06-01T12:00+02:00 is 10:00Z
    assert names(d, f'{EXT}:since gt "2021-06-01T10:30:00Z"') == []
    assert names(d, f'{EXT}:since ge "2021-06-01T10:00:00Z"') == ["Bob"]
    assert names(d, f'{EXT}:since lt "2020-01-01T00:00:00.000+00:00"') == ["Carol"]


def test_meta_dates_and_ids(people, clock):
    d, _ = people
    start = clock.at - 4 * 60  # Alice was created at start, then one user a minute
    from sims.core.clock import iso

    assert names(d, f'meta.created gt "{iso(start)}"') == ["Bob", "Carol", "Dave"]
    assert names(d, f'meta.lastModified lt "{iso(start + 90)}"') == ["Alice", "Bob"]
    assert names(d, 'meta.resourceType eq "User"') == ["Alice", "Bob", "Carol", "Dave"]
    assert names(d, 'meta.version eq "W/\\"1\\""') == ["Alice", "Bob", "Carol", "Dave"]


def test_multi_valued_and_value_paths(people):
    d, ids = people
    assert names(d, 'emails co "home.example"') == ["Carol"]  # emails means emails.value
    assert names(d, 'emails.type eq "home"') == ["Carol"]
    assert names(d, 'emails[type eq "work" and value ew ".org"]') == ["Carol"]
    assert names(d, 'emails[type eq "home" and primary eq true]') == []
    assert names(d, 'emails[type eq "work"].value eq "carol@other.org"') == ["Carol"]
    assert names(d, f'groups.value eq "{ids["Admins"]}"') == ["Alice", "Bob"]
    assert names(d, 'groups.display eq "everyone"') == ["Carol"]
    assert names(d, 'groups[display sw "adm"]') == ["Alice", "Bob"]


def test_group_filters(people):
    d, ids = people
    assert names(d, 'displayName eq "admins"', "Group") == ["Admins"]
    assert names(d, f'members.value eq "{ids["Carol"]}"', "Group") == ["Everyone"]
    assert names(d, f'displayName eq "Admins" and members.value eq "{ids["Bob"]}"', "Group") == ["Admins"]
    assert names(d, f'members[value eq "{ids["Alice"]}"]', "Group") == ["Admins"]
    assert names(d, 'members.type eq "User"', "Group") == ["Admins", "Everyone"]
    assert names(d, 'externalId eq "e-1"', "Group") == ["Everyone"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('nickname2 eq "x"', "not an attribute"),
        ('name.nothing eq "x"', "no sub-attribute"),
        ('name eq "x"', "complex"),
        ("active gt true", "boolean"),
        ('active co "t"', "boolean"),
        ("active eq 1", "boolean"),
        ("userName eq 5", "string"),
        ('meta.created gt "yesterday"', "dateTime"),
        ('meta.created co "2020"', "dateTime"),
        ("meta pr", "meta is complex"),
        ('urn:example:unknown:2.0:User:x eq "1"', "not an attribute"),
        ('displayName[value eq "x"]', "not a complex multi-valued"),
        ('emails[nothing eq "x"]', "no sub-attribute"),
        ("userName gt null", "null"),
        (f'{EXT}:badge co "1"', "number"),
        (f"{EXT}:badge eq true", "number"),
    ],
)
def test_filters_that_do_not_fit_the_schema(people, text, fragment):
    d, _ = people
    with pytest.raises(ScimError) as err:
        d.query("User", filter=text)
    assert (err.value.status, err.value.scim_type) == (400, "invalidFilter")
    assert fragment in err.value.detail


def test_index_candidates(people):
    d, ids = people
    rt = d.types["User"]

    def cand(text, kind="User"):
        found = candidates(parse_filter(text), d.types[kind], d)
        return None if found is None else sorted(r.id for r in found)

    assert cand('userName eq "BOB@example.com"') == [ids["Bob"]]
    assert cand('userName eq "nobody@example.com"') == []
    assert cand('externalId eq "EXT-3"') == [ids["Carol"]]
    assert cand(f'id eq "{ids["Alice"]}" and active eq true') == [ids["Alice"]]
    assert cand('userName eq "a" or userName eq "bob@example.com"') == [ids["Bob"]]
    assert cand('userName eq "a" or active eq true') is None
    assert cand('userName co "a"') is None
    assert cand('displayName eq "ADMINS"', "Group") == [ids["Admins"]]
    assert rt.name == "User"


def test_indexed_lookup_does_not_scan(people, monkeypatch):
    """``userName eq`` evaluates the filter on the one indexed record, not on every user."""
    import sims.core.scim.evaluate as evaluate

    d, ids = people
    for n in range(200):
        d.create("User", user(f"filler{n}@example.com"))
    calls = []
    compile_filter = evaluate.compile_filter

    def counting(node, rt, directory):
        pred = compile_filter(node, rt, directory)
        return lambda r: calls.append(r.id) or pred(r)

    monkeypatch.setattr(evaluate, "compile_filter", counting)
    total, recs = d.query("User", filter='userName eq "carol@other.org" and active eq false')
    assert total == 1 and recs[0].id == ids["Carol"] and calls == [ids["Carol"]]
    calls.clear()
    d.query("User", filter='userName co "carol"')
    assert len(calls) == 204  # no index for co: every user


def test_sorting(people):
    d, _ = people

    def order(sort_by, descending=False, kind="User"):
        _, recs = d.query(kind, sort_by=sort_by, descending=descending)
        return [r.data.get("displayName") for r in recs]

    assert order("userName") == ["Alice", "Bob", "Carol", "Dave"]  # case-insensitive
    assert order("userName", True) == ["Dave", "Carol", "Bob", "Alice"]
    assert order("name.familyName") == ["Bob", "Carol", "Alice", "Dave"]  # missing sorts last
    assert order("name.familyName", True) == ["Alice", "Carol", "Bob", "Dave"]  # last either way
    assert order(f"{EXT}:since") == ["Carol", "Alice", "Bob", "Dave"]  # as instants
    assert order("meta.created", True) == ["Dave", "Carol", "Bob", "Alice"]
    assert order("emails.value") == ["Alice", "Bob", "Carol", "Dave"]  # the first value
    assert order("displayName", True, "Group") == ["Everyone", "Admins"]
    with pytest.raises(ScimError):
        order("name")
    with pytest.raises(ScimError):
        order("nothing")


def test_paging(people):
    d, _ = people
    total, recs = d.query("User", start_index=2, count=2)
    assert total == 4 and [r.data["displayName"] for r in recs] == ["Bob", "Carol"]
    assert d.query("User", start_index=0, count=1)[1][0].data["displayName"] == "Alice"  # < 1 means 1
    assert d.query("User", count=-5) == (4, [])  # negative means 0
    assert d.query("User", start_index=10)[1] == []
    total, recs = d.query("User", filter='userName co "example"', start_index=2, count=5)
    assert total == 3 and len(recs) == 2


def test_projection(people):
    d, ids = people
    rt = d.types["User"]
    rec = d.get("User", ids["Carol"])

    def render(attributes=None, excluded=None):
        return d.render("User", rec, "http://x", projection(rt, attributes, excluded))

    doc = render("userName,NAME.givenName,emails.type")
    assert set(doc) == {"schemas", "id", "userName", "name", "emails"}
    assert doc["name"] == {"givenName": "Carol"}
    assert doc["emails"] == [{"type": "home"}, {"type": "work"}]
    doc = render(f"{ENTERPRISE_USER}:department,meta.location,{EXT}")
    assert doc[ENTERPRISE_USER] == {"department": "it"}
    assert doc[EXT] == {"badge": 12, "since": "2019-12-31T23:59:59Z"}
    assert doc["meta"] == {"location": f"http://x/Users/{ids['Carol']}"}
    assert set(render("id,nothing,name.nothing")) == {"schemas", "id"}
    doc = render(excluded="emails,name.familyName,groups,meta,id")
    assert "emails" not in doc and "groups" not in doc and "meta" not in doc
    assert doc["id"] == ids["Carol"]  # returned: always
    assert doc["name"] == {"givenName": "Carol"}
    assert render(excluded=ENTERPRISE_USER).get(ENTERPRISE_USER) is None
