"""Interop with real SAML libraries.

The IdP's Responses are accepted by python3-saml, pysaml2 and @node-saml/node-saml acting as service
providers configured from the IdP's metadata, each sending signed AuthnRequests (HTTP-Redirect and
HTTP-POST, SHA-1 and SHA-256) that the IdP verifies; and a pysaml2 IdP signs users into the fake ZIA
(SP-initiated, verifying ZIA's signed AuthnRequest, and IdP-initiated), with auto-provisioning.

The libraries check times against the real clock, so each test sets the sim clock to real time.
node-saml is installed by npm into ``.node/`` (not tracked) on first use; pysaml2 needs Debian's
``xmlsec1``. ``./dev test`` installs both.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sims import samlkit as sk
from sims.core.keys import cert_pem, private_pem, rsa_key, self_signed_cert
from tests.saml.helpers import (
    ALICE,
    BOB,
    IDP_DIR,
    ORG,
    ZIA_ADMIN,
    Flow,
    browser,
    hidden_form,
    sign_in_at_idp,
    user_sessions,
    zia_admin_client,
)

pytestmark = pytest.mark.interop
REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / ".node"
NODE_SAML = "@node-saml/node-saml@5.1.0"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
SP_KEY = rsa_key("sims-interop-sp")
SP_CERT = self_signed_cert(SP_KEY, "interop-sp")
SP_CERT_PEM = cert_pem(SP_CERT).decode()
SP_KEY_PEM = private_pem(SP_KEY).decode()


@pytest.fixture
def real_time(sims):
    sims.control.clock.freeze(datetime.now(UTC))


def register_sp(sims, app_id: str, entity_id: str, acs: str) -> dict:
    """A generic SAML web app at the IdP for a library SP, which must sign its requests."""
    body = {
        "id": app_id,
        "template": "saml",
        "name": app_id,
        "sp_entity_id": entity_id,
        "acs_url": acs,
        "roles": ["Zscaler Users"],
        "require_signed_requests": True,
        "sp_certificate": SP_CERT_PEM,
    }
    return sims.control.post(f"{IDP_DIR}/apps", body)


def walk(flow: Flow, first, user=ALICE) -> dict[str, str]:
    """From the SP's redirect (or POST form) through the IdP's sign-in to the auto-posting form."""
    page = first() if callable(first) else flow.client.get(first)
    assert page.status_code == 200 and 'id="login"' in page.text, page.text[:400]
    done = sign_in_at_idp(flow, page, user)
    action, fields = hidden_form(done.text)
    assert "SAMLResponse" in fields, done.text[:400]
    return {"action": action, **fields}


def _write(tmp_path: Path, name: str, data: str) -> str:
    path = tmp_path / name
    path.write_text(data)
    return str(path)


# -- python3-saml ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("binding", "alg"), [("redirect", "sha256"), ("redirect", "sha1"), ("post", "sha256")]
)
def test_python3_saml_sp(sims, real_time, binding, alg):
    from onelogin.saml2.auth import OneLogin_Saml2_Auth
    from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
    from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    entity, acs = "https://sp.python3-saml.example/metadata", "http://127.0.0.1:8081/python3-saml/acs"
    app = register_sp(sims, "python3-saml", entity, acs)
    with browser() as c:
        metadata = c.get(app["metadata_url"]).text
    idp = OneLogin_Saml2_IdPMetadataParser.parse(metadata)["idp"]
    sig = {"sha256": (C.RSA_SHA256, C.SHA256), "sha1": (C.RSA_SHA1, C.SHA1)}[alg]
    settings = {
        "strict": True,
        "sp": {
            "entityId": entity,
            "assertionConsumerService": {"url": acs, "binding": C.BINDING_HTTP_POST},
            "x509cert": SP_CERT_PEM,
            "privateKey": SP_KEY_PEM,
            "NameIDFormat": C.NAMEID_EMAIL_ADDRESS,
        },
        "idp": idp,
        "security": {
            "authnRequestsSigned": True,
            "signatureAlgorithm": sig[0],
            "digestAlgorithm": sig[1],
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "wantAttributeStatement": True,
        },
    }
    request_data = {
        "https": "off",
        "http_host": "127.0.0.1:8081",
        "script_name": "/python3-saml/acs",
        "get_data": {},
        "post_data": {},
    }
    with browser() as c:
        flow = Flow(sims.url("zia"), sims.url("idp"), c)
        if binding == "redirect":
            auth = OneLogin_Saml2_Auth(dict(request_data), settings)
            url = auth.login(return_to="p3s-relay")
            request_id = auth.get_last_request_id()
            posted = walk(flow, url)
        else:
            st = OneLogin_Saml2_Settings(settings)
            request = OneLogin_Saml2_Authn_Request(st)
            request_id = request.get_id()
            signed = OneLogin_Saml2_Utils.add_sign(
                request.get_xml(), SP_KEY_PEM, SP_CERT_PEM, sign_algorithm=sig[0], digest_algorithm=sig[1]
            )
            form = {"SAMLRequest": OneLogin_Saml2_Utils.b64encode(signed), "RelayState": "p3s-relay"}
            posted = walk(flow, lambda: c.post(idp["singleSignOnService"]["url"], data=form))
    assert posted["action"] == acs and posted["RelayState"] == "p3s-relay"
    auth = OneLogin_Saml2_Auth({**request_data, "post_data": posted}, settings)
    auth.process_response(request_id=request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated() and auth.get_nameid() == ALICE[0]
    assert auth.get_attributes() == {
        "displayName": ["Alice Admin"],
        "email": [ALICE[0]],
        "memberOf": ["Zscaler Users", "Zscaler Admins"],
    }


# -- pysaml2 ---------------------------------------------------------------------------------------
def _pysaml2_sp(tmp_path: Path, entity: str, acs: str, metadata: str):
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    cfg = SPConfig()
    cfg.load(
        {
            "entityid": entity,
            "xmlsec_binary": XMLSEC1,
            "allow_unknown_attributes": True,
            "key_file": _write(tmp_path, "sp.key", SP_KEY_PEM),
            "cert_file": _write(tmp_path, "sp.crt", SP_CERT_PEM),
            "metadata": {"inline": [metadata]},
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                    "want_response_signed": True,
                    "want_assertions_signed": True,
                    "allow_unsolicited": False,
                    "authn_requests_signed": True,
                }
            },
        }
    )
    return Saml2Client(config=cfg)


@pytest.mark.skipif(
    not Path(XMLSEC1).exists(), reason="pysaml2 needs Debian's xmlsec1 (./dev test installs it)"
)
@pytest.mark.parametrize(("binding", "alg"), [("redirect", "sha1"), ("post", "sha256")])
def test_pysaml2_sp(sims, real_time, tmp_path, binding, alg):
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

    entity, acs = "https://sp.pysaml2.example/metadata", "http://127.0.0.1:8082/pysaml2/acs"
    app = register_sp(sims, "pysaml2", entity, acs)
    with browser() as c:
        metadata = c.get(app["metadata_url"]).text
    client = _pysaml2_sp(tmp_path, entity, acs, metadata)
    sigalg, digest = {"sha1": (SIG_RSA_SHA1, DIGEST_SHA1), "sha256": (SIG_RSA_SHA256, DIGEST_SHA256)}[alg]
    with browser() as c:
        flow = Flow(sims.url("zia"), sims.url("idp"), c)
        if binding == "redirect":
            request_id, info = client.prepare_for_authenticate(
                entityid=app["idp_entity_id"],
                relay_state="py2-relay",
                binding=BINDING_HTTP_REDIRECT,
                sign=True,
                sigalg=sigalg,
                digest_alg=digest,
            )
            posted = walk(flow, dict(info["headers"])["Location"])
        else:
            request_id, info = client.prepare_for_authenticate(
                entityid=app["idp_entity_id"],
                relay_state="py2-relay",
                binding=BINDING_HTTP_POST,
                sign=True,
                sigalg=sigalg,
                digest_alg=digest,
            )
            action, fields = _form(info["data"])
            posted = walk(flow, lambda: c.post(action, data=fields))
    response = client.parse_authn_request_response(
        posted["SAMLResponse"], BINDING_HTTP_POST, outstanding={request_id: "/"}
    )
    assert response is not None and response.name_id.text == ALICE[0]
    identity = response.get_identity()
    assert identity["memberOf"] == ["Zscaler Users", "Zscaler Admins"]
    assert identity["displayName"] == ["Alice Admin"]


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)"\s+value="([^"]*)"', page)}
    return action, fields


# -- @node-saml/node-saml ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def node_saml() -> Path:
    """node-saml in .node/ (installed by npm on first use, reused afterwards)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the node-saml interop test")
    marker = NODE_DIR / "node_modules" / "@node-saml" / "node-saml" / "package.json"
    if not marker.exists():
        NODE_DIR.mkdir(exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(NODE_DIR),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                NODE_SAML,
            ],
            check=True,
            timeout=300,
            capture_output=True,
        )
    return NODE_DIR


