"""Helpers for the SAML tests: a browser-less walk through the IdP's pages, and Response surgery.

The default world's users: alice (IT, roles Zscaler Users + Zscaler Admins), bob (Sales), carol
(Engineering); the Zscaler web app is assigned to Zscaler Users; ZIA's IdP "CyberArk" signs its
AuthnRequests with SHA-1 and auto-provisions users.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

import httpx
from lxml import etree

ORG = "3173833"
DIRECTORY = "aan4174"
APP = "zscaler"
ALICE = ("alice.admin@safemarch.example", "Alice-Passw0rd!")
BOB = ("bob.sales@safemarch.example", "Bob-Passw0rd!")
CAROL = ("carol.eng@safemarch.example", "Carol-Passw0rd!")
ZIA_ADMIN = f"/sims/zia/tenants/{ORG}"
IDP_DIR = f"/sims/idp/directories/{DIRECTORY}"
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)

_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def browser() -> httpx.Client:
    """A cookie-keeping client that does not follow redirects (each hop is asserted)."""
    return httpx.Client(follow_redirects=False, timeout=30, limits=NO_KEEPALIVE)


def hidden_form(page: str) -> tuple[str, dict[str, str]]:
    m = _ACTION.search(page)
    assert m, page[:500]
    return html.unescape(m.group(1)), {k: html.unescape(v) for k, v in _HIDDEN.findall(page)}


@dataclass
class Flow:
    zia: str
    idp: str
    client: httpx.Client


def sign_in_at_idp(flow: Flow, login_page: httpx.Response, user: tuple[str, str]) -> httpx.Response:
    """Fill the IdP's sign-in form shown in ``login_page``; returns the page with the POST form."""
    assert login_page.status_code in (200, 401) and 'id="login"' in login_page.text, login_page.text[:300]
    action, fields = hidden_form(login_page.text)
    fields.update(username=user[0], password=user[1])
    return flow.client.post(flow.idp + action, data=fields)


def post_to_acs(flow: Flow, page: httpx.Response) -> httpx.Response:
    """Submit the IdP's auto-posting form (what the browser's onload does)."""
    assert page.status_code == 200, page.text[:500]
    action, fields = hidden_form(page.text)
    assert "SAMLResponse" in fields, page.text[:500]
    return flow.client.post(action, data=fields)


def sp_initiated(flow: Flow, user: tuple[str, str], login_name: str | None = None) -> httpx.Response:
    """ZIA page -> IdP sign-in -> ACS; returns the ACS's answer."""
    r = flow.client.get(f"{flow.zia}/sim/v1/{ORG}/sso/start", params={"login_name": login_name or user[0]})
    assert r.status_code == 302, r.text[:300]
    page = flow.client.get(r.headers["location"])
    if 'name="SAMLResponse"' in page.text:  # already signed in at the IdP
        return post_to_acs(flow, page)
    return post_to_acs(flow, sign_in_at_idp(flow, page, user))


def idp_response(flow: Flow, user: tuple[str, str]) -> tuple[str, dict[str, str]]:
    """An IdP-initiated Response for ``user`` from the portal (not posted): (ACS URL, form)."""
    app = flow.client.get(f"{flow.idp}/{DIRECTORY}/my")
    r = sign_in_at_idp(flow, app, user)
    assert r.status_code == 303
    portal = flow.client.get(flow.idp + r.headers["location"])
    launch = html.unescape(re.search(r'href="([^"]+/run\?[^"]+)"', portal.text).group(1))
    page = flow.client.get(launch)
    return hidden_form(page.text)


def decode(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


def encode(root: etree._Element | bytes) -> str:
    data = root if isinstance(root, bytes) else etree.tostring(root)
    return base64.b64encode(data).decode()


def mint(sims, user: str, app: str = APP, in_response_to: str | None = None) -> dict:
    """A signed Response from the control plane (no browser): {acs_url, saml_response, ...}."""
    body = {"user": user, "in_response_to": in_response_to}
    return sims.control.post(f"{IDP_DIR}/apps/{app}/responses", body)


def post_acs(url: str, saml_response: str, relay_state: str | None = None) -> httpx.Response:
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    with browser() as c:
        return c.post(url, data=data)


def error_code(r: httpx.Response) -> tuple[str, str]:
    """The ZIA error page's (code, reason)."""
    code = re.search(r'id="code">([^<]+)<', r.text)
    reason = re.search(r'id="reason">([^<]+)<', r.text)
    assert code and reason, r.text[:500]
    return code.group(1), reason.group(1)


def user_sessions(sims) -> list[dict]:
    return sims.control.get(f"{ZIA_ADMIN}/user-sessions")


def assert_rejected(sims, r: httpx.Response, code: str, reason: str | None = None) -> None:
    """Refused with ``code`` (and ``reason``), no session cookie, no SAML session, a journal note."""
    assert r.status_code >= 400, (r.status_code, r.text[:300])
    got_code, got_reason = error_code(r)
    assert got_code == code, (got_code, got_reason)
    if reason:
        assert got_reason == reason, (got_code, got_reason)
    assert "zia_sso_" not in r.headers.get("set-cookie", "")
    assert user_sessions(sims) == []
    entry = sims.control.journal.entries(sim="zia", path="/sfc_sso", limit=1)
    assert entry and entry[-1]["note"] and code in entry[-1]["note"], entry


def zia_admin_client(sims) -> httpx.Client:
    """An API-key session of the ZIA Super Admin (for /users, /groups, /departments)."""
    import time

    from sims.zia.auth import obfuscate

    admin = sims.info["sims"]["zia"]["tenants"][0]["admins"][0]
    ts = int(time.time() * 1000)
    body = {
        "apiKey": obfuscate(admin["api_key"], ts),
        "username": admin["username"],
        "password": admin["password"],
        "timestamp": ts,
    }
    r = httpx.post(f"{sims.url('zia')}/api/v1/authenticatedSession", json=body)
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=sims.url("zia"), cookies={"JSESSIONID": r.cookies["JSESSIONID"]}, timeout=30)
