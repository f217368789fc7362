"""URL filtering as enforced: rules and categories through the sim's policy-decision endpoint.

Nothing is enforced before activation; the decision names the first enabled rule (in order) whose
every criterion matches, or ALLOW with no rule.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.zia.helpers import (
    START,
    TENANT,
    V1,
    WORK_HOURS_ID,
    action,
    activate,
    admin_client,
    advance,
    client,
    create_category,
    create_rule,
    ctl,
    decision,
    ids_by_name,
    restore_settings,
    zia_tenant,
)

RULES = f"{V1}/urlFilteringRules"
ALICE = "alice.admin@safemarch.example"
BOB = "bob.sales@safemarch.example"
CAROL = "carol.eng@safemarch.example"
FIRST_RULE_ID = 1_690_944  # recorded id of a first rule


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def _default_settings(sims):
    restore_settings(sims)


@pytest.fixture
def admin(sims):
    with admin_client(sims) as client:
        yield client


def rule_orders(client) -> list[tuple[str, int]]:
    return [(r["name"], r["order"]) for r in client.get(RULES).json()]


def put_rule(client, rule: dict, **changes):
    return client.put(f"{RULES}/{rule['id']}", json={**rule, **changes})


def test_default_is_allow_without_a_rule(sims):
    assert decision(sims, "https://www.google.com/search?q=x") == {
        "action": "ALLOW",
        "rule": None,
        "categories": ["WEB_SEARCH"],
        "user": None,
    }
    assert decision(sims, "unknown.example", user=BOB) == {
        "action": "ALLOW",
        "rule": None,
        "categories": ["MISCELLANEOUS_OR_UNKNOWN"],
        "user": BOB,
    }


def test_changes_are_enforced_only_after_activation(sims, admin):
    assert admin.get(f"{V1}/status").json() == {"status": "ACTIVE"}
    create_category(admin, "Blocked", ["blocked.example.com"])
    rule = create_rule(admin, "Block list", urlCategories=["CUSTOM_01"])
    assert (rule["id"], rule["order"], rule["rank"]) == (FIRST_RULE_ID, 1, 7)
    assert admin.get(f"{V1}/status").json() == {"status": "PENDING"}
    assert decision(sims, "blocked.example.com") == {
        "action": "ALLOW",
        "rule": None,
        "categories": ["MISCELLANEOUS_OR_UNKNOWN"],
        "user": None,
    }
    assert ctl(sims, "GET", f"{TENANT}/config", params={"view": "active"})["rules"] == []

    assert activate(admin) == {"status": "ACTIVE"}
    assert admin.get(f"{V1}/status").json() == {"status": "ACTIVE"}
    assert decision(sims, "https://blocked.example.com/page") == {
        "action": "BLOCK",
        "rule": {"id": FIRST_RULE_ID, "name": "Block list", "order": 1},
        "categories": ["CUSTOM_01"],
        "user": None,
    }

    # Deleting the rule is pending again: enforcement keeps the activated rule until the next activation.
    assert admin.delete(f"{RULES}/{rule['id']}").status_code == 204
    assert admin.get(f"{V1}/status").json() == {"status": "PENDING"}
    assert action(sims, "blocked.example.com") == "BLOCK"
    activate(admin)
    assert action(sims, "blocked.example.com") == "ALLOW"
    assert activate(admin) == {"status": "ACTIVE"}  # nothing pending: still fine


def test_activation_through_the_oneapi_prefix_with_a_body(sims, admin):
    create_category(admin, "Blocked", ["blocked.example.com"])
    create_rule(admin, "Block list", urlCategories=["CUSTOM_01"])
    r = admin.post(f"/zia{V1}/status/activate", json={})  # OneAPI and ZiaTalker send {}
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}
    assert action(sims, "blocked.example.com") == "BLOCK"


def test_wildcard_entries(sims, admin):
    create_category(admin, "Bad", [".bad.example.net"])
    create_rule(admin, "Block bad", urlCategories=["CUSTOM_01"])
    activate(admin)
    for url in (
        "sub.bad.example.net",
        "bad.example.net",
        "https://a.b.c.bad.example.net/x?y=z",
        "http://bad.example.net:8080/",
        "BAD.Example.NET",
    ):
        assert action(sims, url) == "BLOCK", url
    for url in (
        "notbad.example.net",
        "example.net",
        "bad.example.net.evil.example",
        "sub.notbad.example.net",
    ):
        assert action(sims, url) == "ALLOW", url


def test_exact_host_entries_do_not_cover_subdomains(sims, admin):
    create_category(admin, "Exact", ["exact.example.com"])
    create_rule(admin, "Block exact", urlCategories=["CUSTOM_01"])
    activate(admin)
    assert action(sims, "exact.example.com/any/path?q=1") == "BLOCK"  # the right side is always a wildcard
    assert action(sims, "exact.example.com:10443") == "BLOCK"
    assert action(sims, "www.exact.example.com") == "ALLOW"


def test_path_entries(sims, admin):
    create_category(admin, "Paths", ["docs.example.org/private/", "files.example.org/report.pdf"])
    create_rule(admin, "Block paths", urlCategories=["CUSTOM_01"])
    activate(admin)
    assert action(sims, "https://docs.example.org/private/") == "BLOCK"
    assert action(sims, "https://docs.example.org/private/deep/file.htm") == "BLOCK"
    assert action(sims, "https://docs.example.org/public/") == "ALLOW"
    assert action(sims, "https://docs.example.org/") == "ALLOW"
    assert action(sims, "https://other.example.org/private/") == "ALLOW"
    assert action(sims, "files.example.org/report.pdf?download=1") == "BLOCK"
    assert action(sims, "files.example.org/other.pdf") == "ALLOW"


def test_custom_url_recategorises_while_retained_urls_keep_the_parent(sims, admin):
    create_category(admin, "Override", ["google.com"], dbCategorizedUrls=["bing.com"])
    create_rule(admin, "Block search", urlCategories=["WEB_SEARCH"])
    activate(admin)
    d = decision(sims, "google.com")
    assert d["categories"] == ["CUSTOM_01"]  # no longer WEB_SEARCH
    assert d["action"] == "ALLOW"
    d = decision(sims, "bing.com")
    assert d["categories"] == ["CUSTOM_01", "WEB_SEARCH"]
    assert d["action"] == "BLOCK"
    assert decision(sims, "duckduckgo.com")["categories"] == ["WEB_SEARCH"]
    # exact entries: www.google.com keeps its predefined category
    assert decision(sims, "www.google.com")["categories"] == ["WEB_SEARCH"]


def test_keyword_match(sims, admin):
    create_category(admin, "Gambling words", keywords=["casino"], keywordsRetainingParentCategory=["poker"])
    create_rule(admin, "Block words", urlCategories=["CUSTOM_01"])
    activate(admin)
    d = decision(sims, "https://www.bestcasino.example/")
    # a plain keyword recategorises the URL; a retaining keyword adds to its predefined category
    assert (d["action"], d["categories"]) == ("BLOCK", ["CUSTOM_01"])
    assert action(sims, "https://news.example/articles/casino-review") == "BLOCK"  # in the path
    assert action(sims, "https://www.CASINO.example/") == "BLOCK"
    d = decision(sims, "https://www.google.com/search/poker")
    assert (d["action"], d["categories"]) == ("BLOCK", ["CUSTOM_01", "WEB_SEARCH"])
    assert action(sims, "https://www.cards.example/") == "ALLOW"


def test_first_match_wins_and_orders_stay_contiguous(sims, admin):
    create_category(admin, "Partners", ["partner.example.com"])
    allow = create_rule(admin, "Allow partners", "ALLOW", urlCategories=["CUSTOM_01"])
    block_all = create_rule(admin, "Block everything")
    assert (allow["order"], block_all["order"]) == (1, 2)
    assert block_all["urlCategories"] == ["ANY"]
    activate(admin)
    assert decision(sims, "partner.example.com")["rule"] == {
        "id": allow["id"],
        "name": "Allow partners",
        "order": 1,
    }
    assert decision(sims, "google.com")["rule"]["name"] == "Block everything"

    caution = create_rule(admin, "Caution partners", "CAUTION", order=1, urlCategories=["CUSTOM_01"])
    assert caution["order"] == 1
    assert rule_orders(admin) == [("Caution partners", 1), ("Allow partners", 2), ("Block everything", 3)]
    assert admin.get(f"{RULES}/{allow['id']}").json()["order"] == 2
    activate(admin)
    assert decision(sims, "partner.example.com")["rule"] == {
        "id": caution["id"],
        "name": "Caution partners",
        "order": 1,
    }

    # An order past the end lands at the end; pyzscaler's 0 (on an empty tenant) becomes 1.
    create_rule(admin, "Far", order=99, urlCategories=["GAMBLING"])
    create_rule(admin, "Zero", order=0, urlCategories=["SPORTS"])
    assert rule_orders(admin) == [
        ("Zero", 1),
        ("Caution partners", 2),
        ("Allow partners", 3),
        ("Block everything", 4),
        ("Far", 5),
    ]
    # Moving and deleting keep orders 1..n.
    current = admin.get(f"{RULES}/{block_all['id']}").json()
    r = put_rule(admin, current, order=1)
    assert r.status_code == 200 and r.json()["order"] == 1
    assert admin.delete(f"{RULES}/{caution['id']}").status_code == 204
    assert rule_orders(admin) == [("Block everything", 1), ("Zero", 2), ("Allow partners", 3), ("Far", 4)]
    activate(admin)
    assert decision(sims, "partner.example.com")["rule"]["name"] == "Block everything"


def test_pyzscaler_rule_body(sims, admin):
    create_category(admin, "Py", ["py.example.com"])
    # OBSERVED pyzscaler add_rule body: rank as a string, order 0 on an empty tenant.
    body = {
        "rank": "7",
        "name": "r1",
        "action": "BLOCK",
        "protocols": ["ANY_RULE"],
        "order": 0,
        "urlCategories": ["CUSTOM_01"],
    }
    r = admin.post(RULES, json=body)
    assert r.status_code == 200
    rule = r.json()
    assert (rule["order"], rule["rank"], rule["state"]) == (1, 7, "ENABLED")
    assert rule["requestMethods"][:3] == ["OPTIONS", "GET", "HEAD"] and len(rule["requestMethods"]) == 17
    got = admin.get(f"{RULES}/{rule['id']}").json()
    assert got["accessControl"] == "READ_WRITE" and got["httpHeaderProfiles"] == []
    assert got["lastModifiedBy"]["name"] == "admin@3173833.zscloud.net"
    assert got["lastModifiedTime"] == START
    activate(admin)
    assert action(sims, "py.example.com") == "BLOCK"


def test_disabled_rule_is_skipped(sims, admin):
    create_category(admin, "Cat", ["site.example.com"])
    create_rule(admin, "Disabled block", state="DISABLED", urlCategories=["CUSTOM_01"])
    create_rule(admin, "Caution", "CAUTION", urlCategories=["CUSTOM_01"])
    activate(admin)
    assert decision(sims, "site.example.com")["rule"]["name"] == "Caution"
    assert decision(sims, "site.example.com")["action"] == "CAUTION"


def test_users_groups_and_departments(sims, admin):
    users = {u["email"]: u["id"] for u in admin.get(f"{V1}/users").json()}
    assert set(users) == {ALICE, BOB, CAROL}
    groups = ids_by_name(admin, "groups")
    departments = ids_by_name(admin, "departments")
    assert set(groups) == {"Zscaler Users", "Zscaler Admins"}
    assert set(departments) == {"IT", "Sales", "Engineering"}
    bob = admin.get(f"{V1}/users").json()[1]
    assert bob == {
        "id": users[BOB],
        "name": "Bob Sales",
        "email": BOB,
        "department": {"id": departments["Sales"], "name": "Sales"},
        "groups": [{"id": groups["Zscaler Users"], "name": "Zscaler Users"}],
        "adminUser": False,
    }

    create_category(admin, "Social", ["users.example.com", "groups.example.com", "depts.example.com"])
    create_rule(admin, "Bob only", users=[{"id": users[BOB]}], urlCategories=["CUSTOM_01"])
    activate(admin)
    assert action(sims, "users.example.com", user=BOB) == "BLOCK"
    assert action(sims, "users.example.com", user=BOB.upper()) == "BLOCK"  # login names are case-insensitive
    assert action(sims, "users.example.com", user=ALICE) == "ALLOW"
    assert action(sims, "users.example.com") == "ALLOW"  # no user: a user criterion never matches
    assert action(sims, "users.example.com", user="stranger@safemarch.example") == "ALLOW"

    rule = admin.get(RULES).json()[0]
    assert put_rule(admin, rule, users=[], groups=[{"id": groups["Zscaler Admins"]}]).status_code == 200
    activate(admin)
    assert action(sims, "groups.example.com", user=ALICE) == "BLOCK"
    assert action(sims, "groups.example.com", user=BOB) == "ALLOW"

    rule = admin.get(RULES).json()[0]
    assert rule["usersAndGroupsSet"] is True
    r = put_rule(admin, rule, users=[], groups=[], departments=[{"id": departments["Engineering"]}])
    assert r.status_code == 200
    assert (r.json()["usersAndGroupsSet"], r.json()["groupsAndDepartmentsSet"]) == (False, True)
    activate(admin)
    assert action(sims, "depts.example.com", user=CAROL) == "BLOCK"
    assert action(sims, "depts.example.com", user=ALICE) == "ALLOW"


def test_unknown_ids_in_criteria_are_refused(admin):
    for key, value, message in (
        ("users", [{"id": 1}], "Invalid users id: 1"),
        ("groups", [{"id": 2}], "Invalid groups id: 2"),
        ("departments", [{"id": 3}], "Invalid departments id: 3"),
        ("timeWindows", [{"id": 4}], "Invalid timeWindows id: 4"),
        ("urlCategories", ["CUSTOM_09"], "Invalid URL category: CUSTOM_09"),
        ("protocols", ["GOPHER_RULE"], "Invalid protocols: GOPHER_RULE"),
        ("requestMethods", ["BREW"], "Invalid requestMethods: BREW"),
    ):
        r = admin.post(RULES, json={"name": "r", "action": "BLOCK", key: value})
        assert r.status_code == 400, key
        assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": message}
    assert admin.get(RULES).json() == []


def test_protocols_and_request_methods(sims, admin):
    create_category(admin, "Cat", ["proto.example.com", "method.example.com"])
    create_rule(admin, "HTTP only", protocols=["HTTP_RULE"], urlCategories=["CUSTOM_01"])
    activate(admin)
    assert action(sims, "proto.example.com", protocol="HTTP_RULE") == "BLOCK"
    assert action(sims, "proto.example.com", protocol="HTTPS_RULE") == "ALLOW"
    assert action(sims, "proto.example.com") == "ALLOW"  # the decision's default protocol is HTTPS_RULE

    rule = admin.get(RULES).json()[0]
    assert put_rule(admin, rule, protocols=["ANY_RULE"], requestMethods=["POST", "PUT"]).status_code == 200
    activate(admin)
    assert action(sims, "method.example.com", method="POST") == "BLOCK"
    assert action(sims, "method.example.com", method="put") == "BLOCK"
    assert action(sims, "method.example.com", method="GET") == "ALLOW"
    assert action(sims, "method.example.com") == "ALLOW"  # GET by default

    with client(sims.url("zia")) as c:  # the decision endpoint refuses an unknown protocol
        r = c.post(
            zia_tenant(sims)["policy_decision_url"], json={"url": "proto.example.com", "protocol": "GOPHER"}
        )
    assert r.status_code == 400
    assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": "Invalid protocol: GOPHER"}


def test_other_request_method_matches_only_unlisted_methods(sims, admin):
    create_category(admin, "Cat", ["method.example.com"])
    create_rule(admin, "Other methods", requestMethods=["OTHER"], urlCategories=["CUSTOM_01"])
    activate(admin)
    assert action(sims, "method.example.com", method="BREW") == "BLOCK"
    assert action(sims, "method.example.com", method="GET") == "ALLOW"


def test_time_window(sims, admin):
    create_category(admin, "Work", ["games.example.com"])
    rule = create_rule(
        admin, "No games at work", timeWindows=[{"id": WORK_HOURS_ID}], urlCategories=["CUSTOM_01"]
    )
    assert rule["timeWindows"] == [{"id": WORK_HOURS_ID}]
    activate(admin)
    # Work hours: MON-FRI 08:00-18:00 UTC; 2026-01-15 is a Thursday.
    assert action(sims, "games.example.com") == "BLOCK"  # the sim clock: Thursday 09:00
    for moment, expected in (
        ("2026-01-15T08:00:00", "BLOCK"),
        ("2026-01-15T17:59:59", "BLOCK"),
        ("2026-01-15T18:00:00", "ALLOW"),
        ("2026-01-15T07:59:59", "ALLOW"),
        ("2026-01-16T12:00:00", "BLOCK"),  # Friday
        ("2026-01-17T12:00:00", "ALLOW"),  # Saturday
        ("2026-01-18T12:00:00", "ALLOW"),  # Sunday
        ("2026-01-19T08:30:00", "BLOCK"),  # Monday
    ):
        assert action(sims, "games.example.com", time=at(moment)) == expected, moment
    advance(sims, 10 * 3600)  # Thursday 19:00 on the sim clock
    assert action(sims, "games.example.com") == "ALLOW"


def test_rule_validity_period(sims, admin):
    create_category(admin, "Temp", ["temp.example.com"])
    start, end = START + 3600, START + 7200
    body = {
        "enforceTimeValidity": True,
        "validityStartTime": start,
        "validityEndTime": end,
        "validityTimeZoneId": "Europe/Paris",
        "urlCategories": ["CUSTOM_01"],
    }
    rule = create_rule(admin, "Temporary", **body)
    assert (rule["validityStartTime"], rule["validityEndTime"], rule["validityTimeZoneId"]) == (
        start,
        end,
        "Europe/Paris",
    )
    activate(admin)
    assert action(sims, "temp.example.com") == "ALLOW"  # not started yet
    assert action(sims, "temp.example.com", time=start) == "BLOCK"
    assert action(sims, "temp.example.com", time=end - 1) == "BLOCK"
    assert action(sims, "temp.example.com", time=end) == "ALLOW"  # expired
    advance(sims, 5400)
    assert action(sims, "temp.example.com") == "BLOCK"
    advance(sims, 1800)
    assert action(sims, "temp.example.com") == "ALLOW"


def test_rule_validity_errors(admin):
    base = {"name": "v", "action": "BLOCK", "enforceTimeValidity": True}
    for extra, message in (
        (
            {"validityStartTime": START, "validityEndTime": START + 60, "validityTimeZoneId": "Mars/Olympus"},
            "Invalid validityTimeZoneId: Mars/Olympus",
        ),
        (
            {"validityStartTime": START, "validityEndTime": START, "validityTimeZoneId": "UTC"},
            "validityEndTime must be after validityStartTime",
        ),
        ({"validityEndTime": START}, "validityStartTime must be a number"),
    ):
        r = admin.post(RULES, json={**base, **extra})
        assert r.status_code == 400
        assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": message}
    assert admin.get(RULES).json() == []


def test_isolate_needs_a_cbi_profile(admin):
    r = admin.post(RULES, json={"name": "iso", "action": "ISOLATE"})
    assert r.status_code == 400
    assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": "An ISOLATE rule needs a cbiProfile"}
    profile = {"id": "a1b2c3", "name": "Default Isolation", "url": "https://redirect.isolation.example"}
    r = admin.post(RULES, json={"name": "iso", "action": "ISOLATE", "cbiProfile": profile})
    assert r.status_code == 200 and r.json()["cbiProfile"] == profile
    r = admin.post(RULES, json={"name": "bad", "action": "QUARANTINE"})
    assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": "Invalid action: QUARANTINE"}


def test_description_length(admin):
    r = admin.post(RULES, json={"name": "long", "action": "BLOCK", "description": "d" * 10_241})
    assert r.status_code == 400
    assert r.json() == {
        "code": "INVALID_INPUT_ARGUMENT",
        "message": "description must be a string of at most 10240 characters",
    }
    assert admin.get(RULES).json() == []
    r = admin.post(RULES, json={"name": "long", "action": "BLOCK", "description": "d" * 10_240})
    assert r.status_code == 200 and len(r.json()["description"]) == 10_240


def test_duplicate_rule_name_and_unknown_rule(admin):
    create_rule(admin, "same")
    r = admin.post(RULES, json={"name": "same", "action": "ALLOW"})
    assert r.status_code == 409
    assert r.json() == {
        "code": "DUPLICATE_ITEM",
        "message": "A URL filtering rule named 'same' already exists",
    }
    for r in (admin.get(f"{RULES}/42"), admin.delete(f"{RULES}/42"), admin.get(f"{RULES}/abc")):
        assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    assert [r["name"] for r in admin.get(RULES, params={"search": "SAM"}).json()] == ["same"]
    assert admin.get(RULES, params={"search": "other"}).json() == []


def test_logout_activates_pending_changes(sims, admin):
    create_category(admin, "Blocked", ["blocked.example.com"])
    create_rule(admin, "Block list", urlCategories=["CUSTOM_01"])
    assert action(sims, "blocked.example.com") == "ALLOW"
    r = admin.delete(f"{V1}/authenticatedSession")
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}
    assert action(sims, "blocked.example.com") == "BLOCK"
    assert admin.get(f"{V1}/status").status_code == 401  # the session is gone


def test_logout_under_an_edit_lock_leaves_changes_pending(sims, admin):
    create_category(admin, "Blocked", ["blocked.example.com"])
    create_rule(admin, "Block list", urlCategories=["CUSTOM_01"])
    ctl(sims, "POST", f"{TENANT}/edit-lock", {"seconds": 30})
    r = admin.delete(f"{V1}/authenticatedSession")
    assert r.status_code == 200 and r.json() == {"status": "PENDING"}
    assert action(sims, "blocked.example.com") == "ALLOW"
