"""The web dashboard at /ui: every page over HTTP, its forms, the token, and a real browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from sims.launch import Settings, open_world
from tests.zia.helpers import activate, admin_client, create_category, create_rule

ACCOUNT = "CUSA3173833"
ORG = "3173833"
SHARING = f"/sims/mimecast/accounts/{ACCOUNT}/threat-sharing"
PAGES = {
    "/ui": ["Overview", "advance 30 s", "advance 1 day", "zia", "mimecast", "idp"],
    "/ui/zia": [f"org {ORG}", "Custom URL categories", "URL quota", "SAML identity providers", "SCIM"],
    "/ui/mimecast": [ACCOUNT, "no threat sharing configuration"],
    "/ui/mailbox": ["No messages."],
    "/ui/faults": ["no fault rules", "add fault"],
    "/ui/journal": ["Journal", "filter"],
}
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"


def configuration() -> dict:
    """As scenarios/mimecast/test_threat_sharing.py configures the integration."""
    return {
        "name": "Mimecast Threats",
        "description": "Zscaler Managed by Mimecast SASE Threat Sharing",
        "zscaler_cloud": "zscloud.net",
        "token_endpoint": "idp:okta",
        "client_id": "mimecast-threat-share",
        "client_secret": "okta-mimecast-secret-3173833",
        "scope": f"zscloud.net::{ORG}::Mimecast_Threat_Share",
        "sources": {"malicious_domains": True, "malicious_urls": True, "extracted_domains": True},
        "notification_emails": ["soc@safemarch.example"],
    }


@pytest.fixture
def ui(sims):
    with httpx.Client(base_url=sims.url("control"), timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders(ui, path):
    r = ui.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    for expected in PAGES[path]:
        assert expected in r.text, (path, expected)


def test_advance_the_clock_through_the_form(sims, ui):
    before = sims.control.clock.now()
    r = ui.post("/ui/clock/advance", data={"seconds": "300", "back": "/ui/zia"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/zia"
    assert sims.control.clock.now() == before + 300
    page = ui.get("/ui").text
    assert sims.control.clock.state()["now"] in page
    r = ui.post("/ui/clock/advance", data={"seconds": "30", "back": "https://elsewhere.example/"})
    assert r.headers["location"] == "/ui"  # never redirects off the dashboard
    assert ui.post("/ui/clock/advance", data={"seconds": "soon"}).status_code == 400


def test_freeze_and_resume(sims, ui):
    assert ui.post("/ui/clock/resume", data={}).status_code == 303
    assert sims.control.clock.state()["mode"] == "real"
    assert "freeze</button>" in ui.get("/ui").text
    assert ui.post("/ui/clock/freeze", data={}).status_code == 303
    assert sims.control.clock.state()["mode"] == "frozen"


def test_add_and_remove_a_fault_through_the_forms(sims, ui):
    r = ui.post(
        "/ui/faults", data={"sim": "zia", "path": "/api/v1/<b>*", "status": "418", "count": "2", "method": ""}
    )
    assert r.status_code == 303
    (rule,) = sims.control.faults.list()
    assert (rule["sim"], rule["path"], rule["status"], rule["count"]) == ("zia", "/api/v1/<b>*", 418, 2)
    page = ui.get("/ui/faults").text
    assert rule["id"] in page and "/api/v1/&lt;b&gt;*" in page and "<b>" not in page  # escaped
    r = ui.post(f"/ui/faults/{rule['id']}/remove", data={})
    assert r.status_code == 303 and sims.control.faults.list() == []
    assert "no fault rules" in ui.get("/ui/faults").text


def test_a_bad_fault_is_refused_on_the_page(sims, ui):
    r = ui.post("/ui/faults", data={"sim": "zia", "path": "re:(", "status": "503"})
    assert r.status_code == 400 and "invalid fault" in r.text
    r = ui.post("/ui/faults", data={"sim": "nope", "path": "*", "status": "503"})
    assert r.status_code == 400 and "no sim" in r.text
    assert sims.control.faults.list() == []


def test_cross_origin_forms_are_refused(sims, ui):
    r = ui.post("/ui/clock/advance", data={"seconds": "30"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_journal_filter_and_detail(sims, ui):
    zia = sims.url("zia")
    httpx.get(f"{zia}/api/v1/status?x=<script>")
    page = ui.get("/ui/journal", params={"sim": "zia", "path": "/api/v1/status"}).text
    ids = re.findall(r'href="/ui/journal/(\d+)"', page)
    assert ids, page
    assert "<script>" not in page.split("<main>", 1)[1].split("</main>", 1)[0]
    detail = ui.get(f"/ui/journal/{ids[0]}")
    assert detail.status_code == 200 and "/api/v1/status" in detail.text and "Response" in detail.text
    other = ui.get("/ui/journal", params={"sim": "idp", "path": "/api/v1/status"}).text
    assert 'href="/ui/journal/' not in other
    assert ui.get("/ui/journal", params={"status": "abc"}).status_code == 400
    assert ui.get("/ui/journal/999999").status_code == 404


def test_mimecast_and_zia_pages_show_threat_sharing(sims, ui):
    sims.control.post(SHARING, configuration())
    assert "Mimecast Threats" in ui.get("/ui/mimecast").text
    ui.post("/ui/clock/advance", data={"seconds": "30"})
    page = ui.get("/ui/mimecast").text
    assert "normal" in page
    zia = ui.get("/ui/zia").text
    assert "Mimecast Threats" in zia


def test_zia_page_shows_pending_and_active(sims, ui):
    with admin_client(sims) as admin:
        create_category(admin, "Blocked <lab>", ["blocked.example.com", "two.example.com"])
        create_rule(admin, "Block list", urlCategories=["CUSTOM_01"])
        page = ui.get("/ui/zia").text
        assert "pending changes" in page and "Blocked &lt;lab&gt;" in page and "not activated" in page
        assert re.search(r"<td>Block list</td>.*?<td>pending</td>", page, re.S)
        activate(admin)
    page = ui.get("/ui/zia").text
    assert "pending changes" not in page and "not activated" not in page
    assert re.search(r"<td>Block list</td>.*?<td>active</td>", page, re.S)
    assert "<td>2</td><td>2</td>" in page  # URLs pending and active


def test_the_token_is_required_and_accepted_as_a_query_parameter():
    server = open_world(
        Settings(control_token="t", ports={"control": 0, "idp": 0}, only=["idp"], clock="frozen")
    )
    server.start_in_thread()
    try:
        url = server.runtime.urls["control"]
        assert httpx.get(f"{url}/ui").status_code == 401
        assert httpx.get(f"{url}/ui", params={"token": "wrong"}).status_code == 401
        assert httpx.get(f"{url}/world", params={"token": "t"}).status_code == 401  # only /ui
        assert httpx.get(f"{url}/ui", headers={"Authorization": "Bearer t"}).status_code == 200
        page = httpx.get(f"{url}/ui", params={"token": "t"})
        assert page.status_code == 200
        assert 'href="/ui/journal?token=t"' in page.text and 'action="/ui/clock/advance?token=t"' in page.text
        assert httpx.post(f"{url}/ui/clock/advance", data={"seconds": "30"}).status_code == 401
        r = httpx.post(f"{url}/ui/clock/advance", params={"token": "t"}, data={"seconds": "30"})
        assert r.status_code == 303 and r.headers["location"] == "/ui?token=t"
        for path in PAGES:
            assert httpx.get(f"{url}{path}", params={"token": "t"}).status_code == 200, path
    finally:
        server.stop()


# -- a real browser ----------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None, reason="no Chromium")
def test_click_through_in_chromium(sims):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = sims.url("control")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            for path, expected in PAGES.items():
                page.goto(base + path)
                assert expected[0] in page.content(), path
            # the integration is configured over the API; time moves from the dashboard
            sims.control.post(SHARING, configuration())
            page.goto(base + "/ui")
            now = page.text_content("#clock-now")
            page.click("text=advance 30 s")
            page.wait_for_url(base + "/ui")
            assert page.text_content("#clock-now") != now
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

            page.click("header >> text=ZIA")
            row = page.locator("table.categories tr", has_text="Mimecast Threats")
            assert row.count() == 1
            pending, active = (int(row.locator("td").nth(i).inner_text()) for i in (2, 3))
            assert pending > 0 and active == pending
            page.screenshot(path=str(ARTIFACTS / "zia.png"), full_page=True)

            page.click("header >> text=Mimecast")
            assert "normal" in page.locator("table.sharing").inner_text()
            page.screenshot(path=str(ARTIFACTS / "mimecast.png"), full_page=True)

            page.click("header >> text=Faults")
            page.select_option("#add-fault select[name=sim]", "zia")
            page.fill("#add-fault input[name=path]", "/api/v1/status")
            page.fill("#add-fault input[name=status]", "418")
            page.fill("#add-fault input[name=count]", "1")
            page.click("#add-fault button")
            page.wait_for_url(base + "/ui/faults")
            assert "/api/v1/status" in page.locator("table.faults").inner_text()
            page.screenshot(path=str(ARTIFACTS / "faults.png"), full_page=True)

            assert httpx.get(sims.url("zia") + "/api/v1/status").status_code == 418  # the fault answers

            page.click("header >> text=Journal")
            page.select_option("#journal-filter select[name=sim]", "zia")
            page.fill("#journal-filter input[name=status]", "418")
            page.click("#journal-filter button")
            page.wait_for_url(re.compile(r".*/ui/journal\?.*status=418.*"))
            links = page.locator("table.journal td:first-child a")
            assert links.count() == 1
            page.screenshot(path=str(ARTIFACTS / "journal.png"), full_page=True)
            links.first.click()
            page.wait_for_url(re.compile(r".*/ui/journal/\d+$"))
            text = page.inner_text("main")
            assert "GET /api/v1/status" in text and "418" in text and "fault-" in text
            page.screenshot(path=str(ARTIFACTS / "entry.png"), full_page=True)

            page.click("header >> text=Faults")
            page.click("table.faults button:has-text('remove')")
            page.wait_for_url(base + "/ui/faults")
            assert "no fault rules" in page.content()
        finally:
            browser.close()
