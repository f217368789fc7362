"""Who may do what: API roles (bearer tokens), admin roles and admin ranks."""

from __future__ import annotations

import pytest

from tests.zia.helpers import (
    ONEAPI,
    TENANT,
    V1,
    action,
    admin_client,
    bearer_client,
    create_category,
    create_rule,
    ctl,
    custom_ids,
    pending,
    restore_settings,
)

MIMECAST = "Mimecast_Threat_Share"
AUDITOR = "ReadOnly_Auditor"
DENIED = {
    "code": "AUTHORIZATION_FAILURE",
    "message": "Access denied: the role does not have the permission for this API",
}
RANK_ORDER = "Rule order {pos} is not allowed for rank {rank}: rules of a higher admin rank must come first"


@pytest.fixture(autouse=True)
def _default_settings(sims):
    restore_settings(sims)


@pytest.fixture
def admin(sims):
    with admin_client(sims, 0) as client:
        yield client


@pytest.fixture
def policy_admin(sims):
    with admin_client(sims, 1) as client:
        yield client


@pytest.fixture
def mimecast(sims):
    with bearer_client(sims, MIMECAST) as client:
        yield client


@pytest.fixture
def auditor(sims):
    with bearer_client(sims, AUDITOR) as client:
        yield client


def denied(r, body: dict = DENIED) -> None:
    assert r.status_code == 403, (r.request.method, r.request.url, r.text)
    assert r.json() == body


# -- Mimecast_Threat_Share: URL Categories = Full --------------------------------------------------------
@pytest.mark.parametrize("prefix", [V1, ONEAPI])
def test_mimecast_role_manages_url_categories(sims, mimecast, prefix):
    cats = f"{prefix}/urlCategories"
    r = mimecast.post(cats, json={"configuredName": "Mimecast", "superCategory": "USER_DEFINED", "urls": []})
    assert r.status_code == 200 and r.json()["id"] == "CUSTOM_01"
    body = {"configuredName": "Mimecast", "urls": ["bad1.example.com", "bad2.example.com"]}
    r = mimecast.put(f"{cats}/CUSTOM_01", params={"action": "ADD_TO_LIST"}, json=body)
    assert r.status_code == 200 and r.json()["customUrlsCount"] == 2
    r = mimecast.get(f"{cats}/urlQuota")
    assert r.status_code == 200 and r.json() == {"uniqueUrlsProvisioned": 2, "remainingUrlsQuota": 24_998}
    assert mimecast.get(cats, params={"customOnly": "true"}).json()[0]["urls"] == body["urls"]
    assert mimecast.get(f"{cats}/lite").status_code == 200
    assert mimecast.get(f"{cats}/CUSTOM_01").status_code == 200
    assert mimecast.post(f"{prefix}/urlLookup", json=["google.com"]).status_code == 200
    r = mimecast.put(
        f"{cats}/CUSTOM_01?action=REMOVE_FROM_LIST",
        json={"configuredName": "Mimecast", "urls": ["bad1.example.com"]},
    )
    assert r.status_code == 200 and r.json()["urls"] == ["bad2.example.com"]
    r = mimecast.put(f"{cats}/CUSTOM_01", json={"configuredName": "Mimecast", "urls": []})
    assert r.status_code == 200
    assert mimecast.delete(f"{cats}/CUSTOM_01").status_code == 204
    assert custom_ids(sims) == []


@pytest.mark.parametrize("prefix", [V1, ONEAPI])
def test_mimecast_role_has_no_rules_users_or_admin_access(sims, admin, mimecast, prefix):
    rule = create_rule(admin, "Existing")
    denied(mimecast.get(f"{prefix}/urlFilteringRules"))
    denied(mimecast.get(f"{prefix}/urlFilteringRules/{rule['id']}"))
    denied(mimecast.post(f"{prefix}/urlFilteringRules", json={"name": "r", "action": "BLOCK"}))
    denied(mimecast.put(f"{prefix}/urlFilteringRules/{rule['id']}", json={**rule, "action": "ALLOW"}))
    denied(mimecast.delete(f"{prefix}/urlFilteringRules/{rule['id']}"))
    for path in ("users", "groups", "departments", "adminRoles/lite"):
        denied(mimecast.get(f"{prefix}/{path}"))
    assert [(r["name"], r["action"]) for r in pending(sims)["rules"]] == [("Existing", "BLOCK")]


