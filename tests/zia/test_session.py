"""The legacy session: obfuscated API key, JSESSIONID cookie, idle timeout, logout."""

from __future__ import annotations

import httpx

from sims.zia.auth import obfuscate
from tests.zia.conftest import login


def test_obfuscation_matches_the_sdks_worked_example():
    # reference §2: key abcdefghijkl, timestamp 1795314981348 -> jibdeiglcijg
    assert obfuscate("abcdefghijkl", 1795314981348) == "jibdeiglcijg"


def test_login_sets_a_cookie_every_sdk_accepts(zia, tenant):
    r = login(zia, tenant["admins"][0])
    assert r.status_code == 200
    assert r.json() == {
        "authType": "ADMIN_LOGIN",
        "obfuscateApiKey": False,
        "passwordExpiryTime": 0,
        "passwordExpiryDays": 0,
    }
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("JSESSIONID=") and "; Path=/" in cookie  # the official SDK's regex needs the ';'
    assert "Secure" not in cookie  # over plain http a Secure cookie would never come back (pyzscaler)


def test_wrong_password_key_and_timestamp(zia, tenant):
    admin = tenant["admins"][0]
    r = login(zia, {**admin, "password": "nope"})
    assert r.status_code == 401
    assert r.json() == {"code": "INVALID_USERNAME_OR_PASSWORD", "message": "Invalid username or password"}
    assert login(zia, {**admin, "api_key": "ZZZZZZZZZZZZ"}).status_code == 401
    r = login(zia, admin, timestamp=1795314981348)  # a key obfuscated with another timestamp
    assert r.status_code == 401 and r.json()["code"] == "INVALID_API_KEY"
    assert login(zia, {**admin, "username": "nobody@x.example"}).status_code == 401


def test_malformed_login_bodies(zia):
    url = f"{zia}/api/v1/authenticatedSession"
    assert httpx.post(url, json={"username": "a"}).status_code == 400
    r = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json() == {"message": "Request body is invalid."}
    r = httpx.post(url, content=b"username=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert httpx.post(url, json=["a"]).status_code == 400


def test_calls_without_a_session_are_401(zia):
    r = httpx.get(f"{zia}/api/v1/status")
    assert r.status_code == 401
    assert r.json() == {"code": "NOT_AUTHENTICATED", "message": "Session is not authenticated or timed out"}
    r = httpx.get(f"{zia}/api/v1/status", cookies={"JSESSIONID": "FORGED"})
    assert r.status_code == 401


def test_session_check_and_idle_timeout_on_the_sim_clock(sims, session):
    assert session.get("/api/v1/authenticatedSession").json()["authType"] == "ADMIN_LOGIN"
    sims.control.clock.advance(299)
    assert session.get("/api/v1/status").status_code == 200  # activity keeps it alive
    sims.control.clock.advance(299)
    assert session.get("/api/v1/status").status_code == 200
    sims.control.clock.advance(300)  # idle for the whole timeout
    assert session.get("/api/v1/status").status_code == 401
    # An expired session's check answers 200 without authType, as the real service does.
    check = session.get("/api/v1/authenticatedSession")
    assert check.status_code == 200 and "authType" not in check.json()


def test_logout_ends_the_session(session):
    r = session.delete("/api/v1/authenticatedSession")
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}
    assert session.get("/api/v1/status").status_code == 401
