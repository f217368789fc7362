"""The router over HTTP: statuses, headers, content types, paging, discovery, auth, search, bulk."""

from __future__ import annotations

import pytest

from sims.core.ratelimit import Limit
from sims.core.scim import CORE_GROUP, CORE_USER, ENTERPRISE_USER, Attr, Extension, Schema, ScimError
from sims.core.scim.errors import ERROR_SCHEMA

from .helpers import BASE, PATCH_OP, assert_error, patch, snapshot, user

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def test_create_read_replace_patch_delete(api):
    c, d = api
    r = c.post(f"{BASE}/Users", json=user())
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/scim+json"
    doc = r.json()
    uid = doc["id"]
    assert r.headers["location"] == doc["meta"]["location"] == f"http://scim.test{BASE}/Users/{uid}"
    assert r.headers["etag"] == doc["meta"]["version"] == 'W/"1"'
    r = c.get(f"{BASE}/Users/{uid}")
    assert r.status_code == 200 and r.json() == doc and r.headers["etag"] == 'W/"1"'
    assert c.get(f"{BASE}/Users/{uid}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    r = c.put(f"{BASE}/Users/{uid}", json=user(displayName="A. Smith"))
    assert r.status_code == 200 and r.json()["displayName"] == "A. Smith" and r.headers["etag"] == 'W/"2"'
    r = c.patch(f"{BASE}/Users/{uid}", json=patch({"op": "replace", "path": "active", "value": False}))
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["meta"]["version"] == 'W/"3"'
    r = c.delete(f"{BASE}/Users/{uid}")
    assert r.status_code == 204 and r.content == b""
    assert_error(c.get(f"{BASE}/Users/{uid}"), 404)
    assert_error(c.delete(f"{BASE}/Users/{uid}"), 404)  # the second delete of the same user
    assert d.users == {}


@pytest.mark.parametrize(
    "ctype",
    [
        "application/scim+json",
        "application/json",
        "application/json-patch+json",
        "application/json; charset=utf-8",
        None,
    ],
)
def test_accepted_content_types(api, ctype):
    c, _ = api
    headers = {"Content-Type": ctype} if ctype else {}
    import json

    r = c.post(f"{BASE}/Users", content=json.dumps(user()), headers=headers)
    assert r.status_code == 201, r.text


def test_refused_content_type_and_negotiated_response(api):
    c, d = api
    r = c.post(
        f"{BASE}/Users", content="userName=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_error(r, 415)
    r = c.get(f"{BASE}/Users", headers={"Accept": "application/json"})
    assert r.headers["content-type"] == "application/json"
    r = c.get(f"{BASE}/Users", headers={"Accept": "application/scim+json, application/json"})
    assert r.headers["content-type"] == "application/scim+json"
    assert d.users == {}


def test_patch_204_dialect(make_client):
    c, _ = make_client(patch_status={"User": 200, "Group": 204})  # ZIA, ZPA: group PATCH answers 204
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    gid = c.post(f"{BASE}/Groups", json={"displayName": "G"}).json()["id"]
    r = c.patch(
        f"{BASE}/Groups/{gid}", json=patch({"op": "add", "path": "members", "value": [{"value": uid}]})
    )
    assert r.status_code == 204 and r.content == b"" and r.headers["etag"] == 'W/"2"'
    r = c.patch(
        f"{BASE}/Groups/{gid}?attributes=members",
        json=patch({"op": "replace", "path": "displayName", "value": "H"}),
    )
    assert r.status_code == 200 and set(r.json()) == {"schemas", "id", "members"}
    assert (
        c.patch(f"{BASE}/Users/{uid}", json=patch({"op": "add", "path": "title", "value": "x"})).status_code
        == 200
    )


def test_if_match(api):
    c, d = api
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    before = snapshot(d)
    assert_error(c.put(f"{BASE}/Users/{uid}", json=user(title="x"), headers={"If-Match": 'W/"9"'}), 412)
    assert_error(
        c.patch(
            f"{BASE}/Users/{uid}", json=patch({"op": "remove", "path": "title"}), headers={"If-Match": '"2"'}
        ),
        412,
    )
    assert_error(c.delete(f"{BASE}/Users/{uid}", headers={"If-Match": 'W/"0"'}), 412)
    assert snapshot(d) == before
    assert (
        c.put(f"{BASE}/Users/{uid}", json=user(title="x"), headers={"If-Match": 'W/"1"'}).status_code == 200
    )
    assert c.delete(f"{BASE}/Users/{uid}", headers={"If-Match": "*"}).status_code == 204


def test_listing_and_paging(make_client):
    c, _ = make_client(default_page_size=10, max_page_size=100)  # ZPA's
    ids = [c.post(f"{BASE}/Users", json=user(f"u{i:03}@x.io")).json()["id"] for i in range(120)]
    r = c.get(f"{BASE}/Users").json()
    assert r["schemas"] == [LIST]
    assert (r["totalResults"], r["itemsPerPage"], r["startIndex"]) == (120, 10, 1)
    assert [x["id"] for x in r["Resources"]] == ids[:10]
    r = c.get(f"{BASE}/Users?startIndex=115&count=50").json()
    assert (r["itemsPerPage"], r["startIndex"]) == (6, 115) and r["Resources"][0]["id"] == ids[114]
    r = c.get(f"{BASE}/Users?count=1000").json()
    assert r["itemsPerPage"] == 100  # at most the maximum
    r = c.get(f"{BASE}/Users?count=0").json()
    assert (r["totalResults"], r["itemsPerPage"], r["Resources"]) == (120, 0, [])
    r = c.get(f"{BASE}/Users?startIndex=0&count=1").json()
    assert r["startIndex"] == 1 and r["Resources"][0]["id"] == ids[0]
    # Okta's import walk: startIndex += count while below totalResults, the same order throughout
    seen, start = [], 1
    while True:
        page = c.get(f"{BASE}/Users", params={"startIndex": start, "count": 33}).json()
        seen += [x["id"] for x in page["Resources"]]
        start += page["itemsPerPage"]
        if start > page["totalResults"]:
            break
    assert seen == ids
    for bad in ("count=ten", "startIndex=1.5", "count="):
        r = c.get(f"{BASE}/Users?{bad}")
        if bad == "count=":
            assert r.status_code == 200
        else:
            assert_error(r, 400, "invalidValue")


def test_filter_sort_and_attributes_in_lists(api):
    c, _ = api
    for n in ("carol", "alice", "Bob"):
        c.post(f"{BASE}/Users", json=user(f"{n}@x.io", displayName=n.title()))
    r = c.get(f"{BASE}/Users", params={"filter": 'userName eq "ALICE@x.io"', "attributes": "userName"}).json()
    assert r["totalResults"] == 1 and set(r["Resources"][0]) == {"schemas", "id", "userName"}
    r = c.get(f"{BASE}/Users", params={"filter": 'userName eq "nobody@x.io"'}).json()
    assert (r["totalResults"], r["Resources"]) == (0, [])  # not 404: Okta and Entra expect an empty list
    r = c.get(f"{BASE}/Users", params={"sortBy": "userName", "sortOrder": "descending"}).json()
    assert [x["userName"] for x in r["Resources"]] == ["carol@x.io", "Bob@x.io", "alice@x.io"]
    r = c.get(f"{BASE}/Users", params={"sortBy": "displayName", "excludedAttributes": "emails,meta"}).json()
    assert [x["displayName"] for x in r["Resources"]] == ["Alice", "Bob", "Carol"]
    assert all("emails" not in x and "meta" not in x for x in r["Resources"])
    assert_error(
        c.get(f"{BASE}/Users", params={"sortBy": "userName", "sortOrder": "up"}), 400, "invalidValue"
    )
    assert_error(c.get(f"{BASE}/Users", params={"filter": "userName eq"}), 400, "invalidFilter")


def test_sort_off_in_the_dialect(make_client):
    c, _ = make_client(sort=False)
    for n in ("b", "a"):
        c.post(f"{BASE}/Users", json=user(f"{n}@x.io"))
    r = c.get(f"{BASE}/Users", params={"sortBy": "userName"}).json()
    assert [x["userName"] for x in r["Resources"]] == ["b@x.io", "a@x.io"]  # ignored, as RFC 7644 allows
    assert c.get(f"{BASE}/ServiceProviderConfig").json()["sort"] == {"supported": False}


def test_groups_listed_without_members(make_client):
    c, _ = make_client(list_group_members=False)  # ZPA
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    gid = c.post(f"{BASE}/Groups", json={"displayName": "G", "members": [{"value": uid}]}).json()["id"]
    assert "members" not in c.get(f"{BASE}/Groups").json()["Resources"][0]
    assert (
        c.get(f"{BASE}/Groups?attributes=displayName,members").json()["Resources"][0]["members"][0]["value"]
        == uid
    )
    assert c.get(f"{BASE}/Groups/{gid}").json()["members"][0]["value"] == uid  # members by id: yes
    assert "members" not in c.get(f"{BASE}/Groups/{gid}?excludeAttributes=members").json()  # ZPA's spelling


def test_entra_group_calls(api):
    c, _ = api
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    gid = c.post(
        f"{BASE}/Groups",
        json={"schemas": [CORE_GROUP], "displayName": "Sales", "externalId": "x", "members": []},
    ).json()["id"]
    c.patch(
        f"{BASE}/Groups/{gid}",
        json=patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}),
    )
    r = c.get(f"{BASE}/Groups/{gid}?excludedAttributes=members").json()
    assert "members" not in r and r["displayName"] == "Sales"
    r = c.get(
        f"{BASE}/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "SALES"'}
    ).json()
    assert r["totalResults"] == 1 and "members" not in r["Resources"][0]
    assert_error(c.post(f"{BASE}/Groups", json={"displayName": "sales"}), 409, "uniqueness")
    user_doc = c.get(f"{BASE}/Users/{uid}").json()
    assert user_doc["groups"] == [
        {"value": gid, "display": "Sales", "$ref": f"http://scim.test{BASE}/Groups/{gid}", "type": "direct"}
    ]


