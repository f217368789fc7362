"""Malformed, oversized, cross-tenant and rate-limited requests: the real status and body, no change."""

from __future__ import annotations

import httpx
import pytest

from tests.zia.conftest import MIMECAST_SCOPE, ORG, login, mint

TWO_TENANTS = """
name: two-orgs
clock: {mode: frozen, start: "2026-01-15T09:00:00Z"}
idp:
  authorization_servers:
    - id: okta
      flavour: okta
      audience: api://zscaler
      clients: [{client_id: c, client_secret: s3cret-value, scopes: []}]
zia:
  tenants:
    - cloud: zscloud.net
      org_id: 1001
      name: First
      admins: [{username: a@1001.zscloud.net, password: pw-one, api_key: AAAAAAAAAAAA}]
      api_roles: [{name: Cats, permissions: {url_categories: FULL}}]
      authorization_servers: [{name: Okta, jwks_url: "idp:okta"}]
    - cloud: zscaler.net
      org_id: 2002
      name: Second
      admins: [{username: b@2002.zscaler.net, password: pw-two, api_key: BBBBBBBBBBBB}]
      api_roles: [{name: Cats, permissions: {url_categories: FULL}}]
      authorization_servers: [{name: Okta, jwks_url: "idp:okta"}]
"""


def custom_categories(sims, org: str = ORG) -> list[dict]:
    view = sims.control.get(f"/sims/zia/tenants/{org}/config", params={"view": "pending"})
    return [c for c in view["categories"] if c["customCategory"]]


