"""URL filtering rules: fields as the SDKs send them, ordering and admin-rank rules of the guide."""

from __future__ import annotations

import copy
import zoneinfo

from sims.zia.errors import ZiaError, body_invalid, duplicate, invalid, not_found

ACTIONS = {"ALLOW", "CAUTION", "BLOCK", "ISOLATE"}
PROTOCOLS = {
    "ANY_RULE",
    "TCP_RULE",
    "UDP_RULE",
    "DOHTTPS_RULE",
    "TUNNELSSL_RULE",
    "HTTP_PROXY",
    "FOHTTP_RULE",
    "FTP_RULE",
    "HTTPS_RULE",
    "HTTP_RULE",
    "SSL_RULE",
    "TUNNEL_RULE",
    "WEBSOCKETSSL_RULE",
    "WEBSOCKET_RULE",
}
REQUEST_METHODS = [
    "OPTIONS",
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "TRACE",
    "CONNECT",
    "PROPFIND",
    "PROPPATCH",
    "COPY",
    "MOVE",
    "MKCOL",
    "LOCK",
    "UNLOCK",
    "PATCH",
    "OTHER",
]
RISK_LEVELS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
TRUST_LEVELS = ["UNKNOWN_DEVICETRUSTLEVEL", "LOW_TRUST", "MEDIUM_TRUST", "HIGH_TRUST"]
USER_AGENTS = ["OPERA", "FIREFOX", "MSIE", "MSEDGE", "CHROME", "SAFARI", "OTHER", "MSCHREDGE"]
# id-list criteria and the guide's maximum for each (None: no documented maximum)
ID_LISTS: dict[str, int | None] = {
    "users": 4,
    "groups": 8,
    "departments": 8,
    "locations": 8,
    "locationGroups": 32,
    "timeWindows": 2,
    "labels": 1,
    "devices": None,
    "deviceGroups": None,
    "workloadGroups": 8,
    "overrideUsers": None,
    "overrideGroups": None,
    "sourceIpGroups": None,
}
MAX_DESCRIPTION = 10_240