def test_search_endpoints(api):
    c, _ = api
    c.post(f"{BASE}/Users", json=user("ann@x.io", displayName="Ann"))
    c.post(f"{BASE}/Groups", json={"displayName": "Annex"})
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'displayName sw "ann"',
        "attributes": ["displayName"],
        "startIndex": 1,
        "count": 10,
    }
    r = c.post(f"{BASE}/Users/.search", json=body).json()
    assert r["totalResults"] == 1 and r["Resources"][0] == {
        "schemas": [CORE_USER],
        "id": r["Resources"][0]["id"],
        "displayName": "Ann",
    }
    r = c.post(f"{BASE}/.search", json=body).json()  # root: every resource type
    assert sorted(x["displayName"] for x in r["Resources"]) == ["Ann", "Annex"]
    r = c.post(f"{BASE}/.search", json={"filter": 'userName sw "ann"'}).json()  # groups lack userName
    assert [x["displayName"] for x in r["Resources"]] == ["Ann"]
    assert_error(c.post(f"{BASE}/.search", json={"filter": 'nothing eq "x"'}), 400, "invalidFilter")
    assert_error(c.post(f"{BASE}/Users/.search", json={"count": "ten"}), 400, "invalidValue")
    assert_error(c.post(f"{BASE}/Users/.search", json={"schemas": ["urn:x"]}), 400, "invalidSyntax")
    assert_error(c.post(f"{BASE}/Users/.search", json={"attributes": [1]}), 400, "invalidValue")


