"""Attacks on ZIA's assertion consumer service: each is refused with ZIA's error code, opens no
session and leaves a journal note. Signature wrapping (XSW1-8 and duplicated IDs), unsigned and
partially signed Responses, another certificate, time windows, replay, audience / recipient /
destination / issuer, XXE and entity expansion, comments in the NameID, huge documents."""

from __future__ import annotations

import base64
import copy

import pytest
from lxml import etree
from signxml import CanonicalizationMethod, XMLSigner

from sims import samlkit as sk
from tests.saml.helpers import (
    ALICE,
    APP,
    IDP_DIR,
    ORG,
    ZIA_ADMIN,
    Flow,
    assert_rejected,
    browser,
    decode,
    encode,
    hidden_form,
    mint,
    post_acs,
    sign_in_at_idp,
    user_sessions,
)

A, P, DS = sk.ASSERTION, sk.PROTOCOL, sk.DS
MALLORY = "mallory.attacker@safemarch.example"  # the attacker's own, legitimate account


@pytest.fixture
def acs(sims) -> str:
    return f"{sims.url('zia')}/sfc_sso"


@pytest.fixture
def mallory(sims) -> str:
    sims.control.post(f"{IDP_DIR}/users", {"login": MALLORY, "password": "Mallory-Passw0rd!"})
    sims.control.put(f"{IDP_DIR}/roles/Zscaler Users", {"members": [MALLORY]})
    return MALLORY


def idp_signing(sims):
    """The IdP app's key and certificate, as an attacker who stole nothing would NOT have them; used
    only to build documents that are validly signed but shaped wrongly."""
    from sims.idp.saml import WebApp
    from sims.world import load_world

    world = load_world()
    directory = world.idp.directories[0]
    app = WebApp(next(a for a in directory.web_apps if a.id == APP), directory, world, sims.urls)
    return app.key, app.cert


def legit(sims, user: str, sign: str = "both") -> etree._Element:
    if sign != "both":
        sims.control.http.patch(f"{IDP_DIR}/apps/{APP}", json={"sign": sign}).raise_for_status()
    return decode(mint(sims, user)["saml_response"])


def evil_copy(assertion: etree._Element, new_id: str = "_evil") -> etree._Element:
    evil = copy.deepcopy(assertion)
    evil.set("ID", new_id)
    for sig in evil.findall("ds:Signature", sk.NS):
        evil.remove(sig)
    evil.find("saml:Subject/saml:NameID", sk.NS).text = ALICE[0]
    return evil


def xsw(variant: str, root: etree._Element) -> etree._Element:
    """The classic signature-wrapping shapes (Somorovsky et al.; SAML Raider's XSW1-XSW8)."""
    assertion = root.find("saml:Assertion", sk.NS)
    evil = evil_copy(assertion)
    if variant == "xsw1":  # a new Response; the signed original inside the Signature
        new = copy.deepcopy(root)
        new.set("ID", "_evilresp")
        new.remove(new.find("saml:Assertion", sk.NS))
        new.append(evil)
        sig = new.find("ds:Signature", sk.NS)
        orig = copy.deepcopy(root)
        orig.remove(orig.find("ds:Signature", sk.NS))
        sig.append(orig)
        return new
    if variant == "xsw2":  # the same, the signed original detached before the signature
        new = xsw("xsw1", root)
        sig = new.find("ds:Signature", sk.NS)
        orig = sig[-1]
        sig.remove(orig)
        sig.addprevious(orig)
        return new
    if variant == "xsw3":  # an evil assertion before the signed one
        assertion.addprevious(evil)
    elif variant == "xsw4":  # the signed assertion inside the evil one
        root.replace(assertion, evil)
        evil.append(assertion)
    elif variant == "xsw5":  # the signature moved onto the evil copy, the original appended unsigned
        sig = assertion.find("ds:Signature", sk.NS)
        evil.insert(1, copy.deepcopy(sig))
        evil.set("ID", assertion.get("ID"))
        assertion.remove(sig)
        assertion.set("ID", "_orig")
        root.replace(assertion, evil)
        root.append(assertion)
    elif variant == "xsw6":  # the original inside the evil copy's signature
        sig = assertion.find("ds:Signature", sk.NS)
        evil.insert(1, copy.deepcopy(sig))
        evil.set("ID", assertion.get("ID"))
        evil.find("ds:Signature", sk.NS).append(assertion)
        root.replace(assertion, evil) if assertion.getparent() is root else root.append(evil)
    elif variant == "xsw7":  # the original hidden in an Extensions element
        ext = etree.Element(f"{{{P}}}Extensions")
        root.replace(assertion, evil)
        ext.append(assertion)
        evil.addprevious(ext)
    elif variant == "xsw8":  # the original in a ds:Object of the evil copy's signature
        sig = copy.deepcopy(assertion.find("ds:Signature", sk.NS))
        obj = etree.SubElement(sig, f"{{{DS}}}Object")
        original = copy.deepcopy(assertion)
        original.remove(original.find("ds:Signature", sk.NS))
        obj.append(original)
        evil.insert(1, sig)
        evil.set("ID", assertion.get("ID"))
        root.replace(assertion, evil)
    elif variant == "same_id":  # the evil assertion takes the signed one's ID, the signed one moves
        evil.set("ID", assertion.get("ID"))
        assertion.addprevious(evil)
    return root


