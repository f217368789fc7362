from __future__ import annotations

import time

import httpx
import pytest

from sims.zia.auth import obfuscate

ORG = "3173833"
MIMECAST_SCOPE = "zscloud.net::3173833::Mimecast_Threat_Share"


@pytest.fixture
def zia(sims) -> str:
    return sims.url("zia")


@pytest.fixture
def tenant(sims) -> dict:
    return sims.info["sims"]["zia"]["tenants"][0]


def login(zia: str, admin: dict, **override) -> httpx.Response:
    ts = int(time.time() * 1000)
    body = {
        "apiKey": obfuscate(admin["api_key"], ts),
        "username": admin["username"],
        "password": admin["password"],
        "timestamp": ts,
        **override,
    }
    return httpx.post(f"{zia}/api/v1/authenticatedSession", json=body)


def mint(sims, scopes: list[str], server: str = "okta", client: str = "zia-automation") -> str:
    """A token from the idp's authorization server, minted through the control plane."""
    path = f"/sims/idp/authorization-servers/{server}/tokens"
    return sims.control.post(path, {"client_id": client, "scopes": scopes})["access_token"]


@pytest.fixture
def session(zia, tenant) -> httpx.Client:
    r = login(zia, tenant["admins"][0])
    assert r.status_code == 200, r.text
    client = httpx.Client(base_url=zia, cookies={"JSESSIONID": r.cookies["JSESSIONID"]})
    yield client
    client.close()
