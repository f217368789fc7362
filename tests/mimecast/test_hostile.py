"""Hostile and malformed requests to the Mimecast sim: each is refused in Mimecast's own shape,
none changes state, none answers 500 or leaks a traceback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from sims.control import ControlError
from tests.mimecast.helpers import (
    ACCOUNT,
    CLIENT_SECRET,
    HTTP,
    IMP_LOGS,
    SAMPLES,
    URL_LOGS,
    client,
    function_failure,
    get_token,
    mc_headers,
    write_world,
)

ACCOUNT_PATH = "/api/account/get-account"
CREATE = "/api/ttp/url/create-managed-url"
LIST = "/api/ttp/url/get-all-managed-urls"
INVALID_SIGNATURE = {
    "meta": {"isLastToken": False, "status": 401},
    "fail": [
        {
            "errors": [
                {"code": "err_xdk_invalid_signature", "message": "0004 Invalid Signature", "retryable": False}
            ]
        }
    ],
}  # the Rapid7 recording (plugins/mimecast/unit_test/util.py)
NEW_URL = {"data": [{"url": "https://hostile.example/x", "action": "block", "matchType": "explicit"}]}


def no_crash(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    assert "Traceback" not in r.text and 'File "' not in r.text


def hmac_failure(r: httpx.Response, status: int, code: str) -> dict:
    """API 1.0 refusals: ``{"meta": {"isLastToken": false, "status"}, "fail": [{"errors": [...]}]}``."""
    no_crash(r)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["meta"] == {"isLastToken": False, "status": status}
    (fail,) = body["fail"]
    (error,) = fail["errors"]
    assert error["code"] == code and error["message"] and error["retryable"] is False
    return body


def gateway_failure(r: httpx.Response, status: int, code: str | None = None) -> dict:
    """API 2.0 refusals: non-200, ``fail: [{"code", "message"}]``."""
    no_crash(r)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["meta"]["status"] == status and body["data"] == []
    assert body["fail"][0]["message"]
    if code is not None:
        assert body["fail"][0]["code"] == code
    return body


def managed_urls(mc: str, token: str) -> list:
    r = HTTP.post(f"{mc}{LIST}", json={"data": []}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    return r.json()["data"]


def durable(state: dict) -> dict:
    """The Mimecast state a request could change (generated event times move with the clock)."""
    out = {}
    for code, acc in state["sims"]["mimecast"]["accounts"].items():
        injected = {kind: acc["events"][kind]["injected"] for kind in ("clicks", "impersonations")}
        out[code] = {**acc, "events": injected}
    return out


@pytest.fixture
def unchanged(sims, mc):
    """Every test here ends with the account as it began: no managed URL, no 500 in the journal."""
    before = durable(sims.control.export_state())
    yield
    assert managed_urls(mc, get_token(mc)) == []
    assert durable(sims.control.export_state()) == before
    assert sims.control.journal.entries(sim="mimecast", status=500) == []


def signed(mc: str, binding: dict, path: str, ts: float, body=None, **override) -> httpx.Response:
    headers = mc_headers(binding, override.pop("uri", path), ts, **override)
    return HTTP.post(f"{mc}{path}", json=body if body is not None else NEW_URL, headers=headers)


# -- API 1.0 signatures --------------------------------------------------------------------------
def test_bad_signature_is_the_recorded_401(mc, binding, now, unchanged):
    r = signed(mc, binding, CREATE, now, sig=base64.b64encode(b"\0" * 20).decode())
    hmac_failure(r, 401, "err_xdk_invalid_signature")
    assert r.json() == INVALID_SIGNATURE
    recorded = SAMPLES / "rapid7" / "v1_siem_401_invalid_signature.json"
    if recorded.is_file():
        assert r.json() == json.loads(recorded.read_text())


@pytest.mark.parametrize(
    "override",
    [
        {"uri": ACCOUNT_PATH},  # signed for another function
        {"sign_uri": CREATE + "?x=1"},  # query string in the signed uri
        {"sign_uri": "https://api.services.mimecast.com" + CREATE},  # host in the signed uri
        {"secret": base64.b64encode(b"another secret").decode()},
        {"app_key": "another-app-key"},
    ],
    ids=["other-path", "with-query", "with-host", "other-secret", "other-app-key"],
)
def test_signatures_over_anything_else_are_refused(mc, binding, now, unchanged, override):
    override, b = dict(override), dict(binding)
    if "secret" in override:
        b["secret_key"] = override.pop("secret")
    if "app_key" in override:
        b["app_key"] = override.pop("app_key")
    hmac_failure(signed(mc, b, CREATE, now, **override), 401, "err_xdk_invalid_signature")


def test_date_header_is_signed_as_sent(mc, binding, now, unchanged):
    # signed over "... UTC" but sent as "... GMT": the signature no longer matches
    good = mc_headers(binding, CREATE, now)
    good["x-mc-date"] = good["x-mc-date"].replace("UTC", "GMT")
    hmac_failure(HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers=good), 401, "err_xdk_invalid_signature")


@pytest.mark.parametrize("skew", [-16 * 60, 16 * 60, -86400, 365 * 86400])
def test_stale_date_is_refused(mc, binding, now, unchanged, skew):
    hmac_failure(signed(mc, binding, CREATE, now + skew), 401, "err_xdk_stale_date")


def test_dates_within_15_minutes_are_fine(mc, binding, now):
    for skew in (-14 * 60, 14 * 60):
        r = signed(mc, binding, ACCOUNT_PATH, now + skew, {"data": []})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "date", ["yesterday", "Tue, 99 Foo 2026 25:61:61 UTC", "1768467600", "Thu, 15 Jan 99999 09:00:00 UTC"]
)
def test_garbage_dates_are_refused(mc, binding, now, unchanged, date):
    r = signed(mc, binding, CREATE, now, date=date)  # correctly signed, but not a date
    no_crash(r)
    assert r.status_code == 401
    assert r.json()["fail"][0]["errors"][0]["code"] in ("err_xdk_invalid_date", "err_xdk_stale_date")


def test_an_empty_date_header_counts_as_missing(mc, binding, now, unchanged):
    headers = mc_headers(binding, CREATE, now)
    headers["x-mc-date"] = ""
    hmac_failure(HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers=headers), 400, "err_xdk_missing_headers")


@pytest.mark.parametrize("missing", ["x-mc-date", "x-mc-req-id", "x-mc-app-id"])
def test_missing_mc_headers(mc, binding, now, unchanged, missing):
    headers = mc_headers(binding, CREATE, now)
    del headers[missing]
    hmac_failure(HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers=headers), 400, "err_xdk_missing_headers")


def test_unknown_access_key(mc, binding, now, unchanged):
    r = signed(mc, binding, CREATE, now, access_key="AK-nobody-knows")
    hmac_failure(r, 401, "err_xdk_invalid_access_key")


def test_wrong_app_id(mc, binding, now, unchanged):
    hmac_failure(
        signed(mc, binding, CREATE, now, app_id="00000000-0000-0000-0000-000000000000"),
        401,
        "err_developer_key",
    )


@pytest.mark.parametrize("auth", ["MC x", "MC nocolon", "MC :", "MC :sig", "MC \u00e9:x"])
def test_malformed_mc_authorization(mc, binding, now, unchanged, auth):
    headers = mc_headers(binding, CREATE, now)
    headers["Authorization"] = auth.encode("latin-1")
    r = HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers=headers)
    no_crash(r)
    assert r.status_code == 401
    assert r.json()["fail"][0]["errors"][0]["code"].startswith("err_xdk")


# -- API 2.0 bearer tokens -----------------------------------------------------------------------
def test_expired_unknown_and_garbage_bearer_tokens(sims, mc, token, unchanged):
    def call(value: str) -> httpx.Response:
        return HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers={"Authorization": value})

    for value in ("Bearer not-a-token", "Bearer " + "A" * 4000, "Bearer ../../etc/passwd", "Bearer"):
        no_crash(call(value))
        assert call(value).status_code == 401
    gateway_failure(call("Bearer not-a-token"), 401, "token_verification_failed")
    gateway_failure(call(f"Bearer {token[:-1]}"), 401, "token_verification_failed")
    gateway_failure(call(f"Bearer {token}x"), 401, "token_verification_failed")
    sims.control.clock.advance(1800)
    gateway_failure(call(f"Bearer {token}"), 401, "token_expired")


def test_no_or_foreign_authorization(mc, unchanged):
    gateway_failure(HTTP.post(f"{mc}{CREATE}", json=NEW_URL), 401, "unauthorized")
    for value in (
        "Basic " + base64.b64encode(f"mimecast-api-client:{CLIENT_SECRET}".encode()).decode(),
        "Token x",
        "MC",
    ):
        gateway_failure(
            HTTP.post(f"{mc}{CREATE}", json=NEW_URL, headers={"Authorization": value}), 401, "unauthorized"
        )


def test_token_endpoint_hostile_forms(mc):
    for body in (
        "client_id=%ZZ&client_secret=%00",
        "&&&===",
        "a" * 10000,
        "grant_type=client_credentials" * 200,
    ):
        r = HTTP.post(
            f"{mc}/oauth/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        no_crash(r)
        assert r.status_code in (400, 401)
        assert r.json()["fail"][0]["code"]


# -- malformed envelopes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"{",
        b'"a string"',
        b"[1, 2, 3]",
        b"null",
        b'{"data": {"url": "x"}}',
        b'{"data": "x"}',
        b'{"meta": [], "data": []}',
        b'{"meta": "x", "data": []}',
        b"\xff\xfe\x00garbage",
        b"__import__('os').system('true')",
        b"{'data': [().__class__]}",
    ],
    ids=lambda b: b[:24].decode("latin-1"),
)
def test_malformed_envelopes_are_400(api, unchanged, body):
    for path in (
        URL_LOGS,
        IMP_LOGS,
        CREATE,
        LIST,
        "/api/ttp/url/decode-url",
        "/api/ttp/threat-intel/get-feed",
    ):
        r = api.post(path, content=body, headers={"Content-Type": "application/json"})
        gateway_failure(r, 400, "bad_request")


@pytest.mark.parametrize(
    "body",
    [
        {"data": [1]},
        {"data": ["x"]},
        {"data": [[{"from": "2026-01-01T00:00:00+0000"}]]},
        {"meta": {"pagination": "x"}, "data": [{}]},
        {"meta": {"pagination": [1]}, "data": [{}]},
    ],
)
def test_log_requests_whose_parts_are_not_objects(api, unchanged, body):
    for path in (URL_LOGS, IMP_LOGS):
        gateway_failure(api.post(path, json=body), 400, "bad_request")


def test_a_null_data_item_is_no_filter(api, unchanged):
    # lenient, like an absent item: the default window
    r = api.post(URL_LOGS, json={"data": [None]})
    assert r.status_code == 200 and r.json()["fail"] == []
    assert r.json() == api.post(URL_LOGS, json={"data": []}).json()


@pytest.mark.parametrize(
    "item", [1, "x", None, [], {"url": 5}, {"url": None}, {"url": ["a"]}, {"url": {"a": 1}}]
)
def test_managed_url_items_that_are_not_valid(api, unchanged, item):
    r = api.post(CREATE, json={"data": [item]})
    function_failure(r, item)
    r = api.post("/api/ttp/url/decode-url", json={"data": [item]})
    no_crash(r)
    assert r.status_code == 200 and r.json()["data"] == [] and r.json()["fail"][0]["key"] == item


@pytest.mark.parametrize("path", [URL_LOGS, CREATE])
def test_deeply_nested_garbage(api, path):
    for body in (b"[" * 100_000, b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"):
        r = api.post(path, content=body, headers={"Content-Type": "application/json"})
        gateway_failure(r, 400, "bad_request")


@pytest.mark.parametrize(
    ("path", "item"),
    [
        (URL_LOGS, {"route": ["inbound"]}),
        (URL_LOGS, {"scanResult": {"a": 1}}),
        (IMP_LOGS, {"searchField": ["subject"], "query": "x"}),
        (IMP_LOGS, {"query": 5}),
        (IMP_LOGS, {"searchField": "subject", "query": ["x"]}),
    ],
)
def test_filters_of_the_wrong_type(api, path, item):
    function_failure(api.post(path, json={"data": [item]}), item)


@pytest.mark.parametrize(
    "size", [10**9, 10**30, -(10**30), 1.5, "lots", "", True, [100], {"n": 1}, "1e3", "0x10", "-5"]
)
def test_huge_and_odd_page_sizes(api, unchanged, size):
    item = {"scanResult": "all"}
    r = api.post(URL_LOGS, json={"meta": {"pagination": {"pageSize": size}}, "data": [item]})
    assert function_failure(r, item)["code"] == "err_validation_page_size"


# -- page tokens ---------------------------------------------------------------------------------
def first_token(client: httpx.Client, path: str = URL_LOGS) -> str:
    r = client.post(path, json={"meta": {"pagination": {"pageSize": 2}}, "data": [{}]})
    return r.json()["meta"]["pagination"]["next"]


def refused(client: httpx.Client, path: str, token: object) -> None:
    pagination = {"pageSize": 10, "pageToken": token}
    r = client.post(path, json={"meta": {"pagination": pagination}})
    assert function_failure(r, pagination)["code"] == "err_invalid_page_token"


def test_forged_and_altered_page_tokens(api, unchanged):
    token = first_token(api)
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    tampered = raw[:12] + raw[12:].replace(b'"scanResult":"all"', b'"scanResult":"mal"')
    forged_payload = json.dumps({"f": "url", "a": ACCOUNT, "q": {}, "p": [0, 0, 0]}).encode()
    for bad in (
        flipped,
        token[:-3],
        token + "AAAA",
        base64.urlsafe_b64encode(tampered).decode().rstrip("="),
        base64.urlsafe_b64encode(b"\0" * 12 + forged_payload).decode(),
        "x" * 100_000,
        "!!!not base64!!!",
        "\u2603 snowman",
        "null",
        123,
        {"f": "url"},
        ["a"],
    ):
        refused(api, URL_LOGS, bad)


def test_a_token_from_another_function_is_refused(api, unchanged):
    refused(api, IMP_LOGS, first_token(api, URL_LOGS))
    refused(api, URL_LOGS, first_token(api, IMP_LOGS))


def test_a_token_from_another_account_is_refused(sims_world_factory, tmp_path):
    def edit(data: dict) -> None:
        other = {
            "account_code": "CUSA0000002",
            "name": "Another Mimecast",
            "client_id": "another-client",
            "client_secret": "another-secret",
            "domains": ["another.example"],
        }
        data["mimecast"]["accounts"].append(other)

    world = sims_world_factory(write_world(tmp_path, "two-accounts", edit), only=["mimecast"])
    base = world.url("mimecast")
    first = client(base_url=base, headers={"Authorization": f"Bearer {get_token(base)}"})
    second_token = get_token(base, "another-client", "another-secret")
    second = client(base_url=base, headers={"Authorization": f"Bearer {second_token}"})
    with first, second:
        refused(second, URL_LOGS, first_token(first))
        refused(first, IMP_LOGS, first_token(second, IMP_LOGS))
        assert (
            second.post(URL_LOGS, json={"meta": {"pagination": {"pageToken": first_token(second)}}}).json()[
                "fail"
            ]
            == []
        )


def test_a_validly_signed_token_with_a_malformed_payload(api):
    key = hashlib.sha256(b"mimecast-page-token:3173833").digest()
    for payload in ({"f": "url", "a": ACCOUNT}, {"f": "url", "a": ACCOUNT, "q": "x", "p": 1}):
        raw = json.dumps(payload).encode()
        mac = hmac.new(key, raw, hashlib.sha256).digest()[:12]
        refused(api, URL_LOGS, base64.urlsafe_b64encode(mac + raw).decode().rstrip("="))


# -- size limits, methods, paths -----------------------------------------------------------------
def test_oversized_bodies_are_413(api, unchanged):
    huge = b'{"data": [{"url": "https://big.example/' + b"a" * (11 * 1024 * 1024) + b'"}]}'
    r = api.post(CREATE, content=huge, headers={"Content-Type": "application/json"})
    gateway_failure(r, 413)

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(11):
            yield b"a" * (1024 * 1024)

    r = api.post(CREATE, content=chunks(), headers={"Content-Type": "application/json"})
    gateway_failure(r, 413)


def test_unknown_paths_and_methods(api, unchanged):
    gateway_failure(api.post("/api/ttp/url/delete-everything", json={"data": []}), 404)
    gateway_failure(api.get(URL_LOGS), 405)
    gateway_failure(api.get("/oauth/token"), 405)


# -- the control plane and the journal -----------------------------------------------------------
def test_hostile_injections_are_refused(sims, unchanged):
    for path, body, status in (
        ("/accounts/NOPE/events", {"type": "click"}, 404),
        (f"/accounts/{ACCOUNT}/events", {"type": "phish"}, 400),
        (f"/accounts/{ACCOUNT}/events", {"type": "click", "extra": 1}, 400),
        (f"/accounts/{ACCOUNT}/events", {"type": "click", "at": "not a date"}, 400),
        (f"/accounts/{ACCOUNT}/events", {"type": "click", "fields": "x"}, 400),
    ):
        with pytest.raises(ControlError) as err:
            sims.control.sim("mimecast", path, body)
        assert err.value.status in (status, 422), err.value.body


def test_secrets_never_reach_the_journal(sims, mc, binding, now):
    tok = get_token(mc)
    HTTP.post(f"{mc}{ACCOUNT_PATH}", json={"data": []}, headers={"Authorization": f"Bearer {tok}"})
    headers = mc_headers(binding, ACCOUNT_PATH, now)
    assert HTTP.post(f"{mc}{ACCOUNT_PATH}", json={"data": []}, headers=headers).status_code == 200
    text = json.dumps(sims.control.journal.entries(sim="mimecast", detail=True))
    assert "/oauth/token" in text and ACCOUNT_PATH in text
    assert CLIENT_SECRET not in text
    assert tok not in text
    assert headers["Authorization"].split(":", 1)[1] not in text  # the signature
    assert binding["secret_key"] not in text
