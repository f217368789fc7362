"""The Mimecast sim's API as real clients see it: the wire-compatibility checklist of the reference
(shared/reference/mimecast.md §0), API 2.0 tokens, API 1.0 signatures, the post-REST envelope,
page tokens, dates, filters, function failures, rate limiting and the other endpoints."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from sims.control import ControlError
from tests.mimecast.helpers import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    DATE_FIELD,
    FORM,
    HTTP,
    IMP_LOGS,
    LIST_NAME,
    MC_DATE,
    SAMPLES,
    URL_LOGS,
    Oracle,
    client,
    function_failure,
    get_token,
    logs_page,
    mc_fmt,
    mc_headers,
    mc_ts,
    walk,
    write_world,
)

DAY = 86400
REWRITE = "https://protect-us.mimecast.com/s/"  # the sim's rewritten-URL prefix (app.REWRITE_PREFIX)
CLICK_KEYS = {
    "userEmailAddress", "fromUserEmailAddress", "url", "ttpDefinition", "subject", "action",
    "adminOverride", "userOverride", "scanResult", "category", "sendingIp", "userAwarenessAction",
    "date", "actions", "route", "creationMethod", "emailPartsDescription", "messageId",
}  # fmt: skip
IMPERSONATION_KEYS = {
    "id", "senderAddress", "recipientAddress", "subject", "definition", "hits", "identifiers", "action",
    "taggedExternal", "taggedMalicious", "senderIpAddress", "eventTime", "impersonationResults", "messageId",
}  # fmt: skip
# Managed URL objects as the real API returns them (Rapid7 fixtures get_managed_url / create_managed_url)
MANAGED_URL_KEYS = {
    "id", "scheme", "domain", "port", "path", "queryString", "matchType", "action", "comment",
    "disableUserAwareness", "disableRewrite", "disableLogClick",
}  # fmt: skip


def sample(name: str) -> dict | None:
    path = SAMPLES / name
    return json.loads(path.read_text()) if path.is_file() else None


def token_request(mc: str, body: str, ctype: str | None = FORM, **kw) -> httpx.Response:
    headers = {"Content-Type": ctype} if ctype else {}
    return HTTP.post(f"{mc}/oauth/token", content=body, headers=headers, **kw)


def gateway_fail(r: httpx.Response, status: int, code: str) -> dict:
    """API 2.0 gateway failures: non-200 with a flat ``fail: [{"code", "message"}]``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["fail"][0]["code"] == code
    assert isinstance(body["fail"][0]["message"], str) and body["fail"][0]["message"]
    return body


def rewritten(url: str) -> str:
    return REWRITE + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@pytest.fixture
def oracle(now) -> Oracle:
    return Oracle(now)


# -- API 2.0: /oauth/token -----------------------------------------------------------------------
def test_token_is_minted_from_a_form_body(mc):
    form = f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=client_credentials"
    r = token_request(mc, form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1799 and body["scope"] == ""
    assert r.headers["cache-control"] == "no-store"
    recorded = sample("elastic/v2_oauth_token_response.json")
    if recorded is not None:
        assert set(body) == set(recorded) and body["expires_in"] == recorded["expires_in"]
    ok = HTTP.post(
        f"{mc}/api/account/get-account", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert ok.status_code == 200 and ok.json()["data"][0]["accountCode"] == ACCOUNT


def test_token_lives_30_minutes_on_the_sim_clock(sims, api, mc):
    assert api.post("/api/account/get-account").status_code == 200
    sims.control.clock.advance(29 * 60)
    assert api.post("/api/account/get-account").status_code == 200  # still valid at +29 min
    sims.control.clock.advance(60)
    r = api.post(URL_LOGS, json={"data": [{}]})
    body = gateway_fail(r, 401, "token_expired")  # Rapid7 re-authenticates on exactly this
    assert body["meta"]["status"] == 401
    fresh = get_token(mc)
    r = HTTP.post(f"{mc}/api/account/get-account", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200


def test_expire_tokens_from_the_control_plane(sims, api):
    assert sims.control.sim("mimecast", f"/accounts/{ACCOUNT}/expire-tokens") == {"expired": 1}
    gateway_fail(api.post("/api/account/get-account"), 401, "token_expired")


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong-secret"), ("nobody", CLIENT_SECRET), (CLIENT_ID, CLIENT_SECRET.upper())],
)
def test_bad_client_credentials(mc, client_id, secret):
    r = token_request(mc, f"client_id={client_id}&client_secret={secret}&grant_type=client_credentials")
    gateway_fail(r, 401, "invalid_client")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "multipart/form-data; boundary=x", None])
