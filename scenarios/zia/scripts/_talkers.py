"""The guide's work with zscaler-api-talkers' ``ZiaTalker``, shared by its legacy and OneAPI scripts.

``ZiaTalker`` hard-codes ``https://zsapi.{cloud}/api/v1`` in its constructor; built without credentials it
only logs a warning, and the scripts then point ``base_uri`` and ``hp_http.host`` at the sim (reference
§1.6). It sends and returns raw camelCase dicts and raises ``ValueError`` on any error status.
"""

from __future__ import annotations

import time
from typing import Any

from _common import PAGE_SIZE, RULE_ORDER, RULE_RANK, SUPER_CATEGORY, Context, expect, quota

MAX_PAGES = 200


def make_talker(host: str, cloud: str = "zscloud.net") -> Any:
    from zscaler_api_talkers import ZiaTalker

    talker = ZiaTalker(cloud_name=cloud)  # no credentials: no network, just a warning
    talker.base_uri = talker.hp_http.host = host
    return talker


def category_view(cat: dict) -> dict:
    return {
        "id": cat.get("id"),
        "configuredName": cat.get("configuredName"),
        "urls": sorted(cat.get("urls") or []),
    }


def guide_work(z: Any, ctx: Context, paginate: bool) -> dict:
    g = ctx.guide
    out: dict[str, Any] = {}

    with ctx.step("quota_before"):
        out["quota_before"] = quota(z.list_url_categories_url_quota())

    with ctx.step("create_category"):
        cat = z.add_url_categories(
            name=g.category_name,
            super_category=SUPER_CATEGORY,
            urls=g.initial_urls,
            custom_category=True,
            description=f"Created by {g.tag} (scenarios/zia)",
        )
    cid = cat.get("id")
    expect(isinstance(cid, str) and bool(cid), f"created category has no string id: {cat}")
    out["category_created"] = category_view(cat)

    with ctx.step("add_urls"):
        added = z.update_url_categories(
            cid, action="ADD_TO_LIST", configured_name=g.category_name, urls=g.add_urls
        )
    out["category_after_add"] = category_view(added)

    with ctx.step("remove_urls"):
        removed = z.update_url_categories(
            cid, action="REMOVE_FROM_LIST", configured_name=g.category_name, urls=g.remove_urls
        )
    out["category_after_remove"] = category_view(removed)

    with ctx.step("get_category"):
        # ZiaTalker refuses ids outside its own list (predefined ids and CUSTOM_00..CUSTOM_256).
        out["category"] = category_view(z.list_url_categories_id(cid))

    with ctx.step("quota_after"):
        out["quota_after"] = quota(z.list_url_categories_url_quota())

    with ctx.step("status_before_activation"):
        out["status_before_activation"] = z.get_status().get("status")

    with ctx.step("create_rule"):
        rule = z.add_url_filtering_rules(
            name=g.rule_name,
            order=RULE_ORDER,
            protocols=["ANY_RULE"],
            state="ENABLED",
            action="BLOCK",
            url_categories=[cid],
            rank=RULE_RANK,
        )
    expect(isinstance(rule.get("id"), int), f"created rule has no integer id: {rule}")
    out["rule"] = {
        k: rule.get(k) for k in ("id", "name", "order", "rank", "action", "state", "urlCategories")
    }

    with ctx.step("activate"):
        out["activate"] = z.activate_status().get("status")

    with ctx.step("status"):
        out["status"] = z.get_status().get("status")

    if paginate:
        with ctx.step("paginate_categories"):
            out["pagination"] = paginate_categories(z)
    return out


def paginate_categories(z: Any) -> dict:
    """The talker's own pager (``_obtain_all``: page=1,2,... until an empty page, 1 s apart), bounded here."""
    calls: list[int] = []
    original = z.hp_http.get_call

    def counting_get_call(url: str, *args: Any, **kwargs: Any):
        response = original(url, *args, **kwargs)
        calls.append(len(response.json() or []))
        if len(calls) >= MAX_PAGES:
            raise RuntimeError(f"pagination did not end after {MAX_PAGES} pages")
        return response

    z.hp_http.get_call = counting_get_call
    t0 = time.monotonic()
    try:
        items = z._obtain_all(f"/urlCategories?pageSize={PAGE_SIZE}")
    finally:
        z.hp_http.get_call = original
    unpaged = z.list_url_categories()  # one plain GET, for comparison
    return {
        "page_size": PAGE_SIZE,
        "pages": calls,
        "requests": len(calls),
        "ids": [c.get("id") for c in items],
        "unpaged_ids": [c.get("id") for c in unpaged],
        "seconds": round(time.monotonic() - t0, 3),
    }


def check_talker(z: Any, host: str) -> dict:
    needed = [
        "authenticate",
        "authenticate_one_api",
        "list_url_categories_url_quota",
        "add_url_categories",
        "update_url_categories",
        "list_url_categories_id",
        "add_url_filtering_rules",
        "activate_status",
        "get_status",
        "end_session",
        "_obtain_all",
    ]
    missing = [m for m in needed if not hasattr(z, m)]
    expect(not missing, f"ZiaTalker lacks {missing}")
    expect(z.hp_http.host == host, f"ZiaTalker host is {z.hp_http.host!r}")
    from zscaler_api_talkers.zia.models import valid_category_ids

    expect("CUSTOM_01" in valid_category_ids, "ZiaTalker no longer accepts CUSTOM_NN category ids")
    return {"api": needed}
