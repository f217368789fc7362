"""URL categories through the cloud service API: CRUD, lists, quota, limits, URL syntax, paging,
urlLookup, concurrency, the edit lock, and IP destination groups."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.zia.helpers import (
    TENANT,
    V1,
    activate,
    admin_client,
    advance,
    client,
    create_category,
    create_rule,
    ctl,
    custom_ids,
    pending,
    quota,
    restore_settings,
    settings,
)

CATS = f"{V1}/urlCategories"
GROUPS = f"{V1}/ipDestinationGroups"
PREDEFINED_COUNT = 30
# What the official SDK's URLCategory model reads (reference §3.2) that a real tenant always sends;
# regexPatterns*, scopes and urlKeywordCounts are optional there (absent from the recorded bodies too).
SDK_FIELDS = {
    "id",
    "configuredName",
    "superCategory",
    "keywords",
    "keywordsRetainingParentCategory",
    "urls",
    "dbCategorizedUrls",
    "ipRanges",
    "ipRangesRetainingParentCategory",
    "customCategory",
    "editable",
    "description",
    "type",
    "urlType",
    "customUrlsCount",
    "urlsRetainingParentCategoryCount",
    "customIpRangesCount",
    "ipRangesRetainingParentCategoryCount",
}


@pytest.fixture(autouse=True)
def _default_settings(sims):
    restore_settings(sims)
    yield
    restore_settings(sims)


@pytest.fixture
def admin(sims):
    with admin_client(sims) as client:
        yield client


def custom_view(
    cid: str,
    name: str,
    urls: list[str] = (),
    *,
    description: str | None = None,
    super_category: str | None = "USER_DEFINED",
    kind: str = "URL_CATEGORY",
    keywords: list[str] = (),
    keywords_retaining: list[str] = (),
    db_urls: list[str] = (),
) -> dict:
    """The full body ZIA returns for a custom category (CASSETTE shape, reference §6)."""
    out = {
        "id": cid,
        "configuredName": name,
        "keywords": list(keywords),
        "keywordsRetainingParentCategory": list(keywords_retaining),
        "urls": list(urls),
        "dbCategorizedUrls": list(db_urls),
        "ipRanges": [],
        "ipRangesRetainingParentCategory": [],
        "customCategory": True,
        "editable": True,
        "description": description,
        "type": kind,
        "val": 127 + int(cid.split("_")[1]),
        "customUrlsCount": len(urls),
        "urlsRetainingParentCategoryCount": len(db_urls),
        "customIpRangesCount": 0,
        "ipRangesRetainingParentCategoryCount": 0,
        "categoryGroup": "REGULAR",
        "urlType": "EXACT",
    }
    if super_category is not None:
        out["superCategory"] = super_category
    return out


def expect_invalid(r: httpx.Response, message: str | None = None) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["code"] == "INVALID_INPUT_ARGUMENT"
    if message is not None:
        assert body == {"code": "INVALID_INPUT_ARGUMENT", "message": message}


# -- create, get, list, lite ---------------------------------------------------------------------------
def test_create_custom_category_returns_every_field_the_sdks_read(admin):
    # The official SDK's body: customCategory false is still created as a custom category (CASSETTE).
    body = {
        "type": "URL_CATEGORY",
        "superCategory": "USER_DEFINED",
        "urls": ["test-url1.example.com", "test-url2.example.com"],
        "customCategory": False,
        "configuredName": "Mimecast Blocklist",
        "description": "URLs shared by Mimecast",
    }
    r = admin.post(CATS, json=body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    created = r.json()
    assert created == custom_view(
        "CUSTOM_01",
        "Mimecast Blocklist",
        ["test-url1.example.com", "test-url2.example.com"],
        description="URLs shared by Mimecast",
    )
    assert created["val"] == 128
    assert set(created) >= SDK_FIELDS

    r = admin.get(f"{CATS}/CUSTOM_01")
    assert r.status_code == 200 and r.json() == created
    second = create_category(admin, "Second")
    assert (second["id"], second["val"]) == ("CUSTOM_02", 129)


def test_create_defaults_and_validation(admin):
    r = admin.post(CATS, json={"configuredName": "No super category"})
    assert r.status_code == 200
    assert r.json() == custom_view("CUSTOM_01", "No super category")  # USER_DEFINED by default
    expect_invalid(
        admin.post(CATS, json={"urls": ["a.example.com"]}), "configuredName is required for a custom category"
    )
    expect_invalid(
        admin.post(CATS, json={"configuredName": "x", "superCategory": "NOPE"}), "Invalid superCategory: NOPE"
    )
    expect_invalid(admin.post(CATS, json={"configuredName": "x", "type": "IP"}), "Invalid type: IP")
    r = admin.post(CATS, json={"configuredName": "x", "urls": "a.example.com"})  # not a list
    assert r.status_code == 400 and r.json() == {"message": "Request body is invalid."}
    r = admin.get(f"{CATS}/CUSTOM_99")
    assert r.status_code == 404
    assert r.json() == {"code": "RESOURCE_NOT_FOUND", "message": "URL category CUSTOM_99 not found"}


def test_get_predefined_category(admin):
    r = admin.get(f"{CATS}/WEB_SEARCH")
    assert r.status_code == 200
    cat = r.json()
    assert "configuredName" not in cat  # predefined categories carry no configuredName (CASSETTE)
    assert cat["superCategory"] == "INFORMATION_TECHNOLOGY"
    assert (cat["customCategory"], cat["description"], cat["type"]) == (
        False,
        "WEB_SEARCH_DESC",
        "URL_CATEGORY",
    )
    assert admin.get(f"{CATS}/OTHER_ADULT_MATERIAL").json()["val"] == 1  # recorded


def test_list_filters(admin):
    web = create_category(admin, "Web", ["a.example.com", "b.example.com"], keywords=["casino"])
    tld = create_category(admin, "Russia", [".ru"], type="TLD_CATEGORY")
    assert tld["type"] == "TLD_CATEGORY" and tld["urls"] == [".ru"]

    every = admin.get(CATS).json()
    assert len(every) == PREDEFINED_COUNT + 2
    assert [c["id"] for c in every if c["customCategory"]] == ["CUSTOM_01", "CUSTOM_02"]

    for flag in ("True", "true"):  # pyzscaler and the official SDK send True, ZiaTalker true
        r = admin.get(CATS, params={"customOnly": flag})
        assert r.status_code == 200 and r.json() == [web, tld]
    assert len(admin.get(CATS, params={"customOnly": "False"}).json()) == PREDEFINED_COUNT + 2

    assert admin.get(CATS, params={"type": "TLD_CATEGORY"}).json() == [tld]
    urls_only = admin.get(CATS, params={"type": "URL_CATEGORY"}).json()
    assert len(urls_only) == PREDEFINED_COUNT + 1 and tld not in urls_only
    assert admin.get(CATS, params={"type": "ALL"}).json() == every
    assert admin.get(CATS, params={"customOnly": "true", "type": "URL_CATEGORY"}).json() == [web]


def test_list_with_only_url_keyword_counts(admin):
    create_category(
        admin,
        "Counted",
        ["a.example.com", "b.example.com"],
        dbCategorizedUrls=["google.com"],
        keywords=["casino", "poker"],
        keywordsRetainingParentCategory=["bet"],
    )
    r = admin.get(CATS, params={"customOnly": "true", "includeOnlyUrlKeywordCounts": "true"})
    assert r.status_code == 200
    [cat] = r.json()
    for key in (
        "urls",
        "dbCategorizedUrls",
        "keywords",
        "keywordsRetainingParentCategory",
        "ipRanges",
        "ipRangesRetainingParentCategory",
    ):
        assert key not in cat
    assert cat["urlKeywordCounts"] == {
        "totalUrlCount": 2,
        "retainParentUrlCount": 1,
        "totalKeywordCount": 2,
        "retainParentKeywordCount": 1,
    }
    assert (cat["customUrlsCount"], cat["urlsRetainingParentCategoryCount"]) == (2, 1)
    # pyzscaler always sends includeOnlyUrlKeywordCounts=False: full lists
    full = admin.get(CATS, params={"customOnly": "True", "includeOnlyUrlKeywordCounts": "False"}).json()
    assert full[0]["urls"] == ["a.example.com", "b.example.com"] and "urlKeywordCounts" not in full[0]


def test_lite(admin):
    create_category(admin, "Lite me", ["a.example.com"])
    r = admin.get(f"{CATS}/lite")
    assert r.status_code == 200
    lite = r.json()
    assert len(lite) == PREDEFINED_COUNT + 1
    assert lite[-1] == {
        "id": "CUSTOM_01",
        "configuredName": "Lite me",
        "customCategory": True,
        "type": "URL_CATEGORY",
        "val": 128,
    }
    assert {"id": "MUSIC", "customCategory": False, "type": "URL_CATEGORY", "val": 8} in lite


# -- updates -------------------------------------------------------------------------------------------
def test_full_update_clears_omitted_lists_and_drops_super_category(admin):
    create_category(
        admin,
        "Full",
        ["a.example.com", "b.example.com"],
        description="first",
        keywords=["casino"],
        keywordsRetainingParentCategory=["bet"],
        dbCategorizedUrls=["google.com"],
    )
    assert quota(admin)["uniqueUrlsProvisioned"] == 3
    # The official SDK's full update sends only its kwargs (CASSETTE: no superCategory comes back).
    body = {"configuredName": "Full", "description": "second", "urls": ["a.example.com", "c.example.com"]}
    r = admin.put(f"{CATS}/CUSTOM_01", json=body)
    assert r.status_code == 200
    assert r.json() == custom_view(
        "CUSTOM_01",
        "Full",
        ["a.example.com", "c.example.com"],
        description="second",
        super_category=None,
        keywords_retaining=["bet"],  # retained keywords survive when absent (ZIA docs)
    )
    assert admin.get(f"{CATS}/CUSTOM_01").json() == r.json()
    assert quota(admin) == {"uniqueUrlsProvisioned": 2, "remainingUrlsQuota": 24_998}

    # pyzscaler's full update: GET, then PUT the whole object (read-only fields included) with overrides.
    current = admin.get(f"{CATS}/CUSTOM_01").json()
    r = admin.put(
        f"{CATS}/CUSTOM_01",
        json={**current, "superCategory": "USER_DEFINED", "keywordsRetainingParentCategory": [], "val": 5},
    )
    assert r.status_code == 200
    assert r.json() == custom_view(
        "CUSTOM_01", "Full", ["a.example.com", "c.example.com"], description="second"
    )


def test_full_update_validation(admin):
    create_category(admin, "One", ["a.example.com"])
    create_category(admin, "Two")
    r = admin.put(f"{CATS}/CUSTOM_02", json={"configuredName": "One"})
    assert r.status_code == 409
    assert r.json() == {"code": "DUPLICATE_ITEM", "message": "A URL category named 'One' already exists"}
    expect_invalid(
        admin.put(f"{CATS}/CUSTOM_02", json={"urls": ["b.example.com"]}),
        "configuredName is required for a custom category",
    )
    r = admin.put(f"{CATS}/CUSTOM_77", json={"configuredName": "x"})
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    expect_invalid(admin.put(f"{CATS}/CUSTOM_01?action=MERGE", json={"urls": []}), "Invalid action: MERGE")
    assert admin.get(f"{CATS}/CUSTOM_02").json() == custom_view("CUSTOM_02", "Two")


def test_add_and_remove_from_list(admin):
    create_category(admin, "Lists", ["a.example.com", "b.example.com"])
    # Official SDK / ZiaTalker: configuredName plus the URLs to add (duplicates and existing ignored).
    body = {"configuredName": "Lists", "urls": ["c.example.com", "a.example.com", "c.example.com"]}
    r = admin.put(f"{CATS}/CUSTOM_01", params={"action": "ADD_TO_LIST"}, json=body)
    assert r.status_code == 200
    cat = r.json()
    assert sorted(cat["urls"]) == ["a.example.com", "b.example.com", "c.example.com"]
    assert cat["customUrlsCount"] == 3 and cat["superCategory"] == "USER_DEFINED"
    assert quota(admin) == {"uniqueUrlsProvisioned": 3, "remainingUrlsQuota": 24_997}

    body = {"configuredName": "Lists", "keywords": ["casino", "casino"], "dbCategorizedUrls": ["bing.com"]}
    cat = admin.put(f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json=body).json()
    assert cat["keywords"] == ["casino"] and cat["dbCategorizedUrls"] == ["bing.com"]
    assert cat["urlsRetainingParentCategoryCount"] == 1
    assert quota(admin)["uniqueUrlsProvisioned"] == 4

    body = {
        "configuredName": "Lists",
        "urls": ["a.example.com", "not-there.example.com"],
        "keywords": ["casino"],
    }
    r = admin.put(f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json=body)
    assert r.status_code == 200
    cat = r.json()
    assert sorted(cat["urls"]) == ["b.example.com", "c.example.com"]
    assert (cat["customUrlsCount"], cat["keywords"], cat["dbCategorizedUrls"]) == (2, [], ["bing.com"])
    assert quota(admin) == {"uniqueUrlsProvisioned": 3, "remainingUrlsQuota": 24_997}
    # ADD/REMOVE never clear what the body leaves out, and never touch the name.
    assert cat["configuredName"] == "Lists" and cat["description"] is None


def test_refused_remove_from_list_changes_nothing(admin):
    create_category(admin, "Keep", ["a.example.com", "b.example.com"])
    activate(admin)
    body = {"configuredName": "Keep", "urls": ["a.example.com"], "keywords": "casino"}
    r = admin.put(f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json=body)
    assert r.status_code == 400 and r.json() == {"message": "Request body is invalid."}
    assert admin.get(f"{CATS}/CUSTOM_01").json()["urls"] == ["a.example.com", "b.example.com"]
    assert quota(admin)["uniqueUrlsProvisioned"] == 2


def test_pyzscaler_full_object_add_to_list_ignores_read_only_fields(sims, admin):
    create_category(admin, "Py", ["a.example.com"], keywords=["casino"])
    current = admin.get(f"{CATS}/CUSTOM_01").json()
    # pyzscaler add_urls_to_category: GET, then PUT the whole object with `urls` = only the new URLs.
    body = {**current, "urls": ["b.example.com"], "id": "CUSTOM_42", "val": 999, "customUrlsCount": 12_345}
    r = admin.put(f"{CATS}/CUSTOM_01", params={"action": "ADD_TO_LIST"}, json=body)
    assert r.status_code == 200
    assert r.json() == custom_view("CUSTOM_01", "Py", ["a.example.com", "b.example.com"], keywords=["casino"])
    assert custom_ids(sims) == ["CUSTOM_01"]  # no CUSTOM_42 appeared

    # pyzscaler delete_urls_from_category: {"configuredName": <current>, "urls": [...]}
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json={"configuredName": "Py", "urls": ["a.example.com"]}
    )
    assert r.status_code == 200 and r.json()["urls"] == ["b.example.com"]


# -- delete --------------------------------------------------------------------------------------------
def test_delete_is_204_without_content_type(sims, admin):
    create_category(admin, "Gone", ["a.example.com"])
    r = admin.delete(f"{CATS}/CUSTOM_01")
    assert r.status_code == 204
    assert "content-type" not in r.headers
    assert r.content == b""
    assert admin.get(f"{CATS}/CUSTOM_01").status_code == 404
    assert quota(admin) == {"uniqueUrlsProvisioned": 0, "remainingUrlsQuota": 25_000}
    assert custom_ids(sims) == []
    r = admin.delete(f"{CATS}/CUSTOM_01")
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    r = admin.delete(f"{CATS}/MUSIC")
    assert r.status_code == 403
    assert r.json() == {"code": "INVALID_OPERATION", "message": "Predefined categories cannot be deleted"}


def test_delete_refused_while_a_rule_references_the_category(sims, admin):
    create_category(admin, "Used", ["a.example.com"])
    rule = create_rule(admin, "block used", urlCategories=["CUSTOM_01"])
    expect_invalid(
        admin.delete(f"{CATS}/CUSTOM_01"),
        "URL category CUSTOM_01 is referenced by URL filtering rule 'block used'",
    )
    assert custom_ids(sims) == ["CUSTOM_01"]
    assert admin.delete(f"{V1}/urlFilteringRules/{rule['id']}").status_code == 204
    assert admin.delete(f"{CATS}/CUSTOM_01").status_code == 204
    assert custom_ids(sims) == []


def test_duplicate_name_is_409(sims, admin):
    create_category(admin, "Twin")
    r = admin.post(CATS, json={"configuredName": "Twin", "urls": ["a.example.com"]})
    assert r.status_code == 409
    assert r.json() == {"code": "DUPLICATE_ITEM", "message": "A URL category named 'Twin' already exists"}
    assert custom_ids(sims) == ["CUSTOM_01"]
    assert quota(admin)["uniqueUrlsProvisioned"] == 0


# -- quota and limits ----------------------------------------------------------------------------------
def test_quota_counts_unique_urls_across_categories(admin):
    assert quota(admin) == {"uniqueUrlsProvisioned": 0, "remainingUrlsQuota": 25_000}
    create_category(admin, "A", ["a.example.com", "b.example.com", "c.example.com"])
    create_category(admin, "B", ["c.example.com", "d.example.com"], dbCategorizedUrls=["a.example.com"])
    q = quota(admin)
    assert q == {"uniqueUrlsProvisioned": 4, "remainingUrlsQuota": 24_996}
    assert sum(q.values()) == 25_000  # as in every recorded sample
    admin.put(
        f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json={"configuredName": "A", "urls": ["c.example.com"]}
    )
    assert quota(admin)["uniqueUrlsProvisioned"] == 4  # c.example.com is still in B
    assert admin.delete(f"{CATS}/CUSTOM_02").status_code == 204
    assert quota(admin) == {"uniqueUrlsProvisioned": 2, "remainingUrlsQuota": 24_998}


def quota_message(provisioned: int, limit: int = 10) -> str:
    return (
        f"An organization can have a maximum of {limit} custom URLs. "
        f"Currently {provisioned} are already provisioned for this organization."
    )


def test_exceeding_the_url_quota_stores_nothing(sims, admin):
    settings(sims, max_custom_urls=10)
    eight = [f"u{i}.example.com" for i in range(8)]
    create_category(admin, "Eight", eight)
    assert quota(admin) == {"uniqueUrlsProvisioned": 8, "remainingUrlsQuota": 2}

    # create: 3 new URLs would make 11
    body = {"configuredName": "Over", "urls": ["n1.example.com", "n2.example.com", "n3.example.com"]}
    expect_invalid(admin.post(CATS, json=body), quota_message(8))
    assert custom_ids(sims) == ["CUSTOM_01"]
    # ADD_TO_LIST: same refusal, nothing added
    add = {"configuredName": "Eight", "urls": ["n1.example.com", "n2.example.com", "n3.example.com"]}
    expect_invalid(admin.put(f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json=add), quota_message(8))
    assert admin.get(f"{CATS}/CUSTOM_01").json()["urls"] == eight
    assert quota(admin) == {"uniqueUrlsProvisioned": 8, "remainingUrlsQuota": 2}

    # A URL already provisioned elsewhere costs nothing; reaching exactly the limit is fine.
    create_category(admin, "Shared", [eight[0], "n1.example.com", "n2.example.com"])
    assert quota(admin) == {"uniqueUrlsProvisioned": 10, "remainingUrlsQuota": 0}
    r = admin.put(
        f"{CATS}/CUSTOM_02?action=ADD_TO_LIST", json={"configuredName": "Shared", "urls": [eight[1]]}
    )
    assert r.status_code == 200 and r.json()["customUrlsCount"] == 4
    r = admin.put(
        f"{CATS}/CUSTOM_02?action=ADD_TO_LIST", json={"configuredName": "Shared", "urls": ["x.example.com"]}
    )
    expect_invalid(r, quota_message(10))
    r = admin.post(CATS, json={"configuredName": "Over", "dbCategorizedUrls": ["x.example.com"]})
    expect_invalid(r, quota_message(10))  # URLs retaining their parent category count too
    assert custom_ids(sims) == ["CUSTOM_01", "CUSTOM_02"]
    assert quota(admin) == {"uniqueUrlsProvisioned": 10, "remainingUrlsQuota": 0}


def test_full_update_may_swap_urls_within_the_quota(sims, admin):
    settings(sims, max_custom_urls=3)
    create_category(admin, "Swap", ["a.example.com", "b.example.com", "c.example.com"])
    body = {"configuredName": "Swap", "urls": ["d.example.com", "e.example.com", "f.example.com"]}
    assert admin.put(f"{CATS}/CUSTOM_01", json=body).status_code == 200
    body["urls"].append("g.example.com")
    expect_invalid(admin.put(f"{CATS}/CUSTOM_01", json=body), quota_message(3, 3))
    assert admin.get(f"{CATS}/CUSTOM_01").json()["urls"] == [
        "d.example.com",
        "e.example.com",
        "f.example.com",
    ]


def test_reset_restores_patched_settings(sims):
    settings(sims, max_custom_categories=2, realistic_rate_limits=True)
    sims.reset()
    after = ctl(sims, "GET", f"{TENANT}/settings")
    assert (after["max_custom_categories"], after["realistic_rate_limits"]) == (64, False)


def test_custom_category_limit_of_64(sims, admin):
    for i in range(64):
        r = admin.post(CATS, json={"configuredName": f"Cat {i}"})
        assert r.status_code == 200, r.text
    assert r.json()["id"] == "CUSTOM_64" and r.json()["val"] == 191
    expect_invalid(
        admin.post(CATS, json={"configuredName": "Cat 65"}),
        "An organization can have a maximum of 64 custom categories.",
    )
    assert len(custom_ids(sims)) == 64


def test_custom_category_limit_from_settings(sims, admin):
    settings(sims, max_custom_categories=2)
    create_category(admin, "One")
    create_category(admin, "Two")
    expect_invalid(
        admin.post(CATS, json={"configuredName": "Three", "urls": ["a.example.com"]}),
        "An organization can have a maximum of 2 custom categories.",
    )
    assert custom_ids(sims) == ["CUSTOM_01", "CUSTOM_02"]
    assert quota(admin)["uniqueUrlsProvisioned"] == 0
    assert admin.delete(f"{CATS}/CUSTOM_01").status_code == 204
    create_category(admin, "Three")


def test_keyword_limit_per_category(admin):
    thirty = [f"kw{i}" for i in range(30)]
    expect_invalid(
        admin.post(CATS, json={"configuredName": "Too many", "keywords": [*thirty, "kw30"]}),
        "A category can have at most 30 keywords.",
    )
    # retained keywords count towards the same 30
    expect_invalid(
        admin.post(
            CATS,
            json={"configuredName": "Too many", "keywords": thirty, "keywordsRetainingParentCategory": ["x"]},
        ),
        "A category can have at most 30 keywords.",
    )
    create_category(admin, "Thirty", keywords=thirty)
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "Thirty", "keywords": ["one"]}
    )
    expect_invalid(r, "A category can have at most 30 keywords.")
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "Thirty", "keywords": ["kw0"]}
    )
    assert r.status_code == 200  # already there: no new keyword
    assert admin.get(f"{CATS}/CUSTOM_01").json()["keywords"] == thirty


def test_keyword_limit_per_organization(sims, admin):
    settings(sims, max_keywords=40)
    create_category(admin, "A", keywords=[f"a{i}" for i in range(30)])
    create_category(admin, "B", keywords=[f"b{i}" for i in range(10)])
    r = admin.put(f"{CATS}/CUSTOM_02?action=ADD_TO_LIST", json={"configuredName": "B", "keywords": ["b10"]})
    expect_invalid(r, "An organization can have at most 40 keywords.")
    expect_invalid(
        admin.post(CATS, json={"configuredName": "C", "keywordsRetainingParentCategory": ["c"]}),
        "An organization can have at most 40 keywords.",
    )
    assert len(admin.get(f"{CATS}/CUSTOM_02").json()["keywords"]) == 10
    assert custom_ids(sims) == ["CUSTOM_01", "CUSTOM_02"]
    # removing frees room
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json={"configuredName": "A", "keywords": ["a0"]}
    )
    assert r.status_code == 200
    r = admin.put(f"{CATS}/CUSTOM_02?action=ADD_TO_LIST", json={"configuredName": "B", "keywords": ["b10"]})
    assert r.status_code == 200 and len(r.json()["keywords"]) == 11


# -- URL syntax ----------------------------------------------------------------------------------------
BAD_URLS = {
    "scheme": "http://a.example.com",
    "uppercase": "A.example.com",
    "too long": "a.example.com/" + "p" * (1025 - len("a.example.com/")),
    "label of 64": "a" * 64 + ".example.com",
    "tld only": "com",
    "wildcard tld": ".com",
    "non-ascii": "bücher.example",
    "space": "a.example.com /x",
    "tab": "a.exa\tmple.com",
    "empty label": "a..example.com",
    "bad port": "a.example.com:99999",
}


@pytest.mark.parametrize("bad", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_invalid_url_rejects_the_whole_request(sims, admin, bad):
    assert len(BAD_URLS["too long"]) == 1025
    r = admin.post(CATS, json={"configuredName": "Bad", "urls": ["good.example.com", bad]})
    expect_invalid(r)
    assert r.json()["message"].startswith(f"Invalid URL {bad!r}: ")
    assert custom_ids(sims) == []

    create_category(admin, "Host", ["kept.example.com"])
    add = {"configuredName": "Host", "urls": ["good.example.com", bad]}
    r = admin.put(f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json=add)
    expect_invalid(r)
    r = admin.put(f"{CATS}/CUSTOM_01", json={"configuredName": "Host", "urls": ["good.example.com", bad]})
    expect_invalid(r)
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "Host", "dbCategorizedUrls": [bad]}
    )
    expect_invalid(r)
    cat = admin.get(f"{CATS}/CUSTOM_01").json()
    assert (cat["urls"], cat["dbCategorizedUrls"]) == (["kept.example.com"], [])
    assert quota(admin)["uniqueUrlsProvisioned"] == 1


def test_valid_url_forms(admin):
    good = [
        ".wildcard.example.com",
        "a.example.com/path",
        "a.example.com/path/file.htm",
        "a.example.com:8080",
        "10.1.2.3",
        "a" * 63 + ".example.com",
        "a.example.com/" + "p" * (1024 - len("a.example.com/")),
        "ww_w.safemarch.com",
        "www.safemarch.com/resources_1",
    ]
    r = admin.post(CATS, json={"configuredName": "Good", "urls": good})
    assert r.status_code == 200, r.text
    assert r.json()["urls"] == good and r.json()["customUrlsCount"] == len(good)


@pytest.mark.parametrize("bad", ["www.safe_march.com", "www.safemarch.c_om", "_.safemarch.com"])
def test_underscore_rules_of_the_url_format_guidelines(sims, admin, bad):
    r = admin.post(CATS, json={"configuredName": "Underscore", "urls": [bad]})
    expect_invalid(r)
    assert custom_ids(sims) == []


def test_tld_category_entries(admin):
    r = admin.post(
        CATS, json={"configuredName": "TLDs", "type": "TLD_CATEGORY", "urls": [".ru", ".xn--p1ai"]}
    )
    assert r.status_code == 200
    assert r.json() == custom_view("CUSTOM_01", "TLDs", [".ru", ".xn--p1ai"], kind="TLD_CATEGORY")
    for bad in ("ru", "example.ru", ".RU", "http://.ru"):
        r = admin.put(
            f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "TLDs", "urls": [".cn", bad]}
        )
        expect_invalid(r, f"Invalid top-level domain: {bad!r}")
    assert admin.get(f"{CATS}/CUSTOM_01").json()["urls"] == [".ru", ".xn--p1ai"]
    # ... while a URL category refuses the bare TLD
    r = admin.post(CATS, json={"configuredName": "Not TLD", "urls": [".ru"]})
    expect_invalid(r, "Invalid URL '.ru': a top-level domain alone is not allowed")


# -- pagination ----------------------------------------------------------------------------------------
def test_pagination_walks_every_category_once(admin):
    for i in range(3):
        create_category(admin, f"Paged {i}")
    everything = [c["id"] for c in admin.get(CATS).json()]
    assert len(everything) == PREDEFINED_COUNT + 3

    # The official SDK: first request with pageSize only, then page=2,3,... until an empty page.
    first = admin.get(CATS, params={"pageSize": 5})
    assert first.status_code == 200 and len(first.json()) == 5
    seen = [c["id"] for c in first.json()]
    page = 2
    while True:
        r = admin.get(CATS, params={"pageSize": 5, "page": page})
        assert r.status_code == 200
        if not r.json():
            break
        assert len(r.json()) <= 5
        seen += [c["id"] for c in r.json()]
        page += 1
        assert page < 50, "paging never ended"
    assert seen == everything
    assert page == 8  # 33 categories: 7 pages, the 8th is []
    assert admin.get(CATS, params={"pageSize": 5, "page": 8}).json() == []
    assert admin.get(CATS, params={"pageSize": 5, "page": 1000}).json() == []
    assert [
        c["id"] for c in admin.get(f"{CATS}/lite", params={"pageSize": 30, "page": 2}).json()
    ] == everything[30:]
    expect_invalid(admin.get(CATS, params={"page": 0}))
    expect_invalid(admin.get(CATS, params={"pageSize": "many"}), "page and pageSize must be numbers")


# -- urlLookup -----------------------------------------------------------------------------------------
def test_url_lookup(admin):
    create_category(admin, "Override", ["mimecast.com", "custom-only.example.com"])
    urls = [
        "google.com",
        "https://www.google.com/search?q=x",
        "unknown-host.example",
        "secure-login-paypa1.com",
        "mimecast.com",
        "custom-only.example.com",
    ]
    r = admin.post(f"{V1}/urlLookup", json=urls)
    assert r.status_code == 200
    assert r.json() == [
        {
            "url": "google.com",
            "urlClassifications": ["WEB_SEARCH"],
            "urlClassificationsWithSecurityAlert": [],
        },
        {
            "url": "https://www.google.com/search?q=x",
            "urlClassifications": ["WEB_SEARCH"],
            "urlClassificationsWithSecurityAlert": [],
        },
        {
            "url": "unknown-host.example",
            "urlClassifications": ["MISCELLANEOUS_OR_UNKNOWN"],
            "urlClassificationsWithSecurityAlert": [],
        },
        {
            "url": "secure-login-paypa1.com",
            "urlClassifications": [],
            "urlClassificationsWithSecurityAlert": ["PHISHING"],
        },
        # custom categories are never returned (ZIA docs)
        {
            "url": "mimecast.com",
            "urlClassifications": ["CORPORATE_MARKETING"],
            "urlClassificationsWithSecurityAlert": [],
        },
        {
            "url": "custom-only.example.com",
            "urlClassifications": ["MISCELLANEOUS_OR_UNKNOWN"],
            "urlClassificationsWithSecurityAlert": [],
        },
    ]


def test_url_lookup_limits(admin):
    hundred = [f"h{i}.example.com" for i in range(100)]
    r = admin.post(f"{V1}/urlLookup", json=hundred)
    assert r.status_code == 200 and len(r.json()) == 100
    expect_invalid(
        admin.post(f"{V1}/urlLookup", json=[*hundred, "one-more.example.com"]),
        "At most 100 URLs can be looked up per request",
    )
    expect_invalid(admin.post(f"{V1}/urlLookup", json=["a.example.com/" + "p" * 1011]))
    r = admin.post(f"{V1}/urlLookup", json={"urls": ["google.com"]})
    assert r.status_code == 400 and r.json() == {"message": "Request body is invalid."}


# -- concurrency ---------------------------------------------------------------------------------------
def test_concurrent_add_to_list_loses_no_update(sims, admin):
    create_category(admin, "Busy")
    cookie = admin.cookies["JSESSIONID"]
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[int] = []
    errors: list[BaseException] = []

    def add(n: int) -> None:
        urls = [f"w{n}-{i}.example.com" for i in range(50)]
        try:
            with client(sims.url("zia"), cookies={"JSESSIONID": cookie}) as c:
                barrier.wait(timeout=10)
                r = c.put(
                    f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "Busy", "urls": urls}
                )
                results.append(r.status_code)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert results == [200] * workers
    cat = admin.get(f"{CATS}/CUSTOM_01").json()
    expected = {f"w{n}-{i}.example.com" for n in range(workers) for i in range(50)}
    assert set(cat["urls"]) == expected and len(cat["urls"]) == 400
    assert cat["customUrlsCount"] == 400
    assert quota(admin) == {"uniqueUrlsProvisioned": 400, "remainingUrlsQuota": 24_600}


# -- edit lock -----------------------------------------------------------------------------------------
def test_edit_lock_refuses_writes_until_it_expires(sims, admin):
    create_category(admin, "Locked", ["a.example.com"])
    group = admin.post(GROUPS, json={"name": "g", "type": "DSTN_IP", "addresses": ["1.1.1.1"]}).json()
    before = pending(sims)
    ctl(sims, "POST", f"{TENANT}/edit-lock", {"seconds": 30})

    lock = {"code": "EDIT_LOCK_NOT_AVAILABLE"}
    writes = [
        admin.post(CATS, json={"configuredName": "New", "urls": ["b.example.com"]}),
        admin.put(f"{CATS}/CUSTOM_01", json={"configuredName": "Renamed"}),
        admin.put(
            f"{CATS}/CUSTOM_01?action=ADD_TO_LIST",
            json={"configuredName": "Locked", "urls": ["c.example.com"]},
        ),
        admin.put(f"{CATS}/CUSTOM_01?action=REMOVE_FROM_LIST", json={"urls": ["a.example.com"]}),
        admin.delete(f"{CATS}/CUSTOM_01"),
        admin.post(f"{V1}/urlFilteringRules", json={"name": "r", "action": "BLOCK"}),
        admin.post(GROUPS, json={"name": "g2", "addresses": ["2.2.2.2"]}),
        admin.delete(f"{GROUPS}/{group['id']}"),
        admin.post(f"{V1}/status/activate"),
    ]
    for r in writes:
        assert (r.status_code, r.json()) == (409, lock), r.request.url
    assert pending(sims) == before

    for path in (CATS, f"{CATS}/CUSTOM_01", f"{CATS}/urlQuota", f"{CATS}/lite", GROUPS, f"{V1}/status"):
        assert admin.get(path).status_code == 200, path
    assert admin.post(f"{V1}/urlLookup", json=["google.com"]).status_code == 200

    advance(sims, 29)
    assert admin.delete(f"{CATS}/CUSTOM_01").status_code == 409
    advance(sims, 1)
    r = admin.put(
        f"{CATS}/CUSTOM_01?action=ADD_TO_LIST", json={"configuredName": "Locked", "urls": ["c.example.com"]}
    )
    assert r.status_code == 200 and r.json()["urls"] == ["a.example.com", "c.example.com"]
    assert admin.post(f"{V1}/status/activate").json() == {"status": "ACTIVE"}


def test_edit_lock_released_by_the_control_plane(sims, admin):
    ctl(sims, "POST", f"{TENANT}/edit-lock", {"seconds": 600})
    assert admin.post(CATS, json={"configuredName": "x"}).status_code == 409
    ctl(sims, "DELETE", f"{TENANT}/edit-lock")
    assert admin.post(CATS, json={"configuredName": "x"}).status_code == 200


# -- IP destination groups -----------------------------------------------------------------------------
def test_ip_destination_groups_crud(admin):
    body = {
        "name": "Mimecast IPs",
        "type": "DSTN_IP",
        "addresses": ["10.0.0.0/8", "192.168.1.1-192.168.1.20", "8.8.8.8", "8.8.8.8"],
        "description": "shared",
    }
    r = admin.post(GROUPS, json=body)
    assert r.status_code == 200
    ip = r.json()
    assert ip == {
        "id": 10_596_668,
        "name": "Mimecast IPs",
        "type": "DSTN_IP",
        "addresses": ["10.0.0.0/8", "192.168.1.1-192.168.1.20", "8.8.8.8"],
        "description": "shared",
        "ipCategories": [],
        "countries": [],
    }
    r = admin.get(f"{GROUPS}/{ip['id']}")
    assert r.status_code == 200
    assert r.json() == {**ip, "creatorContext": "ZIA", "urlCategories": [], "ipAddresses": ip["addresses"]}

    fqdn = admin.post(
        GROUPS, json={"name": "Hosts", "type": "DSTN_FQDN", "addresses": ["a.example.com"]}
    ).json()
    assert fqdn["id"] == 10_596_669 and fqdn["description"] is None

    assert [g["id"] for g in admin.get(GROUPS).json()] == [ip["id"], fqdn["id"]]
    assert admin.get(f"{GROUPS}/").json() == admin.get(GROUPS).json()  # ZiaTalker's trailing slash
    assert [g["name"] for g in admin.get(GROUPS, params={"excludeType": "DSTN_IP"}).json()] == ["Hosts"]
    assert [g["name"] for g in admin.get(GROUPS, params={"excludeType": "DSTN_FQDN"}).json()] == [
        "Mimecast IPs"
    ]
    assert admin.get(GROUPS, params={"pageSize": 1, "page": 3}).json() == []
    assert admin.get(f"{GROUPS}/lite").json() == [
        {"id": ip["id"], "name": "Mimecast IPs", "type": "DSTN_IP"},
        {"id": fqdn["id"], "name": "Hosts", "type": "DSTN_FQDN"},
    ]

    r = admin.put(
        f"{GROUPS}/{fqdn['id']}", json={"name": "Hosts", "type": "DSTN_FQDN", "addresses": ["b.example.com"]}
    )
    assert r.status_code == 200 and r.json()["addresses"] == ["b.example.com"]

    r = admin.delete(f"{GROUPS}/{ip['id']}")
    assert r.status_code == 204 and "content-type" not in r.headers and r.content == b""
    r = admin.get(f"{GROUPS}/{ip['id']}")
    assert r.status_code == 404 and r.json()["code"] == "RESOURCE_NOT_FOUND"
    assert [g["id"] for g in admin.get(GROUPS).json()] == [fqdn["id"]]


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("DSTN_IP", "10.0.0.300"),
        ("DSTN_IP", "10.0.0.9-10.0.0.1"),
        ("DSTN_IP", "a.example.com"),
        ("DSTN_FQDN", "not a host"),
        ("DSTN_FQDN", "10.0.0.1"),
        ("DSTN_FQDN", "localhost"),
    ],
)
def test_ip_destination_group_address_validation(admin, kind, address):
    r = admin.post(
        GROUPS,
        json={
            "name": "g",
            "type": kind,
            "addresses": ["ok.example.com" if kind == "DSTN_FQDN" else "1.1.1.1", address],
        },
    )
    expect_invalid(r)
    assert r.json()["message"].startswith(f"Invalid address {address!r}: ")
    assert admin.get(GROUPS).json() == []


def test_ip_destination_group_other_errors(admin):
    admin.post(GROUPS, json={"name": "g", "addresses": ["1.1.1.1"]})
    r = admin.post(GROUPS, json={"name": "g", "addresses": ["2.2.2.2"]})
    assert r.status_code == 409
    assert r.json() == {
        "code": "DUPLICATE_ITEM",
        "message": "An IP destination group named 'g' already exists",
    }
    expect_invalid(admin.post(GROUPS, json={"name": "h", "type": "DSTN_X"}), "Invalid type: DSTN_X")
    expect_invalid(admin.post(GROUPS, json={"addresses": []}), "name is required")
    assert admin.get(f"{GROUPS}/abc").status_code == 404
    assert admin.delete(f"{GROUPS}/1").status_code == 404
