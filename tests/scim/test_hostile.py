"""Hostile input over HTTP: exact RFC 7644 errors, and the directory unchanged after every refusal."""

from __future__ import annotations

import json

import pytest

from sims.core.scim import ENTERPRISE_USER, error_body

from .helpers import BASE, assert_error, patch, snapshot, user


@pytest.fixture
def seeded(api):
    c, d = api
    uid = c.post(
        f"{BASE}/Users", json=user("Alice@Example.com", **{ENTERPRISE_USER: {"department": "IT"}})
    ).json()["id"]
    gid = c.post(f"{BASE}/Groups", json={"displayName": "G", "members": [{"value": uid}]}).json()["id"]
    return c, d, uid, gid


def refused(c, d, method, path, status, scim_type=None, **kwargs):
    before = snapshot(d)
    body = assert_error(c.request(method, path, **kwargs), status, scim_type)
    assert snapshot(d) == before, f"{method} {path} changed the directory"
    return body


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "x',
        "userName eq",
        "userName eq x",
        'userName = "x"',
        "((((((userName pr",
        'userName eq "x") or (',
        'emails[type eq "work"',
        "emails[emails[value pr]]",
        "' OR 1=1 --",
        'userName eq "x"; DROP TABLE users',
        'nonexistent eq "x"',
        'name eq "x"',
        "active gt true",
        'meta.lastModified gt "not a date"',
        "userName eq 1",
        "(" * 40 + "userName pr" + ")" * 40,
        'userName eq "' + "a" * 9000 + '"',
    ],
)
def test_malformed_filters(seeded, text):
    c, d, _, _ = seeded
    refused(c, d, "GET", f"{BASE}/Users", 400, "invalidFilter", params={"filter": text})
    refused(c, d, "POST", f"{BASE}/Users/.search", 400, "invalidFilter", json={"filter": text})


@pytest.mark.parametrize(
    ("path", "scim_type"),
    [
        ("members[value eq", "invalidPath"),
        ("nothing", "invalidPath"),
        ("name.nothing", "invalidPath"),
        ("a.b.c", "invalidPath"),
        ('emails[type eq "work"].nothing', "invalidPath"),
        ('displayName[value eq "x"]', "invalidPath"),
        ("urn:bogus:schema:User:department", "invalidPath"),
        ("id", "mutability"),
        ("meta", "mutability"),
        ("groups", "mutability"),
        ("emails[nothing eq 1]", "invalidFilter"),
        ("emails[value gt true]", "invalidFilter"),
    ],
)
def test_invalid_patch_paths(seeded, path, scim_type):
    c, d, uid, _ = seeded
    ops = patch(
        {"op": "replace", "path": "title", "value": "first op is fine"},
        {"op": "add", "path": path, "value": "x"},
    )
    refused(c, d, "PATCH", f"{BASE}/Users/{uid}", 400, scim_type, json=ops)


def test_oversized_bodies(make_client):
    c, d = make_client(max_payload_bytes=2048, bulk_max_payload_bytes=4096)
    big = user(displayName="x" * 4000)
    refused(c, d, "POST", f"{BASE}/Users", 413, json=big)

    def chunks():  # no Content-Length: counted while streaming
        yield b'{"userName": "a@b.c", "displayName": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    refused(
        c,
        d,
        "POST",
        f"{BASE}/Users",
        413,
        content=chunks(),
        headers={"Content-Type": "application/scim+json"},
    )
    refused(c, d, "POST", f"{BASE}/Users", 413, content=b"{}", headers={"Content-Length": "99999999999"})
    bulk = {"Operations": [{"method": "POST", "path": "/Users", "bulkId": "x", "data": big}]}
    refused(c, d, "POST", f"{BASE}/Bulk", 413, json=bulk)
    assert c.post(f"{BASE}/Users", json=user()).status_code == 201


def test_duplicate_user_names_differing_only_in_case(seeded):
    c, d, _, _ = seeded
    for name in ("alice@example.com", "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.CoM"):
        refused(c, d, "POST", f"{BASE}/Users", 409, "uniqueness", json=user(name))
    bob = c.post(f"{BASE}/Users", json=user("bob@example.com")).json()["id"]
    refused(c, d, "PUT", f"{BASE}/Users/{bob}", 409, "uniqueness", json=user("ALICE@example.com"))
    refused(
        c,
        d,
        "PATCH",
        f"{BASE}/Users/{bob}",
        409,
        "uniqueness",
        json=patch({"op": "replace", "path": "userName", "value": "alice@EXAMPLE.com"}),
    )
    bulk = {
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "d", "data": user("ALICE@example.com")}]
    }
    r = c.post(f"{BASE}/Bulk", json=bulk).json()["Operations"][0]
    assert r["status"] == "409" and r["response"]["scimType"] == "uniqueness"
    assert (
        c.get(f"{BASE}/Users", params={"filter": 'userName eq "alice@example.com"'}).json()["totalResults"]
        == 1
    )


