"""Key rotation with a grace period and client secret rotation/expiry, driven by the clock."""

from __future__ import annotations

import httpx
import jwt
import pytest

from tests.idp.conftest import OKTA_CLIENT

ROTATE = "/authorization-servers/okta/rotate-keys"


def get_token(server: dict, auth=OKTA_CLIENT) -> httpx.Response:
    return httpx.post(server["token_endpoint"], data={"grant_type": "client_credentials"}, auth=auth)


def verifies(token: str, server: dict) -> bool:
    """True when the token's key is still in the published JWKS and its signature checks out."""
    kid = jwt.get_unverified_header(token)["kid"]
    keys = {k["kid"]: k for k in httpx.get(server["jwks_uri"]).json()["keys"]}
    if kid not in keys:
        return False
    jwt.decode(
        token, jwt.PyJWK(keys[kid]), algorithms=["RS256"], options={"verify_aud": False, "verify_exp": False}
    )
    return True


def test_rotated_key_verifies_until_its_grace_ends(sims, servers):
    okta = servers["okta"]
    old_token = get_token(okta).json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    view = sims.control.sim("idp", ROTATE, {"grace_seconds": 3600})
    new_kid = view["signing_kid"]
    assert new_kid != old_kid
    assert {k["kid"] for k in httpx.get(okta["jwks_uri"]).json()["keys"]} == {old_kid, new_kid}

    new_token = get_token(okta).json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert verifies(old_token, okta) and verifies(new_token, okta)

    sims.control.clock.advance(3599)
    assert verifies(old_token, okta)
    sims.control.clock.advance(1)
    assert not verifies(old_token, okta)  # grace over: the old key is gone from the JWKS
    assert verifies(new_token, okta)
    assert [k["kid"] for k in httpx.get(okta["jwks_uri"]).json()["keys"]] == [new_kid]


def test_rotation_is_deterministic_per_world(sims):
    first = sims.control.sim("idp", ROTATE)["signing_kid"]
    sims.reset()
    assert sims.control.sim("idp", ROTATE)["signing_kid"] == first


def test_automatic_rotation_runs_as_a_clock_job(sims_world_factory, tmp_path):
    world = tmp_path / "rotating.yaml"
    world.write_text(
        """
name: rotating
clock: {mode: frozen, start: "2026-03-01T00:00:00Z"}
idp:
  authorization_servers:
    - id: gen
      rotate_every: 86400
      key_grace: 3600
      clients: [{client_id: c, client_secret: s3cret-value, scopes: [a]}]
"""
    )
    w = sims_world_factory(world)
    server = w.info["sims"]["idp"]["authorization_servers"][0]
    kid0 = jwt.get_unverified_header(get_token(server, ("c", "s3cret-value")).json()["access_token"])["kid"]
    assert w.control.clock.advance(86400)["jobs_run"] == 1
    kid1 = jwt.get_unverified_header(get_token(server, ("c", "s3cret-value")).json()["access_token"])["kid"]
    assert kid1 != kid0
    assert len(httpx.get(server["jwks_uri"]).json()["keys"]) == 2
    assert w.control.clock.advance(2 * 86400)["jobs_run"] == 2
    assert len(httpx.get(server["jwks_uri"]).json()["keys"]) == 2  # the previous key is inside its grace
    w.control.clock.advance(3600)
    assert len(httpx.get(server["jwks_uri"]).json()["keys"]) == 1
    ring = w.control.sim("idp", "/authorization-servers/gen", method="GET")["keys"]
    assert len(ring) <= 2  # retired keys are forgotten, so a long run stays bounded


def test_rotated_secret_is_refused_after_its_grace(sims, servers):
    okta = servers["okta"]
    path = "/authorization-servers/okta/clients/mimecast-threat-share/rotate-secret"
    new = sims.control.sim("idp", path, {"grace_seconds": 600})["client_secret"]
    assert get_token(okta).status_code == 200  # old secret still inside its grace
    assert get_token(okta, (OKTA_CLIENT[0], new)).status_code == 200
    sims.control.clock.advance(600)
    refused = get_token(okta)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_client",
        "error_description": "The client secret supplied for a confidential client is invalid.",
    }
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert get_token(okta, (OKTA_CLIENT[0], new)).status_code == 200


def test_immediate_rotation_and_expiry(sims, servers):
    okta = servers["okta"]
    base = "/authorization-servers/okta/clients/mimecast-threat-share"
    sims.control.sim("idp", f"{base}/rotate-secret", {"new_secret": "brand-new-secret"})
    assert get_token(okta).status_code == 401
    assert get_token(okta, (OKTA_CLIENT[0], "brand-new-secret")).status_code == 200
    sims.control.sim("idp", f"{base}/expire-secret")
    assert get_token(okta, (OKTA_CLIENT[0], "brand-new-secret")).status_code == 401


def test_entra_reports_an_expired_secret_with_its_code(sims, servers):
    entra = servers["entra"]
    c = entra["clients"][0]
    sims.control.sim("idp", f"/authorization-servers/entra/clients/{c['client_id']}/expire-secret")
    r = httpx.post(
        entra["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "scope": f"{entra['audience']}/.default",
        },
    )
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000222]
    assert body["error_description"].startswith("AADSTS7000222: The provided client secret keys for app")


@pytest.mark.parametrize(
    "path",
    ["/authorization-servers/nope/rotate-keys", "/authorization-servers/okta/clients/nope/rotate-secret"],
)
def test_admin_operations_on_unknown_things_are_404(sims, path):
    r = sims.control.http.post(f"/sims/idp{path}")
    assert r.status_code == 404 and "no " in r.json()["error"]
