"""Scenario: an integration obtains a ZIA-scoped token from each provider flavour.

This is the Mimecast guide's "OAuth 2.0 Authorization" step seen from the client side: the
integration holds a client id and secret at an OAuth 2.0 provider, asks for the scope
``<cloud>::<org id>::<API role>``, and ZIA will find that scope in ``scope``, ``scp`` or ``roles``
and the client id in ``client_id``, ``cid`` or ``appid``. Everything comes from the resolved world
(``sims world --json``), as a user's script would discover it.
"""

from __future__ import annotations

import httpx
import jwt
from authlib.integrations.requests_client import OAuth2Session


def zia_scope_claim(claims: dict) -> list[str]:
    """Where ZIA looks for the scope (reference: oauth-saml.md §4.1): scope, scp or roles."""
    for name in ("scope", "scp", "roles"):
        if name in claims:
            value = claims[name]
            return value.split() if isinstance(value, str) else list(value)
    return []


def test_every_flavour_issues_a_token_zia_can_read(sims):
    world = sims.info
    tenant = world["sims"]["zia"]["tenants"][0]
    expected_scope = f"{tenant['cloud']}::{tenant['org_id']}::Mimecast_Threat_Share"
    flavours = {}
    for server in world["sims"]["idp"]["authorization_servers"]:
        client = next(
            (c for c in server["clients"] if expected_scope in c["scopes"] and c["client_secret"]), None
        )
        if client is None:
            continue
        scope = f"{server['audience']}/.default" if server["flavour"] == "entra" else expected_scope
        session = OAuth2Session(client["client_id"], client["client_secret"], scope=scope)
        token = session.fetch_token(server["token_endpoint"], grant_type="client_credentials")["access_token"]

        # What ZIA does with the server's JWKS location: verify the signature, then read the claims.
        signing_key = jwt.PyJWKClient(server["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=["RS256"],
            audience=server["audience"],
            issuer=server["issuer"],
            options={"verify_exp": False},
        )
        assert expected_scope in zia_scope_claim(claims)
        assert client["client_id"] in {claims.get(k) for k in ("client_id", "cid", "appid")}
        flavours[server["flavour"]] = server["scope_claim"]
    assert flavours == {"okta": "scp", "entra": "roles", "ping": "scp"}


def test_token_endpoint_outage_then_recovery(sims):
    """A temporary fault at the provider: the first call fails with 503 in OAuth's shape, the retry works."""
    okta = next(s for s in sims.info["sims"]["idp"]["authorization_servers"] if s["id"] == "okta")
    client = okta["clients"][0]
    sims.control.faults.add(sim="idp", path="/oauth2/okta/v1/token", status=503, count=1)
    form = {"grant_type": "client_credentials"}
    auth = (client["client_id"], client["client_secret"])
    first = httpx.post(okta["token_endpoint"], data=form, auth=auth)
    assert first.status_code == 503 and first.json()["error"] == "temporarily_unavailable"
    assert httpx.post(okta["token_endpoint"], data=form, auth=auth).status_code == 200
    statuses = [e["status"] for e in sims.control.journal.entries(sim="idp", path="/v1/token")]
    assert statuses == [503, 200]