@pytest.mark.parametrize(
    "body",
    [
        user(userName=["a@b.c"]),
        user(userName={"value": "a@b.c"}),
        user(userName=None),
        user(active="maybe"),
        user(active=0),
        user(displayName=12),
        user(name=["Alice"]),
        user(emails="alice@example.com"),
        user(emails=[{"value": "a@b.c", "primary": "often"}]),
        user(emails=[{"value": True}]),
        user(**{ENTERPRISE_USER: "IT"}),
        user(**{ENTERPRISE_USER: {"manager": 5}}),
        user(**{ENTERPRISE_USER: {"department": ["IT"]}}),
    ],
)
def test_wrong_types(seeded, body):
    c, d, uid, _ = seeded
    body["userName"] = body["userName"] if body.get("userName") != "alice@example.com" else "new@example.com"
    refused(c, d, "POST", f"{BASE}/Users", 400, "invalidValue", json=body)
    refused(c, d, "PUT", f"{BASE}/Users/{uid}", 400, "invalidValue", json=body)


def test_wrong_group_types(seeded):
    c, d, uid, gid = seeded
    for body in (
        {"displayName": 5},
        {"displayName": "H", "members": {"value": uid}},
        {"displayName": "H", "members": [{"value": 5}]},
        {"displayName": "H", "members": [{"value": uid, "display": 5}]},
        {"displayName": "H", "members": [{"value": "not-a-user"}]},
        {"members": []},
    ):
        refused(c, d, "POST", f"{BASE}/Groups", 400, "invalidValue", json=body)
        refused(c, d, "PUT", f"{BASE}/Groups/{gid}", 400, "invalidValue", json=body)


def test_unknown_attributes_per_strictness(make_client):
    strict, sd = make_client(strict=True)
    lax, _ = make_client()
    body = user(favouriteColour="green", name={"givenName": "A", "nickname2": "x"})
    refused(strict, sd, "POST", f"{BASE}/Users", 400, "invalidSyntax", json=body)
    refused(strict, sd, "POST", f"{BASE}/Users", 400, "invalidValue", json=user(schemas=["urn:not:a:schema"]))
    doc = lax.post(f"{BASE}/Users", json=body).json()
    assert "favouriteColour" not in doc and doc["name"] == {"givenName": "A"}
    uid = strict.post(f"{BASE}/Users", json=user()).json()["id"]
    refused(
        strict,
        sd,
        "PATCH",
        f"{BASE}/Users/{uid}",
        400,
        "invalidPath",
        json=patch({"op": "add", "value": {"favouriteColour": "green"}}),
    )


def test_if_match_mismatch(seeded):
    c, d, uid, gid = seeded
    for method, path, kw in (
        ("PUT", f"{BASE}/Users/{uid}", {"json": user("alice@example.com", title="x")}),
        ("PATCH", f"{BASE}/Users/{uid}", {"json": patch({"op": "add", "path": "title", "value": "x"})}),
        ("DELETE", f"{BASE}/Users/{uid}", {}),
        ("DELETE", f"{BASE}/Groups/{gid}", {}),
    ):
        refused(c, d, method, path, 412, headers={"If-Match": 'W/"41"'}, **kw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{",
        b'{"userName": "a@b.c",}',
        b"[]",
        b'"just a string"',
        b"null",
        b"{'userName': 'single quotes'}",
        b'{"userName": NaN}',
        b'{"userName": Infinity}',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_json(seeded, raw):
    c, d, uid, _ = seeded
    headers = {"Content-Type": "application/scim+json"}
    refused(c, d, "POST", f"{BASE}/Users", 400, "invalidSyntax", content=raw, headers=headers)
    refused(c, d, "PATCH", f"{BASE}/Users/{uid}", 400, "invalidSyntax", content=raw, headers=headers)


def test_hostile_ids_and_paths(seeded):
    c, d, _, _ = seeded
    for rid in ("..%2F..%2Fetc", "%00", "' or 1=1", "x" * 2000, "*"):
        refused(c, d, "GET", f"{BASE}/Users/{rid}", 404)
        refused(c, d, "DELETE", f"{BASE}/Users/{rid}", 404)
        refused(c, d, "PUT", f"{BASE}/Groups/{rid}", 404, json={"displayName": "x"})


def test_odd_but_valid_values_are_stored_verbatim(api):
    c, _ = api
    name = "o'brien+tag\u00e9\u202e@example.com"
    doc = c.post(f"{BASE}/Users", json=user(name, displayName="<script>alert(1)</script>\x07")).json()
    assert doc["userName"] == name and doc["displayName"] == "<script>alert(1)</script>\x07"
    quoted = json.dumps(name)
    assert c.get(f"{BASE}/Users", params={"filter": f"userName eq {quoted}"}).json()["totalResults"] == 1


def test_missing_bearer_changes_nothing(seeded):
    c, d, uid, _ = seeded
    for method, path, kw in (
        ("POST", f"{BASE}/Users", {"json": user("x@y.z")}),
        ("DELETE", f"{BASE}/Users/{uid}", {}),
        ("PATCH", f"{BASE}/Users/{uid}", {"json": patch({"op": "add", "path": "title", "value": "x"})}),
        ("POST", f"{BASE}/Bulk", {"json": {"Operations": [{"method": "DELETE", "path": f"/Users/{uid}"}]}}),
    ):
        for auth in ("", "Bearer stale-token", "bearer", "Bearer scim-test-token "):
            refused(c, d, method, path, 401, headers={"Authorization": auth}, **kw)


def test_error_body_helper_for_the_shared_layer():
    body = json.loads(error_body(413, "request body larger than 10485760 bytes"))
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "413",
        "detail": "request body larger than 10485760 bytes",
    }
