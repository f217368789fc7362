"""pyzscaler 1.6.0, legacy ZIA session (it has no OneAPI/OAuth support).

``ZIA(..., override_url="{zia}/api/v1")`` (the override must include ``/api/v1``). pyzscaler logs in in
the constructor, keeps JSESSIONID in its ``requests`` cookie jar, and returns ``Box`` objects whose keys
are snake_case (``configured_name``, ``remaining_urls_quota``).

Not used as a context manager on purpose: restfly's ``APISession.__exit__`` returns
``self._deauthenticate()``, which is the DELETE's status code (truthy), so a ``with ZIA(...)`` block
silently swallows every exception raised inside it.

    python pyzscaler_legacy.py INFO.json | --check-imports
"""

from __future__ import annotations

from typing import Any

from _common import (
    RULE_ORDER,
    RULE_RANK,
    SUPER_CATEGORY,
    Context,
    expect,
    main,
    quota,
    versions,
)

TAG = "pyzscaler"


def category_view(cat: Any) -> dict:
    return {"id": cat.id, "configuredName": cat.configured_name, "urls": sorted(cat.get("urls") or [])}


def work(ctx: Context) -> dict:
    from pyzscaler import ZIA

    g = ctx.guide
    admin = ctx.admin
    out: dict[str, Any] = {"mode": "legacy", "base_url": ctx.legacy_base}
    with ctx.step("login"):
        zia = ZIA(
            api_key=admin["api_key"],
            username=admin["username"],
            password=admin["password"],
            override_url=ctx.legacy_base,
            timeout=60,
        )
    try:
        with ctx.step("quota_before"):
            out["quota_before"] = quota(zia.url_categories.get_quota())

        with ctx.step("create_category"):
            cat = zia.url_categories.add_url_category(
                name=g.category_name,
                super_category=SUPER_CATEGORY,
                urls=g.initial_urls,
                description=f"Created by {g.tag} (scenarios/zia)",
            )
        expect(isinstance(cat.get("id"), str) and bool(cat.id), f"created category has no string id: {cat}")
        cid = cat.id
        out["category_created"] = category_view(cat)

        with ctx.step("add_urls"):  # GET the category, then PUT it whole with urls = the new ones
            out["category_after_add"] = category_view(
                zia.url_categories.add_urls_to_category(cid, g.add_urls)
            )

        with ctx.step("remove_urls"):  # GET, then PUT {configuredName, urls}
            removed = zia.url_categories.delete_urls_from_category(cid, g.remove_urls)
        out["category_after_remove"] = category_view(removed)

        with ctx.step("get_category"):
            out["category"] = category_view(zia.url_categories.get_category(cid))

        with ctx.step("quota_after"):
            out["quota_after"] = quota(zia.url_categories.get_quota())

        with ctx.step("status_before_activation"):
            out["status_before_activation"] = zia.config.status()

        with ctx.step("create_rule"):  # pyzscaler documents rank as a string, and sends it as one
            rule = zia.url_filters.add_rule(
                rank=str(RULE_RANK),
                name=g.rule_name,
                action="BLOCK",
                protocols=["ANY_RULE"],
                order=RULE_ORDER,
                url_categories=[cid],
                state="ENABLED",
            )
        expect(isinstance(rule.get("id"), int), f"created rule has no integer id: {rule}")
        out["rule"] = {
            "id": rule.id,
            "name": rule.name,
            "order": rule.get("order"),
            "rank": rule.get("rank"),
            "action": rule.get("action"),
            "state": rule.get("state"),
            "urlCategories": list(rule.get("url_categories") or []),
        }

        with ctx.step("activate"):
            out["activate"] = zia.config.activate()

        with ctx.step("status"):
            out["status"] = zia.config.status()
    finally:
        with ctx.step("logout"):
            out["logout_status"] = zia._deauthenticate()  # DELETE /api/v1/authenticatedSession
    out["versions"] = versions("pyzscaler", "restfly", "python-box")
    return out


def check_imports() -> dict:
    from pyzscaler import ZIA
    from pyzscaler.utils import obfuscate_api_key  # noqa: F401
    from pyzscaler.zia.config import ActivationAPI
    from pyzscaler.zia.url_categories import URLCategoriesAPI
    from pyzscaler.zia.url_filters import URLFilteringAPI

    needed = {
        URLCategoriesAPI: [
            "get_quota",
            "add_url_category",
            "add_urls_to_category",
            "delete_urls_from_category",
            "get_category",
        ],
        URLFilteringAPI: ["add_rule"],
        ActivationAPI: ["activate", "status"],
        ZIA: ["_deauthenticate"],
    }
    missing = [f"{cls.__name__}.{m}" for cls, names in needed.items() for m in names if not hasattr(cls, m)]
    expect(not missing, f"pyzscaler lacks {missing}")
    return {
        "api": sorted(f"{cls.__name__}.{m}" for cls, names in needed.items() for m in names),
        "versions": versions("pyzscaler", "restfly", "python-box"),
    }


if __name__ == "__main__":
    main(TAG, work, check_imports)