ASSERTION_VARIANTS = ["xsw3", "xsw4", "xsw5", "xsw6", "xsw7", "xsw8", "same_id"]
CASES = [(v, "both") for v in ["xsw1", "xsw2", *ASSERTION_VARIANTS]] + [
    (v, "assertion") for v in ASSERTION_VARIANTS
]


@pytest.mark.parametrize(("variant", "sign"), CASES)
def test_signature_wrapping_is_refused(sims, acs, mallory, variant, sign):
    root = xsw(variant, legit(sims, mallory, sign))
    r = post_acs(acs, encode(root))
    assert r.status_code >= 400
    code = r.text.split('id="code">', 1)[1].split("<", 1)[0]
    assert code in ("0xB003", "0xE5509"), code
    assert_rejected(sims, r, code)


def clear_user_sessions(sims) -> None:
    state = sims.control.export_state()
    state["sims"]["zia"]["tenants"][ORG]["saml"]["sessions"] = []
    sims.control.import_state(state)


def test_the_attackers_own_response_is_accepted_as_the_attacker(sims, acs, mallory):
    """The control case: the untouched Response signs mallory in as mallory, never as alice."""
    r = post_acs(acs, encode(legit(sims, mallory)))
    assert r.status_code == 303
    assert [s["login"] for s in user_sessions(sims)] == [MALLORY]


@pytest.mark.parametrize(
    ("mode", "code", "reason"),
    [
        ("unsigned", "0xB003", "unsigned"),
        ("wrong_key", "0xB003", "bad_signature"),
        ("tampered", "0xE5509", "tampered"),
        ("expired", "0xB004", "expired"),
        ("not_yet_valid", "0xB004", "not_yet_valid"),
        ("wrong_audience", "0xB003", "wrong_audience"),
        ("wrong_recipient", "0xB003", "wrong_recipient"),
        ("wrong_destination", "0xB003", "wrong_destination"),
        ("wrong_issuer", "0xB003", "wrong_issuer"),
    ],
)
def test_broken_responses_from_the_idp_are_refused(sims, acs, mode, code, reason):
    sims.control.post(f"{IDP_DIR}/apps/{APP}/break", {"mode": mode})
    assert_rejected(sims, post_acs(acs, mint(sims, ALICE[0])["saml_response"]), code, reason)