def test_mimecast_role_manages_ip_destination_groups(mimecast):
    # The guide: the role "creates and manages IP and FQDN groups".
    groups = f"{V1}/ipDestinationGroups"
    r = mimecast.post(
        groups, json={"name": "Mimecast FQDNs", "type": "DSTN_FQDN", "addresses": ["a.example.com"]}
    )
    assert r.status_code == 200
    gid = r.json()["id"]
    assert mimecast.get(groups).status_code == 200
    assert mimecast.get(f"{groups}/lite").status_code == 200
    assert mimecast.get(f"{groups}/{gid}").json()["creatorContext"] == "ZIA"
    r = mimecast.put(
        f"{groups}/{gid}",
        json={"name": "Mimecast FQDNs", "type": "DSTN_FQDN", "addresses": ["b.example.com"]},
    )
    assert r.status_code == 200
    assert mimecast.delete(f"{groups}/{gid}").status_code == 204


def test_mimecast_role_may_activate(sims, admin, mimecast):
    create_category(mimecast, "Mimecast", ["threat.example.com"])
    create_rule(admin, "Block Mimecast list", urlCategories=["CUSTOM_01"])
    assert mimecast.get(f"{V1}/status").json() == {"status": "PENDING"}
    r = mimecast.post(f"{V1}/status/activate")
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}
    assert action(sims, "threat.example.com") == "BLOCK"
    r = mimecast.post(f"{ONEAPI}/status/activate", json={})
    assert r.status_code == 200 and r.json() == {"status": "ACTIVE"}


# -- ReadOnly_Auditor: URL Categories and Policy View Only ---------------------------------------------
def test_read_only_auditor_reads_but_never_writes(sims, admin, auditor):
    create_category(admin, "Existing", ["a.example.com"])
    rule = create_rule(admin, "Existing rule", urlCategories=["CUSTOM_01"])
    group = admin.post(f"{V1}/ipDestinationGroups", json={"name": "g", "addresses": ["1.1.1.1"]}).json()
    before = pending(sims)

    for path in (
        "urlCategories",
        "urlCategories/CUSTOM_01",
        "urlCategories/lite",
        "urlCategories/urlQuota",
        "urlFilteringRules",
        f"urlFilteringRules/{rule['id']}",
        "ipDestinationGroups",
        f"ipDestinationGroups/{group['id']}",
        "status",
        "users",
    ):
        assert auditor.get(f"{V1}/{path}").status_code == 200, path
    assert auditor.post(f"{V1}/urlLookup", json=["google.com"]).status_code == 200

    denied(auditor.post(f"{V1}/urlCategories", json={"configuredName": "Nope", "urls": ["b.example.com"]}))
    add = {"configuredName": "Existing", "urls": ["b.example.com"]}
    denied(auditor.put(f"{V1}/urlCategories/CUSTOM_01?action=ADD_TO_LIST", json=add))
    denied(auditor.put(f"{V1}/urlCategories/CUSTOM_01", json=add))
    denied(auditor.delete(f"{V1}/urlCategories/CUSTOM_01"))
    denied(auditor.post(f"{V1}/urlFilteringRules", json={"name": "r", "action": "BLOCK"}))
    denied(auditor.put(f"{V1}/urlFilteringRules/{rule['id']}", json={**rule, "action": "ALLOW"}))
    denied(auditor.delete(f"{V1}/urlFilteringRules/{rule['id']}"))
    denied(auditor.post(f"{V1}/ipDestinationGroups", json={"name": "g2", "addresses": ["2.2.2.2"]}))
    denied(auditor.delete(f"{V1}/ipDestinationGroups/{group['id']}"))
    denied(
        auditor.post(f"{V1}/status/activate"),
        {"code": "AUTHORIZATION_FAILURE", "message": "The role may not activate changes"},
    )
    assert pending(sims) == before
    assert custom_ids(sims) == ["CUSTOM_01"]
    assert auditor.get(f"{V1}/status").json() == {"status": "PENDING"}  # the auditor could not activate


