"""Hostile SCIM input at the ZIA and ZPA endpoints: RFC 7644 errors and no partial writes."""

from __future__ import annotations

import httpx
import pytest

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def endpoint(sims, sim: str) -> tuple[str, dict]:
    scim = sims.info["sims"][sim]["tenants"][0]["scim"][0]
    return scim["base_url"], {"Authorization": f"Bearer {scim['bearer_token']}"}


def count(base: str, h: dict) -> int:
    return httpx.get(f"{base}/Users", headers=h).json()["totalResults"]


def expect(r: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type:
        assert body["scimType"] == scim_type


@pytest.mark.parametrize("sim", ["zia", "zpa"])
def test_hostile_input(sims, sim):
    base, h = endpoint(sims, sim)
    made = httpx.post(
        f"{base}/Users", headers=h, json={"schemas": [USER], "userName": "Pat@safemarch.example"}
    )
    assert made.status_code == 201
    uid = made.json()["id"]
    before = count(base, h)
    expect(httpx.get(f"{base}/Users", headers={"Authorization": "Bearer stale-token"}), 401)
    expect(httpx.get(f"{base}/Users"), 401)
    dup = httpx.post(
        f"{base}/Users", headers=h, json={"schemas": [USER], "userName": "pat@SAFEMARCH.example"}
    )
    expect(dup, 409, "uniqueness")
    expect(
        httpx.get(f"{base}/Users", params={"filter": 'userName eq "x" and ('}, headers=h),
        400,
        "invalidFilter",
    )
    bad_path = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "name[[", "value": "x"}]}
    expect(httpx.patch(f"{base}/Users/{uid}", headers=h, json=bad_path), 400, "invalidPath")
    mixed = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "nonsense..path", "value": 1},
        ],
    }
    assert httpx.patch(f"{base}/Users/{uid}", headers=h, json=mixed).status_code == 400
    assert "displayName" not in httpx.get(f"{base}/Users/{uid}", headers=h).json()  # no partial write
    huge = {"schemas": [USER], "userName": "big@safemarch.example", "displayName": "x" * 2_000_000}
    assert httpx.post(f"{base}/Users", headers=h, json=huge).status_code == 413
    expect(
        httpx.post(f"{base}/Users", headers={**h, "Content-Type": "application/json"}, content=b"{nope"), 400
    )
    assert count(base, h) == before


def test_another_tenants_ids_are_not_found(sims):
    zia, zh = endpoint(sims, "zia")
    zpa, ph = endpoint(sims, "zpa")
    other = httpx.post(
        f"{zpa}/Users", headers=ph, json={"schemas": [USER], "userName": "zpa.only@safemarch.example"}
    )
    expect(httpx.get(f"{zia}/Users/{other.json()['id']}", headers=zh), 404)
    expect(httpx.delete(f"{zia}/Users/{other.json()['id']}", headers=zh), 404)
    assert httpx.get(f"{zpa}/Users/{other.json()['id']}", headers=ph).status_code == 200
    # ZPA's token does not open ZIA's directory, nor another IdP's path
    expect(httpx.get(f"{zia}/Users", headers=ph), 401)
    assert httpx.get(zia.replace("/1/scim", "/999/scim") + "/Users", headers=zh).status_code == 404
