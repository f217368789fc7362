"""The identity provider's SAML side: web apps, Trust page, metadata, Responses, AuthnRequests,
the sign-in page, the user portal, broken Responses and state."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier

from sims import samlkit as sk
from tests.saml.helpers import (
    ALICE,
    APP,
    BOB,
    CAROL,
    DIRECTORY,
    IDP_DIR,
    ZIA_ADMIN,
    Flow,
    browser,
    decode,
    hidden_form,
    mint,
    post_to_acs,
    sign_in_at_idp,
)

START = 1768467600  # 2026-01-15T09:00:00Z, where the fixtures freeze the clock


@pytest.fixture
def app_info(sims) -> dict:
    d = next(d for d in sims.info["sims"]["idp"]["directories"] if d["id"] == DIRECTORY)
    return next(a for a in d["web_apps"] if a["id"] == APP)


@pytest.fixture
def flow(sims):
    with browser() as c:
        yield Flow(sims.url("zia"), sims.url("idp"), c)


def test_trust_page_metadata_and_certificate(sims, app_info):
    idp, zia = sims.url("idp"), sims.url("zia")
    key = app_info["app_key"]
    assert app_info["saml_portal_url"] == f"{idp}/{DIRECTORY}/applogin/appKey/{key}/customerId/AAN4174"
    assert (app_info["sp_entity_id"], app_info["acs_url"]) == ("zscloud.net", f"{zia}/sfc_sso")
    with browser() as c:
        meta = c.get(app_info["metadata_url"])
        pem = c.get(app_info["certificate_url"])
    assert meta.status_code == 200 and pem.status_code == 200
    assert pem.headers["content-disposition"].endswith('.cer"')  # the guide renames it to .pem
    cert = sk.load_certificate(pem.text)
    assert cert.not_valid_after_utc.strftime("%B %d, %Y") == "December 31, 2038"  # the guide's date
    assert "AAN4174 SHA256 Application Signing Certificate" in cert.subject.rfc4514_string()
    root = etree.fromstring(meta.content)
    assert root.get("entityID") == app_info["idp_entity_id"]
    desc = root.find("md:IDPSSODescriptor", sk.NS)
    assert desc.get("WantAuthnRequestsSigned") == "true"
    locations = {e.get("Binding"): e.get("Location") for e in desc.findall("md:SingleSignOnService", sk.NS)}
    assert locations == {sk.BINDING_REDIRECT: app_info["sso_url"], sk.BINDING_POST: app_info["sso_url"]}
    meta_cert = desc.find(".//ds:X509Certificate", sk.NS).text
    assert sk.load_certificate(meta_cert) == cert
    # the same certificate is what ZIA's IdP entry holds (the guide's upload)
    zia_idp = sims.control.get(f"{ZIA_ADMIN}/idps/1")
    assert zia_idp["idp_certificate"]["expiration_date"] == "December 31, 2038"


def test_adding_the_zscaler_app_derives_the_sp_from_cloud_and_org(sims):
    zia = sims.url("zia")
    add = {"id": "zs2", "template": "zscaler", "zscaler": {"cloud_name": "zscloud.net", "org_id": 3173833}}
    view = sims.control.post(f"{IDP_DIR}/apps", add)
    assert (view["sp_entity_id"], view["acs_url"]) == ("zscloud.net", f"{zia}/sfc_sso")
    assert view["name"] == "Zscaler" and view["category"] == "Security"
    assert view["signing_certificate"]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    other = {"id": "zs3", "template": "zscaler", "zscaler": {"cloud_name": "zscalertwo.net", "org_id": 99}}
    view = sims.control.post(f"{IDP_DIR}/apps", other)  # a cloud this world does not simulate
    assert (view["sp_entity_id"], view["acs_url"]) == (
        "zscalertwo.net",
        "https://login.zscalertwo.net/sfc_sso",
    )
    org = {**add, "id": "zs4", "zscaler": {**add["zscaler"], "org_specific_entity_id": True}}
    view = sims.control.post(f"{IDP_DIR}/apps", org)
    assert view["sp_entity_id"] == view["acs_url"] == f"{zia}/sfc_sso/3173833"
    for bad in (
        {"id": "x", "template": "zscaler"},
        {"id": "x", "template": "zscaler", "zscaler": {"cloud_name": "not a cloud", "org_id": 1}},
        {"id": "x", "template": "saml"},
        {"id": "x", "template": "saml", "sp_entity_id": "e", "acs_url": "a", "attributes": {"n": "nope"}},
        {"id": "x", "template": "saml", "sp_entity_id": "e", "acs_url": "a", "roles": ["No Such Role"]},
    ):
        r = sims.control.http.post(f"{IDP_DIR}/apps", json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert sims.control.http.post(f"{IDP_DIR}/apps", json=add).status_code == 409


def test_response_follows_the_interop_contract_on_the_sim_clock(sims, app_info):
    sims.control.clock.advance(100)
    now = START + 100
    minted = mint(sims, ALICE[0])
    root = decode(minted["saml_response"])
    assertion = root.find("saml:Assertion", sk.NS)
    for el in (root, assertion):  # both signed, signature right after the Issuer, exc-c14n, sha256
        children = [etree.QName(c).localname for c in el]
        assert children[:2] == ["Issuer", "Signature"], children
        sig = el.find("ds:Signature", sk.NS)
        assert sig.find("ds:SignedInfo/ds:CanonicalizationMethod", sk.NS).get("Algorithm") == sk.EXC_C14N
        method = sig.find("ds:SignedInfo/ds:SignatureMethod", sk.NS).get("Algorithm")
        assert method == sk.ALGORITHMS["sha256"].signature_uri
        assert sig.find("ds:SignedInfo/ds:Reference", sk.NS).get("URI") == "#" + el.get("ID")
    assert root.get("Destination") == app_info["acs_url"] and root.get("InResponseTo") is None
    assert root.find("saml:Issuer", sk.NS).text == app_info["idp_entity_id"]
    assert assertion.find("saml:Subject/saml:NameID", sk.NS).text == ALICE[0]
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", sk.NS)
    assert data.get("Recipient") == app_info["acs_url"]
    conditions = assertion.find("saml:Conditions", sk.NS)
    assert sk.parse_xs_datetime(conditions.get("NotBefore")) == now - 60
    assert sk.parse_xs_datetime(conditions.get("NotOnOrAfter")) == now + 300
    assert conditions.find("saml:AudienceRestriction/saml:Audience", sk.NS).text == "zscloud.net"
    assert assertion.find("saml:AuthnStatement", sk.NS).get("AuthnInstant") == sk.xs_datetime(now)
    attributes = {
        a.get("Name"): [v.text for v in a]
        for a in assertion.findall("saml:AttributeStatement/saml:Attribute", sk.NS)
    }
    assert attributes == {
        "displayName": ["Alice Admin"],
        "memberOf": ["Zscaler Users", "Zscaler Admins"],
        "department": ["IT"],
    }
    cert = sk.load_certificate(app_info_cert(sims))
    cfg = SignatureConfiguration(require_x509=False, expect_references=1, location="./")
    XMLVerifier().verify(base64.b64decode(minted["saml_response"]), x509_cert=cert, expect_config=cfg)


def app_info_cert(sims) -> str:
    return sims.control.get(f"{IDP_DIR}/apps/{APP}")["signing_certificate"]["pem"]


def test_attribute_names_nameid_algorithm_and_signing_are_configurable(sims):
    attributes = {"groups": "roles", "dept": "department", "name": "display_name"}
    attributes["ssn4"] = "attributes.Last_4_Digits_of_SSN_c__c"
    change = {"attributes": attributes, "signature_algorithm": "sha1", "sign": "assertion", "nameid": "email"}
    sims.control.http.patch(f"{IDP_DIR}/apps/{APP}", json=change).raise_for_status()
    root = decode(mint(sims, CAROL[0])["saml_response"])
    assert root.find("ds:Signature", sk.NS) is None  # only the assertion is signed now
    assertion = root.find("saml:Assertion", sk.NS)
    method = assertion.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", sk.NS).get("Algorithm")
    assert method == sk.ALGORITHMS["sha1"].signature_uri
    got = {a.get("Name"): [v.text for v in a] for a in assertion.iter(f"{{{sk.ASSERTION}}}Attribute")}
    assert got == {
        "groups": ["Zscaler Users"],
        "dept": ["Engineering"],
        "name": ["Carol Engineer"],
        "ssn4": ["1234"],
    }


def _authn_request(sims, issuer: str = "zscloud.net", acs: str | None = None, rid: str = "_req1") -> bytes:
    req = etree.Element(
        f"{{{sk.PROTOCOL}}}AuthnRequest",
        nsmap={"samlp": sk.PROTOCOL, "saml": sk.ASSERTION},
        ID=rid,
        Version="2.0",
        IssueInstant=sk.xs_datetime(START),
        AssertionConsumerServiceURL=acs or f"{sims.url('zia')}/sfc_sso",
    )
    etree.SubElement(req, f"{{{sk.ASSERTION}}}Issuer").text = issuer
    return etree.tostring(req)


def _zia_sp_key(sims):
    from sims.world import load_world
    from sims.zia.sso import sp_material

    world = load_world()
    tenant = world.zia.tenants[0]
    cfg = next(c for c in tenant.sp_certificates if c.name == "saml_2025")
    return sp_material(world.seed, tenant.org_id, cfg)


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_signed_authn_requests_redirect_and_post(sims, app_info, alg):
    key, cert = _zia_sp_key(sims)
    sso = app_info["sso_url"]
    with browser() as c:
        query = sk.redirect_query(_authn_request(sims), relay_state="rs-1", key=key, alg=alg)
        r = c.get(f"{sso}?{query}")
        assert r.status_code == 200 and 'id="login"' in r.text, r.text[:400]
        # the same request with its query re-encoded differently no longer verifies (raw query bytes)
        tampered = query.replace("RelayState=rs-1", "RelayState=rs-2")
        r = c.get(f"{sso}?{tampered}")
        assert r.status_code == 400 and "request_bad_signature" in r.text
        # HTTP-POST binding: an enveloped signature inside the AuthnRequest
        root = etree.fromstring(_authn_request(sims, rid="_req2"))
        signed = sk.sign_enveloped(root, root, key, cert, alg)
        r = c.post(
            sso, data={"SAMLRequest": base64.b64encode(sk.to_bytes(signed)).decode(), "RelayState": "x"}
        )
        assert r.status_code == 200 and 'id="login"' in r.text, r.text[:400]
    notes = [e["note"] for e in sims.control.journal.entries(sim="idp") if e["note"]]
    assert any("request_bad_signature" in n for n in notes)


def test_authn_requests_the_app_refuses(sims, app_info):
    key, cert = _zia_sp_key(sims)
    other = sk.load_certificate(app_info_cert(sims))  # any certificate that is not the SP's
    sso = app_info["sso_url"]
    cases = {
        "unsigned_request": sk.redirect_query(_authn_request(sims)),
        "wrong_sp": sk.redirect_query(_authn_request(sims, issuer="https://evil.example"), key=key),
        "acs_mismatch": sk.redirect_query(_authn_request(sims, acs="https://evil.example/acs"), key=key),
        "request_too_large": "SAMLRequest="
        + quote_plus(base64.b64encode(sk.deflate(b"<a>" * 200_000)).decode()),
        "no_request": "RelayState=x",
    }
    xxe = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + _authn_request(sims)
    cases["request_doctype"] = sk.redirect_query(xxe, key=key)
    with browser() as c:
        for reason, query in cases.items():
            r = c.get(f"{sso}?{query}")
            if reason == "no_request":  # without SAMLRequest the portal URL launches the app
                assert r.status_code == 200 and 'id="login"' in r.text
                continue
            assert r.status_code == 400 and f'id="reason">{reason}<' in r.text, (reason, r.text[:300])
        assert other is not None and cert is not None


def test_sign_in_page_errors_then_posts_to_the_acs(sims, flow, app_info):
    page = flow.client.get(app_info["launch_url"])
    assert 'id="login"' in page.text and "Zscaler" in page.text
    bad = sign_in_at_idp(flow, page, (ALICE[0], "wrong"))
    assert bad.status_code == 401 and 'id="error"' in bad.text and "incorrect" in bad.text
    unknown = sign_in_at_idp(flow, bad, ("nobody@safemarch.example", "x"))
    assert unknown.status_code == 401
    ok = sign_in_at_idp(flow, unknown, ALICE)
    assert ok.status_code == 200 and "document.forms[0].submit()" in ok.text
    action, fields = hidden_form(ok.text)
    assert action == app_info["acs_url"] and set(fields) == {"SAMLResponse"}
    r = post_to_acs(flow, ok)
    assert r.status_code == 303
    # the portal session now skips the form; ForceAuthn would not
    again = flow.client.get(app_info["launch_url"])
    assert "SAMLResponse" in again.text and 'id="login"' not in again.text
    sims.control.clock.advance(8 * 3600)  # the portal sign-in lasts 8 hours (sim clock)
    assert 'id="login"' in flow.client.get(app_info["launch_url"]).text


def test_user_portal_lists_assigned_apps_and_refuses_others(sims, flow):
    user = {"login": "erin.sales@safemarch.example", "password": "Erin-Passw0rd!", "department": "Sales"}
    sims.control.post(f"{IDP_DIR}/users", user)
    sims.control.put(f"{IDP_DIR}/roles/Sales Team", {"members": [user["login"]]})
    portal = flow.client.get(f"{flow.idp}/{DIRECTORY}/my")
    r = sign_in_at_idp(flow, portal, (user["login"], user["password"]))
    assert r.status_code == 303
    page = flow.client.get(flow.idp + r.headers["location"])
    assert "No applications are assigned to you" in page.text
    launch = sims.control.get(f"{IDP_DIR}/apps/{APP}")["launch_url"]
    denied = flow.client.get(launch)
    assert denied.status_code == 403 and 'id="reason">not_assigned<' in denied.text
    with browser() as c:
        ok = sign_in_at_idp(Flow(flow.zia, flow.idp, c), c.get(f"{flow.idp}/{DIRECTORY}/my"), BOB)
        assert "Zscaler" in c.get(flow.idp + ok.headers["location"]).text


def test_broken_responses_on_demand(sims):
    sims.control.post(f"{IDP_DIR}/apps/{APP}/break", {"mode": "unsigned", "count": 1})
    first = decode(mint(sims, ALICE[0])["saml_response"])
    assert first.find(".//ds:Signature", sk.NS) is None
    assert decode(mint(sims, ALICE[0])["saml_response"]).find("ds:Signature", sk.NS) is not None
    expectations = {
        "wrong_audience": lambda r: "wrong-audience" in r.find(".//saml:Audience", sk.NS).text,
        "wrong_recipient": lambda r: (
            "wrong-recipient" in r.find(".//saml:SubjectConfirmationData", sk.NS).get("Recipient")
        ),
        "wrong_destination": lambda r: "wrong-destination" in r.get("Destination"),
        "wrong_issuer": lambda r: "wrong-issuer" in r.find("saml:Issuer", sk.NS).text,
        "expired": lambda r: (
            sk.parse_xs_datetime(r.find(".//saml:Conditions", sk.NS).get("NotOnOrAfter")) < START
        ),
        "not_yet_valid": lambda r: (
            sk.parse_xs_datetime(r.find(".//saml:Conditions", sk.NS).get("NotBefore")) > START
        ),
        "wrong_key": lambda r: (
            "Not the uploaded one"
            in base64.b64decode(r.find(".//ds:X509Certificate", sk.NS).text).decode("latin-1")
        ),
        "tampered": lambda r: r.find(".//saml:NameID", sk.NS).text.startswith("mallory."),
    }
    for mode, check in expectations.items():
        sims.control.post(f"{IDP_DIR}/apps/{APP}/break", {"mode": mode})
        minted = mint(sims, ALICE[0])
        assert minted["broken"] == mode and check(decode(minted["saml_response"])), mode
    sims.control.delete(f"{IDP_DIR}/apps/{APP}/break")
    assert mint(sims, ALICE[0])["broken"] is None


def test_sp_metadata_upload_sets_the_request_certificate(sims):
    metadata = sims.control.http.get(f"{ZIA_ADMIN}/idps/1/sp-metadata").text
    app = {"id": "meta", "template": "saml", "sp_entity_id": "x", "acs_url": "https://x/acs"}
    sims.control.post(f"{IDP_DIR}/apps", app)
    view = sims.control.post(f"{IDP_DIR}/apps/meta/sp-metadata", {"xml": metadata})
    assert view["require_signed_requests"] is True and view["sp_entity_id"] == "zscloud.net"
    assert view["sp_certificate_subject"] == "O=sims ZIA SP,CN=saml_2025"
    r = sims.control.http.post(f"{IDP_DIR}/apps/meta/sp-metadata", json={"xml": "<!DOCTYPE x><x/>"})
    assert r.status_code == 400


def test_idp_state_round_trips(sims, flow, app_info):
    sims.control.post(
        f"{IDP_DIR}/apps", {"id": "rt", "template": "saml", "sp_entity_id": "e", "acs_url": "https://a"}
    )
    sims.control.post(f"{IDP_DIR}/apps/rt/break", {"mode": "expired", "count": 2})
    page = flow.client.get(app_info["launch_url"])
    sign_in_at_idp(flow, page, ALICE)
    state = sims.control.export_state()
    sims.control.reset()
    assert "rt" not in {a["id"] for a in sims.control.get(f"{IDP_DIR}/apps")}
    sims.control.import_state(state)
    assert sims.control.export_state()["sims"]["idp"] == state["sims"]["idp"]
    rt = sims.control.get(f"{IDP_DIR}/apps/rt")
    assert (rt["broken"], rt["broken_left"]) == ("expired", 2)
    assert "SAMLResponse" in flow.client.get(app_info["launch_url"]).text  # the portal session came back


def test_unknown_directory_and_app_are_html_404s(sims, app_info):
    idp = sims.url("idp")
    with browser() as c:
        assert c.get(f"{idp}/nope/my").status_code == 404
        r = c.get(f"{idp}/{DIRECTORY}/run", params={"appkey": "00000000-0000-4000-8000-000000000000"})
        assert r.status_code == 404 and "unknown_app" in r.text
        q = parse_qs(urlsplit(app_info["metadata_url"]).query)
        assert c.get(f"{idp}/{DIRECTORY}/saasManage/DownloadSAMLMetadataForApp", params=q).status_code == 200
        r = c.post(
            f"{idp}/{DIRECTORY}/login",
            content=b"\xff\xfe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 400