def _int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise invalid(f"{name} must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # pyzscaler sends rank as "7"
        return int(value)
    raise invalid(f"{name} must be a number")


def _enum_list(body: dict, key: str, allowed, default: list[str]) -> list[str]:
    value = body.get(key)
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise body_invalid()
    bad = [v for v in value if v not in allowed]
    if bad:
        raise invalid(f"Invalid {key}: {bad[0]}")
    return list(dict.fromkeys(value))


def _ids(body: dict, key: str) -> list[dict]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise body_invalid()
    out = []
    for item in value:
        raw = item.get("id") if isinstance(item, dict) else item
        out.append({"id": _int(raw, f"{key}.id")})
    limit = ID_LISTS[key]
    if limit is not None and len(out) > limit:
        raise invalid(f"A rule can have at most {limit} {key}")
    return out


class RuleBook:
    """The rules of one configuration, kept in order 1..n."""

    def __init__(self, first_id: int = 1_690_944) -> None:
        self.rules: dict[int, dict] = {}
        self.order: list[int] = []
        self.next_id = first_id

    def clone(self) -> RuleBook:
        book = RuleBook(self.next_id)
        book.rules = copy.deepcopy(self.rules)
        book.order = list(self.order)
        return book

    def get(self, rule_id: int) -> dict:
        rule = self.rules.get(rule_id)
        if rule is None:
            raise not_found(f"URL filtering rule {rule_id}")
        return rule

    def listing(self) -> list[dict]:
        return [self.rules[i] for i in self.order]

    def referencing(self, category_id: str) -> list[dict]:
        return [r for r in self.listing() if category_id in r["urlCategories"]]

    # -- building a rule from a request body -----------------------------------------------------
    def _build(self, body: dict, rule_id: int, caller_rank: int, rank_enabled: bool, known) -> dict:
        if not isinstance(body, dict):
            raise body_invalid()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name is required")
        if len(name) > 255:
            raise invalid("name is longer than 255 characters")
        if any(r["name"] == name and r["id"] != rule_id for r in self.rules.values()):
            raise duplicate(f"A URL filtering rule named {name!r} already exists")
        action = body.get("action")
        if action not in ACTIONS:
            raise invalid(f"Invalid action: {action}")
        rank = _int(body.get("rank", 7), "rank")
        if not 0 <= rank <= 7:
            raise invalid("rank must be between 0 and 7")
        if rank_enabled and rank < caller_rank:
            raise invalid(f"Admin rank {caller_rank} cannot set a rule rank of {rank} (0 is the highest)")
        state = body.get("state", "ENABLED")
        if state not in ("ENABLED", "DISABLED"):
            raise invalid(f"Invalid state: {state}")
        description = body.get("description")
        if description is not None and (
            not isinstance(description, str) or len(description) > MAX_DESCRIPTION
        ):
            raise invalid(f"description must be a string of at most {MAX_DESCRIPTION} characters")
        categories = body.get("urlCategories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise body_invalid()
        unknown = [c for c in categories if c != "ANY" and not known["category"](c)]
        if unknown:
            raise invalid(f"Invalid URL category: {unknown[0]}")
        rule = {
            "id": rule_id,
            "name": name,
            "order": 0,  # set by placement
            "protocols": _enum_list(body, "protocols", PROTOCOLS, ["ANY_RULE"]),
            "urlCategories": list(dict.fromkeys(categories)) or ["ANY"],
            "excludeSrcCountries": bool(body.get("excludeSrcCountries", False)),
            "state": state,
            "rank": rank,
            "requestMethods": _enum_list(body, "requestMethods", REQUEST_METHODS, REQUEST_METHODS),
            "blockOverride": bool(body.get("blockOverride", False)),
            "description": description,
            "enforceTimeValidity": bool(body.get("enforceTimeValidity", False)),
            "userAgentTypes": _enum_list(body, "userAgentTypes", USER_AGENTS, []),
            "deviceTrustLevels": _enum_list(body, "deviceTrustLevels", TRUST_LEVELS, TRUST_LEVELS),
            "userRiskScoreLevels": _enum_list(body, "userRiskScoreLevels", RISK_LEVELS, RISK_LEVELS),
            "capturePCAP": bool(body.get("capturePCAP", False)),
            "action": action,
            "predefined": False,
            "cbiProfileId": 0,
            "browserEunTemplateId": 0,
        }
        for key in ID_LISTS:
            rule[key] = _ids(body, key)
        for key, kind in (
            ("users", "user"),
            ("groups", "group"),
            ("departments", "department"),
            ("timeWindows", "time_window"),
        ):
            missing = [i["id"] for i in rule[key] if not known[kind](i["id"])]
            if missing:
                raise invalid(f"Invalid {key} id: {missing[0]}")
        rule["usersAndGroupsSet"] = bool(rule["users"] or rule["groups"])
        rule["groupsAndDepartmentsSet"] = bool(rule["groups"] or rule["departments"])
        if rule["enforceTimeValidity"]:
            start = _int(body.get("validityStartTime"), "validityStartTime")
            end = _int(body.get("validityEndTime"), "validityEndTime")
            tz = body.get("validityTimeZoneId") or "UTC"
            if end <= start:
                raise invalid("validityEndTime must be after validityStartTime")
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise invalid(f"Invalid validityTimeZoneId: {tz}") from None
            rule.update(validityStartTime=start, validityEndTime=end, validityTimeZoneId=tz)
        if action == "ISOLATE":
            profile = body.get("cbiProfile")
            if not isinstance(profile, dict) or not profile.get("id"):
                raise invalid("An ISOLATE rule needs a cbiProfile")
            rule["cbiProfile"] = profile
        return rule

    def _place(self, order: list[int], rule_id: int, wanted: object) -> list[int]:
        position = _int(wanted, "order") if wanted is not None else len(order) + 1
        position = min(max(position, 1), len(order) + 1)  # pyzscaler sends 0 on an empty tenant
        order = [i for i in order if i != rule_id]
        order.insert(position - 1, rule_id)
        return order

    def _check_ranks(self, order: list[int], rules: dict[int, dict]) -> None:
        """A rule of higher admin rank (smaller number) always precedes one of lower rank."""
        ranks = [rules[i]["rank"] for i in order]
        for pos in range(1, len(ranks)):
            if ranks[pos] < ranks[pos - 1]:
                rule = rules[order[pos]]
                raise invalid(
                    f"Rule order {pos + 1} is not allowed for rank {rule['rank']}: rules of a higher admin "
                    "rank must come first"
                )

    def _commit(self, rule: dict, order: list[int]) -> dict:
        rules = {**self.rules, rule["id"]: rule}
        self._check_ranks(order, rules)
        self.rules = rules
        self.order = order
        for pos, rid in enumerate(order, 1):
            self.rules[rid]["order"] = pos
        return rule

    # -- operations ------------------------------------------------------------------------------
    def create(self, body: dict, caller_rank: int, rank_enabled: bool, known, stamp: dict) -> dict:
        rule = self._build(body, self.next_id, caller_rank, rank_enabled, known)
        rule.update(stamp)
        out = self._commit(rule, self._place(self.order, rule["id"], body.get("order")))
        self.next_id += 1
        return out

    def update(
        self, rule_id: int, body: dict, caller_rank: int, rank_enabled: bool, known, stamp: dict
    ) -> dict:
        current = self.get(rule_id)
        self._check_may_edit(current, caller_rank, rank_enabled)
        rule = self._build(body, rule_id, caller_rank, rank_enabled, known)
        rule.update(stamp)
        return self._commit(rule, self._place(self.order, rule_id, body.get("order", current["order"])))

    def delete(self, rule_id: int, caller_rank: int, rank_enabled: bool) -> None:
        self._check_may_edit(self.get(rule_id), caller_rank, rank_enabled)
        del self.rules[rule_id]
        self.order = [i for i in self.order if i != rule_id]
        for pos, rid in enumerate(self.order, 1):
            self.rules[rid]["order"] = pos

    @staticmethod
    def _check_may_edit(rule: dict, caller_rank: int, rank_enabled: bool) -> None:
        if rank_enabled and rule["rank"] < caller_rank:
            raise ZiaError(403, "SCOPE_LIMITED", f"Rule {rule['id']} has a higher admin rank than yours")