def test_discovery_documents(make_client):
    custom = Schema(
        "urn:ietf:params:scim:schemas:extension:CyberArk:2.0:User",
        "CustomAttributes",
        (Attr("Last_4_Digits_of_SSN_c__c", description="custom attribute"),),
    )
    c, _ = make_client(
        user_extensions=(Extension(custom),),
        max_page_size=100,
        bulk_max_operations=0,
        documentation_uri="https://d",
    )
    spc = c.get(f"{BASE}/ServiceProviderConfig").json()
    assert spc["filter"] == {"supported": True, "maxResults": 100}
    assert spc["bulk"]["supported"] is False and spc["patch"] == {"supported": True}
    assert spc["etag"] == {"supported": True} and spc["documentationUri"] == "https://d"
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert spc["meta"]["location"] == f"http://scim.test{BASE}/ServiceProviderConfig"
    schemas = c.get(f"{BASE}/Schemas").json()
    assert schemas["schemas"] == [LIST]
    ids = [s["id"] for s in schemas["Resources"]]
    assert ids == [CORE_USER, custom.id, CORE_GROUP]  # the dialect's extensions only
    one = c.get(f"{BASE}/Schemas/{custom.id}").json()
    assert one["attributes"][0]["name"] == "Last_4_Digits_of_SSN_c__c"
    assert one["meta"] == {
        "resourceType": "Schema",
        "location": f"http://scim.test{BASE}/Schemas/{custom.id}",
    }
    user_schema = c.get(f"{BASE}/Schemas/{CORE_USER}").json()
    by_name = {a["name"]: a for a in user_schema["attributes"]}
    assert by_name["userName"]["uniqueness"] == "server" and by_name["userName"]["required"] is True
    assert by_name["password"]["returned"] == "never" and by_name["groups"]["mutability"] == "readOnly"
    assert {s["name"] for s in by_name["emails"]["subAttributes"]} == {"value", "display", "type", "primary"}
    rts = c.get(f"{BASE}/ResourceTypes").json()["Resources"]
    assert [(r["id"], r["endpoint"], r["schema"]) for r in rts] == [
        ("User", "/Users", CORE_USER),
        ("Group", "/Groups", CORE_GROUP),
    ]
    assert rts[0]["schemaExtensions"] == [{"schema": custom.id, "required": False}]
    assert c.get(f"{BASE}/ResourceTypes/Group").json()["id"] == "Group"
    assert_error(c.get(f"{BASE}/ResourceTypes/Nope"), 404)
    assert_error(c.get(f"{BASE}/Schemas/urn:nope"), 404)
    assert_error(c.post(f"{BASE}/Bulk", json={}), 405)  # bulk off: a known path, not allowed


