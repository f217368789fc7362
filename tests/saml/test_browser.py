"""A real browser through both SSO flows: Debian's Chromium driven by Playwright, headless.

SP-initiated: the ZIA sign-in page -> the IdP's sign-in form (a wrong password first) -> the
auto-submitting POST to the ACS -> the signed-in page showing the auto-provisioned user.
IdP-initiated: the IdP's sign-in -> the user portal -> the Zscaler tile -> signed in at ZIA.
Each step is saved as a screenshot under ``artifacts/browser/`` (or ``$SIMS_ARTIFACTS/browser``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.saml.helpers import ALICE, DIRECTORY, IDP_DIR, ORG, user_sessions, zia_admin_client

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = (
    Path(os.environ.get("SIMS_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts") / "browser"
)


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (./dev test installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1000, "height": 720})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    pg.shots = folder  # type: ignore[attr-defined]
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    path = page.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def test_sp_initiated_login_in_a_real_browser(sims, page):
    login, password = "dave.ops@safemarch.example", "Dave-Passw0rd!"
    user = {"login": login, "password": password, "display_name": "Dave Ops", "department": "Operations"}
    sims.control.post(f"{IDP_DIR}/users", user)
    sims.control.put(f"{IDP_DIR}/roles/Zscaler Users", {"members": [login]})
    zia, idp = sims.url("zia"), sims.url("idp")

    page.goto(f"{zia}/sim/v1/{ORG}/portal")
    assert page.locator("h1").inner_text() == "Sign in to Zscaler"
    page.fill("#login_name", login)
    shot(page, "01-zia-sign-in")
    page.click("#next")  # ZIA -> the IdP, with a signed AuthnRequest (HTTP-Redirect)
    page.wait_for_selector("#login")
    assert page.url.startswith(f"{idp}/{DIRECTORY}/applogin/appKey/") and "Signature=" in page.url
    shot(page, "02-idp-sign-in-form")
    page.fill("#username", login)
    page.fill("#password", "not-the-password")
    page.click("#submit")
    page.wait_for_selector("#error")
    assert "incorrect" in page.locator("#error").inner_text()
    shot(page, "03-idp-wrong-password")
    page.fill("#password", password)
    page.click("#submit")  # -> the auto-submitting form -> POST /sfc_sso -> 303 to the portal
    page.wait_for_url(f"{zia}/sim/v1/{ORG}/portal")
    page.wait_for_selector("#display-name")
    shot(page, "04-zia-signed-in")
    assert page.locator("#display-name").inner_text() == "Dave Ops"
    assert page.locator("#department").inner_text() == "Operations"
    assert page.locator("#groups").inner_text() == "Zscaler Users"
    assert page.locator("#idp").inner_text() == "CyberArk"
    with zia_admin_client(sims) as api:  # provisioned: visible through ZIA's API
        dave = next(u for u in api.get("/api/v1/users").json() if u["email"] == login)
    assert dave["name"] == "Dave Ops" and dave["department"]["name"] == "Operations"
    assert [(s["login"], s["sp_initiated"]) for s in user_sessions(sims)] == [(login, True)]


def test_idp_initiated_login_from_the_user_portal(sims, page):
    zia, idp = sims.url("zia"), sims.url("idp")
    page.goto(f"{idp}/{DIRECTORY}/my")
    page.wait_for_selector("#login")
    shot(page, "01-idp-sign-in-form")
    page.fill("#username", ALICE[0])
    page.fill("#password", ALICE[1])
    page.click("#submit")
    page.wait_for_selector("#app-zscaler")
    assert page.locator("#who").inner_text() == "Alice Admin"
    shot(page, "02-idp-user-portal")
    page.click("#app-zscaler")  # IdP-initiated: an unsolicited Response posted to the ACS
    page.wait_for_url(f"{zia}/sim/v1/{ORG}/portal")
    page.wait_for_selector("#display-name")
    shot(page, "03-zia-signed-in")
    assert page.locator("#display-name").inner_text() == "Alice Admin"
    assert page.locator("#groups").inner_text() == "Zscaler Users, Zscaler Admins"
    assert [(s["login"], s["sp_initiated"]) for s in user_sessions(sims)] == [(ALICE[0], False)]


def test_a_refused_response_shows_zias_error_page(sims, page):
    sims.control.post(f"{IDP_DIR}/apps/zscaler/break", {"mode": "wrong_key"})
    page.goto(f"{sims.url('idp')}/{DIRECTORY}/my")
    page.fill("#username", ALICE[0])
    page.fill("#password", ALICE[1])
    page.click("#submit")
    page.click("#app-zscaler")
    page.wait_for_selector("#code")
    shot(page, "01-zia-error-0xB003")
    assert page.locator("#code").inner_text() == "0xB003"
    assert page.locator("#reason").inner_text() == "bad_signature"
    assert user_sessions(sims) == []