def test_token_needs_a_form_content_type(mc, ctype):
    form = f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=client_credentials"
    gateway_fail(token_request(mc, form, ctype), 400, "invalid_request")
    as_json = json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "x"})
    gateway_fail(token_request(mc, as_json, "application/json"), 400, "invalid_request")


def test_form_content_type_with_charset_is_fine(mc):
    form = f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=client_credentials"
    assert token_request(mc, form, f"{FORM}; charset=UTF-8").status_code == 200


@pytest.mark.parametrize(
    ("form", "code"),
    [
        (f"client_secret={CLIENT_SECRET}&grant_type=client_credentials", "invalid_request"),
        (f"client_id={CLIENT_ID}&grant_type=client_credentials", "invalid_request"),
        (f"client_id={CLIENT_ID}&client_secret=&grant_type=client_credentials", "invalid_request"),
        (f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}", "unsupported_grant_type"),
        (
            f"client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=password",
            "unsupported_grant_type",
        ),
        ("", "unsupported_grant_type"),
    ],
)
def test_token_missing_fields(mc, form, code):
    gateway_fail(token_request(mc, form), 400, code)


def test_credentials_only_in_basic_auth_are_not_enough(mc):
    # every real client sends the credentials in the form body; none uses HTTP Basic
    r = token_request(mc, "grant_type=client_credentials", auth=(CLIENT_ID, CLIENT_SECRET))
    gateway_fail(r, 400, "invalid_request")


# -- API 1.0: HMAC-SHA1 --------------------------------------------------------------------------
def hmac_post(mc: str, binding: dict, path: str, ts: float, body: dict | None = None, **kw) -> httpx.Response:
    uri = path.split("?", 1)[0]
    return HTTP.post(f"{mc}{path}", json=body or {"data": []}, headers=mc_headers(binding, uri, ts, **kw))


@pytest.mark.parametrize("suffix", ["UTC", "GMT"])
def test_hmac_signed_requests(mc, binding, now, suffix):
    r = hmac_post(mc, binding, "/api/account/get-account", now, suffix=suffix)
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["accountCode"] == ACCOUNT
    item = {"from": mc_fmt(now - 3600), "to": mc_fmt(now)}
    r = hmac_post(
        mc, binding, URL_LOGS, now, {"meta": {"pagination": {"pageSize": 5}}, "data": [item]}, suffix=suffix
    )
    assert r.status_code == 200 and len(r.json()["data"][0]["clickLogs"]) == 5


def test_hmac_signature_covers_the_path_only(mc, binding, now):
    # the query string is not part of the signed uri (clients sign the path they call)
    r = hmac_post(mc, binding, "/api/account/get-account?trace=1", now)
    assert r.status_code == 200, r.text


def test_hmac_date_is_read_on_the_sim_clock(sims, mc, binding, now):
    headers = mc_headers(binding, "/api/account/get-account", now)
    assert HTTP.post(f"{mc}/api/account/get-account", json={"data": []}, headers=headers).status_code == 200
    sims.control.clock.advance(3600)  # the same date is now an hour old on the sim clock
    stale = HTTP.post(f"{mc}/api/account/get-account", json={"data": []}, headers=headers)
    assert stale.status_code == 401
    assert stale.json()["fail"][0]["errors"][0]["code"] == "err_xdk_stale_date"
    assert hmac_post(mc, binding, "/api/account/get-account", now + 3600).status_code == 200
    if abs(time.time() - (now + 3600)) > 3600:  # real time is not the sim's time
        r = hmac_post(mc, binding, "/api/account/get-account", time.time())
        assert r.status_code == 401


# -- the envelope --------------------------------------------------------------------------------
def test_url_logs_envelope(api, now):
    body = {"meta": {"pagination": {"pageSize": 3}}, "data": [{"from": mc_fmt(now - DAY), "to": mc_fmt(now)}]}
    env = logs_page(api, URL_LOGS, body)
    assert set(env) == {"meta", "data", "fail"}
    assert env["meta"]["status"] == 200
    assert env["meta"]["pagination"]["pageSize"] == 3
    assert isinstance(env["meta"]["pagination"]["next"], str)
    assert len(env["data"]) == 1 and set(env["data"][0]) == {"clickLogs"}
    for rec in env["data"][0]["clickLogs"]:
        expected = CLICK_KEYS | ({"tagMap"} if rec["scanResult"] == "malicious" else set())
        assert set(rec) == expected


