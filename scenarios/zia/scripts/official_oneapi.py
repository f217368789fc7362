"""zscaler-sdk-python, OneAPI: a ZIdentity OAuth 2.0 token (client credentials), then Bearer calls.

``ZscalerClient`` has no base-URL option: the token URL and the API gateway are hard-coded https hosts.
The documented hook is the ``requestExecutor`` config key, so (reference §1.4) a ``RequestExecutor``
subclass answers the sim's origin as the gateway (the SDK then requests ``{zia}/zia/api/v1/...``) and swaps
in an ``OAuth`` subclass whose token URL is the idp's ``/oauth2/v1/token``.

    python official_oneapi.py INFO.json | --check-imports
"""

from __future__ import annotations

from _common import Context, expect, main, versions
from _official import check_client_api, guide_work

TAG = "official-oneapi"


def fake_classes(token_url: str, api_base: str):
    """The two subclasses of reference §1.4, bound to this world's URLs."""
    from zscaler.oneapi_oauth_client import OAuth
    from zscaler.request_executor import RequestExecutor

    class FakeOAuth(OAuth):
        # OAuth is a per-config singleton (via __new__): the subclass needs its own slot.
        _instance = None
        _last_config = None

        def _get_auth_url(self, vanity_domain, cloud):
            return token_url

    class FakeExecutor(RequestExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self._oauth is not None:
                self._oauth = FakeOAuth(self, self._config)

        def _resolve_api_base_url(self):
            return api_base

    return FakeOAuth, FakeExecutor


def make_client(token_url: str, api_base: str, client_id: str, client_secret: str):
    from zscaler import ZscalerClient

    _, executor = fake_classes(token_url, api_base)
    config = {
        "clientId": client_id,
        "clientSecret": client_secret,
        "vanityDomain": "safemarch",  # any: the token URL comes from FakeOAuth
        "requestExecutor": executor,
        "logging": {"enabled": False},
    }
    return ZscalerClient(config)


def work(ctx: Context) -> dict:
    creds = ctx.oneapi
    client = make_client(creds["token_url"], ctx.oneapi_origin, creds["client_id"], creds["client_secret"])
    executor = client._request_executor
    with client:  # on exit, after ZIA mutations: DELETE /zia/api/v1/authenticatedSession with the Bearer
        out = guide_work(client, ctx, paginate=True)
    out["mode"] = "oneapi"
    out["base_url"] = executor.get_base_url("/zia/api/v1/status") + "/zia/api/v1"
    out["token_url"] = executor._oauth._get_auth_url("safemarch", "production")
    out["audience_sent"] = "https://api.zscaler.com"  # hard-coded in the SDK's token request
    out["versions"] = versions("zscaler-sdk-python")
    return out


def check_imports() -> dict:
    token_url, api_base = "http://127.0.0.1:9/oauth2/v1/token", "http://127.0.0.1:9"
    client = make_client(token_url, api_base, "offline-client", "offline-secret")  # no network yet
    executor = client._request_executor
    expect(executor.get_base_url("/zia/api/v1/status") == api_base, "FakeExecutor did not take effect")
    expect(executor._oauth is not None, "the OneAPI client has no OAuth helper")
    expect(executor._oauth._get_auth_url("x", "production") == token_url, "FakeOAuth did not take effect")
    return {**check_client_api(), "versions": versions("zscaler-sdk-python")}


if __name__ == "__main__":
    main(TAG, work, check_imports)