def test_malformed_json_changes_nothing(sims, session):
    r = session.post(
        "/api/v1/urlCategories", content=b'{"configuredName": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json() == {"message": "Request body is invalid."}
    assert custom_categories(sims) == []


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(sims, session, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = session.post("/api/v1/urlCategories", content=b'{"configuredName": "x", "urls": []}', headers=headers)
    assert r.status_code == 415
    assert r.json() == {"code": "UNSUPPORTED_MEDIA_TYPE", "message": "Content-Type must be application/json"}
    assert custom_categories(sims) == []


def test_wrong_types_are_refused(sims, session):
    for body in (
        [],
        "x",
        {"configuredName": "x", "urls": "a.example.com"},
        {"configuredName": "x", "urls": [1]},
    ):
        r = session.post("/api/v1/urlCategories", json=body)
        assert r.status_code == 400, body
    assert custom_categories(sims) == []


def test_unknown_fields_are_ignored_not_stored(sims, session):
    r = session.post(
        "/api/v1/urlCategories",
        json={
            "configuredName": "C",
            "urls": ["a.example.com"],
            "evil": {"$where": "1"},
            "id": "CUSTOM_99",
            "val": 7,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "CUSTOM_01" and body["val"] == 128 and "evil" not in body


def test_oversized_body_is_413_in_zia_shape(sims, session):
    huge = b'{"configuredName": "x", "urls": ["' + b"a" * (11 * 1024 * 1024) + b'"]}'
    r = session.post("/api/v1/urlCategories", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "INVALID_INPUT_ARGUMENT"
    assert custom_categories(sims) == []


def test_unknown_ids_and_paths(session):
    assert session.get("/api/v1/urlCategories/CUSTOM_42").json()["code"] == "RESOURCE_NOT_FOUND"
    assert session.get("/api/v1/urlFilteringRules/abc").status_code == 404
    assert session.delete("/api/v1/ipDestinationGroups/999").status_code == 404
    r = session.put("/api/v1/urlCategories/CUSTOM_01?action=DESTROY", json={"urls": []})
    assert r.status_code == 404  # no such category comes first
    assert session.get("/api/v1/nothingHere").status_code == 404


def test_bad_action_parameter(session):
    session.post("/api/v1/urlCategories", json={"configuredName": "C", "urls": []})
    r = session.put("/api/v1/urlCategories/CUSTOM_01?action=DESTROY", json={"urls": ["a.example.com"]})
    assert r.status_code == 400 and r.json() == {
        "code": "INVALID_INPUT_ARGUMENT",
        "message": "Invalid action: DESTROY",
    }


def test_other_tenants_ids_are_invisible(sims_world_factory, tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO_TENANTS)
    w = sims_world_factory(path)
    zia = w.url("zia")
    tenants = {t["org_id"]: t for t in w.info["sims"]["zia"]["tenants"]}
    first = httpx.Client(
        base_url=zia, cookies={"JSESSIONID": login(zia, tenants[1001]["admins"][0]).cookies["JSESSIONID"]}
    )
    made = first.post(
        "/api/v1/urlCategories", json={"configuredName": "Mine", "urls": ["a.example.com"]}
    ).json()
    second_cookie = login(zia, tenants[2002]["admins"][0]).cookies["JSESSIONID"]
    second = httpx.Client(base_url=zia, cookies={"JSESSIONID": second_cookie})
    assert second.get(f"/api/v1/urlCategories/{made['id']}").status_code == 404
    assert second.delete(f"/api/v1/urlCategories/{made['id']}").status_code == 404
    assert second.get("/api/v1/urlCategories/urlQuota").json()["uniqueUrlsProvisioned"] == 0
    # A token whose scope names the second org acts on the second org only.
    token = w.control.post(
        "/sims/idp/authorization-servers/okta/tokens",
        {"client_id": "c", "scopes": ["zscaler.net::2002::Cats"]},
    )["access_token"]
    r = httpx.get(f"{zia}/api/v1/urlCategories/{made['id']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404
    assert first.get(f"/api/v1/urlCategories/{made['id']}").status_code == 200
    # The journal and faults see each org as its own tenant.
    tenants_seen = {e["tenant"] for e in w.control.journal.entries(sim="zia")}
    assert {"1001", "2002"} <= tenants_seen


def test_realistic_rate_limits(sims, zia):
    sims.control.http.patch(f"/sims/zia/tenants/{ORG}/settings", json={"realistic_rate_limits": True})
    token = mint(sims, [MIMECAST_SCOPE])
    headers = {"Authorization": f"Bearer {token}"}
    responses = [httpx.get(f"{zia}/api/v1/urlCategories/urlQuota", headers=headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    limited = responses[2]
    assert limited.headers["retry-after"] == "1"  # an integer: "1 seconds" breaks pyzscaler and OneAPI
    assert limited.json() == {"message": "Rate Limit (2/SECOND) exceeded", "Retry-After": "1 seconds"}
    assert responses[0].headers["x-ratelimit-remaining"] == "1"
    sims.control.clock.advance(1)
    assert httpx.get(f"{zia}/api/v1/urlCategories/urlQuota", headers=headers).status_code == 200
    # writes are 1/s; activation 10/min
    body = {"configuredName": "C1", "urls": []}
    assert httpx.post(f"{zia}/api/v1/urlCategories", json=body, headers=headers).status_code == 200
    r = httpx.post(f"{zia}/api/v1/urlCategories", json={**body, "configuredName": "C2"}, headers=headers)
    assert r.status_code == 429 and r.json()["message"] == "Rate Limit (1/SECOND) exceeded"
    assert [c["configuredName"] for c in custom_categories(sims)] == [
        "C1"
    ]  # the refused write stored nothing
    statuses = []
    for _ in range(11):
        sims.control.clock.advance(0.5)
        statuses.append(httpx.post(f"{zia}/api/v1/status/activate", headers=headers).status_code)
    assert statuses.count(429) >= 1 and statuses[:10] == [200] * 10


def test_faults_answer_in_zia_shape(sims, session):
    sims.control.faults.add(sim="zia", path="/api/v1/urlCategories*", status=409, count=1)
    r = session.get("/api/v1/urlCategories")
    assert r.status_code == 409 and r.json() == {"code": "EDIT_LOCK_NOT_AVAILABLE"}
    sims.control.faults.add(sim="zia", tenant=ORG, path="/api/v1/status", status=500, count=1)
    r = session.get("/api/v1/status")
    assert r.status_code == 500 and r.json()["code"] == "UNEXPECTED_ERROR"