def test_impersonation_logs_envelope(api, now):
    body = {"meta": {"pagination": {"pageSize": 4}}, "data": [{"from": mc_fmt(now - DAY), "to": mc_fmt(now)}]}
    env = logs_page(api, IMP_LOGS, body)
    assert env["meta"]["status"] == 200 and env["meta"]["pagination"]["pageSize"] == 4
    (data,) = env["data"]
    assert set(data) == {"impersonationLogs", "resultCount"}
    assert data["resultCount"] == 4
    for rec in data["impersonationLogs"]:
        assert set(rec) == IMPERSONATION_KEYS
        for hit in rec["impersonationResults"]:
            assert set(hit) == {
                "impersonationDomainSource",
                "similarDomain",
                "stringSimilarToDomain",
                "checkerResult",
            }


def test_records_have_the_recorded_field_sets(api, now):
    clean_sample = sample("elastic/v1_ttp_url_get_logs_first_page.json")
    malicious_sample = sample("elastic/v2_ttp_url_get_logs_page1.json")
    imp_sample = sample("elastic/v2_ttp_impersonation_get_logs_page1.json")
    if clean_sample is None or malicious_sample is None or imp_sample is None:
        pytest.skip("recorded samples are not present (../shared/reference/mimecast-samples)")
    clicks = walk(api, URL_LOGS, {"from": mc_fmt(now - DAY), "to": mc_fmt(now)}, 500)
    clean = next(r for r in clicks if r["scanResult"] == "clean")
    malicious = next(r for r in clicks if r["scanResult"] == "malicious")
    assert set(clean) == set(clean_sample["data"][0]["clickLogs"][0])
    assert set(malicious) == set(malicious_sample["data"][0]["clickLogs"][0])
    imp = walk(api, IMP_LOGS, {"from": mc_fmt(now - DAY)}, 10)[0]
    assert set(imp) == set(imp_sample["data"][0]["impersonationLogs"][0])
    assert set(imp_sample["data"][0]) == {"impersonationLogs", "resultCount"}


def test_an_empty_page_still_wraps_the_list(api):
    old = {"from": "2020-01-01T00:00:00+0000", "to": "2020-01-02T00:00:00+0000"}
    env = logs_page(api, URL_LOGS, {"data": [old]})
    expected = {
        "meta": {"status": 200, "pagination": {"pageSize": 0}},
        "data": [{"clickLogs": []}],
        "fail": [],
    }
    assert env == expected
    recorded = sample("rapid7/v1_get_ttp_url_logs_empty.json")
    if recorded is not None:
        assert env == recorded
    env = logs_page(api, IMP_LOGS, {"data": [old]})
    assert env["data"] == [{"impersonationLogs": [], "resultCount": 0}]
    assert env["meta"]["pagination"] == {"pageSize": 0}


# -- pagination ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [URL_LOGS, IMP_LOGS])
def test_next_only_when_more_results_exist(api, oracle, now, path):
    span = 2 * 3600 if path == URL_LOGS else 12 * 3600
    item = {"from": mc_fmt(now - span), "to": mc_fmt(now), "oldestFirst": True}
    n = len(oracle.records(path, now, now - span, now))
    assert 5 < n < 500
    for size in (n, n + 1, 500):
        env = logs_page(api, path, {"meta": {"pagination": {"pageSize": size}}, "data": [item]})
        assert env["meta"]["pagination"] == {"pageSize": n}  # no `next`, not even null
    env = logs_page(api, path, {"meta": {"pagination": {"pageSize": n - 1}}, "data": [item]})
    assert env["meta"]["pagination"]["pageSize"] == n - 1
    token = env["meta"]["pagination"]["next"]
    assert isinstance(token, str) and token
    last = logs_page(api, path, {"meta": {"pagination": {"pageSize": n - 1, "pageToken": token}}})
    assert last["meta"]["pagination"] == {"pageSize": 1}
    assert len(last["data"][0][LIST_NAME[path]]) == 1


@pytest.mark.parametrize("oldest_first", [True, False])
@pytest.mark.parametrize(("path", "size"), [(URL_LOGS, 97), (IMP_LOGS, 7)])
def test_walking_every_page_yields_every_record_once_in_order(api, oracle, now, path, size, oldest_first):
    item = {"from": mc_fmt(now - DAY), "to": mc_fmt(now), "oldestFirst": oldest_first}
    got = walk(api, path, item, size)
    expected = oracle.records(path, now, now - DAY, now, oldest_first)
    assert len(expected) > size * 3
    assert got == expected
    stamps = [r[DATE_FIELD[path]] for r in got]
    assert stamps == sorted(stamps, reverse=not oldest_first)