def test_partially_signed_responses_are_refused(sims, acs):
    key, cert = idp_signing(sims)
    # only the AttributeStatement is signed (the signature sits in the assertion but covers a child)
    root = legit(sims, ALICE[0], sign="assertion")
    assertion = root.find("saml:Assertion", sk.NS)
    assertion.remove(assertion.find("ds:Signature", sk.NS))
    statement = assertion.find("saml:AttributeStatement", sk.NS)
    statement.set("ID", "_attrs")
    signer = XMLSigner(c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    ph = etree.Element(f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    assertion.find("saml:Issuer", sk.NS).addnext(ph)
    signed = signer.sign(root, key=key, cert=[cert], reference_uri="#_attrs")
    assert_rejected(sims, post_acs(acs, encode(signed)), "0xB003", "bad_reference")
    # a signed assertion whose Response-level signature was stripped and whose subject was swapped
    root = legit(sims, ALICE[0])
    if root.find("ds:Signature", sk.NS) is not None:
        root.remove(root.find("ds:Signature", sk.NS))
    root.find(".//saml:NameID", sk.NS).text = "carol.eng@safemarch.example"
    assert_rejected(sims, post_acs(acs, encode(root)), "0xE5509", "tampered")


def test_inclusive_canonicalization_is_0xE5505(sims, acs):
    key, cert = idp_signing(sims)
    root = legit(sims, ALICE[0], sign="assertion")
    assertion = root.find("saml:Assertion", sk.NS)
    assertion.remove(assertion.find("ds:Signature", sk.NS))
    ph = etree.Element(f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    assertion.find("saml:Issuer", sk.NS).addnext(ph)
    signed = XMLSigner().sign(root, key=key, cert=[cert], reference_uri="#" + assertion.get("ID"))  # C14N 1.1
    assert_rejected(sims, post_acs(acs, encode(signed)), "0xE5505", "c14n")


def test_more_than_20_certificates_is_0xE5504(sims, acs):
    root = legit(sims, ALICE[0])
    data = root.find("ds:Signature/ds:KeyInfo/ds:X509Data", sk.NS)  # KeyInfo is not signed
    for _ in range(21):
        data.append(copy.deepcopy(data[0]))
    assert_rejected(sims, post_acs(acs, encode(root)), "0xE5504", "too_many_certificates")


def test_expired_on_the_sim_clock_and_skew(sims, acs):
    minted = mint(sims, ALICE[0])  # NotOnOrAfter = now + 300, skew 60
    sims.control.clock.advance(359)
    ok = post_acs(acs, minted["saml_response"])
    assert ok.status_code == 303
    clear_user_sessions(sims)
    second = mint(sims, ALICE[0])
    sims.control.clock.advance(361)
    assert_rejected(sims, post_acs(acs, second["saml_response"]), "0xB004", "expired")


def test_replayed_assertions_are_refused(sims, acs):
    minted = mint(sims, ALICE[0])["saml_response"]
    assert post_acs(acs, minted).status_code == 303
    clear_user_sessions(sims)  # so that the check below sees the replay open none
    assert_rejected(sims, post_acs(acs, minted), "0xE5509", "replayed")
    assert_rejected(sims, post_acs(f"{acs}/{ORG}", minted), "0xE5509", "replayed")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"
  Version="2.0">&xxe;</samlp:Response>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"
  Version="2.0">&lol4;</samlp:Response>"""


@pytest.mark.parametrize(
    "document",
    [
        XXE,
        LAUGHS,
        XXE.decode().replace('version="1.0"?>', 'version="1.0" encoding="UTF-16"?>').encode("utf-16"),
    ],
    ids=["xxe", "billion-laughs", "xxe-utf16"],
)
def test_xxe_and_entity_expansion_are_refused(sims, acs, document):
    assert_rejected(sims, post_acs(acs, encode(document)), "0xE5509")
    code_reason = sims.control.journal.entries(sim="zia", path="/sfc_sso", limit=1)[0]["note"]
    assert "doctype" in code_reason


def test_a_doctype_in_a_signed_response_is_refused(sims, acs):
    data = base64.b64decode(mint(sims, ALICE[0])["saml_response"])
    data = data.replace(b"?>", b'?><!DOCTYPE r [<!ENTITY a "x">]>', 1)
    assert_rejected(sims, post_acs(acs, encode(data)), "0xE5509", "doctype")


def test_comments_inside_the_nameid_are_refused(sims, acs):
    login = "alice.admin@safemarch.example.evil.example"
    sims.control.post(f"{IDP_DIR}/users", {"login": login, "password": "Evil-Passw0rd!"})
    sims.control.put(f"{IDP_DIR}/roles/Zscaler Users", {"members": [login]})
    data = base64.b64decode(mint(sims, login)["saml_response"])
    # still validly signed (exclusive C14N drops comments), but .text would now read alice's login
    data = data.replace(b"alice.admin@safemarch.example.evil", b"alice.admin@safemarch.example<!---->.evil")
    assert etree.fromstring(data).find(".//saml:NameID", sk.NS).text == ALICE[0]
    assert_rejected(sims, post_acs(acs, encode(data)), "0xE5509", "tampered")


def test_huge_documents_are_refused(sims, acs):
    root = legit(sims, ALICE[0])
    pad = etree.SubElement(root.find("saml:Assertion/saml:AttributeStatement", sk.NS), f"{{{A}}}Attribute")
    pad.set("Name", "padding")
    pad.text = "x" * 400_000
    assert_rejected(sims, post_acs(acs, encode(root)), "0xE5509", "too_large")
    with browser() as c:  # over the ACS's form limit (1 MiB)
        r = c.post(acs, data={"SAMLResponse": "A" * 1_200_000})
    assert r.status_code == 413 and user_sessions(sims) == []


def test_malformed_posts(sims, acs):
    assert_rejected(sims, post_acs(acs, "not base64!!"), "0xE5509", "bad_encoding")
    assert_rejected(sims, post_acs(acs, encode(b"<a>unclosed")), "0xE5509", "malformed")
    assert_rejected(
        sims, post_acs(acs, encode(b"<x:AuthnRequest xmlns:x='urn:x'/>")), "0xE5509", "not_response"
    )
    with browser() as c:
        r = c.post(acs, data={"RelayState": "x"})
        assert r.status_code == 400 and "missing_response" in r.text
        r = c.post(acs, json={"SAMLResponse": "x"})
        assert r.status_code == 415


@pytest.fixture
def flow(sims):
    with browser() as c:
        yield Flow(sims.url("zia"), sims.url("idp"), c)


def _sp_response(flow: Flow, sims=None, wait: float = 0) -> tuple[str, dict[str, str]]:
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start", params={"login_name": ALICE[0]})
    if wait:
        sims.control.clock.advance(wait)
    page = flow.client.get(r.headers["location"])
    if "SAMLResponse" not in page.text:
        page = sign_in_at_idp(flow, page, ALICE)
    return hidden_form(page.text)


def test_sp_initiated_relay_state_and_request_age(sims, flow):
    action, fields = _sp_response(flow)
    assert_rejected(sims, post_acs(action, fields["SAMLResponse"]), "0xE5501", "relay_state_missing")
    assert_rejected(
        sims, post_acs(action, fields["SAMLResponse"], "forged"), "0xE550B", "relay_state_invalid"
    )
    action, fields = _sp_response(flow, sims, wait=601)  # older than saml_request_lifetime at the ACS
    assert_rejected(sims, post_acs(action, fields["SAMLResponse"], fields["RelayState"]), "0xE550C")
    unknown = mint(sims, ALICE[0], in_response_to="_never_sent")
    assert_rejected(sims, post_acs(action, unknown["saml_response"], "x"), "0xE550C", "request_too_old")


def test_login_name_checks(sims, acs):
    def patch(change: dict) -> None:
        sims.control.http.patch(f"{ZIA_ADMIN}/idps/1", json=change).raise_for_status()
        sims.control.post(f"{ZIA_ADMIN}/activate")

    patch({"login_name_attribute": "mail"})
    assert_rejected(
        sims, post_acs(acs, mint(sims, ALICE[0])["saml_response"]), "0xB0090", "login_name_missing"
    )
    patch({"login_name_attribute": "displayName"})
    assert_rejected(
        sims, post_acs(acs, mint(sims, ALICE[0])["saml_response"]), "0xA021", "login_name_invalid"
    )
    patch({"login_name_attribute": "NameID"})
    for login, code in (("zed@other.example", "0xA020"), ("z" * 120 + "@safemarch.example", "0xA02B")):
        sims.control.post(f"{IDP_DIR}/users", {"login": login, "password": "Zed-Passw0rd!"})
        sims.control.put(f"{IDP_DIR}/roles/Zscaler Users", {"members": [login]})
        assert_rejected(sims, post_acs(acs, mint(sims, login)["saml_response"]), code)


def test_a_response_for_another_tenant_audience_is_refused_at_the_org_endpoint(sims, acs):
    sims.control.http.patch(
        f"{IDP_DIR}/apps/{APP}", json={"sp_entity_id": "zscalertwo.net"}
    ).raise_for_status()
    assert_rejected(
        sims, post_acs(f"{acs}/{ORG}", mint(sims, ALICE[0])["saml_response"]), "0xB003", "wrong_audience"
    )
