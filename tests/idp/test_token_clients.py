"""Real OAuth clients get tokens, and the tokens verify against the published JWKS."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from tests.idp.conftest import OKTA_CLIENT, ZIA_SCOPE


def verify(token: str, server: dict, **kw) -> dict:
    """Verify like a resource server: key by kid from the JWKS, RS256, audience and issuer."""
    jwks = httpx.get(server["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    # The sim's clock is frozen in the past, so expiry is checked against the sim clock separately.
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=server["audience"],
        issuer=server["issuer"],
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        **kw,
    )


def test_authlib_client_secret_basic(servers):
    okta = servers["okta"]
    client = AuthlibSession(*OKTA_CLIENT, token_endpoint_auth_method="client_secret_basic", scope=ZIA_SCOPE)
    token = client.fetch_token(okta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == ZIA_SCOPE
    claims = verify(token["access_token"], okta)
    assert claims["scp"] == [ZIA_SCOPE]
    assert claims["cid"] == claims["sub"] == OKTA_CLIENT[0]
    assert claims["exp"] - claims["iat"] == token["expires_in"] == 3600


def test_authlib_client_secret_post(servers):
    okta = servers["okta"]
    client = AuthlibSession(*OKTA_CLIENT, token_endpoint_auth_method="client_secret_post", scope=ZIA_SCOPE)
    token = client.fetch_token(okta["token_endpoint"], grant_type="client_credentials")
    assert verify(token["access_token"], okta)["scp"] == [ZIA_SCOPE]


@pytest.mark.parametrize("mode", ["basic", "post"])
def test_requests_oauthlib(servers, monkeypatch, mode):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sim speaks plain http
    okta = servers["okta"]
    session = OAuth2Session(client=BackendApplicationClient(client_id=OKTA_CLIENT[0]))
    if mode == "basic":  # requests-oauthlib sends no scope here: the client's default scope applies
        token = session.fetch_token(token_url=okta["token_endpoint"], auth=HTTPBasicAuth(*OKTA_CLIENT))
    else:
        token = session.fetch_token(
            token_url=okta["token_endpoint"],
            client_id=OKTA_CLIENT[0],
            client_secret=OKTA_CLIENT[1],
            include_client_id=True,
            scope=[ZIA_SCOPE],
        )
    assert verify(token["access_token"], okta)["scp"] == [ZIA_SCOPE]


def test_pyjwk_client_fetches_jwks_and_verifies(servers):
    okta = servers["okta"]
    token = httpx.post(
        okta["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": ZIA_SCOPE},
        auth=OKTA_CLIENT,
    ).json()["access_token"]
    key = jwt.PyJWKClient(okta["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key, algorithms=["RS256"], audience="api://zscaler", options={"verify_exp": False}
    )
    assert claims["iss"] == okta["issuer"]


def test_discovery_documents_point_at_the_endpoints(servers):
    for server in servers.values():
        doc = httpx.get(server["discovery"]).json()
        assert doc["issuer"] == server["issuer"]
        assert doc["token_endpoint"] == server["token_endpoint"]
        assert doc["jwks_uri"] == server["jwks_uri"]
        assert doc["grant_types_supported"] == ["client_credentials"]


def test_flavours_shape_the_token_like_the_real_providers(servers):
    entra = servers["entra"]
    cid, secret = entra["clients"][0]["client_id"], entra["clients"][0]["client_secret"]
    r = httpx.post(
        entra["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": cid,
            "client_secret": secret,
            "scope": f"{entra['audience']}/.default",
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["expires_in"] == body["ext_expires_in"] == 3599
    claims = verify(body["access_token"], entra)
    assert claims["roles"] == [ZIA_SCOPE] and claims["appid"] == cid and claims["ver"] == "1.0"
    assert "scp" not in claims and claims["idtyp"] == "app"

    ping = servers["ping"]
    c = ping["clients"][0]
    body = httpx.post(
        ping["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(c["client_id"], c["client_secret"]),
    ).json()
    assert body["expires_in"] == 7200 and "scope" not in body
    claims = verify(body["access_token"], ping)
    assert claims["scp"] == [ZIA_SCOPE] and claims["client_id"] == c["client_id"]


def test_zidentity_root_alias_as_the_official_sdk_calls_it(sims, servers):
    zid = servers["zidentity"]
    c = zid["clients"][0]
    # The official SDK's OneAPI token request (zscaler-clients.md §1.4), sent to {vanity}/oauth2/v1/token.
    r = httpx.post(
        f"{sims.url('idp')}/oauth2/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "audience": "https://api.zscaler.com",
        },
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    claims = verify(r.json()["access_token"], zid)
    assert claims["aud"] == "https://api.zscaler.com" and claims["client_id"] == c["client_id"]
    wrong = httpx.post(
        f"{sims.url('idp')}/oauth2/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "audience": "https://evil.example",
        },
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_target"


def _assertion(key_pem: str, client_id: str, aud: str, now: float, **extra) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": f"jti-{time.perf_counter_ns()}",
        **extra,
    }
    return jwt.encode(claims, key_pem, algorithm="RS256")


def test_private_key_jwt(sims, servers):
    okta = servers["okta"]
    c = next(c for c in okta["clients"] if c["client_id"] == "zia-automation")
    now = sims.control.clock.now()
    assertion = _assertion(c["private_key_pem"], c["client_id"], okta["token_endpoint"], now)
    form = {
        "grant_type": "client_credentials",
        "scope": "zscloud.net::3173833::ReadOnly_Auditor",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    r = httpx.post(okta["token_endpoint"], data=form)
    assert r.status_code == 200, r.text
    assert verify(r.json()["access_token"], okta)["scp"] == ["zscloud.net::3173833::ReadOnly_Auditor"]
    replay = httpx.post(okta["token_endpoint"], data=form)
    assert replay.status_code == 401 and "replay" in replay.json()["error_description"]


def test_zidentity_private_key_variant_of_the_official_sdk(sims, servers):
    zid = servers["zidentity"]
    c = zid["clients"][0]
    now = sims.control.clock.now()
    assertion = _assertion(c["private_key_pem"], c["client_id"], "https://api.zscaler.com", now)
    r = httpx.post(
        f"{sims.url('idp')}/oauth2/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "audience": "https://api.zscaler.com",
        },
    )
    assert r.status_code == 200, r.text


def test_token_lifetimes_follow_the_simulated_clock(sims, servers):
    okta = servers["okta"]
    now = sims.control.clock.now()
    assert now == pytest.approx(1768467600.0)  # the default world freezes at 2026-01-15T09:00:00Z
    token = httpx.post(
        okta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=OKTA_CLIENT
    ).json()
    claims = verify(token["access_token"], okta)
    assert claims["iat"] == int(now)
    sims.control.clock.advance(7200)
    later = verify(
        httpx.post(
            okta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=OKTA_CLIENT
        ).json()["access_token"],
        okta,
    )
    assert later["iat"] == int(now) + 7200