def test_custom_extension_attributes_flow(make_client):
    ext = "urn:ietf:params:scim:schemas:extension:CyberArk:2.0:User"
    custom = Schema(ext, "CustomAttributes", (Attr("Last_4_Digits_of_SSN_c__c"),))
    c, _ = make_client(user_extensions=(Extension(custom),))
    r = c.post(
        f"{BASE}/Users", json=user(schemas=[CORE_USER, ext], **{ext: {"Last_4_Digits_of_SSN_c__c": "1234"}})
    )
    assert r.json()[ext] == {"Last_4_Digits_of_SSN_c__c": "1234"} and r.json()["schemas"] == [CORE_USER, ext]
    found = c.get(f"{BASE}/Users", params={"filter": f'{ext}:last_4_digits_of_ssn_c__c eq "1234"'}).json()
    assert found["totalResults"] == 1


def test_authentication(make_client):
    calls = []

    def authenticate(directory, header):
        calls.append(header)
        if header == "Bearer saml-off":
            raise ScimError(403, "SAML is not enabled for this IdP")  # a service's own refusal
        return header == "Bearer good"

    c, _ = make_client(authenticate=authenticate, discovery_requires_auth=False)  # ZIA: discovery is open
    for headers in ({}, {"Authorization": "Bearer bad"}, {"Authorization": "Basic Z29vZA=="}):
        r = c.get(f"{BASE}/Users", headers={**headers, "Authorization": headers.get("Authorization", "")})
        body = assert_error(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer realm="SCIM"' and body["detail"]
    assert_error(c.get(f"{BASE}/Users", headers={"Authorization": "Bearer saml-off"}), 403, contains="SAML")
    assert c.get(f"{BASE}/Users", headers={"Authorization": "Bearer good"}).status_code == 200
    for path in ("ServiceProviderConfig", "Schemas", "ResourceTypes", "ResourceTypes/User"):
        assert c.get(f"{BASE}/{path}", headers={"Authorization": ""}).status_code == 200
    strict, _ = make_client(authenticate=authenticate)
    assert_error(strict.get(f"{BASE}/Schemas", headers={"Authorization": ""}), 401)


def test_directories_are_isolated(api):
    c, d = api
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    other = "/scim/t2/v2"
    assert_error(c.get(f"{other}/Users/{uid}"), 404)  # another tenant's id
    assert_error(c.delete(f"{other}/Users/{uid}"), 404)
    assert c.get(f"{other}/Users").json()["totalResults"] == 0
    assert c.post(f"{other}/Users", json=user()).status_code == 201  # the same userName elsewhere
    assert_error(c.get("/scim/nope/v2/Users"), 404, contains="no SCIM service")
    assert_error(c.get("/scim/nope/v2/Anything"), 404)
    assert len(d.users) == 1 and len(c.other.users) == 1


def test_unknown_paths_and_methods(api):
    c, _ = api
    assert_error(c.get(f"{BASE}/Unknown"), 404)
    assert_error(c.get(f"{BASE}/Users/x/y"), 404)
    assert_error(c.get(f"{BASE}/Me"), 501)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("ServiceProviderConfig", "Schemas", "ResourceTypes"):
            assert_error(c.request(method, f"{BASE}/{path}", json={}), 405)
    assert_error(c.delete(f"{BASE}/Users"), 405)
    assert_error(c.put(f"{BASE}/Groups", json={}), 405)
    assert_error(c.post(f"{BASE}/Users/abc", json={}), 405)
    assert_error(c.get(f"{BASE}/Bulk"), 405)


def test_bulk(api):
    c, d = api
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("b1@x.io")},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("B1@x.io")},  # duplicate
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g1",
                "data": {"displayName": "G", "members": [{"value": "bulkId:u1"}]},
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:u1",
                "data": patch({"op": "add", "path": "title", "value": "T"}),
            },
            {"method": "DELETE", "path": "/Users/nobody"},
            {"method": "GET", "path": "/Users"},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g2",
                "data": {"displayName": "H", "members": [{"value": "bulkId:zz"}]},
            },
        ],
    }
    r = c.post(f"{BASE}/Bulk", json=body)
    assert r.status_code == 200
    ops = r.json()["Operations"]
    assert [o["status"] for o in ops] == ["201", "409", "201", "200", "404", "400", "409"]
    uid = d.user_by_name("b1@x.io").id
    assert ops[0]["location"] == f"http://scim.test{BASE}/Users/{uid}" and ops[0]["version"] == 'W/"1"'
    assert ops[1]["response"]["scimType"] == "uniqueness" and ops[1]["response"]["schemas"] == [ERROR_SCHEMA]
    gid = ops[2]["location"].rsplit("/", 1)[1]
    assert list(d.get("Group", gid).members) == [uid]
    assert d.get("User", uid).data["title"] == "T"
    r = c.post(f"{BASE}/Bulk", json={"failOnErrors": 1, "Operations": body["Operations"][1:3]}).json()
    assert [o["status"] for o in r["Operations"]] == ["409"]  # stopped at the first error
    assert_error(
        c.post(f"{BASE}/Bulk", json={"Operations": [{"method": "DELETE", "path": "/Users/x"}] * 1001}), 413
    )
    assert_error(c.post(f"{BASE}/Bulk", json={"Operations": []}), 400, "invalidSyntax")
    assert_error(
        c.post(f"{BASE}/Bulk", json={"failOnErrors": 0, "Operations": body["Operations"]}),
        400,
        "invalidSyntax",
    )