FOLLOW_UPS = {
    # Elastic httpjson v1: the follow-up body is only the token ("it holds all the previous filters")
    "token only": lambda item, token: {"meta": {"pagination": {"pageToken": token}}},
    # XSOAR MimecastV2: snake_case page_size beside pageToken, data sent again
    "snake page_size": lambda item, token: {
        "meta": {"pagination": {"page_size": 40, "pageToken": token}},
        "data": [item],
    },
    # everyone else: camelCase pageSize + pageToken
    "camel pageSize": lambda item, token: {
        "meta": {"pagination": {"pageSize": 40, "pageToken": token}},
        "data": [item],
    },
}


@pytest.mark.parametrize("style", list(FOLLOW_UPS))
def test_page_tokens_carry_the_whole_query(api, oracle, now, style):
    item = {"from": mc_fmt(now - DAY), "to": mc_fmt(now), "scanResult": "all", "oldestFirst": True}
    # the first page may carry an empty pageToken (Azure Sentinel, Netskope)
    body = {"meta": {"pagination": {"pageSize": 40, "pageToken": ""}}, "data": [item]}
    got: list[dict] = []
    for _ in range(200):
        env = logs_page(api, URL_LOGS, body)
        got += env["data"][0]["clickLogs"]
        token = env["meta"]["pagination"].get("next")
        if token is None:
            break
        body = FOLLOW_UPS[style](item, token)
    assert got == oracle.records(URL_LOGS, now, now - DAY, now)


def test_a_token_keeps_its_query_whatever_data_comes_with_it(api, now):
    item = {"from": mc_fmt(now - DAY), "to": mc_fmt(now), "scanResult": "malicious"}
    first = logs_page(api, URL_LOGS, {"meta": {"pagination": {"pageSize": 5}}, "data": [item]})
    token = first["meta"]["pagination"]["next"]
    alone = logs_page(api, URL_LOGS, {"meta": {"pagination": {"pageSize": 5, "pageToken": token}}})
    same = logs_page(
        api, URL_LOGS, {"meta": {"pagination": {"pageSize": 5, "pageToken": token}}, "data": [item]}
    )
    assert alone == same
    assert all(r["scanResult"] == "malicious" for r in alone["data"][0]["clickLogs"])


def test_a_walk_is_a_snapshot_while_the_clock_moves(sims, api, oracle, now):
    item = {"from": mc_fmt(now - 3 * 3600), "oldestFirst": False}  # `to` defaults to now
    env = logs_page(api, URL_LOGS, {"meta": {"pagination": {"pageSize": 50}}, "data": [item]})
    got = env["data"][0]["clickLogs"]
    sims.control.clock.advance(1200)  # new clicks are generated meanwhile (token still valid)
    token = env["meta"]["pagination"]["next"]
    while token:
        env = logs_page(api, URL_LOGS, {"meta": {"pagination": {"pageSize": 50, "pageToken": token}}})
        got += env["data"][0]["clickLogs"]
        token = env["meta"]["pagination"].get("next")
    assert got == oracle.records(URL_LOGS, now, now - 3 * 3600, now, oldest_first=False)
    newer = walk(api, URL_LOGS, {"from": mc_fmt(now - 3 * 3600)}, 500)
    assert len(newer) > len(got) and newer[len(newer) - len(got) :] == got


# -- dates ---------------------------------------------------------------------------------------
def test_response_dates_are_exactly_plus_0000(api, now):
    for path, field in ((URL_LOGS, "date"), (IMP_LOGS, "eventTime")):
        for rec in walk(api, path, {"from": mc_fmt(now - DAY)}, 500):
            assert MC_DATE.match(rec[field]), rec[field]
            # XSOAR: date.replace('+0000', 'Z') then strptime('%Y-%m-%dT%H:%M:%SZ')
            parsed = datetime.strptime(rec[field].replace("+0000", "Z"), "%Y-%m-%dT%H:%M:%SZ")
            assert now - DAY <= parsed.replace(tzinfo=UTC).timestamp() <= now


@pytest.mark.parametrize("path", [URL_LOGS, IMP_LOGS])
def test_request_dates_in_every_client_format(api, now, path):
    start, end = now - 5 * 3600, now - 3600
    results = []
    for style in ("+0000", "Z", "+00:00"):
        item = {"from": mc_fmt(start, style), "to": mc_fmt(end, style)}
        results.append(walk(api, path, item, 500))
    iso_ms = {"from": mc_fmt(start, "Z").replace("Z", ".000Z"), "to": mc_fmt(end, "Z").replace("Z", ".000Z")}
    results.append(walk(api, path, iso_ms, 500))  # RFC 3339 with fractions (Elastic CEL)
    assert results[0] and all(r == results[0] for r in results)
    field = "date" if path == URL_LOGS else "eventTime"
    assert all(start <= mc_ts(rec[field]) <= end for rec in results[0])


