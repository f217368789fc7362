"""Hostile input to every SAML endpoint answers 4xx (or a page), never a 500 or a traceback."""

from __future__ import annotations

import base64
import random

from sims import samlkit as sk
from tests.saml.helpers import DIRECTORY, IDP_DIR, ORG, ZIA_ADMIN, browser

GARBAGE = [
    "",
    "%",
    "%zz",
    "A" * 5000,
    base64.b64encode(b"\x00\xff" * 100).decode(),
    base64.b64encode(sk.deflate(b"<samlp:AuthnRequest/>")).decode(),
    base64.b64encode(sk.deflate(b"<a xmlns='urn:oasis:names:tc:SAML:2.0:protocol'><b/></a>")).decode(),
    base64.b64encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' ID='x'/>").decode(),
    base64.b64encode(
        b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' "
        b"xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion' ID='r'><saml:Assertion ID='a'>"
        b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:SignedInfo/></ds:Signature>"
        b"</saml:Assertion></samlp:Response>"
    ).decode(),
]


def test_garbage_never_answers_500(sims):
    rng = random.Random(5)
    idp, zia = sims.url("idp"), sims.url("zia")
    app = sims.control.get(f"{IDP_DIR}/apps/zscaler")
    sso = app["saml_portal_url"]
    with browser() as c:
        for value in GARBAGE:
            noise = "".join(rng.choice("&=%+?;abc") for _ in range(20))
            requests = [
                ("GET", f"{sso}?SAMLRequest={value}&RelayState={noise}&SigAlg=x&Signature={value}", None),
                ("GET", f"{sso}?SAMLRequest={value}&SAMLRequest=x", None),
                ("POST", sso, {"SAMLRequest": value, "RelayState": noise}),
                ("POST", f"{idp}/{DIRECTORY}/login", {"ctx": value, "username": noise, "password": value}),
                ("GET", f"{idp}/{DIRECTORY}/run?appkey={value}", None),
                ("GET", f"{idp}/{DIRECTORY}/saasManage/DownloadSAMLMetadataForApp?appkey={noise}", None),
                ("POST", f"{zia}/sfc_sso", {"SAMLResponse": value, "RelayState": noise}),
                ("POST", f"{zia}/sfc_sso/{ORG}", {"SAMLResponse": value}),
                ("POST", f"{zia}/sfc_sso/{noise[:5]}", {"SAMLResponse": value}),
                ("GET", f"{zia}/sim/v1/{ORG}/sso/start?login_name={value[:200]}&return={noise}", None),
                ("GET", f"{zia}/sim/v1/{ORG}/sp-metadata?idp={noise[:4]}", None),
            ]
            for method, url, data in requests:
                r = c.request(method, url, data=data)
                assert r.status_code < 500, (method, url[:120], r.status_code, r.text[:200])
        r = c.post(
            f"{zia}/sfc_sso",
            content=b"SAMLResponse=\xff\xfe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 400
    for path, body in [
        (f"{IDP_DIR}/apps", {"id": 5}),
        (f"{IDP_DIR}/apps/zscaler/break", {"mode": "nope"}),
        (f"{IDP_DIR}/apps/zscaler/responses", {"user": "nobody@x"}),
        (f"{IDP_DIR}/apps/zscaler/sp-metadata", {"xml": "<x/>"}),
        (f"{ZIA_ADMIN}/idps", {"name": "x", "saml_portal_url": "idp:nope/x", "certificate": "idp:nope/x"}),
        (
            f"{ZIA_ADMIN}/idps",
            {"name": "x", "saml_portal_url": "ftp://x", "certificate": app["signing_certificate"]["pem"]},
        ),
        (f"{ZIA_ADMIN}/idps", []),
    ]:
        r = sims.control.http.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    for r in (
        sims.control.http.patch(f"{ZIA_ADMIN}/idps/1", json={"signature_algorithm": "MD5"}),
        sims.control.http.put(
            f"{ZIA_ADMIN}/authentication-profile", json={"authentication_type": "Kerberos"}
        ),
        sims.control.http.get(f"{ZIA_ADMIN}/idps/77"),
        sims.control.http.patch(f"{IDP_DIR}/apps/zscaler", json={"sign": "never"}),
    ):
        assert 400 <= r.status_code < 500, r.text
    assert not [e for e in sims.control.journal.entries(limit=10_000) if e["status"] >= 500]
