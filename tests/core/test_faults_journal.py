"""Fault injection and the request journal, through a running world and its control plane."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import httpx
import pytest

from sims.control import ControlError
from sims.core.faults import FaultEngine, FaultSpec
from sims.core.journal import Entry, Journal, redact_body, redact_headers, redact_query

TOKEN = "/oauth2/okta/v1/token"
KEYS = "/oauth2/okta/v1/keys"
ENTRA_KEYS = "/entra/discovery/v2.0/keys"
PING_KEYS = "/ping/pf/JWKS"
ROOT_KEYS = "/oauth2/v1/keys"  # the ZIdentity root alias
CLIENT_ID = "mimecast-threat-share"
SECRET = "okta-mimecast-secret-3173833"
FORM = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}

SMALL_WORLD = """\
name: small
seed: 3173833
limits: {journal_entries: 10, max_request_bytes: 2048}
clock: {start: "2026-01-15T09:00:00Z"}
idp:
  authorization_servers:
    - id: okta
      flavour: okta
      clients:
        - client_id: mimecast-threat-share
          client_secret: okta-mimecast-secret-3173833
          scopes: [a]
          default_scopes: [a]
"""


@pytest.fixture
def idp(sims):
    with httpx.Client(base_url=sims.url("idp"), timeout=10) as client:
        yield client


@pytest.fixture
def small_world(sims_world_factory, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_WORLD)
    return sims_world_factory(path, only=["idp"])


def tokens_issued(sims) -> int:
    return sims.control.sim("idp", "/authorization-servers/okta", method="GET")["tokens_issued"]


def statuses(idp: httpx.Client, path: str, n: int) -> list[int]:
    return [idp.get(path).status_code for _ in range(n)]


def fault(sims, fault_id: str) -> dict:
    return next(f for f in sims.control.faults.list() if f["id"] == fault_id)


# -- respond ---------------------------------------------------------------------------------------
def test_respond_with_the_sims_own_error_shape(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=TOKEN)
    assert rule["action"] == "respond" and rule["status"] == 503
    r = idp.post(TOKEN, data=FORM)
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "temporarily_unavailable", "error_description": "injected fault"}


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, "slow_down"), (500, "server_error"), (401, "invalid_client"), (418, "server_error")],
)
def test_default_body_follows_the_status(sims, idp, status, error):
    sims.control.faults.add(sim="idp", status=status)
    r = idp.get(KEYS)
    assert r.status_code == status
    assert r.json()["error"] == error


def test_respond_with_custom_json_body_and_headers(sims, idp):
    sims.control.faults.add(
        sim="idp",
        path=KEYS,
        status=429,
        body={"errors": [{"code": "throttled"}]},
        headers={"Retry-After": "7", "X-Sims-Test": "yes"},
    )
    r = idp.get(KEYS)
    assert r.status_code == 429
    assert r.json() == {"errors": [{"code": "throttled"}]}
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "7"
    assert r.headers["x-sims-test"] == "yes"


def test_respond_with_a_text_body(sims, idp):
    sims.control.faults.add(sim="idp", status=502, body="Bad Gateway")
    r = idp.get(KEYS)
    assert (r.status_code, r.text) == (502, "Bad Gateway")
    assert r.headers["content-type"] == "text/plain"

    sims.control.faults.clear()
    sims.control.faults.add(
        sim="idp", status=502, body="<h1>busy</h1>", headers={"content-type": "text/html"}
    )
    r = idp.get(KEYS)
    assert r.text == "<h1>busy</h1>"
    assert r.headers["content-type"] == "text/html"


def test_fault_content_type_header_is_case_insensitive(sims, idp):
    sims.control.faults.add(
        sim="idp", status=503, body="<h1>busy</h1>", headers={"Content-Type": "text/html"}
    )
    r = idp.get(KEYS)
    assert r.status_code == 503
    assert r.headers["content-type"] == "text/html"


# -- how often -------------------------------------------------------------------------------------
def test_count_fires_exactly_that_many_times(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=KEYS, count=2)
    assert statuses(idp, KEYS, 4) == [503, 503, 200, 200]
    listed = fault(sims, rule["id"])
    assert listed["fired"] == 2
    assert listed["seen"] == 2  # an exhausted rule no longer looks at requests


def test_skip_lets_requests_through_first(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=KEYS, skip=2, count=1)
    assert statuses(idp, KEYS, 4) == [200, 200, 503, 200]
    assert fault(sims, rule["id"])["fired"] == 1


def test_probability_fires_for_some_but_not_all(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=KEYS, probability=0.5)
    seen = statuses(idp, KEYS, 40)
    fired = seen.count(503)
    assert 0 < fired < 40
    assert set(seen) == {200, 503}
    listed = fault(sims, rule["id"])
    assert (listed["seen"], listed["fired"]) == (40, fired)


def test_probability_is_seeded_and_reset_reseeds():
    """The same seed fails the same requests; clearing the rules (a world reset) starts over."""

    def run(engine: FaultEngine) -> list[bool]:
        engine.add(FaultSpec(sim="idp", probability=0.3))
        return [engine.pick("idp", "GET", "/x", None) is not None for _ in range(200)]

    engine = FaultEngine(seed=3173833)
    first = run(engine)
    assert 0 < sum(first) < 200
    assert run(FaultEngine(seed=3173833)) == first
    assert run(FaultEngine(seed=1)) != first
    engine.clear()
    assert run(engine) == first


def test_rules_are_tried_in_creation_order(sims, idp):
    sims.control.faults.add(sim="idp", path=KEYS, status=500, count=1)
    sims.control.faults.add(sim="idp", path=KEYS, status=429, count=1)
    assert statuses(idp, KEYS, 3) == [500, 429, 200]


# -- matching --------------------------------------------------------------------------------------
def test_tenant_match(sims, idp):
    sims.control.faults.add(sim="idp", tenant="okta")
    assert idp.get(KEYS).status_code == 503  # /oauth2/okta/... belongs to tenant okta
    assert idp.get(ENTRA_KEYS).status_code == 200
    assert idp.get(ROOT_KEYS).status_code == 200  # the root alias is tenant zidentity
    sims.control.faults.clear()
    sims.control.faults.add(sim="idp", tenant="zidentity")
    assert idp.get(ROOT_KEYS).status_code == 503
    assert idp.get(KEYS).status_code == 200


def test_method_match(sims, idp):
    sims.control.faults.add(sim="idp", method="post")  # methods are matched upper-case
    assert sims.control.faults.list()[0]["method"] == "POST"
    assert idp.post(TOKEN, data=FORM).status_code == 503
    assert idp.get(KEYS).status_code == 200


def test_path_glob(sims, idp):
    sims.control.faults.add(sim="idp", path="/oauth2/*/v1/keys")
    assert idp.get(KEYS).status_code == 503
    assert idp.get("/oauth2/zidentity/v1/keys").status_code == 503  # the rule answers before the sim
    assert idp.get(ROOT_KEYS).status_code == 200  # "*" needs a segment between the slashes here
    assert idp.get("/oauth2/okta/.well-known/openid-configuration").status_code == 200
    assert idp.get(KEYS + "/extra").status_code == 404  # globs match the whole path


def test_path_regex(sims, idp):
    sims.control.faults.add(sim="idp", path=r"re:^/(entra|ping)/")
    assert idp.get(ENTRA_KEYS).status_code == 503
    assert idp.get(PING_KEYS).status_code == 503
    assert idp.get(KEYS).status_code == 200
    sims.control.faults.clear()
    sims.control.faults.add(sim="idp", path=r"re:^/oauth2/[a-z]+/v1/(keys|token)$", method="GET")
    assert idp.get(KEYS).status_code == 503
    assert idp.post(TOKEN, data=FORM).status_code == 200


def test_sim_match(sims, idp):
    sims.control.faults.add(sim="idp", path=KEYS)
    assert idp.get(KEYS).status_code == 503
    # a rule for every sim never reaches the control plane
    sims.control.faults.add(path="*")
    assert sims.control.health()["status"] == "ok"
    assert len(sims.control.faults.list()) == 2


# -- delay and drop --------------------------------------------------------------------------------
def test_delay_adds_latency_then_the_sim_answers(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=KEYS, action="delay", delay_ms=150, count=1)
    started = time.perf_counter()
    r = idp.get(KEYS)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200
    assert "keys" in r.json()
    assert elapsed >= 0.15
    (entry,) = sims.control.journal.entries(path=KEYS)
    assert entry["fault"] == rule["id"]
    assert entry["status"] == 200
    assert entry["latency_ms"] >= 150
    # the simulated clock did not move
    assert sims.control.clock.state()["now"] == "2026-01-15T09:00:00.000Z"


def test_delayed_token_request_still_issues_a_token(sims, idp):
    sims.control.faults.add(sim="idp", path=TOKEN, action="delay", delay_ms=20)
    r = idp.post(TOKEN, data=FORM)
    assert r.status_code == 200
    assert tokens_issued(sims) == 1


def test_drop_resets_the_connection(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=TOKEN, action="drop", count=1)
    with pytest.raises(httpx.TransportError):  # RemoteProtocolError or ReadError, by timing
        idp.post(TOKEN, data=FORM)
    assert tokens_issued(sims) == 0
    (entry,) = sims.control.journal.entries(path=TOKEN)
    assert entry["fault"] == rule["id"]
    assert entry["note"] == "connection dropped by fault"
    # the next request gets through on a new connection
    assert idp.post(TOKEN, data=FORM).status_code == 200
    assert tokens_issued(sims) == 1


# -- state -----------------------------------------------------------------------------------------
def test_faulted_requests_never_change_state(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=TOKEN, status=500)
    for _ in range(3):
        assert idp.post(TOKEN, data=FORM).status_code == 500
    assert tokens_issued(sims) == 0
    sims.control.faults.remove(rule["id"])
    assert sims.control.faults.list() == []
    assert idp.post(TOKEN, data=FORM).status_code == 200
    assert tokens_issued(sims) == 1


def test_fault_listing_and_removal(sims, idp):
    a = sims.control.faults.add(sim="idp", path=KEYS, name="first")
    b = sims.control.faults.add(sim="idp", path=TOKEN, count=3)
    listed = sims.control.faults.list()
    assert [f["id"] for f in listed] == [a["id"], b["id"]]
    assert listed[0]["name"] == "first"
    assert {"seen", "fired", "sim", "method", "path", "tenant", "action", "status"} <= set(listed[0])
    sims.control.faults.remove(a["id"])
    assert [f["id"] for f in sims.control.faults.list()] == [b["id"]]
    with pytest.raises(ControlError) as err:
        sims.control.faults.remove(a["id"])
    assert err.value.status == 404
    sims.control.faults.clear()
    assert sims.control.faults.list() == []
    assert idp.get(KEYS).status_code == 200


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ({"path": "re:("}, "bad regular expression"),
        ({"action": "delay"}, "delay_ms"),
        ({"sim": "nope"}, "no sim 'nope'"),
        ({"sim": "idp", "colour": "red"}, "Extra inputs"),
        ({"status": 600}, "less than or equal to 599"),
        ({"probability": 0}, "greater than 0"),
        ({"count": 0}, "greater than or equal to 1"),
        ({"action": "explode"}, "respond"),
        ({"delay_ms": -1, "action": "delay"}, "greater than or equal to 0"),
    ],
)
def test_bad_fault_specs_are_rejected(sims, spec, hint):
    r = sims.control.http.post("/faults", json=spec)
    assert r.status_code == 400
    assert hint in r.text
    assert sims.control.faults.list() == []


# -- the journal -----------------------------------------------------------------------------------
def test_journal_records_each_exchange(sims, idp):
    assert idp.post(TOKEN, data=FORM).status_code == 200
    assert idp.get(KEYS).status_code == 200
    sims.control.clock.advance(3600)
    assert idp.post(TOKEN, data={**FORM, "client_secret": "wrong"}).status_code == 401

    body = sims.control.get("/journal")
    assert body["total"] >= 3 and body["kept"] >= 3
    entries = body["entries"]
    assert [(e["sim"], e["method"], e["path"], e["status"], e["tenant"]) for e in entries] == [
        ("idp", "POST", TOKEN, 200, "okta"),
        ("idp", "GET", KEYS, 200, "okta"),
        ("idp", "POST", TOKEN, 401, "okta"),
    ]
    assert [e["time"] for e in entries] == [
        "2026-01-15T09:00:00.000Z",
        "2026-01-15T09:00:00.000Z",
        "2026-01-15T10:00:00.000Z",  # journal times are simulated time
    ]
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 3
    for e in entries:
        assert isinstance(e["latency_ms"], float) and e["latency_ms"] > 0
        assert e["fault"] is None and e["note"] is None
        assert e["query"] == ""
        assert "request" not in e  # summaries only, unless detail=true


def test_journal_filters(sims, idp):
    idp.post(TOKEN, data=FORM)  # 200 okta
    idp.post(TOKEN, data={**FORM, "client_secret": "wrong"})  # 401 okta
    idp.get(KEYS)  # 200 okta
    idp.get(ENTRA_KEYS)  # 200 entra
    idp.get(ROOT_KEYS)  # 200 zidentity
    j = sims.control.journal

    def paths(**filters) -> list[str]:
        return [e["path"] for e in j.entries(**filters)]

    assert len(paths(sim="idp")) == 5
    assert paths(sim="zia") == []
    assert paths(method="post") == [TOKEN, TOKEN]
    assert paths(method="GET") == [KEYS, ENTRA_KEYS, ROOT_KEYS]
    assert paths(status=401) == [TOKEN]
    assert paths(status=200, method="POST") == [TOKEN]
    assert paths(tenant="entra") == [ENTRA_KEYS]
    assert paths(tenant="zidentity") == [ROOT_KEYS]
    assert len(paths(tenant="okta")) == 3
    assert paths(path="keys") == [KEYS, ENTRA_KEYS, ROOT_KEYS]
    assert paths(path="/v1/") == [TOKEN, TOKEN, KEYS, ROOT_KEYS]
    assert paths(path="re:^/oauth2/v1/") == [ROOT_KEYS]
    assert paths(path="re:(keys|JWKS)$") == [KEYS, ENTRA_KEYS, ROOT_KEYS]  # re: searches
    assert paths(path="re:^/entra/", tenant="okta") == []

    all_entries = j.entries()
    second = all_entries[1]["id"]
    assert [e["id"] for e in j.entries(since_id=second)] == [e["id"] for e in all_entries[2:]]
    assert j.entries(since_id=all_entries[-1]["id"]) == []
    # limit keeps the newest entries, still oldest first
    assert [e["id"] for e in j.entries(limit=2)] == [e["id"] for e in all_entries[-2:]]
    assert [e["path"] for e in j.entries(limit=1, method="POST")] == [TOKEN]


def test_journal_bad_filters(sims):
    r = sims.control.http.get("/journal", params={"path": "re:("})
    assert r.status_code == 400
    assert "bad path filter" in r.json()["error"]
    for params in ({"limit": 0}, {"since_id": -1}, {"status": "abc"}):
        assert sims.control.http.get("/journal", params=params).status_code == 400


def test_journal_detail_redacts_secrets(sims, idp):
    basic = idp.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, SECRET))
    post = idp.post(TOKEN, data=FORM)
    assert basic.status_code == post.status_code == 200
    tokens = [basic.json()["access_token"], post.json()["access_token"]]

    entries = sims.control.journal.entries(detail=True)
    assert len(entries) == 2
    dump = json.dumps(entries)
    assert SECRET not in dump
    for token in tokens:
        assert token not in dump
        assert token.split(".")[1] not in dump  # not even the claims

    first, second = entries
    assert first["request"]["headers"]["authorization"] == "Basic <redacted>"
    assert first["request"]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert first["request"]["body"] == "grant_type=client_credentials"
    assert first["client"].startswith("127.0.0.1:")

    form = parse_qs(second["request"]["body"])
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": ["<redacted>"],
    }
    assert second["request"]["size"] == len(str(httpx.QueryParams(FORM)))
    assert "authorization" not in second["request"]["headers"]

    for e in entries:
        response = json.loads(e["response"]["body"])
        assert response["access_token"] == "<redacted>"
        assert response["token_type"] == "Bearer"
        assert response["expires_in"] == 3600
        assert e["response"]["headers"]["cache-control"] == "no-store"
        assert e["response"]["size"] > len(e["response"]["body"])  # the real token was longer

    # one entry by id gives the same detail
    assert sims.control.journal.get(second["id"]) == second


def test_journal_redacts_bearer_query_and_json_secrets(sims, idp):
    idp.get(
        KEYS, params={"client_secret": "query-secret", "x": "1"}, headers={"Authorization": "Bearer abc.def"}
    )
    idp.post(TOKEN, json={"client_secret": "json-secret", "grant_type": "client_credentials"})
    entries = sims.control.journal.entries(detail=True)
    dump = json.dumps(entries)
    for secret in ("query-secret", "abc.def", "json-secret"):
        assert secret not in dump
    first, second = entries
    assert parse_qs(first["query"]) == {"client_secret": ["<redacted>"], "x": ["1"]}
    assert first["request"]["headers"]["authorization"] == "Bearer <redacted>"
    assert json.loads(second["request"]["body"]) == {
        "client_secret": "<redacted>",
        "grant_type": "client_credentials",
    }
    assert second["status"] == 400  # the idp wants a form, but the journal still masks the JSON


def test_journal_redacts_a_form_sent_without_its_content_type(sims, idp):
    body = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"
    r = idp.post(TOKEN, content=body.encode())
    assert r.status_code == 400
    (entry,) = sims.control.journal.entries(detail=True)
    assert SECRET not in json.dumps(entry)


def test_journal_entry_of_a_faulted_request(sims, idp):
    rule = sims.control.faults.add(sim="idp", path=KEYS, status=503, count=1)
    idp.get(KEYS)
    (entry,) = sims.control.journal.entries(detail=True)
    assert entry["fault"] == rule["id"]
    assert entry["status"] == 503
    assert json.loads(entry["response"]["body"])["error"] == "temporarily_unavailable"


def test_journal_unknown_entry_and_clear(sims, idp):
    idp.get(KEYS)
    with pytest.raises(ControlError) as err:
        sims.control.journal.get(10**9)
    assert err.value.status == 404
    sims.control.journal.clear()
    assert sims.control.journal.entries() == []
    idp.get(KEYS)
    (entry,) = sims.control.journal.entries()
    assert entry["path"] == KEYS


# -- limits ----------------------------------------------------------------------------------------
def test_journal_is_bounded(small_world):
    with httpx.Client(base_url=small_world.url("idp")) as idp:
        for _ in range(25):
            assert idp.get(KEYS).status_code == 200
    body = small_world.control.get("/journal")
    assert body["total"] == 25
    assert body["kept"] == 10
    ids = [e["id"] for e in body["entries"]]
    assert ids == list(range(16, 26))
    with pytest.raises(ControlError) as err:
        small_world.control.journal.get(1)
    assert err.value.status == 404
    assert small_world.control.journal.get(25)["path"] == KEYS


def test_oversized_body_gets_413_in_the_idp_shape(small_world):
    url = small_world.url("idp") + TOKEN
    big = {**FORM, "padding": "x" * 3000}
    r = httpx.post(url, data=big)
    assert r.status_code == 413
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "request body larger than 2048 bytes",
    }

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(6):
            yield b"a" * 500

    r = httpx.post(url, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"

    # a body under the limit reaches the sim
    assert httpx.post(url, data=FORM).status_code == 200

    entries = small_world.control.journal.entries()
    assert [(e["path"], e["status"], e["tenant"]) for e in entries] == [
        (TOKEN, 413, "okta"),
        (TOKEN, 413, "okta"),
        (TOKEN, 200, "okta"),
    ]
    assert small_world.control.sim("idp", "/authorization-servers/okta", method="GET")["tokens_issued"] == 1


# -- unit level: the fault engine and the journal without HTTP -------------------------------------
def test_fault_engine_matching_and_exhaustion():
    engine = FaultEngine()
    glob = engine.add(FaultSpec(sim="idp", method="get", path="/a/*", count=2))
    regex = engine.add(FaultSpec(path=r"re:^/b/\d+$", tenant="t1"))
    assert engine.pick("idp", "GET", "/a/x/y", None) is glob
    assert engine.pick("zia", "GET", "/a/x", None) is None  # other sim
    assert engine.pick("idp", "POST", "/a/x", None) is None  # other method
    assert engine.pick("idp", "GET", "/a/x", None) is glob
    assert glob.exhausted
    assert engine.pick("idp", "GET", "/a/x", None) is None
    assert engine.pick("any", "PUT", "/b/12", "t1") is regex
    assert engine.pick("any", "PUT", "/b/12", "t2") is None
    assert engine.pick("any", "PUT", "/b/12x", "t1") is None
    assert (glob.seen, glob.fired, regex.fired) == (2, 2, 1)
    assert engine.remove(glob.id) is True
    assert engine.remove(glob.id) is False
    assert list(engine.rules) == [regex.id]


def test_fault_engine_export_and_load():
    engine = FaultEngine()
    engine.add(FaultSpec(sim="idp", path="/x", status=429, count=1, headers={"Retry-After": "1"}))
    engine.add(FaultSpec(action="delay", delay_ms=5))
    exported = engine.export()
    assert [s["status"] for s in exported] == [429, 503]
    other = FaultEngine()
    other.add(FaultSpec())
    other.load(json.loads(json.dumps(exported)))
    assert other.export() == exported
    with pytest.raises(ValueError):
        other.load([{"path": "re:["}])


def test_fault_spec_validation():
    assert FaultSpec(method="delete").method == "DELETE"
    for bad in (
        {"path": "re:*"},
        {"action": "delay"},
        {"probability": 1.5},
        {"skip": -1},
        {"unknown": True},
        {"delay_ms": 120_001, "action": "delay"},
    ):
        with pytest.raises(ValueError):
            FaultSpec.model_validate(bad)


def entry(journal: Journal, **fields) -> Entry:
    base = {"time": "t", "sim": "idp", "method": "GET", "path": "/p", "query": "", "tenant": None}
    e = Entry(id=journal.next_id(), **{**base, **fields})
    journal.add(e)
    return e


def test_journal_ring_buffer():
    journal = Journal(capacity=3)
    made = [entry(journal, path=f"/p{i}") for i in range(5)]
    assert len(journal) == 3
    assert journal.total == 5
    assert journal.get(made[0].id) is None
    assert journal.get(made[4].id) is made[4]
    assert [e.path for e in journal.query()] == ["/p2", "/p3", "/p4"]
    assert [e.path for e in journal.query(since_id=made[3].id)] == ["/p4"]
    assert [e.path for e in journal.query(limit=1)] == ["/p4"]
    journal.clear()
    assert len(journal) == 0 and journal.query() == []


def test_redact_headers():
    headers = [
        (b"Authorization", b"Basic dXNlcjpwYXNz"),
        (b"Proxy-Authorization", b"Bearer t"),
        (b"Cookie", b"a=b"),
        (b"X-Api-Key", b"k"),
        (b"X-Mc-App-Key", b"m"),
        (b"Accept", b"a"),
        (b"accept", b"b"),
    ]
    assert redact_headers(headers) == {
        "authorization": "Basic <redacted>",
        "proxy-authorization": "Bearer <redacted>",
        "cookie": "<redacted>",
        "x-api-key": "<redacted>",
        "x-mc-app-key": "<redacted>",
        "accept": "a, b",
    }
    assert redact_headers([(b"authorization", b"opaque")]) == {"authorization": "<redacted>"}


def test_redact_body_and_query():
    form = b"grant_type=client_credentials&client_secret=s&Password=p&scope=a+b"
    assert parse_qs(redact_body(form, "application/x-www-form-urlencoded; charset=utf-8", len(form))) == {
        "grant_type": ["client_credentials"],
        "client_secret": ["<redacted>"],
        "Password": ["<redacted>"],
        "scope": ["a b"],
    }
    body = b'{"username": "u", "password": "p\\"q", "nested": {"API_KEY": "k"}, "n": 1}'
    assert json.loads(redact_body(body, "application/json", len(body))) == {
        "username": "u",
        "password": "<redacted>",
        "nested": {"API_KEY": "<redacted>"},
        "n": 1,
    }
    assert redact_body(b"hello", "text/plain", 12) == "hello... [7 more bytes]"
    assert redact_body(b"", "application/json", 0) == ""
    assert parse_qs(redact_query("token=t&a=1")) == {"token": ["<redacted>"], "a": ["1"]}
    assert redact_query("") == ""