@pytest.mark.parametrize(("binding", "alg"), [("HTTP-Redirect", "sha256"), ("HTTP-POST", "sha1")])
def test_node_saml_sp(sims, real_time, node_saml, binding, alg):
    entity, acs = "https://sp.node-saml.example/metadata", "http://127.0.0.1:8083/node-saml/acs"
    app = register_sp(sims, "node-saml", entity, acs)
    script = Path(__file__).with_name("node") / "node_saml_sp.js"
    env = {"NODE_PATH": str(node_saml / "node_modules"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        ["node", str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        options = {
            "callbackUrl": acs,
            "entryPoint": app["saml_portal_url"],
            "issuer": entity,
            "idpCert": app["signing_certificate"]["pem"],
            "privateKey": SP_KEY_PEM,
            "signatureAlgorithm": alg,
            "binding": binding,
            "relayState": "node-relay",
        }
        proc.stdin.write(json.dumps(options) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        with browser() as c:
            flow = Flow(sims.url("zia"), sims.url("idp"), c)
            if "url" in first:
                posted = walk(flow, first["url"])
            else:
                action, fields = _form(first["form"])
                posted = walk(flow, lambda: c.post(action, data=fields))
        proc.stdin.write(
            json.dumps({"SAMLResponse": posted["SAMLResponse"], "RelayState": posted["RelayState"]})
        )
        proc.stdin.write("\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert result["ok"], result
    profile = result["profile"]
    assert profile["nameID"] == ALICE[0] and profile["memberOf"] == ["Zscaler Users", "Zscaler Admins"]
    assert profile["issuer"] == app["idp_entity_id"]
    notes = [e["note"] for e in sims.control.journal.entries(sim="idp") if e["note"]]
    assert any("SP-initiated" in n and "node-saml" in n for n in notes)


# -- a pysaml2 IdP signs users into the fake ZIA ---------------------------------------------------
@pytest.mark.skipif(
    not Path(XMLSEC1).exists(), reason="pysaml2 needs Debian's xmlsec1 (./dev test installs it)"
)
def test_pysaml2_idp_signs_users_into_zia(sims, real_time, tmp_path):
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.config import IdPConfig
    from saml2.response import IncorrectlySigned
    from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.server import Server

    zia = sims.url("zia")
    idp_entity, sso = "https://idp.pysaml2.example/idp", "https://idp.pysaml2.example/sso/redirect"
    idp_key = rsa_key("sims-interop-pysaml2-idp")
    idp_cert = cert_pem(self_signed_cert(idp_key, "pysaml2-idp")).decode()
    # ZIA: Add IdP for the pysaml2 IdP (for logins of safemarch.example), sign SAML requests with SHA-2
    form = {
        "name": "pysaml2",
        "saml_portal_url": sso,
        "certificate": idp_cert,
        "issuer": idp_entity,
        "authentication_domains": ["safemarch.example"],
        "sign_saml_request": True,
        "signature_algorithm": "SHA-2",
        "auto_provisioning": True,
        # pysaml2's basic attribute map renames displayName on the wire; ZIA's field says what to read
        "display_name_attribute": "urn:mace:dir:attribute-def:displayName",
    }
    created = sims.control.post(f"{ZIA_ADMIN}/idps", form)
    sims.control.post(f"{ZIA_ADMIN}/activate")
    with browser() as c:
        sp_metadata = c.get(f"{zia}/sim/v1/{ORG}/sp-metadata", params={"idp": created["id"]}).text
    cfg = IdPConfig()
    cfg.load(
        {
            "entityid": idp_entity,
            "xmlsec_binary": XMLSEC1,
            "key_file": _write(tmp_path, "idp.key", private_pem(idp_key).decode()),
            "cert_file": _write(tmp_path, "idp.crt", idp_cert),
            "metadata": {"inline": [sp_metadata]},
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT)]},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "want_authn_requests_signed": True,
                    "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
                }
            },
        }
    )
    server = Server(config=cfg)
    identity = {
        "displayName": ["Frank Field"],
        "memberOf": ["Field Ops", "Zscaler Users"],
        "department": ["Field"],
    }
    login = "frank.field@safemarch.example"

    def respond(in_response_to: str | None) -> str:
        response = server.create_authn_response(
            identity,
            in_response_to=in_response_to,
            destination=f"{zia}/sfc_sso",
            sp_entity_id="zscloud.net",
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=login),
            userid=login,
            authn={"class_ref": sk.AC_PASSWORD_PROTECTED},
            sign_response=True,
            sign_assertion=True,
        )
        return sk.base64.b64encode(str(response).encode()).decode()

    with browser() as c:
        # SP-initiated: ZIA sends the browser to the pysaml2 IdP with a signed AuthnRequest
        r = c.get(f"{zia}/sim/v1/{ORG}/sso/start", params={"login_name": login})
        location = r.headers["location"]
        assert location.startswith(sso + "?")
        query = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))
        from urllib.parse import unquote_plus

        def parse(relay_state: str):  # pysaml2 verifies the Redirect signature with ZIA's metadata cert
            return server.parse_authn_request(
                unquote_plus(query["SAMLRequest"]),
                BINDING_HTTP_REDIRECT,
                relay_state=relay_state,
                sigalg=unquote_plus(query["SigAlg"]),
                signature=unquote_plus(query["Signature"]),
            )

        request = parse(unquote_plus(query["RelayState"]))
        assert request.message.issuer.text == "zscloud.net"
        assert request.message.assertion_consumer_service_url == f"{zia}/sfc_sso"
        with pytest.raises(IncorrectlySigned):
            parse("another-relay-state")
        done = c.post(
            f"{zia}/sfc_sso",
            data={
                "SAMLResponse": respond(request.message.id),
                "RelayState": unquote_plus(query["RelayState"]),
            },
        )
        assert done.status_code == 303, done.text[:600]
        page = c.get(zia + done.headers["location"])
        assert 'id="display-name">Frank Field<' in page.text and 'id="idp">pysaml2<' in page.text, page.text[
            -900:
        ]
    # IdP-initiated (unsolicited) from the pysaml2 IdP
    with browser() as c:
        done = c.post(f"{zia}/sfc_sso", data={"SAMLResponse": respond(None)})
        assert done.status_code == 303, done.text[:600]
    with zia_admin_client(sims) as api:
        frank = next(u for u in api.get("/api/v1/users").json() if u["email"] == login)
    assert frank["department"]["name"] == "Field"
    assert [g["name"] for g in frank["groups"]] == ["Field Ops", "Zscaler Users"]
    assert [s["login"] for s in user_sessions(sims)] == [login, login]
    assert BOB  # the default world's other users are untouched by this IdP
