"""The Mimecast guide end to end: threat sharing into ZIA through an OAuth 2.0 provider.

Everything runs on the simulated clock (no real waiting) against the real HTTP servers of the
idp, ZIA and Mimecast sims: the integration fetches tokens, calls ZIA and reads Mimecast logs
over HTTP, so faults injected into any of them reach it as they would in production.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

ACCOUNT = "CUSA3173833"
ORG = "3173833"
SHARING = f"/sims/mimecast/accounts/{ACCOUNT}/threat-sharing"
ROLE = "Mimecast_Threat_Share"
GUIDE_ROLE = {"permissions": {"url_categories": "FULL"}}  # the guide: URL Categories Full, all else None
SOC = "soc@safemarch.example"


def configuration(name: str = "Mimecast Threats", **sources) -> dict:
    return {
        "name": name,
        "description": "Zscaler Managed by Mimecast SASE Threat Sharing",
        "zscaler_cloud": "zscloud.net",
        "token_endpoint": "idp:okta",
        "client_id": "mimecast-threat-share",
        "client_secret": "okta-mimecast-secret-3173833",
        "scope": f"zscloud.net::{ORG}::{ROLE}",
        "sources": sources or {"malicious_domains": True, "malicious_urls": True, "extracted_domains": True},
        "notification_emails": [SOC],
    }


def status(sims, name: str = "Mimecast Threats") -> dict:
    return sims.control.get(f"{SHARING}/{name}")


def categories(sims, view: str = "active") -> dict[str, dict]:
    config = sims.control.get(f"/sims/zia/tenants/{ORG}/config", params={"view": view})
    return {c["configuredName"]: c for c in config["categories"] if c["customCategory"]}


def malicious_clicks(sims, since: str, until: str | None = None) -> list[dict]:
    """What Mimecast saw, read through its own API as any client would."""
    account = sims.info["sims"]["mimecast"]["accounts"][0]
    mc = sims.url("mimecast")
    token = httpx.post(
        f"{mc}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
        },
    ).json()["access_token"]
    body = {
        "meta": {"pagination": {"pageSize": 500}},
        "data": [
            {
                "from": since,
                "scanResult": "malicious",
                "oldestFirst": True,
                **({"to": until} if until else {}),
            }
        ],
    }
    out = []
    while True:
        page = httpx.post(
            f"{mc}/api/ttp/url/get-logs", json=body, headers={"Authorization": f"Bearer {token}"}
        ).json()
        out += page["data"][0]["clickLogs"]
        nxt = page["meta"]["pagination"].get("next")
        if not nxt:
            return out
        body = {"meta": {"pagination": {"pageSize": 500, "pageToken": nxt}}}


def inject_click(sims, url: str, at: str | None = None) -> None:
    body = {
        "type": "click",
        "fields": {"url": url, "scanResult": "malicious", "category": "Phishing & Fraud"},
    }
    if at:
        body["at"] = at
    sims.control.post(f"/sims/mimecast/accounts/{ACCOUNT}/events", body)


def decide(sims, url: str, user: str = "bob.sales@safemarch.example") -> dict:
    return httpx.post(
        f"{sims.url('zia')}/sim/v1/{ORG}/policy/decision", json={"url": url, "user": user}
    ).json()


def test_the_guide_end_to_end(sims):
    # Create an Administration Role (API role) exactly as the guide lists it.
    sims.control.put(f"/sims/zia/tenants/{ORG}/api-roles/{ROLE}", GUIDE_ROLE)
    # OAuth 2.0 Authorization: Validate the JWKS location, then Save the authorization server.
    servers = f"/sims/zia/tenants/{ORG}/authorization-servers"
    assert sims.control.post(f"{servers}/validate", {"jwks_url": "idp:okta"})["kids"]
    sims.control.put(
        servers,
        [
            {
                "name": "OktaZIA",
                "enabled": True,
                "jwks_url": "idp:okta",
                "audience": "api://zscaler",
                "issuer": "idp:okta",
            }
        ],
    )
    # Configure the Mimecast threat share integration (malicious URLs only, to count them exactly).
    sims.control.post(SHARING, configuration(malicious_urls=True, malicious_domains=False))
    assert categories(sims, "pending") == {}  # nothing happens before the integration runs

    sims.control.clock.advance(30)  # "wait approximately 30 seconds"
    state = status(sims)
    assert state["status"] == "normal", state
    expected = {
        c["url"].split("://", 1)[1].lower() for c in malicious_clicks(sims, "2026-01-14T09:00:00+0000")
    }
    assert len(expected) > 50  # a day of generated traffic holds malicious clicks
    category = categories(sims)["Mimecast Threats"]  # Validate Custom URL Category: it is activated
    assert set(category["urls"]) == expected and category["customUrlsCount"] == len(expected)
    assert state["shared"] == len(expected) and state["emails_sent"] == 0

    # Configuring URL Filtering Policy: block the category, activate.
    admin = sims.info["sims"]["zia"]["tenants"][0]["admins"][0]
    from tests.zia.conftest import login

    zia = httpx.Client(
        base_url=sims.url("zia"), cookies={"JSESSIONID": login(sims.url("zia"), admin).cookies["JSESSIONID"]}
    )
    rule = zia.post(
        "/api/v1/urlFilteringRules",
        json={
            "name": "Block Mimecast threats",
            "order": 1,
            "rank": 7,
            "action": "BLOCK",
            "state": "ENABLED",
            "protocols": ["ANY_RULE"],
            "urlCategories": [category["id"]],
        },
    ).json()
    assert zia.post("/api/v1/status/activate").json() == {"status": "ACTIVE"}
    clicked = sorted(expected)[0]
    verdict = decide(sims, f"https://{clicked}")
    assert verdict["action"] == "BLOCK" and verdict["rule"]["id"] == rule["id"]
    assert decide(sims, "https://www.google.com/search?q=x")["action"] == "ALLOW"

    # A threat seen later is shared on the next poll and blocked after it.
    inject_click(sims, "https://late-phish.example.net/login")
    assert decide(sims, "https://late-phish.example.net/login")["action"] == "ALLOW"
    sims.control.clock.advance(300)
    assert decide(sims, "https://late-phish.example.net/login")["action"] == "BLOCK"


def test_rotated_client_secret_is_a_permanent_error_until_saved(sims):
    sims.control.post(SHARING, configuration())
    sims.control.clock.advance(30)
    assert status(sims)["status"] == "normal"
    rotated = sims.control.sim(
        "idp",
        "/authorization-servers/okta/clients/mimecast-threat-share/rotate-secret",
        {"new_secret": "okta-rotated-secret-0001"},
    )["client_secret"]
    sims.control.clock.advance(3600 + 300)  # the cached token expires; the refresh is refused
    state = status(sims)
    assert state["status"] == "permanent_error"
    assert "refused the client credentials" in state["last_error"]
    shared_before = state["shared"]  # the still-valid token kept sharing until it expired
    inject_click(sims, "https://during-error.example.org/pay")
    mails = sims.control.mailbox.messages(to=SOC)
    assert len(mails) == 1 and "permanent error" in mails[0]["subject"]
    sims.control.clock.advance(6 * 3600)  # stopped: no retries, no more mails, nothing shared
    assert status(sims)["shared"] == shared_before and len(sims.control.mailbox.messages(to=SOC)) == 1
    assert "during-error.example.org/pay" not in categories(sims)["Mimecast Threats"]["urls"]

    sims.control.put(f"{SHARING}/Mimecast Threats", {"client_secret": rotated})  # fix and Save
    sims.control.clock.advance(30)
    state = status(sims)
    assert state["status"] == "normal" and state["last_error"] is not None
    assert "during-error.example.org/pay" in categories(sims)["Mimecast Threats"]["urls"]  # the backlog
    assert len(sims.control.mailbox.messages(to=SOC)) == 1


def test_saving_without_changes_retries_and_fails_again(sims):
    sims.control.post(SHARING, configuration())
    sims.control.sim("idp", "/authorization-servers/okta/clients/mimecast-threat-share/expire-secret")
    sims.control.clock.advance(30)
    assert status(sims)["status"] == "permanent_error"
    sims.control.put(f"{SHARING}/Mimecast Threats", {})  # Save without changes
    assert status(sims)["status"] == "starting"
    sims.control.clock.advance(30)
    assert status(sims)["status"] == "permanent_error"
    assert len(sims.control.mailbox.messages(to=SOC)) == 2  # one per failure


def test_quota_exhaustion_then_recovery_loses_and_duplicates_nothing(sims):
    from tests.zia.conftest import login

    admin = sims.info["sims"]["zia"]["tenants"][0]["admins"][0]
    zia = httpx.Client(
        base_url=sims.url("zia"),
        timeout=60,
        cookies={"JSESSIONID": login(sims.url("zia"), admin).cookies["JSESSIONID"]},
    )
    filler = [f"filler{i}.quota.example.com" for i in range(24_950)]  # a tenant near its 25,000 quota
    assert (
        zia.post("/api/v1/urlCategories", json={"configuredName": "Existing", "urls": filler}).status_code
        == 200
    )
    sims.control.post(SHARING, configuration(malicious_urls=True, malicious_domains=False))
    sims.control.clock.advance(30)
    state = status(sims)
    assert state["status"] == "permanent_error"
    assert "quota exhausted" in state["last_error"] and "maximum of 25000 custom URLs" in state["last_error"]
    assert categories(sims, "pending")["Mimecast Threats"]["urls"] == []  # nothing partial
    assert len(sims.control.mailbox.messages(to=SOC)) == 1

    sims.control.http.patch(
        f"/sims/zia/tenants/{ORG}/settings", json={"max_custom_urls": 30_000}
    )  # more quota
    sims.control.put(f"{SHARING}/Mimecast Threats", {})
    sims.control.clock.advance(30)
    assert status(sims)["status"] == "normal"
    urls = categories(sims)["Mimecast Threats"]["urls"]
    expected = {c["url"].split("://", 1)[1] for c in malicious_clicks(sims, "2026-01-14T09:00:00+0000")}
    assert len(urls) == len(set(urls)) and set(urls) == expected


def test_temporary_zia_faults_are_retried_silently_and_share_exactly_once(sims):
    expected_later = "https://after-faults.example.org/x"
    sims.control.faults.add(sim="zia", method="PUT", path="/api/v1/urlCategories/*", status=503, count=2)
    sims.control.faults.add(
        sim="zia",
        method="POST",
        path="/api/v1/urlCategories",
        status=429,
        count=1,
        headers={"Retry-After": "120"},
        body={"message": "Rate Limit (1/SECOND) exceeded", "Retry-After": "120 seconds"},
    )
    sims.control.faults.add(sim="zia", method="POST", path="/api/v1/status/activate", action="drop", count=1)
    sims.control.post(SHARING, configuration(malicious_urls=True, malicious_domains=False))
    seen = set()
    for _ in range(40):
        sims.control.clock.advance(30)
        seen.add(status(sims)["status"])
    inject_click(sims, expected_later)
    sims.control.clock.advance(300)
    state = status(sims)
    assert "temporary_error" in seen and state["status"] == "normal"
    assert all(f["fired"] == (f["count"] or 1) for f in sims.control.faults.list())  # every fault was hit
    urls = categories(sims)["Mimecast Threats"]["urls"]
    expected = {c["url"].split("://", 1)[1] for c in malicious_clicks(sims, "2026-01-14T09:00:00+0000")}
    assert set(urls) == expected and len(urls) == len(expected)
    assert state["shared"] == len(expected)  # each threat pushed once, retries included
    assert sims.control.mailbox.messages(to=SOC) == []  # temporary errors send no email
    statuses = [e["status"] for e in sims.control.journal.entries(sim="zia", limit=10_000)]
    assert 503 in statuses and 429 in statuses and 0 in statuses  # 0: the dropped connection


def test_an_error_lasting_31_days_drops_threats_older_than_30_days(sims):
    sims.control.post(f"/sims/mimecast/accounts/{ACCOUNT}/generator", {"enabled": False})
    sims.control.post(SHARING, configuration(malicious_urls=True, malicious_domains=False))
    sims.control.clock.advance(30)
    assert status(sims)["status"] == "normal"
    sims.control.sim("idp", "/authorization-servers/okta/clients/mimecast-threat-share/expire-secret")
    sims.control.clock.advance(12 * 3600)
    inject_click(sims, "https://too-old.example.com/a")  # day 0.5 of the outage
    sims.control.clock.advance(3600 * 2)
    assert status(sims)["status"] == "permanent_error"
    sims.control.clock.advance(30 * 86400)
    inject_click(sims, "https://recent.example.com/b")  # day 30.6
    sims.control.clock.advance(10 * 3600)  # 31 days since the last success

    new_secret = sims.control.sim(
        "idp",
        "/authorization-servers/okta/clients/mimecast-threat-share/rotate-secret",
        {"new_secret": "okta-recovered-secret-001"},
    )["client_secret"]
    sims.control.put(f"{SHARING}/Mimecast Threats", {"client_secret": new_secret})
    sims.control.clock.advance(30)
    state = status(sims)
    urls = categories(sims)["Mimecast Threats"]["urls"]
    assert state["status"] == "normal"
    assert "recent.example.com/b" in urls and "too-old.example.com/a" not in urls
    assert state["dropped"] == 1 and state["last_drop"]["count"] == 1
    subjects = [m["subject"] for m in sims.control.mailbox.messages(to=SOC)]
    assert any("older than 30 days" in s for s in subjects)


SOURCE_SETS = [
    {"malicious_domains": True},
    {"malicious_urls": True},
    {"malicious_urls": True, "extracted_domains": True},
    {"malicious_domains": True, "malicious_urls": True},
    {"malicious_domains": True, "malicious_urls": True, "extracted_domains": True},
]


def test_ten_configurations_feed_ten_categories_and_an_eleventh_is_refused(sims):
    for i in range(10):
        sources = SOURCE_SETS[i % len(SOURCE_SETS)]
        full = {"malicious_domains": False, "malicious_urls": False, "extracted_domains": False, **sources}
        sims.control.post(SHARING, configuration(f"Share {i:02d}", **full))
    r = sims.control.http.post(SHARING, json=configuration("Share 10"))
    assert r.status_code == 409 and "at most 10" in r.json()["error"]
    sims.control.clock.advance(30)
    cats = categories(sims)
    assert sorted(cats) == [f"Share {i:02d}" for i in range(10)]
    for i in range(10):
        urls = cats[f"Share {i:02d}"]["urls"]
        sources = SOURCE_SETS[i % len(SOURCE_SETS)]
        assert urls, i
        assert any("/" in u for u in urls) == bool(sources.get("malicious_urls"))
        assert any(u.startswith(".") for u in urls) == bool(sources.get("extracted_domains"))
        assert status(sims, f"Share {i:02d}")["status"] == "normal"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"sources": {"malicious_domains": False, "malicious_urls": False, "extracted_domains": True}},
            "can only be enabled if Malicious URLs is enabled",
        ),
        (
            {"sources": {"malicious_domains": False, "malicious_urls": False, "extracted_domains": False}},
            "at least one source",
        ),
        ({"fetch_from_hours": 24 * 31}, "fetch_from_hours"),
        ({"zscaler_cloud": "zscaler.net"}, "is not one of zscloud.net"),
        ({"notification_emails": ["not-an-address"]}, "not an email address"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_configurations_are_refused(sims, change, message):
    r = sims.control.http.post(SHARING, json={**configuration(), **change})
    assert r.status_code == 400 and message in r.json()["error"]
    assert sims.control.get(SHARING) == []


def test_status_reports_bookmark_and_counts(sims):
    sims.control.post(SHARING, configuration())
    start = datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC)
    assert status(sims)["bookmark"] == "2026-01-14T09:00:00+0000"  # 24 hours back by default
    sims.control.clock.advance(30)
    state = status(sims)
    assert state["bookmark"] == "2026-01-15T09:00:10+0000" and state["category_id"] == "CUSTOM_01"
    assert state["last_success"] == start.replace(second=10).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
