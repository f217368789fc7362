"""URL categories: predefined and custom, their URL lists, keywords and the tenant-wide quota."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sims.zia.catalog import PREDEFINED, SUPER_CATEGORIES
from sims.zia.errors import ZiaError, body_invalid, duplicate, invalid, not_found
from sims.zia.urls import url_problem

_TLD = re.compile(r"^\.[a-z0-9-]{1,63}$")
LIST_FIELDS = {
    "urls": "urls",
    "dbCategorizedUrls": "db_urls",
    "keywords": "keywords",
    "keywordsRetainingParentCategory": "keywords_retaining",
    "ipRanges": "ip_ranges",
    "ipRangesRetainingParentCategory": "ip_ranges_retaining",
}
URL_LISTS = ("urls", "db_urls")
KEYWORD_LISTS = ("keywords", "keywords_retaining")


@dataclass
class Category:
    id: str
    val: int
    custom: bool
    super_category: str | None
    configured_name: str | None = None
    description: str | None = None
    type: str = "URL_CATEGORY"
    # ordered sets (dicts) so that adding 1,000 URLs to 24,000 costs the 1,000, not the 24,000
    urls: dict[str, None] = field(default_factory=dict)
    db_urls: dict[str, None] = field(default_factory=dict)
    keywords: dict[str, None] = field(default_factory=dict)
    keywords_retaining: dict[str, None] = field(default_factory=dict)
    ip_ranges: dict[str, None] = field(default_factory=dict)
    ip_ranges_retaining: dict[str, None] = field(default_factory=dict)

    def clone(self) -> Category:
        c = Category(
            self.id,
            self.val,
            self.custom,
            self.super_category,
            self.configured_name,
            self.description,
            self.type,
        )
        for attr in LIST_FIELDS.values():
            setattr(c, attr, dict(getattr(self, attr)))
        return c

    def to_api(self, counts_only: bool = False) -> dict:
        out: dict = {"id": self.id}
        if self.custom or self.configured_name:
            out["configuredName"] = self.configured_name
        if self.super_category is not None:
            out["superCategory"] = self.super_category
        if not counts_only:
            for wire, attr in LIST_FIELDS.items():
                out[wire] = list(getattr(self, attr))
        out.update(
            customCategory=self.custom,
            editable=True,
            description=self.description if self.custom else f"{self.id}_DESC",
            type=self.type,
            val=self.val,
            customUrlsCount=len(self.urls),
            urlsRetainingParentCategoryCount=len(self.db_urls),
            customIpRangesCount=len(self.ip_ranges),
            ipRangesRetainingParentCategoryCount=len(self.ip_ranges_retaining),
            categoryGroup="REGULAR",
            urlType="EXACT",
        )
        if counts_only:
            out["urlKeywordCounts"] = {
                "totalUrlCount": len(self.urls),
                "retainParentUrlCount": len(self.db_urls),
                "totalKeywordCount": len(self.keywords),
                "retainParentKeywordCount": len(self.keywords_retaining),
            }
        return out

    def lite(self) -> dict:
        # Shape of /urlCategories/lite is UNVERIFIED: id, name and kind are what clients need.
        out = {"id": self.id, "customCategory": self.custom, "type": self.type, "val": self.val}
        if self.configured_name:
            out["configuredName"] = self.configured_name
        return out


def predefined_categories() -> dict[str, Category]:
    return {cid: Category(cid, i + 1, False, sup) for i, (cid, sup) in enumerate(PREDEFINED)}


def _str_list(body: dict, key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise body_invalid()
    return value


@dataclass
class Limits:
    max_urls: int = 25_000
    max_categories: int = 64
    max_keywords_per_category: int = 30
    max_keywords: int = 1000


class CategoryBook:
    """All categories of one configuration (pending or activated) with the quota bookkeeping."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.items: dict[str, Category] = predefined_categories()
        self.url_refs: Counter[str] = Counter()  # custom URL -> number of lists holding it
        self.keyword_total = 0

    def clone(self) -> CategoryBook:
        book = CategoryBook.__new__(CategoryBook)
        book.limits = self.limits
        book.items = {k: c.clone() for k, c in self.items.items()}
        book.url_refs = Counter(self.url_refs)
        book.keyword_total = self.keyword_total
        return book

    # -- reading ---------------------------------------------------------------------------------
    def get(self, cid: str) -> Category:
        cat = self.items.get(cid)
        if cat is None:
            raise not_found(f"URL category {cid}")
        return cat

    def custom(self) -> list[Category]:
        return [c for c in self.items.values() if c.custom]

    def quota(self) -> dict:
        used = len(self.url_refs)
        return {"uniqueUrlsProvisioned": used, "remainingUrlsQuota": max(self.limits.max_urls - used, 0)}

    # -- validation ------------------------------------------------------------------------------
    def _check_entries(self, cat_type: str, lists: dict[str, list[str]]) -> None:
        for attr in URL_LISTS:
            for entry in lists.get(attr) or []:
                if cat_type == "TLD_CATEGORY":
                    if not _TLD.match(entry):
                        raise invalid(f"Invalid top-level domain: {entry!r}")
                    continue
                problem = url_problem(entry)
                if problem:
                    raise invalid(f"Invalid URL {entry!r}: {problem}")  # the whole request is refused

    def _quota_after(self, adds: list[str], removes: list[str]) -> int:
        """Unique URLs if ``adds`` were added and ``removes`` (each one reference) removed."""
        delta = Counter(adds)
        delta.subtract(removes)
        after = len(self.url_refs)
        for url, d in delta.items():
            before = self.url_refs.get(url, 0)
            if before == 0 and d > 0:
                after += 1
            elif before > 0 and before + d <= 0:
                after -= 1
        return after

    def _check_quota(self, adds: list[str], removes: list[str]) -> None:
        if not adds:
            return
        if self._quota_after(adds, removes) > self.limits.max_urls:
            raise invalid(
                f"An organization can have a maximum of {self.limits.max_urls} custom URLs. "
                f"Currently {len(self.url_refs)} are already provisioned for this organization."
            )

    def _check_keywords(self, cat: Category, new: dict[str, dict[str, None]]) -> None:
        count = sum(len(new.get(a, getattr(cat, a))) for a in KEYWORD_LISTS)
        if count > self.limits.max_keywords_per_category:
            raise invalid(f"A category can have at most {self.limits.max_keywords_per_category} keywords.")
        current = sum(len(getattr(cat, a)) for a in KEYWORD_LISTS)
        if self.keyword_total - current + count > self.limits.max_keywords:
            raise invalid(f"An organization can have at most {self.limits.max_keywords} keywords.")

    # -- writing ---------------------------------------------------------------------------------
    def _apply(self, cat: Category, new: dict[str, dict[str, None]]) -> None:
        """Replace lists of ``cat`` by ``new`` (already validated), keeping the counters right."""
        for attr, values in new.items():
            old = getattr(cat, attr)
            if attr in URL_LISTS:
                for url in old:
                    if url not in values:
                        self._unref(url)
                for url in values:
                    if url not in old:
                        self.url_refs[url] += 1
            if attr in KEYWORD_LISTS:
                self.keyword_total += len(values) - len(old)
            setattr(cat, attr, values)

    def _unref(self, url: str) -> None:
        n = self.url_refs[url] - 1
        if n <= 0:
            del self.url_refs[url]
        else:
            self.url_refs[url] = n

    def create(self, body: dict) -> Category:
        name = body.get("configuredName")
        if not isinstance(name, str) or not name.strip():
            raise invalid("configuredName is required for a custom category")
        if len(name) > 255:
            raise invalid("configuredName is longer than 255 characters")
        super_category = body.get("superCategory") or "USER_DEFINED"
        if super_category not in SUPER_CATEGORIES:
            raise invalid(f"Invalid superCategory: {super_category}")
        cat_type = body.get("type") or "URL_CATEGORY"
        if cat_type not in ("URL_CATEGORY", "TLD_CATEGORY"):
            raise invalid(f"Invalid type: {cat_type}")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise body_invalid()
        if any(c.configured_name == name for c in self.custom()):
            raise duplicate(f"A URL category named {name!r} already exists")
        if len(self.custom()) >= self.limits.max_categories:
            raise invalid(
                f"An organization can have a maximum of {self.limits.max_categories} custom categories."
            )
        lists = {attr: _str_list(body, wire) or [] for wire, attr in LIST_FIELDS.items()}
        self._check_entries(cat_type, lists)
        self._check_quota(lists["urls"] + lists["db_urls"], [])
        number = next(n for n in range(1, 10_000) if f"CUSTOM_{n:02d}" not in self.items)
        cat = Category(
            f"CUSTOM_{number:02d}", 127 + number, True, super_category, name, description, cat_type
        )
        new = {attr: dict.fromkeys(values) for attr, values in lists.items()}
        self._check_keywords(cat, new)
        self.items[cat.id] = cat
        self._apply(cat, new)
        return cat

    def replace(self, cid: str, body: dict) -> Category:
        """Full update: omitted attributes are cleared, except retained keywords (ZIA docs)."""
        cat = self.get(cid)
        lists: dict[str, list[str]] = {}
        for wire, attr in LIST_FIELDS.items():
            value = _str_list(body, wire)
            if value is None and attr == "keywords_retaining":
                continue
            lists[attr] = value or []
        self._check_entries(cat.type, lists)
        removes = [u for a in URL_LISTS for u in getattr(cat, a)]
        self._check_quota([u for a in URL_LISTS for u in lists.get(a, [])], removes)
        name = body.get("configuredName")
        if cat.custom:
            if not isinstance(name, str) or not name.strip():
                raise invalid("configuredName is required for a custom category")
            if any(c.configured_name == name and c.id != cid for c in self.custom()):
                raise duplicate(f"A URL category named {name!r} already exists")
        new = {attr: dict.fromkeys(values) for attr, values in lists.items()}
        self._check_keywords(cat, new)
        super_category = body.get("superCategory")
        if super_category is not None and super_category not in SUPER_CATEGORIES:
            raise invalid(f"Invalid superCategory: {super_category}")
        if cat.custom:
            cat.configured_name = name
            cat.description = body.get("description")
            cat.super_category = super_category  # a PUT without it really drops it (recorded)
        self._apply(cat, new)
        return cat

    def add_to_list(self, cid: str, body: dict) -> Category:
        cat = self.get(cid)
        adds = {attr: _str_list(body, wire) for wire, attr in LIST_FIELDS.items()}
        adds = {k: v for k, v in adds.items() if v}
        self._check_entries(cat.type, adds)
        fresh = [u for a in URL_LISTS for u in adds.get(a, []) if u not in getattr(cat, a)]
        self._check_quota(list(dict.fromkeys(fresh)), [])
        new = {a: {**getattr(cat, a), **dict.fromkeys(v)} for a, v in adds.items() if a not in URL_LISTS}
        self._check_keywords(cat, new)  # every check passes before anything changes
        for attr in URL_LISTS:
            current = getattr(cat, attr)
            for url in adds.get(attr, ()):
                if url not in current:
                    current[url] = None
                    self.url_refs[url] += 1
        self._apply(cat, new)
        return cat

    def remove_from_list(self, cid: str, body: dict) -> Category:
        cat = self.get(cid)
        removals = {attr: _str_list(body, wire) for wire, attr in LIST_FIELDS.items()}  # all checked first
        for attr, values in removals.items():
            if not values:
                continue
            current = getattr(cat, attr)
            for v in values:
                if v in current:
                    del current[v]
                    if attr in URL_LISTS:
                        self._unref(v)
                    elif attr in KEYWORD_LISTS:
                        self.keyword_total -= 1
        return cat

    def delete(self, cid: str) -> None:
        cat = self.get(cid)
        if not cat.custom:
            raise ZiaError(403, "INVALID_OPERATION", "Predefined categories cannot be deleted")
        self._apply(cat, {attr: {} for attr in LIST_FIELDS.values()})
        del self.items[cid]
