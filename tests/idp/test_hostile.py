"""Hostile and malformed token requests: each gets the exact RFC 6749 error and changes nothing."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.idp.conftest import OKTA_CLIENT, ZIA_SCOPE

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def okta(servers) -> dict:
    return servers["okta"]


def post(url: str, body: str | bytes, *, ctype: str | None = FORM, auth=None, headers=None) -> httpx.Response:
    h = {"Content-Type": ctype} if ctype else {}
    return httpx.post(url, content=body, headers={**h, **(headers or {})}, auth=auth)


def issued(sims) -> int:
    return sims.control.sim("idp", "/authorization-servers/okta", method="GET")["tokens_issued"]


def expect(r: httpx.Response, status: int, error: str, description: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description
    assert r.headers["cache-control"] == "no-store"
    return body


def test_missing_grant_type(okta):
    r = post(okta["token_endpoint"], "scope=x", auth=OKTA_CLIENT)
    expect(r, 400, "invalid_request", "The request is missing a required parameter: 'grant_type'.")


def test_duplicate_parameters_are_refused(okta):
    r = post(okta["token_endpoint"], "grant_type=client_credentials&scope=a&scope=b", auth=OKTA_CLIENT)
    expect(r, 400, "invalid_request", "The 'scope' parameter is included more than once")
    r = post(
        okta["token_endpoint"],
        "grant_type=client_credentials&grant_type=client_credentials",
        auth=OKTA_CLIENT,
    )
    expect(r, 400, "invalid_request")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "multipart/form-data; boundary=x", None])
def test_wrong_content_type(okta, ctype):
    r = post(okta["token_endpoint"], '{"grant_type": "client_credentials"}', ctype=ctype, auth=OKTA_CLIENT)
    expect(r, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")


def test_form_with_charset_is_accepted(okta):
    r = post(
        okta["token_endpoint"],
        "grant_type=client_credentials",
        ctype=f"{FORM};charset=UTF-8",
        auth=OKTA_CLIENT,
    )
    assert r.status_code == 200


def test_huge_body(sims, okta):
    before = issued(sims)
    r = post(okta["token_endpoint"], "grant_type=client_credentials&pad=" + "a" * 20_000, auth=OKTA_CLIENT)
    expect(r, 413, "invalid_request", "The request body exceeds 16384 bytes")
    assert issued(sims) == before


def test_body_that_is_not_a_form(okta):
    r = post(okta["token_endpoint"], b"\xff\xfe\x00garbage", auth=OKTA_CLIENT)
    expect(r, 400, "invalid_request")
    r = post(okta["token_endpoint"], "grant_type", auth=OKTA_CLIENT)  # a field without '='
    expect(r, 400, "invalid_request")


def test_unknown_client(okta):
    r = post(okta["token_endpoint"], "grant_type=client_credentials", auth=("nobody", "x"))
    expect(r, 401, "invalid_client", "The client_id is not found or is not valid.")
    assert r.headers["www-authenticate"] == 'Basic realm="sims"'


def test_wrong_secret(sims, okta):
    before = issued(sims)
    r = post(okta["token_endpoint"], "grant_type=client_credentials", auth=(OKTA_CLIENT[0], "wrong"))
    expect(r, 401, "invalid_client", "The client secret supplied for a confidential client is invalid.")
    r = post(
        okta["token_endpoint"], f"grant_type=client_credentials&client_id={OKTA_CLIENT[0]}&client_secret=no"
    )
    expect(r, 401, "invalid_client")
    assert issued(sims) == before


def test_no_client_authentication(okta):
    r = post(okta["token_endpoint"], f"grant_type=client_credentials&client_id={OKTA_CLIENT[0]}")
    expect(r, 401, "invalid_client")
    r = post(okta["token_endpoint"], "grant_type=client_credentials")
    expect(r, 401, "invalid_client")


def test_two_authentication_methods_at_once(okta):
    body = f"grant_type=client_credentials&client_id={OKTA_CLIENT[0]}&client_secret={OKTA_CLIENT[1]}"
    r = post(okta["token_endpoint"], body, auth=OKTA_CLIENT)
    expect(r, 400, "invalid_request", "The client used more than one authentication method")


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic"]
)
def test_malformed_basic_header(okta, header):
    r = post(okta["token_endpoint"], "grant_type=client_credentials", headers={"Authorization": header})
    expect(r, 401, "invalid_client")


def test_urlencoded_basic_credentials_are_accepted(sims_world_factory, tmp_path):
    """RFC 6749 §2.3.1 form-encodes Basic credentials; authlib sends them raw. Both must work."""
    world = tmp_path / "w.yaml"
    world.write_text(
        "idp: {authorization_servers: [{id: g, clients: "
        "[{client_id: 'zia client', client_secret: 's3c/ret+&=', scopes: [a]}]}]}"
    )
    w = sims_world_factory(world)
    url = w.info["sims"]["idp"]["authorization_servers"][0]["token_endpoint"]
    raw = post(url, "grant_type=client_credentials", auth=("zia client", "s3c/ret+&="))
    encoded = post(url, "grant_type=client_credentials", auth=("zia+client", "s3c%2Fret%2B%26%3D"))
    assert raw.status_code == encoded.status_code == 200


def test_unsupported_grant(okta):
    for grant in ("password", "authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        r = post(okta["token_endpoint"], f"grant_type={grant}", auth=OKTA_CLIENT)
        expect(r, 400, "unsupported_grant_type")


def test_scope_the_client_may_not_have(sims, okta):
    before = issued(sims)
    r = post(
        okta["token_endpoint"],
        "grant_type=client_credentials&scope=zscloud.net::999::Admin",
        auth=OKTA_CLIENT,
    )
    expect(
        r,
        400,
        "invalid_scope",
        "One or more scopes are not configured for the authorization server resource.",
    )
    mixed = f"grant_type=client_credentials&scope={ZIA_SCOPE} other"
    expect(post(okta["token_endpoint"], mixed, auth=OKTA_CLIENT), 400, "invalid_scope")
    assert issued(sims) == before


def test_entra_requires_dot_default(servers):
    entra = servers["entra"]
    c = entra["clients"][0]
    r = httpx.post(
        entra["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "scope": ZIA_SCOPE,
        },
    )
    body = expect(r, 400, "invalid_scope")
    assert body["error_codes"] == [1002012]
    r = httpx.post(
        entra["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": "nobody",
            "client_secret": "x",
            "scope": "api://zia-api/.default",
        },
    )
    body = expect(r, 400, "unauthorized_client")  # Entra answers an unknown app with AADSTS700016
    assert body["error_codes"] == [700016]


def test_unknown_authorization_server_and_wrong_flavour_path(sims, okta):
    r = post(f"{sims.url('idp')}/oauth2/nope/v1/token", "grant_type=client_credentials", auth=OKTA_CLIENT)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = post(f"{sims.url('idp')}/okta/as/token.oauth2", "grant_type=client_credentials", auth=OKTA_CLIENT)
    assert r.status_code == 404  # the Okta server is not served at PingFederate's path
    r = httpx.get(okta["token_endpoint"])
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


# -- private_key_jwt: forged, expired, replayed and alg-confused assertions -----------------------


@pytest.fixture
def automation(okta) -> dict:
    return next(c for c in okta["clients"] if c["client_id"] == "zia-automation")


def assertion_form(token: str) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": token,
    }


def claims_for(sims, okta, **override) -> dict:
    now = int(sims.control.clock.now())
    base = {
        "iss": "zia-automation",
        "sub": "zia-automation",
        "aud": okta["token_endpoint"],
        "iat": now,
        "exp": now + 300,
        "jti": f"j-{now}-{len(override)}-{sorted(override)}",
    }
    return {**base, **override}


def test_assertion_signed_by_another_key(sims, okta):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims_for(sims, okta), other, algorithm="RS256")
    body = expect(httpx.post(okta["token_endpoint"], data=assertion_form(token)), 401, "invalid_client")
    assert "signature" in body["error_description"]


def test_assertion_alg_none_and_hs256_with_the_public_key(sims, okta, automation):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims_for(sims, okta)).encode()).rstrip(b"=")
    unsigned = (header + b"." + payload + b".").decode()
    expect(httpx.post(okta["token_endpoint"], data=assertion_form(unsigned)), 401, "invalid_client")

    from cryptography.hazmat.primitives import serialization

    pub = serialization.load_pem_private_key(automation["private_key_pem"].encode(), None).public_key()
    pub_pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    import hmac

    signing_input = (
        base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
        + b"."
        + payload
    )
    mac = base64.urlsafe_b64encode(hmac.new(pub_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    confused = (signing_input + b"." + mac).decode()
    expect(httpx.post(okta["token_endpoint"], data=assertion_form(confused)), 401, "invalid_client")


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"exp": 1}, "expired"),
        ({"aud": "https://elsewhere.example/token"}, "aud"),
        ({"sub": "someone-else"}, "iss and sub"),
    ],
)
def test_assertion_claims_are_checked_on_the_sim_clock(sims, okta, automation, override, reason):
    token = jwt.encode(claims_for(sims, okta, **override), automation["private_key_pem"], algorithm="RS256")
    body = expect(httpx.post(okta["token_endpoint"], data=assertion_form(token)), 401, "invalid_client")
    assert reason in body["error_description"]


def test_assertion_expires_when_the_clock_moves(sims, okta, automation):
    token = jwt.encode(claims_for(sims, okta), automation["private_key_pem"], algorithm="RS256")
    sims.control.clock.advance(301)
    expect(httpx.post(okta["token_endpoint"], data=assertion_form(token)), 401, "invalid_client")


def test_assertion_type_and_garbage(okta):
    r = httpx.post(
        okta["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_assertion": "x.y.z",
            "client_assertion_type": "urn:bogus",
        },
    )
    expect(r, 401, "invalid_client")
    r = httpx.post(okta["token_endpoint"], data=assertion_form("not-a-jwt"))
    expect(r, 401, "invalid_client")


def test_secret_client_may_not_use_assertions_and_vice_versa(sims, okta, automation):
    r = httpx.post(
        okta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=("zia-automation", "x")
    )
    expect(r, 401, "invalid_client")