# -- filters -------------------------------------------------------------------------------------
def test_scan_result_and_route_filters(api, oracle, now):
    window = {"from": mc_fmt(now - DAY), "to": mc_fmt(now), "oldestFirst": True}
    everything = oracle.records(URL_LOGS, now, now - DAY, now)
    assert walk(api, URL_LOGS, {**window, "scanResult": "all", "route": "all"}, 500) == everything
    for scan in ("malicious", "clean"):
        got = walk(api, URL_LOGS, {**window, "scanResult": scan}, 500)
        assert got and got == [r for r in everything if r["scanResult"] == scan]
    for route in ("inbound", "outbound", "internal"):
        got = walk(api, URL_LOGS, {**window, "route": route}, 500)
        assert got and got == [r for r in everything if r["route"] == route]
    both = walk(api, URL_LOGS, {**window, "route": "inbound", "scanResult": "malicious"}, 500)
    assert both == [r for r in everything if r["route"] == "inbound" and r["scanResult"] == "malicious"]


def test_from_and_to_bound_the_window(api, oracle, now):
    start, end = now - 7 * 3600 - 17, now - 2 * 3600 + 5
    got = walk(api, URL_LOGS, {"from": mc_fmt(start), "to": mc_fmt(end), "oldestFirst": True}, 500)
    assert got == oracle.records(URL_LOGS, now, start, end)
    assert all(start <= mc_ts(r["date"]) <= end for r in got)


def test_default_window_is_start_of_day_to_now(api, oracle, now):
    midnight = now - now % DAY
    got = walk(api, URL_LOGS, {"oldestFirst": True}, 500)
    assert got == oracle.records(URL_LOGS, now, midnight, now)
    assert walk(api, URL_LOGS, {}, 500) == got[::-1]  # most recent first by default


def test_impersonation_filters(api, oracle, now):
    window = {"from": mc_fmt(now - DAY), "to": mc_fmt(now), "oldestFirst": True}
    everything = oracle.records(IMP_LOGS, now, now - DAY, now)
    assert walk(api, IMP_LOGS, window, 500) == everything
    for flag in (True, False):
        got = walk(api, IMP_LOGS, {**window, "taggedMalicious": flag}, 500)
        assert got and got == [r for r in everything if r["taggedMalicious"] is flag]
    ids = ["custom_external_domain", "internal_user_name"]
    got = walk(api, IMP_LOGS, {**window, "identifiers": ids}, 500)
    assert got and got == [r for r in everything if set(r["identifiers"]) & set(ids)]
    got = walk(api, IMP_LOGS, {**window, "actions": ["hold"]}, 500)
    assert got and got == [r for r in everything if r["action"] == "hold"]
    sender_domain = next(r for r in everything if r["identifiers"] == ["custom_external_domain"])[
        "senderAddress"
    ]
    needle = sender_domain.split("@")[1].upper()  # case-insensitive
    got = walk(api, IMP_LOGS, {**window, "searchField": "senderAddress", "query": needle}, 500)
    assert got and got == [r for r in everything if needle.lower() in r["senderAddress"].lower()]
    got = walk(api, IMP_LOGS, {**window, "searchField": "subject", "query": "invoice"}, 500)
    assert got and got == [r for r in everything if "invoice" in r["subject"].lower()]
    fields = ("senderAddress", "recipientAddress", "subject", "definition")
    got = walk(api, IMP_LOGS, {**window, "query": "payroll"}, 500)  # no searchField: any field
    assert got and got == [r for r in everything if any("payroll" in r[f].lower() for f in fields)]


# -- function failures: HTTP 200, fail[].key echoes the item -------------------------------------
@pytest.mark.parametrize(
    ("path", "item"),
    [
        (URL_LOGS, {"from": "yesterday"}),
        (URL_LOGS, {"to": "2026-13-45T00:00:00+0000"}),
        (URL_LOGS, {"from": 1768467600}),
        (URL_LOGS, {"from": "2026-01-15T09:00:00+0000", "to": "2026-01-15T08:00:00+0000"}),
        (URL_LOGS, {"scanResult": "evil"}),
        (URL_LOGS, {"route": "sideways"}),
        (URL_LOGS, {"oldestFirst": "maybe"}),
        (IMP_LOGS, {"searchField": "subject"}),
        (IMP_LOGS, {"searchField": "body", "query": "x"}),
        (IMP_LOGS, {"identifiers": "similar_internal_domain"}),
        (IMP_LOGS, {"taggedMalicious": "yes"}),
    ],
)
def test_bad_filters_are_function_failures(api, path, item):
    function_failure(api.post(path, json={"meta": {"pagination": {"pageSize": 10}}, "data": [item]}), item)


