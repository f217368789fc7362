"""The guide's work with zscaler-sdk-python (``client.zia.*``), shared by its legacy and OneAPI scripts.

Every official-SDK call returns ``(result, response, error)`` instead of raising (unless the config sets
``raiseException``), so each step checks the error; ``get_quota`` is the exception: it raises.
"""

from __future__ import annotations

from typing import Any

from _common import (
    PAGE_SIZE,
    RULE_ORDER,
    RULE_RANK,
    SUPER_CATEGORY,
    Context,
    ScriptError,
    check_sdk_error,
    expect,
    quota,
)

MAX_PAGES = 200  # a fake that ignores page/pageSize makes resp.next() loop forever (reference §4.3)


def _id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else getattr(item, "id", None)


def category_view(cat: Any) -> dict:
    return {"id": cat.id, "configuredName": cat.configured_name, "urls": sorted(cat.urls or [])}


def guide_work(client: Any, ctx: Context, paginate: bool) -> dict:
    g = ctx.guide
    zia = client.zia
    out: dict[str, Any] = {}

    with ctx.step("quota_before"):
        out["quota_before"] = quota(zia.url_categories.get_quota())

    with ctx.step("create_category"):
        cat, _, err = zia.url_categories.add_url_category(
            super_category=SUPER_CATEGORY,
            urls=g.initial_urls,
            configured_name=g.category_name,
            custom_category=True,
            description=f"Created by {g.tag} (scenarios/zia)",
        )
        check_sdk_error("add_url_category", err)
    expect(isinstance(cat.id, str) and bool(cat.id), f"created category has no string id: {cat.as_dict()}")
    cid = cat.id
    out["category_created"] = category_view(cat)

    with ctx.step("add_urls"):
        added, _, err = zia.url_categories.add_urls_to_category(
            cid, configured_name=g.category_name, urls=g.add_urls
        )
        check_sdk_error("add_urls_to_category (ADD_TO_LIST)", err)
    out["category_after_add"] = category_view(added)

    with ctx.step("remove_urls"):
        removed, _, err = zia.url_categories.delete_urls_from_category(
            cid, configured_name=g.category_name, urls=g.remove_urls
        )
        check_sdk_error("delete_urls_from_category (REMOVE_FROM_LIST)", err)
    out["category_after_remove"] = category_view(removed)

    with ctx.step("get_category"):
        got, _, err = zia.url_categories.get_category(cid)
        check_sdk_error("get_category", err)
    out["category"] = category_view(got)

    with ctx.step("quota_after"):
        out["quota_after"] = quota(zia.url_categories.get_quota())

    with ctx.step("status_before_activation"):
        status, _, err = zia.activate.status()
        check_sdk_error("activate.status", err)
    out["status_before_activation"] = status.status

    with ctx.step("create_rule"):
        rule, _, err = zia.url_filtering.add_rule(
            name=g.rule_name,
            order=RULE_ORDER,
            rank=RULE_RANK,
            action="BLOCK",
            protocols=["ANY_RULE"],
            url_categories=[cid],
            state="ENABLED",
        )
        check_sdk_error("url_filtering.add_rule", err)
    expect(isinstance(rule.id, int), f"created rule has no integer id: {rule.as_dict()}")
    out["rule"] = {
        "id": rule.id,
        "name": rule.name,
        "order": rule.order,
        "rank": rule.rank,
        "action": rule.action,
        "state": rule.state,
        "urlCategories": list(rule.url_categories or []),
    }

    with ctx.step("activate"):
        activation, _, err = zia.activate.activate()
        check_sdk_error("activate.activate", err)
    out["activate"] = activation.status

    with ctx.step("status"):
        status, _, err = zia.activate.status()
        check_sdk_error("activate.status", err)
    out["status"] = status.status

    if paginate:
        with ctx.step("paginate_categories"):
            out["pagination"] = paginate_categories(zia)
    return out


def paginate_categories(zia: Any) -> dict:
    """list_categories(page_size=N), then resp.next() until has_next() is False: it must terminate."""
    items, resp, err = zia.url_categories.list_categories(query_params={"page_size": PAGE_SIZE})
    check_sdk_error("list_categories", err)
    pages = [len(items or [])]
    ids = [_id(c) for c in items or []]
    while resp.has_next():
        if len(pages) >= MAX_PAGES:
            raise ScriptError(f"list_categories pagination did not end after {MAX_PAGES} pages")
        page, resp, err = resp.next()
        check_sdk_error(f"list_categories page {len(pages) + 1}", err)
        pages.append(len(page or []))
        ids += [_id(c) for c in page or []]
    unpaged, _, err = zia.url_categories.list_categories()  # one plain GET, for comparison
    check_sdk_error("list_categories (unpaged)", err)
    return {
        "page_size": PAGE_SIZE,
        "pages": pages,
        "requests": len(pages),
        "ids": ids,
        "unpaged_ids": [_id(c) for c in unpaged or []],
    }


def check_client_api() -> dict:
    """The SDK surface the scripts rely on, checked without a network."""
    from zscaler.zia.activate import ActivationAPI
    from zscaler.zia.url_categories import URLCategoriesAPI
    from zscaler.zia.url_filtering import URLFilteringAPI

    needed = {
        URLCategoriesAPI: [
            "get_quota",
            "add_url_category",
            "add_urls_to_category",
            "delete_urls_from_category",
            "get_category",
            "list_categories",
        ],
        URLFilteringAPI: ["add_rule"],
        ActivationAPI: ["activate", "status"],
    }
    missing = [f"{cls.__name__}.{m}" for cls, names in needed.items() for m in names if not hasattr(cls, m)]
    expect(not missing, f"the SDK lacks {missing}")
    return {"api": sorted(f"{cls.__name__}.{m}" for cls, names in needed.items() for m in names)}
