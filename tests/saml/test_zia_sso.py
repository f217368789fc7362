"""ZIA as a SAML service provider: the Identity Providers admin API (Add/Edit IdP), the
authentication profile, SP-initiated logins with signed AuthnRequests, the ACS, auto-provisioning
visible through ZIA's /users, /groups and /departments, sessions, errors and state."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from sims import samlkit as sk
from tests.saml.helpers import (
    ALICE,
    IDP_DIR,
    ORG,
    ZIA_ADMIN,
    Flow,
    assert_rejected,
    browser,
    error_code,
    mint,
    post_acs,
    sign_in_at_idp,
    sp_initiated,
    user_sessions,
    zia_admin_client,
)

DAVE = ("dave.ops@safemarch.example", "Dave-Passw0rd!")


@pytest.fixture
def flow(sims):
    with browser() as c:
        yield Flow(sims.url("zia"), sims.url("idp"), c)


def add_dave(sims, roles=("Zscaler Users", "Engineering Team")) -> None:
    user = {"login": DAVE[0], "password": DAVE[1], "display_name": "Dave Ops", "department": "Operations"}
    sims.control.post(f"{IDP_DIR}/users", user)
    for role in roles:
        members = sims.control.get("/sims/idp/directories/aan4174/users")  # noqa: F841 (exists)
        current = [u for u in _role_members(sims, role)]
        sims.control.put(f"{IDP_DIR}/roles/{role}", {"members": [*current, DAVE[0]]})


def _role_members(sims, role: str) -> list[str]:
    state = sims.control.export_state()["sims"]["idp"]["directories"]["aan4174"]["roles"]
    return state.get(role, [])


def patch_idp(sims, change: dict, activate: bool = True) -> dict:
    r = sims.control.http.patch(f"{ZIA_ADMIN}/idps/1", json=change)
    assert r.status_code == 200, r.text
    if activate:
        sims.control.post(f"{ZIA_ADMIN}/activate")
    return r.json()


def test_sp_initiated_login_auto_provisions_a_new_user(sims, flow):
    add_dave(sims)
    with zia_admin_client(sims) as api:
        assert not [u for u in api.get("/api/v1/users").json() if u["email"] == DAVE[0]]
    r = sp_initiated(flow, DAVE)
    assert r.status_code == 303 and r.headers["location"] == f"/sim/v1/{ORG}/portal"
    assert "zia_sso_3173833=" in r.headers["set-cookie"]
    page = flow.client.get(flow.zia + r.headers["location"])
    assert 'id="display-name">Dave Ops<' in page.text and 'id="department">Operations<' in page.text
    assert "Zscaler Users, Engineering Team" in page.text
    with zia_admin_client(sims) as api:
        dave = next(u for u in api.get("/api/v1/users").json() if u["email"] == DAVE[0])
        assert dave["name"] == "Dave Ops" and dave["department"]["name"] == "Operations"
        assert [g["name"] for g in dave["groups"]] == ["Zscaler Users", "Engineering Team"]
        assert "Engineering Team" in {g["name"] for g in api.get("/api/v1/groups").json()}
        assert "Operations" in {d["name"] for d in api.get("/api/v1/departments").json()}
    sessions = user_sessions(sims)
    assert [(s["login"], s["sp_initiated"]) for s in sessions] == [(DAVE[0], True)]
    note = sims.control.journal.entries(sim="zia", path="/sfc_sso", limit=1)[0]["note"]
    assert "dave.ops@safemarch.example" in note and "created" in note


def test_existing_users_are_updated_from_the_assertion(sims, flow):
    sims.control.put(f"{IDP_DIR}/roles/Zscaler Admins", {"members": []})  # alice loses a role at the IdP
    assert sp_initiated(flow, ALICE).status_code == 303
    with zia_admin_client(sims) as api:
        alice = next(u for u in api.get("/api/v1/users").json() if u["email"] == ALICE[0])
    assert [g["name"] for g in alice["groups"]] == ["Zscaler Users"]


def test_without_auto_provisioning_unknown_users_get_0xB0040(sims, flow):
    add_dave(sims)
    patch_idp(sims, {"auto_provisioning": False})
    assert_rejected(sims, sp_initiated(flow, DAVE), "0xB0040", "user_not_found")
    with browser() as c:  # a user ZIA already has still signs in
        assert sp_initiated(Flow(flow.zia, flow.idp, c), ALICE).status_code == 303


@pytest.mark.parametrize(
    ("setting", "uri", "hash_name"), [("SHA-1", "rsa-sha1", "SHA1"), ("SHA-2", "rsa-sha256", "SHA256")]
)
def test_signed_authn_request_with_the_chosen_algorithm(sims, flow, setting, uri, hash_name):
    if setting == "SHA-2":
        patch_idp(sims, {"signature_algorithm": "SHA-2"})
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start", params={"login_name": ALICE[0]})
    url = r.headers["location"]
    raw = urlsplit(url).query
    params = dict(p.split("=", 1) for p in raw.split("&"))
    assert unquote_plus(params["SigAlg"]).endswith(uri)
    metadata = etree.fromstring(sims.control.http.get(f"{ZIA_ADMIN}/idps/1/sp-metadata").content)
    sp = metadata.find("md:SPSSODescriptor", sk.NS)
    assert sp.get("AuthnRequestsSigned") == "true"
    cert = sk.load_certificate(sp.find(".//ds:X509Certificate", sk.NS).text)
    signed = "&".join(f"{k}={params[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg"))
    from cryptography.hazmat.primitives import hashes

    cert.public_key().verify(
        base64.b64decode(unquote_plus(params["Signature"])),
        signed.encode(),
        padding.PKCS1v15(),
        getattr(hashes, hash_name)(),
    )
    request = etree.fromstring(sk.inflate(base64.b64decode(unquote_plus(params["SAMLRequest"]))))
    assert request.find("saml:Issuer", sk.NS).text == "zscloud.net"
    assert request.get("AssertionConsumerServiceURL") == f"{flow.zia}/sfc_sso"
    assert request.get("Destination") == url.split("?", 1)[0]
    page = flow.client.get(url)  # the IdP verifies it (the app requires signed requests)
    assert page.status_code == 200 and 'id="login"' in page.text


def test_unsigned_requests_are_refused_by_an_app_that_requires_signing(sims, flow):
    patch_idp(sims, {"sign_saml_request": False})
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start")
    assert "Signature=" not in r.headers["location"]
    page = flow.client.get(r.headers["location"])
    assert page.status_code == 400 and 'id="reason">unsigned_request<' in page.text


def test_the_identity_provider_form_as_the_guide_shows_it(sims):
    idp = sims.control.get(f"{ZIA_ADMIN}/idps/1")
    assert idp["name"] == "CyberArk" and idp["enabled"] and idp["login_name_attribute"] == "NameID"
    assert idp["entity_id"] == "zscloud.net" and idp["vendor"] == "Others" and not idp["default_idp"]
    assert idp["idp_certificate"]["expiration_date"] == "December 31, 2038"
    assert idp["sign_saml_request"] and idp["signature_algorithm"] == "SHA-1"
    assert idp["request_signing_certificate_in_use"] == "saml_2025"
    assert (idp["display_name_attribute"], idp["group_attribute"], idp["department_attribute"]) == (
        "displayName",
        "memberOf",
        "department",
    )
    assert idp["resolved_saml_portal_url"].startswith(sims.url("idp") + "/aan4174/applogin/appKey/")
    certs = {c["name"]: c for c in sims.control.get(f"{ZIA_ADMIN}/sp-certificates")}
    assert certs["saml_2022"]["expired"] and not certs["saml_2025"]["expired"]  # the guide's saml_2022
    pem = sims.control.http.get(f"{ZIA_ADMIN}/idps/1/sp-certificate").text
    assert sk.load_certificate(pem).subject.rfc4514_string() == "O=sims ZIA SP,CN=saml_2025"
    world = sims.info["sims"]["zia"]["tenants"][0]["saml"]
    assert world["acs_url"] == f"{sims.url('zia')}/sfc_sso" and world["sp_entity_id"] == "zscloud.net"
    assert world["login_url"].endswith(f"/sim/v1/{ORG}/portal")


def test_saml_needs_an_idp_and_edits_need_activation(sims, flow):
    base = f"{ZIA_ADMIN}"
    r = sims.control.http.delete(f"{base}/idps/1")
    assert r.status_code == 400 and "only once an identity provider" in r.text  # SAML still selected
    sims.control.put(f"{base}/authentication-profile", {"authentication_type": "Form-Based"})
    assert sims.control.http.delete(f"{base}/idps/1").status_code == 204
    r = sims.control.http.put(f"{base}/authentication-profile", json={"authentication_type": "SAML"})
    assert r.status_code == 400 and "only once an identity provider" in r.text
    # not activated yet: logins still work with the active configuration
    assert sp_initiated(flow, ALICE).status_code == 303
    sims.control.post(f"{base}/activate")
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start")
    assert r.status_code == 403 and error_code(r) == ("0xB0010", "saml_disabled")
    # Add IdP again with what the IdP's Trust page gives: the SAML portal URL and the PEM
    app = sims.control.get(f"{IDP_DIR}/apps/zscaler")
    form = {
        "name": "CyberArk",
        "saml_portal_url": app["saml_portal_url"],
        "certificate": app["signing_certificate"]["pem"],
        "issuer": app["idp_entity_id"],
        "sign_saml_request": True,
        "signature_algorithm": "SHA-2",
        "auto_provisioning": True,
    }
    created = sims.control.post(f"{base}/idps", form)
    assert created["id"] == 2 and created["active"] is False
    assert sims.control.http.post(f"{base}/idps", json=form).status_code == 400  # names are unique
    sims.control.put(f"{base}/authentication-profile", {"authentication_type": "SAML"})
    sims.control.post(f"{base}/activate")
    with browser() as c:
        assert sp_initiated(Flow(flow.zia, flow.idp, c), ALICE).status_code == 303
    bad = {
        **form,
        "name": "Bad",
        "certificate": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----",
    }
    assert sims.control.http.post(f"{base}/idps", json=bad).status_code == 400
    assert sims.control.http.post(f"{base}/idps", json={**form, "name": "X", "bogus": 1}).status_code == 400


def test_org_specific_entity_id_and_acs(sims, flow):
    patch_idp(sims, {"org_specific_entity_id": True})
    sims.control.http.patch(
        f"{IDP_DIR}/apps/zscaler",
        json={"zscaler": {"cloud_name": "zscloud.net", "org_id": 3173833, "org_specific_entity_id": True}},
    ).raise_for_status()
    meta = etree.fromstring(sims.control.http.get(f"{ZIA_ADMIN}/idps/1/sp-metadata").content)
    assert meta.get("entityID") == f"{flow.zia}/sfc_sso/{ORG}"
    r = sp_initiated(flow, ALICE)
    assert r.status_code == 303
    entry = sims.control.journal.entries(sim="zia", path="/sfc_sso", limit=1)[0]
    assert entry["path"] == f"/sfc_sso/{ORG}" and entry["tenant"] == ORG


def test_unknown_org_in_the_endpoint_is_0xB00A5(sims):
    minted = mint(sims, ALICE[0])
    r = post_acs(f"{sims.url('zia')}/sfc_sso/99999", minted["saml_response"])
    assert_rejected(sims, r, "0xB00A5", "unknown_org")


def test_idp_initiated_login_and_logout(sims, flow):
    minted = mint(sims, ALICE[0])
    r = flow.client.post(minted["acs_url"], data={"SAMLResponse": minted["saml_response"]})
    assert r.status_code == 303
    assert [s["sp_initiated"] for s in user_sessions(sims)] == [False]
    page = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal")
    assert 'id="display-name">Alice Admin<' in page.text
    flow.client.get(f"{flow.zia}/sim/v1/{ORG}/logout")
    assert "Sign in to Zscaler" in flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal").text
    patch_idp(sims, {"allow_idp_initiated": False})
    assert_rejected(sims, post_acs(minted["acs_url"], mint(sims, ALICE[0])["saml_response"]), "0xB001")


def test_user_session_follows_the_authentication_frequency(sims, flow):
    assert sp_initiated(flow, ALICE).status_code == 303
    assert "Alice Admin" in flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal").text
    sims.control.clock.advance(86400)  # Daily Cookie
    assert "Sign in to Zscaler" in flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal").text


def test_zia_saml_state_round_trips(sims, flow):
    add_dave(sims)
    assert sp_initiated(flow, DAVE).status_code == 303
    patch_idp(sims, {"vendor": "CyberArk"}, activate=False)
    flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start")  # an outstanding request
    state = sims.control.export_state()
    sims.control.reset()
    assert user_sessions(sims) == []
    sims.control.import_state(state)
    assert sims.control.export_state()["sims"]["zia"] == state["sims"]["zia"]
    assert "Dave Ops" in flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal").text
    assert sims.control.get(f"{ZIA_ADMIN}/idps/1")["vendor"] == "CyberArk"


def test_the_sign_in_page_starts_the_login(sims, flow):
    page = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/portal")
    assert 'id="signin"' in page.text and "identity provider" in page.text
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start", params={"return": "https://evil.example/"})
    relay = parse_qs(urlsplit(r.headers["location"]).query)["RelayState"][0]
    page = flow.client.get(r.headers["location"])
    r = sign_in_at_idp(flow, page, ALICE)
    from tests.saml.helpers import post_to_acs

    done = post_to_acs(flow, r)
    assert done.headers["location"] == f"/sim/v1/{ORG}/portal"  # never an open redirect
    assert len(relay) <= 80
    for target in ("//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start", params={"return": target})
        state = sims.control.export_state()["sims"]["zia"]["tenants"][ORG]["saml"]["outstanding"]
        assert state[-1]["return_to"] == f"/sim/v1/{ORG}/portal", target