@pytest.mark.parametrize("size", [501, 0, -1, 10_000])
def test_page_size_over_the_maximum_is_a_function_failure(api, size):
    item = {"scanResult": "all"}
    r = api.post(URL_LOGS, json={"meta": {"pagination": {"pageSize": size}}, "data": [item]})
    assert function_failure(r, item)["code"] == "err_validation_page_size"


def test_page_size_of_500_is_accepted(api, now):
    env = logs_page(
        api, URL_LOGS, {"meta": {"pagination": {"pageSize": 500}}, "data": [{"from": mc_fmt(now - DAY)}]}
    )
    assert env["meta"]["pagination"]["pageSize"] == 500


# -- lenient bodies ------------------------------------------------------------------------------
def test_python_repr_bodies_are_accepted(api, now):
    payload = {
        "meta": {"pagination": {"pageSize": 25}},
        "data": [{"from": mc_fmt(now - DAY), "to": mc_fmt(now), "oldestFirst": True, "scanResult": "all"}],
    }
    as_repr = logs_page(api, URL_LOGS, str(payload))  # data=str(payload), as Rapid7 sends it
    assert "True" in str(payload) and "'" in str(payload)
    assert as_repr == logs_page(api, URL_LOGS, payload)
    item = {
        "url": "https://repr.example/x",
        "action": "block",
        "matchType": "explicit",
        "disableRewrite": False,
    }
    r = api.post("/api/ttp/url/create-managed-url", content=str({"data": [item]}))
    assert r.status_code == 200 and r.json()["fail"] == []
    assert r.json()["data"][0]["disableRewrite"] is False


# -- determinism, injection ----------------------------------------------------------------------
def test_two_fresh_worlds_hold_the_same_records(sims, sims_world_factory, api, now):
    other = sims_world_factory(None, only=["mimecast"])
    assert other.control.clock.now() == now
    base = other.url("mimecast")
    with client(base_url=base, headers={"Authorization": f"Bearer {get_token(base)}"}) as c:
        for path in (URL_LOGS, IMP_LOGS):
            item = {"from": mc_fmt(now - DAY), "to": mc_fmt(now)}
            assert walk(c, path, item, 500) == walk(api, path, item, 500)


def test_injected_events_appear_in_the_logs(sims, api, now):
    at = datetime.fromtimestamp(now - 600, tz=UTC)
    fields = {
        "url": "https://evil-injected.example/payload.exe",
        "scanResult": "malicious",
        "route": "inbound",
        "fromUserEmailAddress": "attacker@evil-injected.example",
    }
    path = f"/accounts/{ACCOUNT}/events"
    record = sims.control.sim("mimecast", path, {"type": "click", "at": at.isoformat(), "fields": fields})
    assert record["date"] == mc_fmt(now - 600) and record["url"] == fields["url"]
    got = walk(api, URL_LOGS, {"from": mc_fmt(now - 900), "scanResult": "malicious"}, 500)
    assert [r for r in got if r["url"] == fields["url"]] == [record]
    ordered = walk(api, URL_LOGS, {"from": mc_fmt(now - 3600), "oldestFirst": True}, 500)
    assert record in ordered
    stamps = [r["date"] for r in ordered]
    assert stamps == sorted(stamps)

    imp = {
        "senderAddress": "ceo@safernarch.example",
        "identifiers": ["similar_internal_domain"],
        "taggedMalicious": True,
    }
    rec = sims.control.sim("mimecast", path, {"type": "impersonation", "fields": imp})
    assert rec["eventTime"] == mc_fmt(now)
    query = {
        "from": mc_fmt(now - 60),
        "taggedMalicious": True,
        "searchField": "senderAddress",
        "query": "safernarch",
    }
    assert walk(api, IMP_LOGS, query, 10) == [rec]

    future = datetime.fromtimestamp(now + 60, tz=UTC).isoformat()
    with pytest.raises(ControlError) as err:
        sims.control.sim("mimecast", path, {"type": "click", "at": future})
    assert err.value.status == 400


# -- rate limiting (a tenant setting) ------------------------------------------------------------
@pytest.fixture
def limited(sims_world_factory, tmp_path):
    def edit(data: dict) -> None:
        data["mimecast"]["accounts"][0]["rate_limit"] = {"enabled": True, "limit": 3, "window_seconds": 60}

    return sims_world_factory(write_world(tmp_path, "limited", edit), only=["mimecast"])