def test_role_changed_to_none_takes_effect_for_the_same_token(sims, mimecast):
    assert mimecast.get(f"{V1}/urlCategories").status_code == 200
    role = ctl(sims, "PUT", f"{TENANT}/api-roles/{MIMECAST}", {"permissions": {"url_categories": "NONE"}})
    assert role["name"] == MIMECAST and role["permissions"]["url_categories"] == "NONE"
    denied(mimecast.get(f"{V1}/urlCategories"))
    denied(mimecast.get(f"{V1}/urlCategories/urlQuota"))
    denied(mimecast.post(f"{V1}/urlCategories", json={"configuredName": "x"}))
    denied(mimecast.get(f"{V1}/ipDestinationGroups"))
    assert custom_ids(sims) == []

    ctl(sims, "PUT", f"{TENANT}/api-roles/{MIMECAST}", {"permissions": {"url_categories": "VIEW_ONLY"}})
    assert mimecast.get(f"{V1}/urlCategories").status_code == 200
    denied(mimecast.post(f"{V1}/urlCategories", json={"configuredName": "x"}))

    # A reset brings the role back as the world file has it.
    sims.reset()
    with bearer_client(sims, MIMECAST) as fresh:
        r = fresh.post(f"{V1}/urlCategories", json={"configuredName": "x"})
        assert r.status_code == 200


def test_new_api_role_with_policy_access(sims):
    ctl(
        sims,
        "PUT",
        f"{TENANT}/api-roles/Policy_Bot",
        {"permissions": {"url_categories": "FULL", "access_control_policy": "FULL"}},
    )
    with bearer_client(sims, "Policy_Bot") as bot:
        create_category(bot, "Bot", ["bot.example.com"])
        rule = create_rule(bot, "Bot rule", urlCategories=["CUSTOM_01"])
        assert rule["lastModifiedBy"]["name"] == "oauth-Policy_Bot$@3173833.zscloud.net"
        assert bot.post(f"{V1}/status/activate").json() == {"status": "ACTIVE"}
    assert action(sims, "bot.example.com") == "BLOCK"


# -- admin ranks ---------------------------------------------------------------------------------------
def test_policy_admin_cannot_outrank_itself(sims, admin, policy_admin):
    top = create_rule(admin, "Top", rank=0)
    low = create_rule(admin, "Low")  # rank 7 by default
    assert (top["order"], low["order"]) == (1, 2)

    r = policy_admin.post(f"{V1}/urlFilteringRules", json={"name": "r2", "action": "BLOCK", "rank": 2})
    assert r.status_code == 400
    assert r.json() == {
        "code": "INVALID_INPUT_ARGUMENT",
        "message": "Admin rank 3 cannot set a rule rank of 2 (0 is the highest)",
    }
    scope = {"code": "SCOPE_LIMITED", "message": f"Rule {top['id']} has a higher admin rank than yours"}
    denied(policy_admin.put(f"{V1}/urlFilteringRules/{top['id']}", json={**top, "action": "ALLOW"}), scope)
    denied(policy_admin.put(f"{V1}/urlFilteringRules/{top['id']}", json={**top, "rank": 3}), scope)
    denied(policy_admin.delete(f"{V1}/urlFilteringRules/{top['id']}"), scope)
    assert policy_admin.get(f"{V1}/urlFilteringRules/{top['id']}").json()["action"] == "BLOCK"

    # Its own rank and lower ranks are fine, below the rank-0 rule.
    r = policy_admin.post(
        f"{V1}/urlFilteringRules", json={"name": "r3", "action": "BLOCK", "rank": 3, "order": 1}
    )
    assert r.status_code == 400
    assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": RANK_ORDER.format(pos=2, rank=0)}
    r = policy_admin.post(
        f"{V1}/urlFilteringRules", json={"name": "r3", "action": "BLOCK", "rank": 3, "order": 2}
    )
    assert r.status_code == 200 and r.json()["order"] == 2
    # (pyzscaler's update: GET, then PUT the whole record; the stale order 2 would lift rank 7 above r3)
    low = policy_admin.get(f"{V1}/urlFilteringRules/{low['id']}").json()
    assert low["order"] == 3
    r = policy_admin.put(f"{V1}/urlFilteringRules/{low['id']}", json={**low, "order": 2})
    assert r.status_code == 400 and r.json()["message"] == RANK_ORDER.format(pos=3, rank=3)
    r = policy_admin.put(f"{V1}/urlFilteringRules/{low['id']}", json={**low, "action": "CAUTION"})
    assert r.status_code == 200 and r.json()["lastModifiedBy"]["name"] == "policy@3173833.zscloud.net"
    assert policy_admin.delete(f"{V1}/urlFilteringRules/{low['id']}").status_code == 204
    assert [(r["name"], r["rank"], r["order"]) for r in pending(sims)["rules"]] == [
        ("Top", 0, 1),
        ("r3", 3, 2),
    ]


