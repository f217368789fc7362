"""Shared helpers for the Mimecast tests: tokens, MC signatures, page walks and an event oracle.

The signature is computed here exactly as the reference (§1.2) describes it, independently of
``sims.mimecast.auth``: ``base64(HMAC-SHA1(b64decode(secretKey), "date:req-id:uri:appKey"))``
with ``x-mc-date`` in RFC 1123 form ending in `` UTC`` (or `` GMT``), taken from the *sim* clock.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import re
import ssl
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from sims.mimecast.account import hash_seed
from sims.mimecast.events import EventBook
from sims.world import DEFAULT_WORLD, load_world

ACCOUNT = "CUSA3173833"
CLIENT_ID = "mimecast-api-client"
CLIENT_SECRET = "mimecast-api-secret-3173833"
FORM = "application/x-www-form-urlencoded"
URL_LOGS = "/api/ttp/url/get-logs"
IMP_LOGS = "/api/ttp/impersonation/get-logs"
MC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mimecast-samples"
LIST_NAME = {URL_LOGS: "clickLogs", IMP_LOGS: "impersonationLogs"}
DATE_FIELD = {URL_LOGS: "date", IMP_LOGS: "eventTime"}
_SSL = ssl.create_default_context()  # made once: a fresh httpx client would load the CA bundle each time


def client(**kw) -> httpx.Client:
    """An httpx client that shares one TLS context (so each costs microseconds, not 60 ms)."""
    kw.setdefault("timeout", 30)
    return httpx.Client(verify=_SSL, **kw)


HTTP = client()  # for one-off requests to any base URL


# -- credentials ---------------------------------------------------------------------------------
def get_token(base: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    r = HTTP.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def rfc1123(ts: float, suffix: str = "UTC") -> str:
    """``Tue, 24 Nov 2015 12:50:11 UTC``, as the Python clients (and Go's RFC1123) format it."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S") + f" {suffix}"


def signature(secret_key: str, date: str, req_id: str, uri: str, app_key: str) -> str:
    data = ":".join([date, req_id, uri, app_key]).encode()
    digest = hmac.new(base64.b64decode(secret_key), data, hashlib.sha1).digest()
    return base64.b64encode(digest).decode().rstrip()


def mc_headers(binding: dict, uri: str, ts: float, *, suffix: str = "UTC", **override: str) -> dict:
    """The four API 1.0 headers for a request to ``uri`` (the path only) at sim time ``ts``."""
    date = override.pop("date", None) or rfc1123(ts, suffix)
    req_id = override.pop("req_id", None) or str(uuid.uuid4())
    sig = override.pop("sig", None) or signature(
        binding["secret_key"], date, req_id, override.pop("sign_uri", uri), binding["app_key"]
    )
    headers = {
        "Authorization": f"MC {override.pop('access_key', binding['access_key'])}:{sig}",
        "x-mc-app-id": override.pop("app_id", binding["app_id"]),
        "x-mc-date": date,
        "x-mc-req-id": req_id,
        "Content-Type": "application/json",
    }
    assert not override, f"unknown overrides {override}"
    return headers


# -- envelopes -----------------------------------------------------------------------------------
def logs_page(client: httpx.Client, path: str, body: dict | str) -> dict:
    """One get-logs call that must succeed (HTTP 200, empty ``fail``); returns the envelope."""
    r = client.post(path, json=body) if isinstance(body, dict) else client.post(path, content=body)
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["fail"] == [], env["fail"]
    return env


def walk(client: httpx.Client, path: str, item: dict, page_size: int, max_pages: int = 1000) -> list[dict]:
    """Every record of a query, following ``next`` with token-only follow-ups."""
    body: dict = {"meta": {"pagination": {"pageSize": page_size}}, "data": [item]}
    out: list[dict] = []
    for _ in range(max_pages):
        env = logs_page(client, path, body)
        records = env["data"][0][LIST_NAME[path]]
        pagination = env["meta"]["pagination"]
        assert pagination["pageSize"] == len(records)
        out += records
        if "next" not in pagination:
            return out
        assert isinstance(pagination["next"], str) and pagination["next"]
        body = {"meta": {"pagination": {"pageSize": page_size, "pageToken": pagination["next"]}}}
    raise AssertionError("the walk did not end")


def function_failure(r: httpx.Response, key: object) -> dict:
    """HTTP 200, ``data: []``, one ``fail`` entry echoing ``key`` with an ``err_*`` error."""
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["meta"]["status"] == 200
    assert env["data"] == []
    assert len(env["fail"]) == 1, env
    fail = env["fail"][0]
    assert fail["key"] == key
    (error,) = fail["errors"]
    assert set(error) == {"code", "message", "retryable"}
    assert error["code"].startswith("err_") and error["message"] and error["retryable"] is False
    return error


def mc_ts(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S+0000").replace(tzinfo=UTC).timestamp()


def mc_fmt(ts: float, style: str = "+0000") -> str:
    base = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + {"+0000": "+0000", "Z": "Z", "+00:00": "+00:00"}[style]


# -- worlds --------------------------------------------------------------------------------------
def default_world_data() -> dict:
    return yaml.safe_load(DEFAULT_WORLD.read_text())


def write_world(tmp_path: Path, name: str, edit) -> Path:
    """A copy of the default world, changed by ``edit(data)``, written to ``tmp_path``."""
    data = copy.deepcopy(default_world_data())
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- the oracle ----------------------------------------------------------------------------------
class Oracle:
    """The default account's generated events, built straight from the seeded generator.

    The account generates its history when the world starts (at the clock start) and extends it on
    every read; replaying the same two steps gives the very events the API must page through.
    """

    def __init__(self, start: float, world_path: str | Path | None = None) -> None:
        world = load_world(world_path)
        acc = next(a for a in world.mimecast.accounts if a.account_code == ACCOUNT)
        seed = acc.generator.seed or hash_seed(world.seed, acc.account_code)
        self.book = EventBook(acc.generator, seed, acc.domains, acc.custom_domains)
        self.book.generate_until(start)

    def records(self, path: str, now: float, start: float, end: float, oldest_first: bool = True) -> list:
        self.book.generate_until(now)
        stream = self.book.clicks if path == URL_LOGS else self.book.impersonations
        keys = list(stream.scan(start, end, True, None))
        out = [stream.record(k) for k in keys]
        return out if oldest_first else out[::-1]
