"""A ZIA configuration (categories, rules, IP groups), activation, and the policy decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sims.zia.catalog import classify
from sims.zia.categories import LIST_FIELDS, URL_LISTS, Category, CategoryBook, Limits
from sims.zia.ipgroups import IpGroupBook
from sims.zia.people import People
from sims.zia.rules import REQUEST_METHODS, RuleBook
from sims.zia.urls import candidate_keys, entry_matches, index_key, normalise_request_url

DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
KNOWN_METHODS = set(REQUEST_METHODS) - {"OTHER"}


@dataclass
class PolicyConfig:
    categories: CategoryBook
    rules: RuleBook = field(default_factory=RuleBook)
    ip_groups: IpGroupBook = field(default_factory=IpGroupBook)

    @classmethod
    def empty(cls, limits: Limits) -> PolicyConfig:
        return cls(CategoryBook(limits))

    def clone(self) -> PolicyConfig:
        return PolicyConfig(self.categories.clone(), self.rules.clone(), self.ip_groups.clone())

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        cats = [
            c.to_api()
            for c in self.categories.items.values()
            if c.custom or any(getattr(c, a) for a in LIST_FIELDS.values())
        ]
        return {
            "categories": cats,
            "rules": self.rules.listing(),
            "next_rule_id": self.rules.next_id,
            "ip_groups": list(self.ip_groups.groups.values()),
            "next_ip_group_id": self.ip_groups.next_id,
        }

    @classmethod
    def load(cls, state: dict, limits: Limits) -> PolicyConfig:
        cfg = cls.empty(limits)
        book = cfg.categories
        for data in state["categories"]:
            cat = book.items.get(data["id"]) or Category(
                data["id"],
                int(data["val"]),
                True,
                data.get("superCategory"),
                data.get("configuredName"),
                data.get("description"),
                data.get("type", "URL_CATEGORY"),
            )
            book.items[cat.id] = cat
            for wire, attr in LIST_FIELDS.items():
                setattr(cat, attr, dict.fromkeys(data.get(wire) or []))
            for attr in URL_LISTS:
                for url in getattr(cat, attr):
                    book.url_refs[url] += 1
            book.keyword_total += len(cat.keywords) + len(cat.keywords_retaining)
        cfg.rules.rules = {int(r["id"]): r for r in state["rules"]}
        cfg.rules.order = [int(r["id"]) for r in sorted(state["rules"], key=lambda r: r["order"])]
        cfg.rules.next_id = int(state["next_rule_id"])
        cfg.ip_groups.groups = {int(g["id"]): g for g in state["ip_groups"]}
        cfg.ip_groups.next_id = int(state["next_ip_group_id"])
        return cfg


class ActiveConfig:
    """An activated configuration with an index for matching URLs quickly; never edited."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.by_host: dict[str, list[tuple[str, str, bool]]] = {}
        self.keywords: list[tuple[str, str, bool]] = []
        for cat in config.categories.items.values():
            for attr, retaining in (("urls", False), ("db_urls", True)):
                for entry in getattr(cat, attr):
                    self.by_host.setdefault(index_key(entry), []).append((cat.id, entry, retaining))
            for kw in cat.keywords:
                self.keywords.append((cat.id, kw.lower(), False))
            for kw in cat.keywords_retaining:
                self.keywords.append((cat.id, kw.lower(), True))

    def categories_of(self, url: str) -> list[str]:
        """Categories of a URL: a custom URL entry recategorises it; retained entries and keywords add
        to the predefined classification."""
        host, path = normalise_request_url(url)
        replacing: list[str] = []
        adding: list[str] = []
        for key in candidate_keys(host):
            for cid, entry, retaining in self.by_host.get(key, ()):
                if entry_matches(entry, host, path):
                    (adding if retaining else replacing).append(cid)
        full = f"{host}/{path}".lower()
        for cid, kw, retaining in self.keywords:
            if kw and kw in full:
                (adding if retaining else replacing).append(cid)
        base = [] if replacing else classify(host)
        return list(dict.fromkeys(replacing + adding + base))


def _in_window(window, at: float) -> bool:
    moment = datetime.fromtimestamp(at, tz=UTC)
    day_ok = "EVERYDAY" in window.days or DAYS[moment.weekday()] in window.days
    minute = moment.hour * 60 + moment.minute
    return day_ok and window.start <= minute < window.end


def decide(
    active: ActiveConfig,
    people: People,
    time_windows: dict[int, object],
    *,
    user: str | None,
    url: str,
    method: str,
    protocol: str,
    at: float,
    location_id: int | None = None,
    device_trust_level: str = "UNKNOWN_DEVICETRUSTLEVEL",
    user_risk_level: str = "LOW",
) -> dict:
    """The first enabled activated rule, in order, whose every criterion matches; ALLOW otherwise."""
    categories = active.categories_of(url)
    who = people.by_name(user) if user else None
    method = method.upper()
    for rule in active.config.rules.listing():
        if rule["state"] != "ENABLED":
            continue
        if rule["enforceTimeValidity"] and not rule["validityStartTime"] <= at < rule["validityEndTime"]:
            continue
        if "ANY" not in rule["urlCategories"] and not set(rule["urlCategories"]) & set(categories):
            continue
        if "ANY_RULE" not in rule["protocols"] and protocol not in rule["protocols"]:
            continue
        if (method if method in KNOWN_METHODS else "OTHER") not in rule["requestMethods"]:
            continue
        if rule["users"] and (who is None or who.id not in {u["id"] for u in rule["users"]}):
            continue
        if rule["groups"] and (who is None or not {g["id"] for g in rule["groups"]} & set(who.groups)):
            continue
        if rule["departments"] and (
            who is None or who.department not in {d["id"] for d in rule["departments"]}
        ):
            continue
        if rule["locations"] and location_id not in {loc["id"] for loc in rule["locations"]}:
            continue
        if rule["timeWindows"] and not any(
            _in_window(time_windows[t["id"]], at) for t in rule["timeWindows"] if t["id"] in time_windows
        ):
            continue
        if (
            device_trust_level not in rule["deviceTrustLevels"]
            or user_risk_level not in rule["userRiskScoreLevels"]
        ):
            continue
        return {
            "action": rule["action"],
            "rule": {"id": rule["id"], "name": rule["name"], "order": rule["order"]},
            "categories": categories,
            "user": who.name if who else None,
        }
    return {"action": "ALLOW", "rule": None, "categories": categories, "user": who.name if who else None}
