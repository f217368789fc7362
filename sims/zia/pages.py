"""The HTML pages the ZIA sim shows a person: sign-in, the signed-in page and SAML errors."""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef3f8;margin:0;
color:#1b2733}
header{background:#0066b3;color:#fff;padding:14px 28px;font-size:18px}
main{max-width:560px;margin:48px auto;background:#fff;border-radius:8px;padding:28px 32px;
box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:20px;margin:0 0 16px}
label{display:block;font-size:13px;margin:14px 0 4px;color:#4a5b6c}
input[type=text]{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #b9c4cf;
border-radius:4px;font-size:15px}
button{margin-top:18px;background:#0066b3;color:#fff;border:0;border-radius:4px;padding:10px 18px;
font-size:15px}
table{border-collapse:collapse;width:100%}td{padding:7px 4px;border-bottom:1px solid #e3e9ef;
vertical-align:top}
td:first-child{color:#5b6b7b;width:38%}
.error{background:#fde8e8;border:1px solid #f5b5b5;color:#9b1c1c;padding:12px;border-radius:4px}
.code{font-family:monospace;font-size:22px;color:#9b1c1c}
.muted{color:#6b7b8c;font-size:13px}
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><header>zscaler &middot; Internet Access (sims)</header>"
        f"<main>{body}</main></body></html>"
    )


def sign_in_page(org: int, company: str, action: str, return_to: str, saml: bool) -> str:
    note = (
        "You will be sent to your organization's identity provider."
        if saml
        else "SAML is not enabled for this organization (Authentication Profile)."
    )
    body = f"""<h1>Sign in to Zscaler</h1>
<p class="muted">{escape(company)} (org {org}). {escape(note)}</p>
<form method="get" action="{escape(action)}" id="signin">
  <input type="hidden" name="return" value="{escape(return_to)}">
  <label for="login_name">Login name</label>
  <input type="text" id="login_name" name="login_name" placeholder="user@example.com" autocomplete="username">
  <button type="submit" id="next">Sign in</button>
</form>"""
    return _page("Zscaler: sign in", body)


def signed_in_page(org: int, company: str, user: dict, idp: str, session: dict, logout: str) -> str:
    groups = ", ".join(g["name"] for g in user["groups"]) or "(none)"
    department = user["department"]["name"] if user.get("department") else "(none)"
    body = f"""<h1>You are signed in</h1>
<table id="user">
<tr><td>Name</td><td id="display-name">{escape(user["name"])}</td></tr>
<tr><td>Login name</td><td id="login-name">{escape(user["email"])}</td></tr>
<tr><td>Department</td><td id="department">{escape(department)}</td></tr>
<tr><td>Groups</td><td id="groups">{escape(groups)}</td></tr>
<tr><td>User id</td><td id="user-id">{user["id"]}</td></tr>
<tr><td>Identity provider</td><td id="idp">{escape(idp)}</td></tr>
<tr><td>Organization</td><td>{escape(company)} ({org})</td></tr>
<tr><td>Session until</td><td id="session-until">{escape(session["expires"])}</td></tr>
</table>
<p><a href="{escape(logout)}">Sign out</a></p>"""
    return _page("Zscaler: signed in", body)


def error_page(code: str, text: str, reason: str, detail: str) -> str:
    body = f"""<h1>Authentication failed</h1>
<div class="error" role="alert"><div class="code" id="code">{escape(code)}</div>
<div id="message">{escape(text)}</div></div>
<p class="muted">Reason: <code id="reason">{escape(reason)}</code>. {escape(detail)}</p>"""
    return _page(f"Zscaler: error {code}", body)