def test_rate_limit(make_client, clock):
    c, _ = make_client(rate_limit=lambda d: ("tenant", (Limit(5, 1),)))  # ZIA: 5 requests/s per tenant
    for _ in range(5):
        assert c.get(f"{BASE}/Users").status_code == 200
    r = c.get(f"{BASE}/Users")
    assert_error(r, 429, contains="5/SECOND")
    assert r.headers["retry-after"] == "1"
    assert_error(c.get("/scim/t2/v2/Users"), 429)  # the key is the dialect's: here one for both directories
    clock.advance(1)
    assert c.get(f"{BASE}/Users").status_code == 200
    off, _ = make_client(rate_limit=lambda d: None)  # a tenant setting that is off
    for _ in range(20):
        assert off.get(f"{BASE}/Users").status_code == 200


def test_mounted_under_a_prefix(clock):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from sims.core.scim import Directory, build_scim_router
    from sims.core.scim.testing import demo_dialect

    dialect = demo_dialect(base_path="/{org_id}/{idp_id}/scim", authenticate=None)  # ZIA's form
    directory = Directory(dialect, clock, name="idp")
    app = FastAPI()
    seen = []

    def resolve(params):
        seen.append(params)
        return directory if params == {"org_id": "3173833", "idp_id": "7"} else None

    app.include_router(build_scim_router(dialect, resolve), prefix="/zia-scim")
    c = TestClient(app, base_url="http://127.0.0.1:7402")
    doc = c.post("/zia-scim/3173833/7/scim/Users", json=user()).json()
    assert doc["meta"]["location"] == f"http://127.0.0.1:7402/zia-scim/3173833/7/scim/Users/{doc['id']}"
    assert seen == [{"org_id": "3173833", "idp_id": "7"}]
    assert_error(c.get("/zia-scim/3173833/8/scim/Users"), 404)
    with pytest.raises(ValueError):
        demo_dialect(base_path="/")


