"""ZPA's SCIM dialect as Okta and Entra drive it, and the admin API that reads the result."""

from __future__ import annotations

import httpx

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_zpa_dialect(sims):
    tenant = sims.info["sims"]["zpa"]["tenants"][0]
    scim = tenant["scim"][0]
    base, h = scim["base_url"], {"Authorization": f"Bearer {scim['bearer_token']}"}
    assert base.endswith(f"/scim/1/{scim['idp_id']}/v2")
    assert httpx.get(f"{base}/Users", headers={"Authorization": "Bearer stale"}).status_code == 401
    ids = []
    for i in range(12):
        body = {
            "schemas": [USER],
            "userName": f"zpa{i}@safemarch.example",
            "active": "true",  # a string
            "costCenter": "CC-7",
        }
        r = httpx.post(f"{base}/Users", headers=h, json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    page = httpx.get(f"{base}/Users", headers=h).json()
    assert (page["itemsPerPage"], page["totalResults"]) == (10, 12)  # ZPA's default page size
    assert httpx.get(f"{base}/Users", params={"count": 500}, headers=h).json()["itemsPerPage"] == 12
    group = httpx.post(
        f"{base}/Groups",
        headers=h,
        json={"schemas": [GROUP], "displayName": "ZPA Engineers", "members": [{"value": ids[0]}]},
    ).json()
    listed = httpx.get(f"{base}/Groups", headers=h).json()["Resources"][0]
    assert "members" not in listed  # group lists come without members
    # active=false deletes (Entra's soft delete, Okta's deactivate)
    off = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert httpx.patch(f"{base}/Users/{ids[1]}", headers=h, json=off).status_code in (200, 204)
    assert httpx.get(f"{base}/Users/{ids[1]}", headers=h).status_code == 404
    # The ZPA admin API reads SCIM groups (numbers) and attributes (strings), as the SDKs expect.
    zpa, cid = sims.url("zpa"), tenant["customer_id"]
    token = httpx.post(
        f"{zpa}/signin", data={"client_id": tenant["client_id"], "client_secret": tenant["client_secret"]}
    ).json()["access_token"]
    a = {"Authorization": f"Bearer {token}"}
    groups = httpx.get(
        f"{zpa}/userconfig/v1/customers/{cid}/scimgroup/idpId/{scim['idp_id']}",
        headers=a,
        params={"search": "name+EQ+ZPA Engineers", "pagesize": 500},
    ).json()
    assert groups["totalCount"] == 1 and groups["list"][0]["id"] == int(group["id"])
    one = httpx.get(f"{zpa}/userconfig/v1/customers/{cid}/scimgroup/{group['id']}", headers=a).json()
    assert one["name"] == "ZPA Engineers"
    attrs = httpx.get(
        f"{zpa}/mgmtconfig/v1/admin/customers/{cid}/idp/{scim['idp_id']}/scimattribute", headers=a
    ).json()
    cost = next(x for x in attrs["list"] if x["name"] == "costCenter")
    values = httpx.get(
        f"{zpa}/userconfig/v1/customers/{cid}/scimattribute/idpId/{scim['idp_id']}/attributeId/{cost['id']}",
        headers=a,
    ).json()
    assert values["list"] == ["CC-7"]  # the top-level costCenter landed in the enterprise extension
    new = sims.control.post(f"/sims/zpa/customers/{cid}/idps/{scim['idp_id']}/scim/token")
    assert httpx.get(f"{base}/Users", headers=h).status_code == 401  # the old token stops working
    assert (
        httpx.get(f"{base}/Users", headers={"Authorization": f"Bearer {new['bearer_token']}"}).status_code
        == 200
    )
