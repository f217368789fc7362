"""Shared helpers for the ZIA category, policy and permission tests.

Clients are plain ``httpx.Client`` objects with ``base_url`` set to the ZIA sim; close them (or use
them as context managers). Nothing here sleeps: time moves only through the control plane's clock.

Every client here opens a new connection per request: on a kept-alive connection the in-process
servers answer ~40 ms late (their sockets lack TCP_NODELAY, so Nagle meets delayed ACK), while a
fresh loopback connection costs well under 1 ms.
"""

from __future__ import annotations

import time

import httpx

from sims.zia.auth import obfuscate
from sims.zia.config import ZiaSettings

ORG = "3173833"
CLOUD = "zscloud.net"
TENANT = f"/sims/zia/tenants/{ORG}"
V1 = "/api/v1"
ONEAPI = "/zia/api/v1"
# 2026-01-15T09:00:00Z, the frozen start of the default world (a Thursday).
START = 1768467600
WORK_HOURS_ID = 50_000_001  # the only time window of the default world (ids are not exposed by an API)


NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)
_control: dict[str, httpx.Client] = {}
_tenant: dict[str, dict] = {}


def client(base_url: str, **kw) -> httpx.Client:
    return httpx.Client(base_url=base_url, limits=NO_KEEPALIVE, timeout=30, **kw)


def control(sims) -> httpx.Client:
    """A control-plane client (one per world, kept for the session)."""
    url = sims.control.url
    if url not in _control:
        _control[url] = client(url)
    return _control[url]


def ctl(sims, method: str, path: str, body=None, **kw):
    r = control(sims).request(method, path, json=body, **kw)
    assert r.status_code < 400, (r.status_code, r.text)
    return r.json() if r.content else None


def advance(sims, seconds: float) -> None:
    ctl(sims, "POST", "/clock/advance", {"seconds": seconds})


def zia_tenant(sims) -> dict:
    """The resolved ZIA tenant: admins (username, password, api_key), policy_decision_url, ...
    (stable for a world across resets, so read once)."""
    url = sims.control.url
    if url not in _tenant:
        _tenant[url] = ctl(sims, "GET", "/world")["sims"]["zia"]["tenants"][0]
    return _tenant[url]


def login(sims, which: int = 0) -> httpx.Response:
    admin = zia_tenant(sims)["admins"][which]
    ts = int(time.time() * 1000)
    body = {
        "apiKey": obfuscate(admin["api_key"], ts),
        "username": admin["username"],
        "password": admin["password"],
        "timestamp": ts,
    }
    with client(sims.url("zia")) as c:
        return c.post(f"{V1}/authenticatedSession", json=body)


def admin_client(sims, which: int = 0) -> httpx.Client:
    """A legacy session of admin ``which`` (0: Super Admin, 1: Policy Admin); the cookie is kept."""
    r = login(sims, which)
    assert r.status_code == 200, r.text
    return client(sims.url("zia"), cookies={"JSESSIONID": r.cookies["JSESSIONID"]})


def token(sims, role: str) -> str:
    """A bearer token for an API role, minted by the idp's Okta server (the tenant's enabled one)."""
    return ctl(
        sims,
        "POST",
        "/sims/idp/authorization-servers/okta/tokens",
        {"client_id": "zia-automation", "scopes": [f"{CLOUD}::{ORG}::{role}"]},
    )["access_token"]


def bearer_client(sims, role: str) -> httpx.Client:
    return client(sims.url("zia"), headers={"Authorization": f"Bearer {token(sims, role)}"})


def decision(sims, url: str, user: str | None = None, **kw) -> dict:
    """What the activated policy does with a request (the sim's own decision endpoint)."""
    body = {"url": url, **kw}
    if user is not None:
        body["user"] = user
    with client(sims.url("zia")) as c:
        r = c.post(zia_tenant(sims)["policy_decision_url"], json=body)
    assert r.status_code == 200, r.text
    return r.json()


def action(sims, url: str, user: str | None = None, **kw) -> str:
    return decision(sims, url, user, **kw)["action"]


def activate(client: httpx.Client, prefix: str = V1) -> dict:
    r = client.post(f"{prefix}/status/activate")
    assert r.status_code == 200, r.text
    return r.json()


def settings(sims, **values) -> dict:
    """PATCH the tenant's settings (limits such as max_custom_urls) through the control plane."""
    return ctl(sims, "PATCH", f"{TENANT}/settings", values)


def restore_settings(sims) -> None:
    """Put the tenant's settings back to the defaults of the default world.

    Needed because ``POST /reset`` keeps settings PATCHed through the control plane (see
    test_categories.py::test_reset_restores_patched_settings), so e.g. realistic rate limits turned on
    by one test would otherwise leak into the next.
    """
    settings(sims, **ZiaSettings().model_dump())


def pending(sims) -> dict:
    return ctl(sims, "GET", f"{TENANT}/config", params={"view": "pending"})


def custom_ids(sims) -> list[str]:
    return [c["id"] for c in pending(sims)["categories"] if c["customCategory"]]


def quota(client: httpx.Client) -> dict:
    r = client.get(f"{V1}/urlCategories/urlQuota")
    assert r.status_code == 200, r.text
    return r.json()


def create_category(client: httpx.Client, name: str, urls: list[str] | None = None, **fields) -> dict:
    body = {"configuredName": name, "superCategory": "USER_DEFINED", "urls": urls or [], **fields}
    r = client.post(f"{V1}/urlCategories", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def create_rule(client: httpx.Client, name: str, action: str = "BLOCK", **fields) -> dict:
    body = {"name": name, "action": action, "state": "ENABLED", "protocols": ["ANY_RULE"], **fields}
    r = client.post(f"{V1}/urlFilteringRules", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def ids_by_name(client: httpx.Client, path: str, key: str = "name") -> dict[str, int]:
    r = client.get(f"{V1}/{path}")
    assert r.status_code == 200, r.text
    return {item[key]: item["id"] for item in r.json()}
