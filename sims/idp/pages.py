"""The HTML pages a person sees at the identity provider: sign-in, user portal, errors."""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f8;margin:0;
color:#1d2b3a}
header{background:#0b2a4a;color:#fff;padding:14px 28px;font-size:18px;letter-spacing:.3px}
header b{color:#5ec2f2}
main{max-width:460px;margin:48px auto;background:#fff;border-radius:8px;padding:28px 32px;
box-shadow:0 2px 10px rgba(0,0,0,.08)}
main.wide{max-width:760px}
h1{font-size:20px;margin:0 0 18px}
label{display:block;font-size:13px;margin:14px 0 4px;color:#4a5b6c}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px 10px;
border:1px solid #b9c4cf;
border-radius:4px;font-size:15px}
button{margin-top:20px;background:#1464c8;color:#fff;border:0;border-radius:4px;padding:10px 18px;
font-size:15px;
cursor:pointer}
.error{background:#fde8e8;border:1px solid #f5b5b5;color:#9b1c1c;padding:10px 12px;
border-radius:4px;margin-bottom:8px}
.muted{color:#6b7b8c;font-size:13px}
.tiles{display:flex;flex-wrap:wrap;gap:14px;margin-top:12px}
.tile{display:block;width:200px;padding:16px;border:1px solid #d5dde5;border-radius:6px;
text-decoration:none;
color:#0b2a4a;background:#fafcfe}
.tile b{display:block;font-size:16px;margin-bottom:6px}
code{background:#eef2f6;padding:1px 4px;border-radius:3px}
"""


def _page(title: str, body: str, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><header><b>CyberArk</b> Identity &middot; sims</header>"
        f"<main{cls}>{body}</main></body></html>"
    )


def login_page(
    directory: str, action: str, ctx: str | None, app_name: str | None, error: str | None, username: str = ""
) -> str:
    target = f"to continue to <b>{escape(app_name)}</b>" if app_name else "to your user portal"
    err = f'<div class="error" role="alert" id="error">{escape(error)}</div>' if error else ""
    hidden = f'<input type="hidden" name="ctx" value="{escape(ctx)}">' if ctx else ""
    body = f"""<h1>Sign in</h1>
<p class="muted">{escape(directory)}: sign in {target}.</p>
{err}
<form method="post" action="{escape(action)}" id="login">
  {hidden}
  <label for="username">User name</label>
  <input type="text" id="username" name="username" value="{escape(username)}"
         autocomplete="username" autofocus>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password">
  <button type="submit" id="submit">Sign in</button>
</form>"""
    return _page("Sign in - CyberArk Identity", body)


def portal_page(
    directory: str, display_name: str, login: str, apps: list[tuple[str, str, str]], logout: str
) -> str:
    tiles = "".join(
        f'<a class="tile" href="{escape(url)}" id="app-{escape(app_id)}"><b>{escape(name)}</b>'
        f'<span class="muted">Open with single sign-on</span></a>'
        for app_id, name, url in apps
    )
    if not tiles:
        tiles = '<p class="muted">No applications are assigned to you.</p>'
    body = f"""<h1>Apps</h1>
<p>Signed in as <b id="who">{escape(display_name)}</b> <span class="muted">({escape(login)})</span> &middot;
<a href="{escape(logout)}">Sign out</a></p>
<p class="muted">{escape(directory)} user portal</p>
<div class="tiles">{tiles}</div>"""
    return _page("User Portal - CyberArk Identity", body, wide=True)


def error_page(title: str, message: str, reason: str) -> str:
    body = f"""<h1>{escape(title)}</h1>
<div class="error" role="alert">{escape(message)}</div>
<p class="muted">Reason: <code id="reason">{escape(reason)}</code></p>"""
    return _page(f"{title} - CyberArk Identity", body)


def signed_out_page(directory: str, login_url: str) -> str:
    body = (
        f"<h1>Signed out</h1><p>You have signed out of {escape(directory)}.</p>"
        f'<a href="{escape(login_url)}">Sign in</a>'
    )
    return _page("Signed out - CyberArk Identity", body)
