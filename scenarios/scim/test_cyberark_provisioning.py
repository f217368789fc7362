"""The CyberArk guide's second half: SCIM provisioning from the IdP into ZIA, on the sim clock.

From a tenant without SCIM: enable SCIM on the saved IdP, generate the token, Verify fails until
SAML is enabled then passes, a role of three members syncs, a department change at the IdP is a
PUT, a user removed from the role is deleted in ZIA, and a custom attribute mapped at the IdP
arrives. Everything goes over HTTP between the idp and zia sims; the journal shows each request.
"""

from __future__ import annotations

import httpx
import pytest

ORG = "3173833"
DIRECTORY = "aan4174"
PROV = f"/sims/idp/directories/{DIRECTORY}/apps/zscaler/provisioning"
ROLE = "Guide Role"
MEMBERS = ["alice.admin@safemarch.example", "bob.sales@safemarch.example", "carol.eng@safemarch.example"]
CUSTOM = "urn:ietf:params:scim:schemas:extension:safemarch:2.0:User:Last_4_Digits_of_SSN_c__c"


def zia_users(sims) -> dict[str, dict]:
    """ZIA's own users API (what URL filtering rules see), read as an admin would."""
    from tests.zia.conftest import login

    admin = sims.info["sims"]["zia"]["tenants"][0]["admins"][0]
    cookie = login(sims.url("zia"), admin).cookies["JSESSIONID"]
    users = httpx.get(f"{sims.url('zia')}/api/v1/users", cookies={"JSESSIONID": cookie}).json()
    return {u["email"]: u for u in users}


def scim_user(base: str, token: str, login: str) -> dict | None:
    r = httpx.get(
        f"{base}/Users",
        params={"filter": f'userName eq "{login}"'},
        headers={"Authorization": f"Bearer {token}"},
    )
    found = r.json()["Resources"]
    return found[0] if found else None


@pytest.fixture
def fresh(sims) -> dict:
    """The default tenant made fresh for the guide: Form-Based authentication, SCIM off."""
    c = sims.control
    c.http.put(f"/sims/zia/tenants/{ORG}/idps/1/scim", json={"enabled": False}).raise_for_status()
    c.http.put(
        f"/sims/zia/tenants/{ORG}/authentication-profile", json={"authentication_type": "Form-Based"}
    ).raise_for_status()
    c.post(f"/sims/zia/tenants/{ORG}/activate")
    c.http.put(
        f"/sims/idp/directories/{DIRECTORY}/roles/{ROLE}", json={"members": MEMBERS}
    ).raise_for_status()
    return {}


