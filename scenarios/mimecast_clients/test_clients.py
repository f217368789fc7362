"""Scenario: real Mimecast clients, and clients written to the quirks of real ones, against the sim.

- ``mimecast-api`` 0.5 (PyPI): API 1.0 HMAC, signs ``x-mc-date`` with the host's real time, so it
  runs against a world on a real clock (``real_clock_world.yaml``): decode-url, get-all-managed-urls,
  create-managed-url (through ``block_url``), and its failure path (``MimecastAPIFail``).
- XSOAR MimecastV2's pagination and fetch (``demisto/content:Packs/Mimecast/Integrations/MimecastV2``):
  first page ``{"meta":{"pagination":{"pageSize":N}},"data":[...]}``, follow-ups with snake_case
  ``page_size`` + ``pageToken`` and the data again, ``str(meta.pagination.get('next', ''))``,
  ``data[0][...]`` unguarded, dates read by ``.replace('+0000', 'Z')`` + ``strptime``.
- Elastic Agent (``elastic/integrations:packages/mimecast``): httpjson v1 (HMAC) and CEL (OAuth):
  follow-up bodies ONLY ``{"meta":{"pagination":{"pageToken":...}}}``, stop when ``next`` is absent or
  the page is empty, cursor = max(date) parsed as ``2006-01-02T15:04:05-0700``.
- Azure Sentinel's MimecastTTP connector: pageSize 500, ``oldestFirst: true``, ``%Y-%m-%dT%H:%M:%SZ``
  dates, ``pageToken: ""`` on the first page, a checkpoint ``{from_date, to_date, page_token}`` that
  survives a crash mid-chain, re-authentication once on 401.

Each client must terminate and collect exactly the records the seeded generator holds (the oracle of
``tests/mimecast/helpers.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.mimecast.helpers import CLIENT_ID, CLIENT_SECRET, IMP_LOGS, URL_LOGS, Oracle, mc_ts, write_world

pytestmark = pytest.mark.interop

REAL_CLOCK_WORLD = Path(__file__).with_name("real_clock_world.yaml")
REWRITE = "https://protect-us.mimecast.com/s/"  # the sim's rewritten-URL prefix
MAX_LOOPS = 1000  # every pager here is bounded: a sim that never ends a chain fails, not hangs


def rewritten(url: str) -> str:
    return REWRITE + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def ids(records: list[dict]) -> list[str]:
    return [r.get("messageId") or r["id"] for r in records]


# == mimecast-api 0.5 (PyPI), HMAC with real time ================================================
@pytest.fixture
def real_world(sims_world_factory):
    # the factory freezes the clock unless told: the world file's `mode: real` needs clock="real"
    return sims_world_factory(REAL_CLOCK_WORLD, clock="real", only=["mimecast"])


def mimecast_api(world, **override):
    mimecast_api = pytest.importorskip("mimecast_api")
    binding = {**world.info["sims"]["mimecast"]["accounts"][0]["hmac"], **override}
    # MimecastAPI(*, base_url, access_key, secret_key, app_id, app_key, session=None) -- keyword-only
    return mimecast_api.MimecastAPI(
        base_url=world.url("mimecast"),
        access_key=binding["access_key"],
        secret_key=binding["secret_key"],
        app_id=binding["app_id"],
        app_key=binding["app_key"],
    )


def test_mimecast_api_decodes_and_manages_urls(real_world):
    from mimecast_api import MimecastAPIFail

    api = mimecast_api(real_world)
    original = "https://evil.example/login.php?session=1"
    assert api.decode_url(rewritten(original)) == original

    created = api.block_url("https://phish.example/login#top", "explicit", "blocked by mimecast-api")
    assert created["domain"] == "phish.example" and created["path"] == "/login"  # fragment dropped
    assert created["action"] == "block" and created["matchType"] == "explicit"
    assert created["comment"] == "blocked by mimecast-api"
    assert [m["id"] for m in api.get_all_managed_urls("phish.example")] == [created["id"]]

    with pytest.raises(MimecastAPIFail) as err:
        api.block_url("https://phish.example/login", "explicit", "again")
    (fail,) = err.value.args[0]["fail"]
    assert fail["errors"][0]["code"] == "err_managed_url_exists_code"
    assert fail["key"]["url"] == "https://phish.example/login"

    api.block_url("https://whole-domain.example/", "domain", "the whole domain")
    assert api.is_url_managed("https://whole-domain.example/any/path") == {
        "matchType": "domain",
        "action": "block",
        "comment": "the whole domain",
    }
    assert api.is_url_managed("https://unmanaged.example/") is False

    with pytest.raises(MimecastAPIFail) as err:  # a decode failure is a fail entry too
        api.decode_url("https://not-rewritten.example/")
    assert err.value.args[0]["fail"][0]["key"] == {"url": "https://not-rewritten.example/"}

    entries = real_world.control.journal.entries(sim="mimecast", detail=True)
    assert len(entries) == 8 and {e["status"] for e in entries} == {200}
    for entry in entries:
        headers = {k.lower(): v for k, v in entry["request"]["headers"].items()}
        assert headers["x-mc-date"].endswith(" UTC") and headers["x-mc-app-id"] and headers["x-mc-req-id"]


def test_mimecast_api_finds_an_explicit_managed_url(real_world):
    api = mimecast_api(real_world)
    api.block_url("https://phish.example/login", "explicit", "explicit block")
    assert api.is_url_managed("https://phish.example/login") == {
        "matchType": "explicit",
        "action": "block",
        "comment": "explicit block",
    }


def test_mimecast_api_with_a_wrong_secret_gets_the_invalid_signature_failure(real_world):
    from mimecast_api import MimecastAPIFail

    api = mimecast_api(real_world, secret_key=base64.b64encode(b"not the secret").decode())
    with pytest.raises(MimecastAPIFail) as err:
        api.decode_url(rewritten("https://x.example/"))
    assert err.value.args[0]["fail"][0]["errors"][0]["code"] == "err_xdk_invalid_signature"


def test_mimecast_api_against_a_frozen_clock_is_stale(sims):
    # why the scenario needs a real clock: the client signs with datetime.utcnow()
    from mimecast_api import MimecastAPIFail

    if abs(datetime.now(UTC).timestamp() - sims.control.clock.now()) < 3600:
        pytest.skip("the host clock is within an hour of the sim's frozen start")
    with pytest.raises(MimecastAPIFail) as err:
        mimecast_api(sims).decode_url(rewritten("https://x.example/"))
    assert err.value.args[0]["fail"][0]["errors"][0]["code"] == "err_xdk_stale_date"


# == XSOAR MimecastV2 ============================================================================
class XsoarStyle:
    """MimecastV2.py's wire behaviour, reduced: OAuth 2.0 token reused 15 minutes, the paginator and
    fetch-incidents with its ``last_run`` bookkeeping. The sim clock stands in for ``datetime.now()``."""

    MAX_FETCH = 200

    def __init__(self, base: str, clock, page_size: int) -> None:
        self.base, self.clock, self.page_size = base, clock, page_size
        self.session = requests.Session()
        self.token, self.minted = "", 0.0
        self.requests = 0

    def http_request(self, endpoint: str, payload: dict) -> dict:
        if not self.token or self.clock() - self.minted > 15 * 60:
            r = self.session.post(
                self.base + "/oauth/token",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data={
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "grant_type": "client_credentials",
                },
            )
            r.raise_for_status()
            self.token, self.minted = r.json()["access_token"], self.clock()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        r = self.session.post(self.base + endpoint, headers=headers, json=payload)
        r.raise_for_status()
        self.requests += 1
        return r.json()

    def request_with_pagination(self, endpoint: str, data: list, response_param: str, limit: int) -> list:
        payload = {"meta": {"pagination": {"pageSize": self.page_size}}, "data": data}
        response = self.http_request(endpoint, payload)
        next_page = str(response.get("meta", {}).get("pagination", {}).get("next", ""))
        results: list = []
        for _ in range(MAX_LOOPS):
            if response.get("fail"):
                raise RuntimeError(json.dumps(response.get("fail")[0].get("errors")))
            for entry in response.get("data")[0].get(response_param):  # data[0] unguarded
                if len(results) < limit:
                    results.append(entry)
            if not next_page or len(results) >= limit:
                return results
            payload["meta"]["pagination"] = {"page_size": self.page_size, "pageToken": next_page}
            response = self.http_request(endpoint, payload)
            next_page = str(response.get("meta", {}).get("pagination", {}).get("next", ""))
        raise AssertionError("XSOAR's pager never ended (a `next` that is never absent?)")

    def fetch_incidents(self, last_run: dict) -> tuple[dict, list]:
        if last_run.get("time") is None:
            last_fetch = datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None) - timedelta(hours=24)
        else:
            last_fetch = datetime.strptime(last_run["time"], "%Y-%m-%dT%H:%M:%SZ")
        last_fetch_date_time = last_fetch.strftime("%Y-%m-%dT%H:%M:%S") + "+0000"
        current_fetch = last_fetch
        incidents = []
        for endpoint, params, param, field in (
            (URL_LOGS, {"scanResult": "malicious"}, "clickLogs", "date"),
            (IMP_LOGS, {"taggedMalicious": True}, "impersonationLogs", "eventTime"),
        ):
            search = {"from": last_fetch_date_time, **params}
            for log in self.request_with_pagination(endpoint, [search], param, self.MAX_FETCH):
                occurred = log.get(field).replace("+0000", "Z")
                temp_date = datetime.strptime(occurred, "%Y-%m-%dT%H:%M:%SZ")
                if temp_date > last_fetch:
                    last_fetch = temp_date + timedelta(seconds=1)
                if temp_date > current_fetch:  # "avoid duplication due to weak time query"
                    incidents.append(log)
        return {"time": last_fetch.isoformat().split(".")[0] + "Z"}, incidents


def test_xsoar_style_fetch_pages_and_collects_every_malicious_record(sims):
    clock = sims.control.clock
    t0 = clock.now()
    oracle = Oracle(t0)
    xsoar = XsoarStyle(sims.url("mimecast"), clock.now, page_size=25)

    def expected(last_run: dict, now: float) -> list[dict]:
        """What one fetch must return: malicious records dated strictly after ``from``, newest first."""
        if last_run:
            since = datetime.strptime(last_run["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        else:
            since = now - 86400
        out = []
        for path, field, flag in (
            (URL_LOGS, "date", "scanResult"),
            (IMP_LOGS, "eventTime", "taggedMalicious"),
        ):
            for r in oracle.records(path, now, since, now, oldest_first=False):
                if r[flag] in ("malicious", True) and mc_ts(r[field]) > since:
                    out.append(r)
        return out

    runs, last_run = [], {}
    for step in (0, 2 * 3600, 300, 6 * 3600):
        if step:
            clock.advance(step)
        want = expected(last_run, clock.now())
        last_run, incidents = xsoar.fetch_incidents(last_run)
        assert incidents == want
        runs.append(incidents)
        if len(runs) == 1:  # the first fetch really paged, 25 per page, for both log types
            clicks = sum(1 for r in incidents if "date" in r)
            assert xsoar.requests == -(-clicks // 25) + -(-(len(incidents) - clicks) // 25)
    assert runs[0] and runs[1] and runs[3]
    collected = [r for run in runs for r in run]
    assert len(set(ids(collected))) == len(collected)  # no incident twice
    start, end = t0 - 86400, clock.now()
    malicious = [
        r
        for path, flag in ((URL_LOGS, "scanResult"), (IMP_LOGS, "taggedMalicious"))
        for r in oracle.records(path, end, start, end)
        if r[flag] in ("malicious", True)
    ]
    assert sorted(ids(collected)) == sorted(ids(malicious))  # nothing lost between fetches


# == Elastic Agent: httpjson v1 (HMAC) and CEL (OAuth) ============================================
class ElasticStyle:
    """One Elastic input: first page with filters, follow-ups with ONLY the page token, stop when
    ``next`` is absent or the page is empty, cursor = max(date) (``2006-01-02T15:04:05-0700``)."""

    def __init__(self, base: str, clock, mode: str, binding: dict) -> None:
        self.base, self.clock, self.mode, self.binding = base, clock, mode, binding
        self.session = requests.Session()
        self.cursor: datetime | None = None
        self.token, self.expires = "", 0.0
        self.bodies: list[dict] = []

    def headers(self, uri: str) -> dict:
        if self.mode == "httpjson-v1-hmac":
            # Go: formatDate (now) "RFC1123" -> "Mon, 02 Jan 2006 15:04:05 UTC"
            date = datetime.fromtimestamp(self.clock(), UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")
            req_id = str(uuid.uuid4())
            b = self.binding
            digest = hmac.new(
                base64.b64decode(b["secret_key"]),
                f"{date}:{req_id}:{uri}:{b['app_key']}".encode(),
                hashlib.sha1,
            ).digest()
            return {
                "Authorization": f"MC {b['access_key']}:{base64.b64encode(digest).decode()}",
                "x-mc-app-id": b["app_id"],
                "x-mc-date": date,
                "x-mc-req-id": req_id,
            }
        if not self.token or self.clock() >= self.expires:
            r = self.session.post(
                self.base + "/oauth/token",
                data={
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "grant_type": "client_credentials",
                },
            )
            body = r.json()
            self.token, self.expires = body["access_token"], self.clock() + body["expires_in"] - 60
        return {"Authorization": f"Bearer {self.token}"}

    def run(self) -> list[dict]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        since = self.cursor or now - timedelta(hours=24)  # initial_interval 24h
        if self.mode == "httpjson-v1-hmac":
            fmt = "%Y-%m-%dT%H:%M:%S+0000"
            item = {"oldestFirst": False, "scanResult": "all", "route": "all"}
            first: dict = {"data": [{**item, "to": now.strftime(fmt), "from": since.strftime(fmt)}]}
        else:  # CEL: RFC 3339
            first = {
                "meta": {"pagination": {"pageSize": 100}},
                "data": [
                    {
                        "from": since.isoformat().replace("+00:00", "Z"),
                        "to": now.isoformat().replace("+00:00", "Z"),
                    }
                ],
            }
        body, events = first, []
        for _ in range(MAX_LOOPS):
            self.bodies.append(body)
            r = self.session.post(self.base + URL_LOGS, json=body, headers=self.headers(URL_LOGS))
            envelope = r.json()
            if r.status_code != 200 or envelope.get("fail"):
                raise RuntimeError(f"error event: {envelope}")  # and the cursor does not move
            logs = envelope["data"][0]["clickLogs"] if envelope.get("data") else []
            events += logs
            token = envelope["meta"].get("pagination", {}).get("next")
            if not logs or not token:
                break
            body = {"meta": {"pagination": {"pageToken": token}}}  # ONLY the token
        else:
            raise AssertionError("the Elastic pager never ended")
        if events:
            self.cursor = max(datetime.strptime(e["date"], "%Y-%m-%dT%H:%M:%S%z") for e in events)
        return events


@pytest.mark.parametrize("mode", ["httpjson-v1-hmac", "cel-v2-oauth"])
def test_elastic_style_collects_with_token_only_follow_ups(sims, mode):
    clock = sims.control.clock
    t0 = clock.now()
    oracle = Oracle(t0)
    binding = sims.info["sims"]["mimecast"]["accounts"][0]["hmac"]
    elastic = ElasticStyle(sims.url("mimecast"), clock.now, mode, binding)

    first = elastic.run()
    assert first == oracle.records(URL_LOGS, t0, t0 - 86400, t0, oldest_first=False)
    assert len(elastic.bodies) > 10  # 100 per page by default
    assert all(
        set(b) == {"meta"} and set(b["meta"]["pagination"]) == {"pageToken"} for b in elastic.bodies[1:]
    )
    cursor = elastic.cursor.timestamp()
    assert elastic.cursor == datetime.strptime(first[0]["date"], "%Y-%m-%dT%H:%M:%S%z")

    clock.advance(40 * 60)  # past the token's refresh point (expires_in - 60)
    t1 = clock.now()
    second = elastic.run()
    # from = cursor (inclusive): the last record of the previous run comes again, Elastic dedups it
    assert second == oracle.records(URL_LOGS, t1, cursor, t1, oldest_first=False)
    assert first[0] in second
    everything = {r["messageId"] for r in first + second}  # Elastic's fingerprint dedup
    assert sorted(everything) == sorted(ids(oracle.records(URL_LOGS, t1, t0 - 86400, t1)))
    third = elastic.run()  # nothing new: only the boundary record(s), then the chain ends
    assert third == [r for r in second if r["date"] == second[0]["date"]]


# == Azure Sentinel MimecastTTP ==================================================================
class SentinelStyle:
    """The MimecastTTP Azure Function's loop: 500 per page, oldest first, ``Z`` dates, a checkpoint
    with the page token, re-authentication once on 401."""

    PAGE_SIZE = 500

    def __init__(self, base: str, clock, checkpoint: dict, token: str = "") -> None:
        self.base, self.clock, self.checkpoint, self.token = base, clock, checkpoint, token
        self.session = requests.Session()
        self.reauths = 0

    def authenticate(self) -> None:
        r = self.session.post(
            self.base + "/oauth/token",
            data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"},
        )
        r.raise_for_status()
        self.token = r.json()["access_token"]

    def post(self, path: str, body: dict) -> dict:
        for attempt in (1, 2):
            if not self.token:
                self.authenticate()
            r = self.session.post(
                self.base + path, json=body, headers={"Authorization": f"Bearer {self.token}"}
            )
            if r.status_code == 401 and attempt == 1:
                assert r.json()["fail"][0]["code"] in ("token_expired", "token_verification_failed")
                self.token, self.reauths = "", self.reauths + 1
                continue
            r.raise_for_status()
            return r.json()
        raise AssertionError("unreachable")

    def run(self, path: str, list_name: str, crash_after_pages: int | None = None) -> list[dict]:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        now = datetime.fromtimestamp(self.clock(), UTC)
        start = self.checkpoint.get("from_date") or (now - timedelta(hours=24)).strftime(fmt)
        end = self.checkpoint.get("to_date") or now.strftime(fmt)
        if (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds() < 900:
            return []
        page_token = self.checkpoint.get("page_token", "")
        body = {
            "meta": {"pagination": {"pageSize": self.PAGE_SIZE, "pageToken": page_token}},
            "data": [{"from": start, "oldestFirst": True, "to": end}],
        }
        out: list[dict] = []
        for pages in range(1, MAX_LOOPS):
            response = self.post(path, body)
            out += response["data"][0][list_name]  # unguarded
            next_token = response["meta"]["pagination"].get("next")
            self.checkpoint = {"from_date": start, "to_date": end, "page_token": next_token or ""}
            if not next_token:
                break
            if crash_after_pages == pages:
                return out  # the function times out; the checkpoint keeps the page token
            body["meta"]["pagination"]["pageToken"] = next_token
        self.checkpoint = {"from_date": end, "to_date": "", "page_token": ""}
        return out


@pytest.fixture
def busy_world(sims_world_factory, tmp_path):
    """The default world with enough impersonations a day for several 500-record pages."""

    def edit(data: dict) -> None:
        data["mimecast"]["accounts"][0]["generator"]["impersonations_per_hour"] = 30

    path = write_world(tmp_path, "busy", edit)
    return sims_world_factory(path, only=["mimecast"]), path


@pytest.mark.parametrize(("path", "list_name"), [(URL_LOGS, "clickLogs"), (IMP_LOGS, "impersonationLogs")])
def test_sentinel_style_resumes_from_its_checkpoint(busy_world, path, list_name):
    world, world_path = busy_world
    clock = world.control.clock
    t0 = clock.now()
    oracle = Oracle(t0, world_path)
    base = world.url("mimecast")
    expected = oracle.records(path, t0, t0 - 86400, t0)
    assert len(expected) > SentinelStyle.PAGE_SIZE  # at least two pages

    first = SentinelStyle(base, clock.now, {})
    got = first.run(path, list_name, crash_after_pages=1)
    assert len(got) == SentinelStyle.PAGE_SIZE and first.checkpoint["page_token"]
    clock.advance(31 * 60)  # the stored token expires before the next invocation
    resumed = SentinelStyle(base, clock.now, dict(first.checkpoint), token=first.token)
    got += resumed.run(path, list_name)
    assert resumed.reauths == 1
    assert got == expected  # oldest first, every record once across the crash

    t0_z = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert resumed.checkpoint == {"from_date": t0_z, "to_date": "", "page_token": ""}
    now = clock.now()
    following = SentinelStyle(base, clock.now, dict(resumed.checkpoint)).run(path, list_name)
    assert following == oracle.records(path, now, t0, now)
