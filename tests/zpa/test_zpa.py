"""The minimal ZPA sim: sign-in, identity providers shaped as the management API returns them
(reference zscaler-clients.md §5), and ZPA as a SAML SP for IdP-initiated logins."""

from __future__ import annotations

import httpx
import pytest

CID = "72058300560048147"
CLIENT = ("zpa-api-client", "zpa-api-secret-72058300560048147")
ADMIN = f"/sims/zpa/customers/{CID}"
IDP_APPS = "/sims/idp/directories/aan4174/apps"


@pytest.fixture
def zpa(sims) -> str:
    # The default world has a CyberArk IdP (with SCIM); these tests start from an empty IdP list.
    for idp in sims.control.get(f"{ADMIN}/idps"):
        sims.control.delete(f"{ADMIN}/idps/{idp['id']}")
    return sims.url("zpa")


def token(zpa: str) -> str:
    r = httpx.post(f"{zpa}/signin", data={"client_id": CLIENT[0], "client_secret": CLIENT[1]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == "3600"
    return body["access_token"]


def test_signin_and_identity_providers_in_the_real_shape(sims, zpa):
    assert httpx.post(f"{zpa}/signin", data={"client_id": CLIENT[0], "client_secret": "x"}).status_code == 401
    headers = {"Authorization": f"Bearer {token(zpa)}"}
    url = f"{zpa}/mgmtconfig/v2/admin/customers/{CID}/idp"
    empty = httpx.get(url, headers=headers)
    assert empty.json() == {"totalPages": "1", "totalCount": "0", "list": []}
    assert empty.headers["content-type"] == "application/json;charset=utf-8"
    added = sims.control.post(
        f"{ADMIN}/idps",
        {
            "name": "CyberArk",
            "login_url": "idp:aan4174/zscaler",
            "certificate": "idp:aan4174/zscaler",
            "domain_list": ["safemarch.example"],
        },
    )
    listing = httpx.get(url, headers=headers).json()
    assert (listing["totalPages"], listing["totalCount"]) == ("1", "1")
    idp = listing["list"][0]
    assert idp == added and idp["id"].isdigit() and len(idp["id"]) == 18
    assert idp["autoProvision"] == "0" and idp["signSamlRequest"] == "1" and idp["ssoType"] == ["USER"]
    cert = idp["certificates"][0]
    assert cert["cName"] == "AAN4174 SHA256 Application Signing Certificate"
    assert cert["certificate"].startswith("-----BEGIN CERTIFICATE-----") and cert["validToInSec"].isdigit()
    assert set(idp["userMetadata"]) == {
        "spEntityId",
        "spPostUrl",
        "certificateUrl",
        "spMetadataUrl",
        "spBaseUrl",
    }
    assert idp["loginUrl"].startswith(sims.url("idp") + "/aan4174/applogin/appKey/")
    one = httpx.get(f"{zpa}/mgmtconfig/v1/admin/customers/{CID}/idp/{idp['id']}", headers=headers)
    assert one.json() == idp
    oneapi = httpx.get(f"{zpa}/zpa/mgmtconfig/v2/admin/customers/{CID}/idp", headers=headers)
    assert oneapi.json() == listing
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer forged"}).status_code == 401
    assert httpx.get(f"{url}?pagesize=0", headers=headers).status_code == 400
    sims.control.clock.advance(3600)
    assert httpx.get(url, headers=headers).status_code == 401  # the token expired on the sim clock


def test_zpa_as_a_saml_sp(sims, zpa):
    created = sims.control.post(
        f"{ADMIN}/idps",
        {"name": "CyberArk", "login_url": "idp:aan4174/zscaler", "certificate": "idp:aan4174/zscaler"},
    )
    meta = created["userMetadata"]
    app = sims.control.post(
        IDP_APPS,
        {
            "id": "zpa",
            "template": "saml",
            "name": "Zscaler Private Access",
            "sp_entity_id": meta["spEntityId"],
            "acs_url": meta["spPostUrl"],
            "roles": ["Zscaler Users"],
        },
    )
    r = httpx.patch(
        f"{sims.control.url}{ADMIN}/idps/{created['id']}", json={"idp_entity_id": app["idp_entity_id"]}
    )
    assert r.status_code == 200 and r.json()["idpEntityId"] == app["idp_entity_id"]
    assert httpx.get(meta["spMetadataUrl"]).text.count("AssertionConsumerService") == 1

    def post(saml_response: str) -> httpx.Response:
        return httpx.post(meta["spPostUrl"], data={"SAMLResponse": saml_response})

    minted = sims.control.post(f"{IDP_APPS}/zpa/responses", {"user": "bob.sales@safemarch.example"})
    assert minted["acs_url"] == meta["spPostUrl"]
    ok = post(minted["saml_response"])
    assert ok.status_code == 200 and "bob.sales@safemarch.example" in ok.text
    assert "zpa_sso_" in ok.headers["set-cookie"]
    replay = post(minted["saml_response"])
    assert replay.status_code == 400 and "replayed" in replay.text
    for mode, reason in (
        ("wrong_key", "bad_signature"),
        ("wrong_audience", "wrong_audience"),
        ("expired", "expired"),
    ):
        sims.control.post(f"{IDP_APPS}/zpa/break", {"mode": mode})
        r = post(
            sims.control.post(f"{IDP_APPS}/zpa/responses", {"user": "bob.sales@safemarch.example"})[
                "saml_response"
            ]
        )
        assert r.status_code == 400 and reason in r.text, (mode, r.text)
    assert [s["user"] for s in sims.control.get(f"{ADMIN}/sessions")] == ["bob.sales@safemarch.example"]
    state = sims.control.export_state()
    sims.control.reset()
    sims.control.import_state(state)
    assert sims.control.export_state()["sims"]["zpa"] == state["sims"]["zpa"]
    assert sims.control.http.post(f"{sims.control.url}{ADMIN}/idps", json={"name": "x"}).status_code == 400