def test_higher_ranked_rules_come_first(sims, admin):
    top = create_rule(admin, "Top", rank=0, order=1)
    r = admin.post(
        f"{V1}/urlFilteringRules", json={"name": "Seven", "action": "ALLOW", "rank": 7, "order": 1}
    )
    assert r.status_code == 400
    assert r.json() == {"code": "INVALID_INPUT_ARGUMENT", "message": RANK_ORDER.format(pos=2, rank=0)}
    assert [r["name"] for r in pending(sims)["rules"]] == ["Top"]
    r = admin.post(
        f"{V1}/urlFilteringRules", json={"name": "Seven", "action": "ALLOW", "rank": "7", "order": 2}
    )
    assert r.status_code == 200
    seven = r.json()
    assert (seven["order"], seven["rank"]) == (2, 7)

    # Neither rule may move past the other.
    r = admin.put(f"{V1}/urlFilteringRules/{seven['id']}", json={**seven, "order": 1})
    assert r.status_code == 400 and r.json()["message"] == RANK_ORDER.format(pos=2, rank=0)
    r = admin.put(f"{V1}/urlFilteringRules/{top['id']}", json={**top, "order": 2})
    assert r.status_code == 400 and r.json()["message"] == RANK_ORDER.format(pos=2, rank=0)
    assert [(r["name"], r["order"]) for r in pending(sims)["rules"]] == [("Top", 1), ("Seven", 2)]
    for rank in (8, -1, "x", True):
        r = admin.post(f"{V1}/urlFilteringRules", json={"name": "bad", "action": "BLOCK", "rank": rank})
        assert r.status_code == 400 and r.json()["code"] == "INVALID_INPUT_ARGUMENT", rank


# -- admin roles -----------------------------------------------------------------------------------------
SUPER_ADMIN = {
    "id": 11521,
    "rank": 0,
    "name": "Super Admin",
    "roleType": "EXEC_INSIGHT_AND_ORG_ADMIN",
    "reportTimeDuration": -1,
}
POLICY_ADMIN = {
    "id": 11600,
    "rank": 3,
    "name": "Policy Admin",
    "roleType": "ORG_ADMIN",
    "reportTimeDuration": -1,
}


def test_admin_roles_lite(admin, policy_admin, mimecast):
    r = admin.get(f"{V1}/adminRoles/lite")
    assert r.status_code == 200 and r.json() == [SUPER_ADMIN, POLICY_ADMIN]
    assert admin.get(f"{V1}/adminRoles/lite", params={"includeApiRole": "false"}).json() == [
        SUPER_ADMIN,
        POLICY_ADMIN,
    ]
    r = admin.get(f"{V1}/adminRoles/lite", params={"includeApiRole": "true"})
    api_role = {"rank": 7, "roleType": "API_ROLE", "reportTimeDuration": -1, "isApiRole": True}
    assert r.json() == [
        SUPER_ADMIN,
        POLICY_ADMIN,
        {"id": 19000, "name": MIMECAST, **api_role},
        {"id": 19001, "name": AUDITOR, **api_role},
    ]
    assert admin.get(f"{V1}/adminRoles/lite", params={"includeApiRole": "True"}).json() == r.json()
    # The Policy Admin has no administration permission; neither has the Mimecast role.
    denied(policy_admin.get(f"{V1}/adminRoles/lite"))
    denied(mimecast.get(f"{V1}/adminRoles/lite", params={"includeApiRole": "true"}))