def test_the_guide_end_to_end(sims, fresh):
    c = sims.control
    # Edit IdP > Enable SCIM Provisioning (the IdP is saved), Generate Token.
    scim = c.http.put(f"/sims/zia/tenants/{ORG}/idps/1/scim", json={"enabled": True}).json()
    old_token = scim["bearer_token"]
    scim = c.post(f"/sims/zia/tenants/{ORG}/idps/1/scim/token")
    base, token = scim["base_url"], scim["bearer_token"]
    assert token != old_token
    assert httpx.get(f"{base}/Users", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401

    # CyberArk: Provisioning tab with the SCIM Service URL and Bearer Token; Verify fails before SAML.
    c.http.put(
        PROV,
        json={
            "scim_url": base,
            "bearer_token": token,
            "role_mappings": [{"role": ROLE}],
            "report_emails": ["idadmin@safemarch.example"],
        },
    ).raise_for_status()
    r = c.http.post(f"{PROV}/verify")
    assert r.status_code == 400 and "SAML must be enabled" in r.json()["error"]
    c.http.put(
        f"/sims/zia/tenants/{ORG}/authentication-profile", json={"authentication_type": "SAML"}
    ).raise_for_status()
    c.post(f"/sims/zia/tenants/{ORG}/activate")
    verified = c.post(f"{PROV}/verify")
    assert verified["verified"] and CUSTOM in verified["discovered"]

    # Start Sync: the role's three members and its group, in ZIA.
    report = c.post(f"{PROV}/sync")
    assert sorted(report["lines"])[:1] and report["created"] == 3 and report["errors"] == []
    users = zia_users(sims)
    assert set(MEMBERS) <= set(users)
    assert users["bob.sales@safemarch.example"]["department"]["name"] == "Sales"
    assert [g["name"] for g in users["bob.sales@safemarch.example"]["groups"]] == [ROLE]
    mails = c.mailbox.messages(to="idadmin@safemarch.example")
    assert len(mails) == 1 and "3 created" in mails[0]["body"]

    # A department changed at the IdP is synced with a PUT carrying only the mapped attributes.
    mark = c.journal.entries(limit=1)[-1]["id"]
    c.http.patch(
        f"/sims/idp/directories/{DIRECTORY}/users/bob.sales@safemarch.example",
        json={"department": "Field Sales"},
    ).raise_for_status()
    c.clock.advance(10)
    puts = c.journal.entries(sim="zia", method="PUT", since_id=mark, detail=True)
    sent = puts[0]["request"]["body"].replace('": "', '":"')
    assert len(puts) == 1 and '"department":"Field Sales"' in sent
    assert '"password"' not in puts[0]["request"]["body"]
    assert zia_users(sims)["bob.sales@safemarch.example"]["department"]["name"] == "Field Sales"

    # Removed from the role: deleted in ZIA ("Delete user" deprovisioning).
    c.http.put(
        f"/sims/idp/directories/{DIRECTORY}/roles/{ROLE}", json={"members": MEMBERS[:2]}
    ).raise_for_status()
    c.clock.advance(10)
    assert "carol.eng@safemarch.example" not in zia_users(sims)
    assert scim_user(base, token, "carol.eng@safemarch.example") is None
    assert any(e["method"] == "DELETE" for e in c.journal.entries(sim="zia", since_id=mark))

    # A discovered custom attribute, enabled with a source, arrives at ZIA.
    c.http.put(
        f"/sims/idp/directories/{DIRECTORY}/roles/{ROLE}", json={"members": MEMBERS}
    ).raise_for_status()
    c.clock.advance(10)
    assert next(m for m in c.get(PROV)["mapping"] if m["target"] == CUSTOM)["enabled"] is False
    c.http.patch(
        f"{PROV}/mapping",
        json={"target": CUSTOM, "source": "attributes.Last_4_Digits_of_SSN_c__c", "enabled": True},
    ).raise_for_status()
    c.post(f"{PROV}/sync")
    carol = scim_user(base, token, "carol.eng@safemarch.example")
    assert (
        carol["urn:ietf:params:scim:schemas:extension:safemarch:2.0:User"]["Last_4_Digits_of_SSN_c__c"]
        == "1234"
    )


def scim_with_saml(c) -> dict:
    """SCIM enabled on the CyberArk IdP and SAML activated: the state Verify needs."""
    scim = c.http.put(f"/sims/zia/tenants/{ORG}/idps/1/scim", json={"enabled": True}).json()
    c.http.put(f"/sims/zia/tenants/{ORG}/authentication-profile", json={"authentication_type": "SAML"})
    c.post(f"/sims/zia/tenants/{ORG}/activate")
    return scim


def test_preview_mode_changes_nothing(sims, fresh):
    c = sims.control
    scim = scim_with_saml(c)
    c.http.put(
        PROV,
        json={
            "scim_url": scim["base_url"],
            "bearer_token": scim["bearer_token"],
            "mode": "preview",
            "role_mappings": [{"role": ROLE}],
        },
    ).raise_for_status()
    c.post(f"{PROV}/verify")
    report = c.post(f"{PROV}/sync")
    assert report["mode"] == "preview" and report["created"] == 3
    assert not {"POST", "PUT", "PATCH", "DELETE"} & {e["method"] for e in c.journal.entries(sim="zia")}
    assert c.get(f"/sims/zia/tenants/{ORG}/idps/1/scim")["users"] == 0


def test_daily_sync_at_the_chosen_hour(sims, fresh):
    c = sims.control
    scim = scim_with_saml(c)
    c.http.put(
        PROV,
        json={
            "scim_url": scim["base_url"],
            "bearer_token": scim["bearer_token"],
            "daily_sync_hour": 2,
            "sync_on_change": False,
            "role_mappings": [{"role": ROLE}],
        },
    ).raise_for_status()
    c.post(f"{PROV}/verify")
    c.clock.advance(16 * 3600)  # 09:00 -> 01:00 next day: not yet
    assert c.get(f"/sims/zia/tenants/{ORG}/idps/1/scim")["users"] == 0
    c.clock.advance(3600)  # 02:00
    assert c.get(f"/sims/zia/tenants/{ORG}/idps/1/scim")["users"] == 3


def test_okta_and_entra_request_sequences(sims):
    """The same provisioning as Okta and Entra send it (reference scim.md §3, §4)."""
    scim = sims.info["sims"]["zia"]["tenants"][0]["scim"][0]
    base = scim["base_url"]
    h = {"Authorization": f"Bearer {scim['bearer_token']}", "Content-Type": "application/scim+json"}
    # Okta: lookup, POST, GET + PUT full object, deactivate by PATCH, group push with remove+add.
    r = httpx.get(
        f"{base}/Users",
        params={"filter": 'userName eq "okta.user@safemarch.example"', "startIndex": 1, "count": 100},
        headers=h,
    )
    assert r.json()["totalResults"] == 0
    user = httpx.post(
        f"{base}/Users",
        headers=h,
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "okta.user@safemarch.example",
            "name": {"givenName": "Okta", "familyName": "User"},
            "displayName": "Okta User",
            "emails": [{"primary": True, "value": "okta.user@safemarch.example", "type": "work"}],
            "active": True,
            "groups": [],
            "externalId": "00u1",
        },
    ).json()
    full = httpx.get(f"{base}/Users/{user['id']}", headers=h).json()
    full["displayName"] = "Okta U."
    assert httpx.put(f"{base}/Users/{user['id']}", headers=h, json=full).json()["displayName"] == "Okta U."
    group = httpx.post(
        f"{base}/Groups",
        headers=h,
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Okta Push",
            "members": [],
        },
    ).json()
    ops = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": f'members[value eq "{user["id"]}"]'},
            {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "Okta U."}]},
        ],
    }
    assert httpx.patch(f"{base}/Groups/{group['id']}", headers=h, json=ops).status_code in (200, 204)
    # Entra: capitalised ops, value paths, "False" strings.
    ops = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "okta.user@safemarch.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Userson"},
            {
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": "Finance",
            },
        ],
    }
    r = httpx.patch(f"{base}/Users/{user['id']}", headers=h, json=ops)
    assert r.status_code == 200 and r.json()["department"] == "Finance"  # mirrored to the top level
    r = httpx.get(
        f"{base}/Groups",
        params={"excludedAttributes": "members", "filter": 'displayName eq "Okta Push"'},
        headers=h,
    )
    assert r.json()["totalResults"] == 1 and "members" not in r.json()["Resources"][0]
    from tests.zia.conftest import login

    admin = sims.info["sims"]["zia"]["tenants"][0]["admins"][0]
    cookie = login(sims.url("zia"), admin).cookies["JSESSIONID"]
    users = httpx.get(f"{sims.url('zia')}/api/v1/users", cookies={"JSESSIONID": cookie}).json()
    okta = next(u for u in users if u["email"] == "okta.user@safemarch.example")
    assert okta["department"]["name"] == "Finance" and [g["name"] for g in okta["groups"]] == ["Okta Push"]


def test_deleting_an_admin_linked_user_is_refused(sims):
    scim = sims.info["sims"]["zia"]["tenants"][0]["scim"][0]
    h = {"Authorization": f"Bearer {scim['bearer_token']}"}
    admin = httpx.post(
        f"{scim['base_url']}/Users",
        headers=h,
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "admin@3173833.zscloud.net",
        },
    )
    assert admin.status_code == 201, admin.text
    r = httpx.delete(f"{scim['base_url']}/Users/{admin.json()['id']}", headers=h)
    assert r.status_code == 409 and r.json()["detail"] == "Admin user cannot be deleted"
