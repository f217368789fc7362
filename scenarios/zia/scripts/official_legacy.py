"""zscaler-sdk-python, legacy ZIA session (API key + admin username/password, JSESSIONID cookie).

Pointed at the sim the way the reference (§1.3) found works: the environment variable
``ZIA_OVERRIDE_URL`` set to the bare origin (the SDK appends ``/api/v1`` itself; an ``override_url`` in
the ``LegacyZIAClient`` config dict is silently ignored), and any non-empty ``cloud``.

    python official_legacy.py INFO.json | --check-imports
"""

from __future__ import annotations

import os

from _common import Context, expect, main, versions
from _official import check_client_api, guide_work

TAG = "official-legacy"


def work(ctx: Context) -> dict:
    os.environ["ZIA_OVERRIDE_URL"] = ctx.legacy_origin
    from zscaler.oneapi_client import LegacyZIAClient

    admin = ctx.admin
    config = {
        "username": admin["username"],
        "password": admin["password"],
        "api_key": admin["api_key"],
        "cloud": ctx.tenant.get("cloud") or "zscaler",  # any non-empty string but "zspreview"
        "timeout": 60,
        "logging": {"enabled": False},
    }
    with ctx.step("login"):
        client = LegacyZIAClient(config)  # logs in here: POST /api/v1/authenticatedSession
    helper = client.zia_legacy_client
    expect(helper.url == ctx.legacy_origin, f"the SDK chose {helper.url!r}, not {ctx.legacy_origin!r}")
    with client:  # on exit: DELETE /api/v1/authenticatedSession
        out = guide_work(client, ctx, paginate=False)
    out["mode"] = "legacy"
    out["base_url"] = helper.url
    out["session_id_seen"] = bool(helper.session_id)
    out["versions"] = versions("zscaler-sdk-python")
    return out


def check_imports() -> dict:
    from zscaler.oneapi_client import LegacyZIAClient  # noqa: F401
    from zscaler.utils import obfuscate_api_key  # noqa: F401
    from zscaler.zia.legacy import LegacyZIAClientHelper

    expect(callable(LegacyZIAClientHelper.extractJSessionIDFromHeaders), "no JSESSIONID parser")
    return {**check_client_api(), "versions": versions("zscaler-sdk-python")}


if __name__ == "__main__":
    main(TAG, work, check_imports)