def test_base_path_and_public_base_url(make_client):
    c, _ = make_client(
        public_base_url=lambda d, seen: seen.replace("http://scim.test", "https://scim.zscloud.net")
    )
    doc = c.post(f"{BASE}/Users", json=user()).json()
    assert doc["meta"]["location"].startswith(f"https://scim.zscloud.net{BASE}/Users/")


def test_zia_like_admin_refusal_over_http(make_client):
    def on_delete(directory, kind, view):
        if kind == "User" and view["userName"] == "admin@x.io":
            raise ScimError(409, "Admin user cannot be deleted")

    c, d = make_client(on_delete=on_delete)
    uid = c.post(f"{BASE}/Users", json=user("admin@x.io")).json()["id"]
    assert_error(c.delete(f"{BASE}/Users/{uid}"), 409, contains="Admin user cannot be deleted")
    assert d.get("User", uid)


def test_inactive_means_delete_over_http(make_client):
    c, d = make_client(inactive_means_delete=True)
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    r = c.patch(
        f"{BASE}/Users/{uid}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": "false"}}]},
    )
    assert r.status_code == 204
    assert_error(c.get(f"{BASE}/Users/{uid}"), 404)
    uid = c.post(f"{BASE}/Users", json=user()).json()["id"]
    assert c.put(f"{BASE}/Users/{uid}", json=user(active="False")).status_code == 204
    assert d.users == {}


def test_enterprise_extension_round_trip(api):
    c, _ = api
    body = user(
        schemas=[CORE_USER, ENTERPRISE_USER],
        **{ENTERPRISE_USER: {"department": "IT", "manager": {"value": "m"}}},
    )
    doc = c.post(f"{BASE}/Users", json=body).json()
    assert doc["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert doc[ENTERPRISE_USER] == {"department": "IT", "manager": {"value": "m"}}
