"""zscaler-api-talkers ``ZiaTalker``, legacy session: ``authenticate(api_key, username, password)``.

python talkers_legacy.py INFO.json | --check-imports
"""

from __future__ import annotations

from _common import Context, expect, main, versions
from _talkers import check_talker, guide_work, make_talker

TAG = "talkers-legacy"


def work(ctx: Context) -> dict:
    admin = ctx.admin
    z = make_talker(ctx.legacy_base, ctx.tenant.get("cloud") or "zscloud.net")
    with ctx.step("login"):  # POST /api/v1/authenticatedSession; reads response.cookies["JSESSIONID"]
        z.authenticate(api_key=admin["api_key"], username=admin["username"], password=admin["password"])
    expect(bool(z.cookies and z.cookies.get("JSESSIONID")), "no JSESSIONID after authenticate()")
    try:
        out = guide_work(z, ctx, paginate=False)
    finally:
        with ctx.step("logout"):  # DELETE with body {}; ZiaTalker parses the answer as JSON
            logout = z.end_session()
    out.update(
        mode="legacy", base_url=z.hp_http.host, logout=logout, versions=versions("zscaler-api-talkers")
    )
    return out


def check_imports() -> dict:
    from zscaler_api_talkers.zia.helpers import _obfuscate_api_key  # noqa: F401

    host = "http://127.0.0.1:9/api/v1"
    return {**check_talker(make_talker(host), host), "versions": versions("zscaler-api-talkers")}


if __name__ == "__main__":
    main(TAG, work, check_imports)