def test_rate_limit_answers_429_and_resets_on_the_sim_clock(limited):
    base = limited.url("mimecast")
    binding = limited.info["sims"]["mimecast"]["accounts"][0]["hmac"]
    now = limited.control.clock.now()
    with client(base_url=base, headers={"Authorization": f"Bearer {get_token(base)}"}) as c:
        for remaining in (2, 1, 0):
            r = c.post("/api/account/get-account", json={"data": []})
            assert r.status_code == 200
            assert r.headers["X-RateLimit-Limit"] == "3"
            assert r.headers["X-RateLimit-Remaining"] == str(remaining)
        item = {"url": "https://limited.example/", "action": "block"}
        r = c.post("/api/ttp/url/create-managed-url", json={"data": [item]})
        assert r.status_code == 429
        assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
        reset_ms = int(r.headers["X-RateLimit-Reset"])
        assert 0 < reset_ms <= 60_000 and reset_ms % 1000 == 0  # milliseconds
        assert r.headers["X-Rate-Limit-Reset"] == r.headers["X-RateLimit-Reset"]  # Netskope's spelling
        body = r.json()
        assert body["meta"]["status"] == 429 and body["fail"][0]["message"]  # Elastic logs fail[0].message
        assert body["fail"][0]["code"]
        signed = HTTP.post(
            f"{base}/api/account/get-account",
            json={"data": []},
            headers=mc_headers(binding, "/api/account/get-account", now),
        )
        assert signed.status_code == 429  # the quota is the account's, whatever the auth
        limited.control.clock.advance(reset_ms / 1000)
        r = c.post("/api/ttp/url/get-all-managed-urls", json={"data": []})
        assert r.status_code == 200, r.text
        assert r.json()["data"] == []  # the refused create never ran
        assert r.headers["X-RateLimit-Remaining"] == "2"


def test_no_rate_limit_by_default(api):
    for _ in range(20):
        r = api.post("/api/account/get-account", json={"data": []})
        assert r.status_code == 200
    assert "X-RateLimit-Limit" not in r.headers


# -- decode-url, managed URLs, get-account -------------------------------------------------------
def test_decode_url(api):
    good = ["https://evil.example/login.php?a=1", "http://docs.example.org/"]
    bad = {"url": "https://protect-us.mimecast.com/s/%%%not-base64"}
    r = api.post(
        "/api/ttp/url/decode-url",
        json={"data": [{"url": rewritten(good[0])}, bad, {"url": rewritten(good[1])}]},
    )
    assert r.status_code == 200
    env = r.json()
    assert env["meta"]["status"] == 200
    assert env["data"] == [{"url": good[0], "success": True}, {"url": good[1], "success": True}]
    (fail,) = env["fail"]
    assert fail["key"] == bad and fail["errors"][0]["code"].startswith("err_")
    r = api.post("/api/ttp/url/decode-url", json={"data": [{"url": "https://plain.example/"}]})
    assert r.json()["data"] == [] and r.json()["fail"][0]["key"] == {"url": "https://plain.example/"}


def test_managed_urls_create_list_and_duplicate(api):
    item = {
        "url": "https://www.morele344.net/",
        "matchType": "explicit",
        "action": "permit",
        "overrideUrl": False,
        "disableUserAwareness": False,
        "disableRewrite": False,
        "disableLogClick": False,
    }
    r = api.post("/api/ttp/url/create-managed-url", json={"data": [item]})
    assert r.status_code == 200 and r.json()["fail"] == []
    (created,) = r.json()["data"]
    assert (
        created["domain"] == "www.morele344.net" and created["scheme"] == "https" and created["path"] == "/"
    )
    assert created["action"] == "permit" and created["matchType"] == "explicit" and created["id"]
    r = api.post("/api/ttp/url/create-managed-url", json={"data": [item]})
    expected = {
        "meta": {"status": 200},
        "data": [],
        "fail": [
            {
                "key": item,
                "errors": [
                    {
                        "code": "err_managed_url_exists_code",
                        "message": "The managed URL already exists; to update it, delete and recreate",
                        "retryable": False,
                    }
                ],
            }
        ],
    }
    assert r.status_code == 200 and r.json() == expected
    recorded = sample("rapid7/v1_create_managed_url_fail_exists.json")
    if recorded is not None:
        assert r.json() == recorded
    block = {"url": "evil.example", "matchType": "domain", "action": "block", "comment": "from a test"}
    assert api.post("/api/ttp/url/create-managed-url", json={"data": [block]}).json()["fail"] == []
    listed = api.post("/api/ttp/url/get-all-managed-urls", json={"data": []}).json()
    assert [m["domain"] for m in listed["data"]] == ["www.morele344.net", "evil.example"]
    only = api.post(
        "/api/ttp/url/get-all-managed-urls", json={"data": [{"domainOrUrl": "evil.example"}]}
    ).json()
    assert [m["comment"] for m in only["data"]] == ["from a test"]


