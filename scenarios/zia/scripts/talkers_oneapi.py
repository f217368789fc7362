"""zscaler-api-talkers ``ZiaTalker``, OneAPI: ``authenticate_one_api(client_id, client_secret, vanity)``.

``vanity`` is used verbatim as the token host (POST ``{vanity}/oauth2/v1/token``), so it is the idp's
origin; the API host is set by hand to ``{zia}/zia/api/v1``. Work-around (reference §4.4): ``HttpCalls``
adds the Bearer header to its sticky headers only when a method passes ``headers=``, and ``get_status``/
``activate_status`` don't, so the header is put in ``hp_http.headers`` up front.
``authenticate_one_api`` also ignores a failed token request (it just leaves ``headers`` unset), hence
the explicit check.

    python talkers_oneapi.py INFO.json | --check-imports
"""

from __future__ import annotations

from _common import Context, expect, main, versions
from _talkers import check_talker, guide_work, make_talker

TAG = "talkers-oneapi"


def work(ctx: Context) -> dict:
    creds = ctx.oneapi
    z = make_talker(ctx.oneapi_base, ctx.tenant.get("cloud") or "zscloud.net")
    with ctx.step("token"):
        z.authenticate_one_api(
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            vanity=ctx.vanity_origin,
            audience=creds.get("audience") or "https://api.zscaler.com",
        )
    expect(bool(z.headers and z.headers.get("Authorization")), "authenticate_one_api() obtained no token")
    z.hp_http.headers.update(z.headers)  # the work-around
    out = guide_work(z, ctx, paginate=True)
    out.update(
        mode="oneapi",
        base_url=z.hp_http.host,
        token_url=f"{ctx.vanity_origin}/oauth2/v1/token",
        versions=versions("zscaler-api-talkers"),
    )
    return out


def check_imports() -> dict:
    host = "http://127.0.0.1:9/zia/api/v1"
    return {**check_talker(make_talker(host), host), "versions": versions("zscaler-api-talkers")}


if __name__ == "__main__":
    main(TAG, work, check_imports)
