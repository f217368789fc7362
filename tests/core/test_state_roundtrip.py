"""Export/import through the control plane round-trips the whole state of every sim exactly.

Every sim's state is changed through its real API (and the integrations run), then the state is
exported, imported into a second, freshly started world and exported again: the two exports must be
identical, and what the state stands for must work in the second world (sessions, tokens, data).
"""

from __future__ import annotations

import httpx
import pytest

from sims.pytest_plugin import start_world
from tests.zia.conftest import login

ORG = "3173833"
ZPA_CUSTOMER = "72058300560048147"
DOMAIN = "safemarch.example"
ADMIN = {"username": f"admin@{ORG}.zscloud.net", "password": "Zia-Admin-Passw0rd!", "api_key": "Ab3De5Gh7Jk9"}
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def change_everything(world) -> dict:
    """Change each sim's state through its API; returns the credentials handed out on the way."""
    control = world.control
    zia, zpa, mimecast, idp = (world.url(n) for n in ("zia", "zpa", "mimecast", "idp"))
    # idp: a token, a key rotation, a new directory user
    okta = "/sims/idp/authorization-servers/okta"
    control.post(f"{okta}/rotate-keys", {"grace_seconds": 600})
    form = {
        "grant_type": "client_credentials",
        "client_id": "mimecast-threat-share",
        "client_secret": "okta-mimecast-secret-3173833",
        "scope": f"zscloud.net::{ORG}::Mimecast_Threat_Share",
    }
    assert httpx.post(f"{idp}/oauth2/okta/v1/token", data=form).status_code == 200
    control.post("/sims/idp/directories/aan4174/users", {"login": f"round.trip@{DOMAIN}"})
    # ZIA: a session, a category with URLs, a rule, an activation, a SCIM user
    session = login(zia, ADMIN).cookies["JSESSIONID"]
    admin = httpx.Client(base_url=f"{zia}/api/v1", cookies={"JSESSIONID": session})
    body = {"configuredName": "RoundTrip", "superCategory": "USER_DEFINED", "urls": ["a.round.example"]}
    category = admin.post("/urlCategories", json=body).json()["id"]
    rule = {"name": "RT", "action": "BLOCK", "state": "ENABLED", "protocols": ["ANY_RULE"], "order": 1}
    rule["urlCategories"] = [category]
    assert admin.post("/urlFilteringRules", json=rule).status_code == 200
    assert admin.post("/status/activate").status_code == 200
    scim = {"Authorization": "Bearer zia-scim-token-3173833-CyberArk-0001"}
    user = {"schemas": [SCIM_USER], "userName": f"scim.rt@{DOMAIN}"}
    assert httpx.post(f"{zia}/{ORG}/1/scim/Users", json=user, headers=scim).status_code == 201
    # Mimecast: a token, a threat-sharing configuration that then runs, generated events
    form = {
        "grant_type": "client_credentials",
        "client_id": "mimecast-api-client",
        "client_secret": "mimecast-api-secret-3173833",
    }
    assert httpx.post(f"{mimecast}/oauth/token", data=form).status_code == 200
    share = {
        "name": "RoundTripShare",
        "zscaler_cloud": "zscloud.net",
        "token_endpoint": "idp:okta",
        "client_id": "mimecast-threat-share",
        "client_secret": "okta-mimecast-secret-3173833",
        "scope": f"zscloud.net::{ORG}::Mimecast_Threat_Share",
        "notification_emails": [f"soc@{DOMAIN}"],
    }
    control.post("/sims/mimecast/accounts/CUSA3173833/threat-sharing", share)
    control.clock.advance(3 * 3600)  # events are generated and shared into ZIA
    control.faults.add(sim="zia", path="/nothing/*", status=418)
    # credentials handed out now, so that they are still valid (sessions and tokens expire)
    session = login(zia, ADMIN).cookies["JSESSIONID"]
    signin = {"client_id": "zpa-api-client", "client_secret": f"zpa-api-secret-{ZPA_CUSTOMER}"}
    zpa_token = httpx.post(f"{zpa}/signin", data=signin).json()["access_token"]
    mc_token = httpx.post(f"{mimecast}/oauth/token", data=form).json()["access_token"]
    return {"session": session, "zpa_token": zpa_token, "mc_token": mc_token, "category": category}


@pytest.fixture
def two_worlds():
    first, second = start_world(None), start_world(None)
    yield first, second
    first.stop()
    second.stop()


def test_whole_state_round_trips_into_another_world(two_worlds):
    first, second = two_worlds
    creds = change_everything(first)
    exported = first.control.export_state()
    share = exported["sims"]["mimecast"]["accounts"]["CUSA3173833"]["sharing"][0]["state"]
    assert share, "the threat sharing configuration ran"

    second.control.import_state(exported)
    assert second.control.export_state() == exported
    assert second.control.export_state() == first.control.export_state()  # import changes nothing

    # what the state stands for works in the second world
    zia = second.url("zia")
    r = httpx.get(f"{zia}/api/v1/urlCategories/{creds['category']}", cookies={"JSESSIONID": creds["session"]})
    assert r.status_code == 200 and r.json()["urls"] == ["a.round.example"]
    r = httpx.get(
        f"{second.url('zpa')}/mgmtconfig/v2/admin/customers/{ZPA_CUSTOMER}/idp",
        headers={"Authorization": f"Bearer {creds['zpa_token']}"},
    )
    assert r.status_code == 200
    r = httpx.post(
        f"{second.url('mimecast')}/api/account/get-account",
        json={"data": []},
        headers={"Authorization": f"Bearer {creds['mc_token']}"},
    )
    assert r.status_code == 200, r.text


def test_restored_generators_do_not_hand_out_values_again(two_worlds):
    """Session ids and tokens come from seeded generators: a restore must not replay them."""
    first, second = two_worlds
    change_everything(first)
    state = first.control.export_state()
    sessions = {s["id"] for s in state["sims"]["zia"]["tenants"][ORG]["sessions"]}
    tokens = set(state["sims"]["mimecast"]["tokens"]["tokens"])
    assert len(sessions) >= 2 and len(tokens) >= 2
    second.control.import_state(state)
    session = login(second.url("zia"), ADMIN).cookies["JSESSIONID"]
    assert session not in sessions
    form = {
        "grant_type": "client_credentials",
        "client_id": "mimecast-api-client",
        "client_secret": "mimecast-api-secret-3173833",
    }
    token = httpx.post(f"{second.url('mimecast')}/oauth/token", data=form).json()["access_token"]
    assert token not in tokens
    # and both worlds, from the same state, hand out the same next values: still deterministic
    assert login(first.url("zia"), ADMIN).cookies["JSESSIONID"] == session
