"""Bearer JWTs from an external OAuth 2.0 provider and from ZIdentity, verified against the JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.zia.conftest import MIMECAST_SCOPE, ORG, mint

QUOTA = "/api/v1/urlCategories/urlQuota"
NOT_AUTH = "NOT_AUTHENTICATED"


def get(zia: str, token: str, path: str = QUOTA) -> httpx.Response:
    return httpx.get(f"{zia}{path}", headers={"Authorization": f"Bearer {token}"})


def expect_401(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["code"] == NOT_AUTH
    assert reason in r.json()["message"]


def b64(obj) -> bytes:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def test_okta_token_for_the_mimecast_role(sims, zia):
    okta = next(s for s in sims.info["sims"]["idp"]["authorization_servers"] if s["id"] == "okta")
    token = httpx.post(
        okta["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=("mimecast-threat-share", "okta-mimecast-secret-3173833"),
    ).json()["access_token"]
    r = get(zia, token)
    assert r.status_code == 200 and r.json() == {"uniqueUrlsProvisioned": 0, "remainingUrlsQuota": 25000}
    assert get(zia, token, "/zia/api/v1/urlCategories/urlQuota").status_code == 200  # both prefixes


def test_jwks_is_fetched_over_http_and_cached(sims, zia):
    token = mint(sims, [MIMECAST_SCOPE])
    for _ in range(5):
        assert get(zia, token).status_code == 200
    fetches = sims.control.journal.entries(sim="idp", path="/oauth2/okta/v1/keys")
    assert len(fetches) == 1
    sims.control.clock.advance(301)  # past the 300 s JWKS cache period
    assert get(zia, token).status_code == 200
    assert len(sims.control.journal.entries(sim="idp", path="/oauth2/okta/v1/keys")) == 2
    view = sims.control.get(f"/sims/zia/tenants/{ORG}/authorization-servers")[0]
    assert view["last_successful_fetch"] == "2026-01-15T09:05:01.000Z"


def test_unknown_kid_triggers_a_refetch_after_rotation(sims, zia):
    assert get(zia, mint(sims, [MIMECAST_SCOPE])).status_code == 200
    sims.control.sim("idp", "/authorization-servers/okta/rotate-keys", {"grace_seconds": 60})
    fresh = mint(sims, [MIMECAST_SCOPE])  # signed with the new key ZIA has not cached yet
    assert get(zia, fresh).status_code == 200
    assert len(sims.control.journal.entries(sim="idp", path="/oauth2/okta/v1/keys")) == 2


def test_a_rotated_out_key_stops_verifying_once_zia_refetches(sims, zia):
    old = mint(sims, [MIMECAST_SCOPE])
    assert get(zia, old).status_code == 200
    sims.control.sim("idp", "/authorization-servers/okta/rotate-keys", {"grace_seconds": 60})
    sims.control.clock.advance(301)  # grace over and ZIA's cache expired
    expect_401(get(zia, old), "unknown key id")


def test_expired_and_not_yet_valid_tokens(sims, zia):
    token = mint(sims, [MIMECAST_SCOPE])
    assert get(zia, token).status_code == 200
    sims.control.clock.advance(3600)
    expect_401(get(zia, token), "expired")


def test_forged_signature(sims, zia):
    genuine = mint(sims, [MIMECAST_SCOPE])
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": header["kid"]})
    expect_401(get(zia, forged), "signature verification failed")
    tampered_claims = {**claims, "scp": ["zscloud.net::3173833::ReadOnly_Auditor"]}
    head, _, sig = genuine.split(".")
    tampered = f"{head}.{b64(tampered_claims).decode()}.{sig}"
    expect_401(get(zia, tampered), "signature verification failed")


def test_alg_none_and_hs256_signed_with_the_public_key(sims, zia):
    genuine = mint(sims, [MIMECAST_SCOPE])
    kid = jwt.get_unverified_header(genuine)["kid"]
    claims = jwt.decode(genuine, options={"verify_signature": False})
    unsigned = b".".join([b64({"alg": "none", "kid": kid}), b64(claims), b""]).decode()
    expect_401(get(zia, unsigned), "algorithm 'none'")
    jwks = httpx.get(sims.info["sims"]["idp"]["authorization_servers"][0]["jwks_uri"]).json()
    public = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = b64({"alg": "HS256", "kid": kid}) + b"." + b64(claims)
    mac = b64(hmac.new(public, signing_input, hashlib.sha256).digest())
    expect_401(get(zia, (signing_input + b"." + mac).decode()), "algorithm 'HS256'")


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_garbage_tokens(zia, garbage):
    expect_401(get(zia, garbage), "Invalid JWT")


def test_scope_naming_another_org_or_an_unknown_role(sims, zia):
    expect_401(get(zia, mint(sims, ["zscloud.net::999999::Mimecast_Threat_Share"])), "unknown cloud or org")
    expect_401(get(zia, mint(sims, ["zscaler.net::3173833::Mimecast_Threat_Share"])), "unknown cloud or org")
    expect_401(get(zia, mint(sims, ["zscloud.net::3173833::NoSuchRole"])), "not an API role")
    expect_401(get(zia, mint(sims, ["zscloud.net::3173833::Super Admin"])), "not an API role")
    expect_401(get(zia, mint(sims, ["just-a-scope"])), "no <cloud>::<org id>::<API role> scope")


def test_wrong_audience_issuer_and_client_id(sims, zia):
    servers = sims.control.get(f"/sims/zia/tenants/{ORG}/authorization-servers")
    okta = {k: servers[0][k] for k in ("name", "description", "enabled", "jwks_url", "audience", "issuer")}
    token = mint(sims, [MIMECAST_SCOPE])

    def configure(**changes):
        sims.control.put(f"/sims/zia/tenants/{ORG}/authorization-servers", [{**okta, **changes}])

    configure(audience="api://somebody-else")
    expect_401(get(zia, token), "audience does not match")
    configure(issuer="https://other-issuer.example")
    expect_401(get(zia, token), "issuer does not match")
    configure(client_id="not-this-client")
    expect_401(get(zia, token), "client id does not match")
    configure(client_id="zia-automation")
    assert get(zia, token).status_code == 200
    configure(enabled=False)
    expect_401(get(zia, token), "no authorization server is enabled")


def test_entra_tokens_once_the_entra_server_is_enabled(sims, zia):
    entra = next(s for s in sims.info["sims"]["idp"]["authorization_servers"] if s["id"] == "entra")
    client = entra["clients"][0]
    token = httpx.post(
        entra["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": f"{entra['audience']}/.default",
        },
    ).json()["access_token"]
    expect_401(get(zia, token), "unknown key id")  # OktaZIA is the enabled server
    sims.control.put(
        f"/sims/zia/tenants/{ORG}/authorization-servers",
        [
            {"name": "OktaZIA", "enabled": False, "jwks_url": "idp:okta"},
            {"name": "EntraZIA", "enabled": True, "jwks_url": "idp:entra", "audience": entra["audience"]},
        ],
    )
    assert get(zia, token).status_code == 200  # the role came in the `roles` claim


def test_at_most_one_enabled_and_two_servers(sims):
    path = f"/sims/zia/tenants/{ORG}/authorization-servers"
    two_enabled = [{"name": "A", "jwks_url": "idp:okta"}, {"name": "B", "jwks_url": "idp:entra"}]
    r = sims.control.http.put(path, json=two_enabled)
    assert r.status_code == 400 and "one" in r.json()["error"]
    three = [{"name": n, "enabled": False, "jwks_url": "idp:okta"} for n in "ABC"]
    assert sims.control.http.put(path, json=three).status_code == 400
    bad_name = [{"name": "has space", "jwks_url": "idp:okta"}]
    assert sims.control.http.put(path, json=bad_name).status_code == 400
    r = sims.control.http.post(f"{path}/validate", json={"jwks_url": "http://127.0.0.1:9/nothing"})
    assert r.status_code == 400
    assert sims.control.post(f"{path}/validate", {"jwks_url": "idp:okta"})["kids"]


def test_oneapi_token_from_zidentity(sims, zia, tenant):
    one = tenant["oneapi"]
    token = httpx.post(
        one["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": one["client_id"],
            "client_secret": one["client_secret"],
            "audience": one["audience"],
        },
    ).json()["access_token"]
    assert get(zia, token, "/zia/api/v1/status").json() == {"status": "ACTIVE"}


def test_oneapi_gateway_401_shape(zia):
    r = get(zia, "garbage", "/zia/api/v1/status")
    assert r.status_code == 401
    assert r.json() == {"detail": "unauthorized", "type": "", "title": "", "status": ""}
    assert "Invalid JWT" in r.headers["x-sims-auth-error"]