def test_managed_url_objects_have_the_recorded_fields(api):
    item = {"url": "https://www.test.net/", "action": "permit", "matchType": "explicit"}
    (created,) = api.post("/api/ttp/url/create-managed-url", json={"data": [item]}).json()["data"]
    assert set(created) == MANAGED_URL_KEYS
    assert created["port"] == -1 and created["queryString"] == ""
    (listed,) = api.post("/api/ttp/url/get-all-managed-urls", json={"data": []}).json()["data"]
    assert set(listed) == MANAGED_URL_KEYS


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"url": ""},
        {"url": "https://x.example/", "action": "nuke"},
        {"url": "https://x.example/", "matchType": "regex"},
    ],
)
def test_invalid_managed_urls_are_function_failures(api, item):
    function_failure(api.post("/api/ttp/url/create-managed-url", json={"data": [item]}), item)


def test_get_account(api):
    env = api.post("/api/account/get-account", json={"data": []}).json()
    assert env["fail"] == [] and env["meta"]["status"] == 200
    (acc,) = env["data"]
    assert acc["accountCode"] == ACCOUNT and acc["region"] == "us"
    assert acc["domains"] == ["safemarch.example"]


# -- threat intel feed ---------------------------------------------------------------------------
@pytest.fixture
def injected_payload(sims, now) -> dict:
    fields = {
        "url": "https://dropper.evil-feed.example/files/invoice.exe",
        "scanResult": "malicious",
        "fromUserEmailAddress": "sender@evil-feed.example",
        "userEmailAddress": "bob.sales@safemarch.example",
    }
    body = {"type": "click", "at": datetime.fromtimestamp(now - 3600, tz=UTC).isoformat(), "fields": fields}
    return sims.control.sim("mimecast", f"/accounts/{ACCOUNT}/events", body)


def test_threat_feed_csv(api, injected_payload):
    r = api.post(
        "/api/ttp/threat-intel/get-feed", json={"data": [{"fileType": "csv", "feedType": "malware_customer"}]}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment") and re.search(r'filename="[^"]+\.csv"', disposition)
    rows = list(csv.DictReader(io.StringIO(r.text), delimiter="|"))  # Netskope: _parse_csv(delimiter="|")
    header = r.text.splitlines()[0].split("|")
    assert {"MD5", "SHA256", "SenderAddress"} <= set(header)
    assert len(rows) > 1
    assert all(None not in row and all(v is not None for v in row.values()) for row in rows)
    ours = [row for row in rows if row["SenderAddress"] == "sender@evil-feed.example"]
    assert len(ours) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", ours[0]["MD5"]) and re.fullmatch(r"[0-9a-f]{64}", ours[0]["SHA256"])


def test_threat_feed_stix(api, injected_payload):
    r = api.post("/api/ttp/threat-intel/get-feed", json={"data": [{"fileType": "stix"}]})
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    bundle = r.json()
    assert bundle["type"] == "bundle" and bundle["spec_version"] == "2.0"
    uuid_re = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(f"bundle--{uuid_re}", bundle["id"])
    by_id = {o["id"]: o for o in bundle["objects"]}
    assert {o["type"] for o in bundle["objects"]} == {"malware", "indicator", "relationship"}
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert len(indicators) > 1
    for ind in indicators:
        assert re.fullmatch(r"\[file:hashes\.'SHA-256' = '[0-9a-f]{64}'\]", ind["pattern"])
        assert "malicious-activity" in ind["labels"]
    for rel in (o for o in bundle["objects"] if o["type"] == "relationship"):
        assert rel["relationship_type"] == "indicates"
        assert (
            by_id[rel["source_ref"]]["type"] == "indicator" and by_id[rel["target_ref"]]["type"] == "malware"
        )
    assert any(o["name"] == "invoice.exe" for o in bundle["objects"] if o["type"] == "malware")
    recorded = sample("elastic/v1_threat_intel_get_feed_stix.json")
    if recorded is not None:
        assert set(bundle) == set(recorded)
        for obj in recorded["objects"]:
            ours = next(o for o in bundle["objects"] if o["type"] == obj["type"])
            assert set(ours) == set(obj)


def test_threat_feed_bad_file_type_is_a_function_failure(api):
    item = {"fileType": "pdf"}
    function_failure(api.post("/api/ttp/threat-intel/get-feed", json={"data": [item]}), item)
