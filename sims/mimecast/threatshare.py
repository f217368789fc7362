"""The "Zscaler Managed by Mimecast SASE Threat Sharing" integration, run for real over HTTP.

Each configuration gets a token from its OAuth 2.0 provider (the idp sim), keeps its own custom URL
category in ZIA, reads malicious threats from its Mimecast account's API, and pushes them into the
category, bookmarking the time up to which everything is shared. Failures follow the guide:
temporary ones (5xx, 429, timeouts, dropped connections, Mimecast degradation) are retried with
back-off silently; permanent ones (rejected credentials or tokens, quota exhausted, category
deleted) stop sharing and send one email until the configuration is saved again. Threats older
than 30 days at recovery are dropped, and the drop is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import httpx

from sims.core.clock import SimClock, iso
from sims.core.mailbox import Mailbox
from sims.mimecast.config import MimecastAccount, ThreatSharingConfig
from sims.mimecast.events import mc_date
from sims.zia.urls import url_problem

log = logging.getLogger("sims.mimecast.threatshare")
MAX_ERROR_AGE = 30 * 86400  # the guide: threats observed while in error are shared if within 30 days
FIRST_RUN_DELAY = 10.0  # the guide: "wait approximately 30 seconds" for the category to appear
BATCH = 1000  # URLs per ADD_TO_LIST request
BACKOFF = [30, 60, 120, 300, 600, 900]
DOMAIN_IDENTIFIERS = {
    "similar_internal_domain",
    "custom_external_domain",
    "advanced_similar_internal_domain",
    "advanced_custom_external_domain",
}
Status = Literal["starting", "normal", "temporary_error", "permanent_error"]


class Temporary(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Permanent(Exception):
    pass


def zia_entry_for_url(url: str) -> str | None:
    """A URL in ZIA's custom-URL syntax: no scheme, lowercase, no query, at most 1024 characters."""
    try:
        parts = urlsplit(url.strip() if "://" in url else f"http://{url.strip()}")
        host = (parts.hostname or "").encode("idna").decode("ascii").lower().rstrip(".")
    except (ValueError, UnicodeError):
        return None
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    entry = (host + port + parts.path).lower().rstrip("/")[:1024]
    return None if url_problem(entry) else entry


def zia_entry_for_domain(domain: str, wildcard: bool) -> str | None:
    try:
        host = domain.strip().lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    entry = f".{host}" if wildcard else host
    return None if url_problem(entry) else entry


@dataclass
class ShareState:
    status: Status = "starting"
    bookmark: float = 0.0
    category_id: str | None = None
    shared: set[str] = field(default_factory=set)
    needs_activation: bool = False
    shared_count: int = 0
    skipped_invalid: int = 0
    dropped: int = 0
    last_drop: dict | None = None
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    attempts: int = 0
    next_run: float | None = None
    saved_at: float = 0.0
    emails_sent: int = 0
    temporary_errors: int = 0
    permanent_errors: int = 0

    def export(self) -> dict:
        out = dict(vars(self))
        out["shared"] = sorted(self.shared)
        return out

    @classmethod
    def load(cls, data: dict) -> ShareState:
        return cls(**{**data, "shared": set(data["shared"])})


class ThreatShare:
    def __init__(self, config: ThreatSharingConfig, account: MimecastAccount, env: SharingEnv) -> None:
        self.config = config
        self.account = account
        self.env = env
        self.state = ShareState()
        self._token: tuple[str, float] | None = None
        self._mc_token: tuple[str, float] | None = None

    @property
    def clock(self) -> SimClock:
        return self.env.clock

    # -- lifecycle -------------------------------------------------------------------------------
    def save(self, config: ThreatSharingConfig | None = None, first: bool = False) -> None:
        """The form's Save: (re)start; a permanent error is cleared and tried again."""
        now = self.clock.now()
        if config is not None:
            renamed = config.name != self.config.name
            self.config = config
            if renamed:
                self.state.category_id = None
        if first:
            self.state = ShareState(bookmark=now - self.config.fetch_from_hours * 3600, saved_at=now)
        self.state.status = (
            "starting" if first or self.state.status == "permanent_error" else self.state.status
        )
        self.state.saved_at = now
        self.state.attempts = 0
        self.state.category_id = None if first else self.state.category_id
        self._token = None
        self.state.next_run = now + FIRST_RUN_DELAY

    def view(self) -> dict:
        s = self.state
        return {
            **self.config.model_dump(exclude={"client_secret"}),
            "client_secret": "********",
            "zscaler_base_url": self.env.zia_base,
            "status": s.status,
            "category_id": s.category_id,
            "bookmark": mc_date(s.bookmark),
            "shared": s.shared_count,
            "skipped_invalid": s.skipped_invalid,
            "dropped": s.dropped,
            "last_drop": s.last_drop,
            "last_success": iso(s.last_success) if s.last_success else None,
            "last_error": s.last_error,
            "last_error_at": iso(s.last_error_at) if s.last_error_at else None,
            "next_run": iso(s.next_run) if s.next_run else None,
            "emails_sent": s.emails_sent,
        }

    # -- one run ---------------------------------------------------------------------------------
    async def run(self) -> None:
        s = self.state
        if s.status == "permanent_error":
            s.next_run = None
            return
        now = self.clock.now()
        try:
            self._apply_age_limit(now)
            await self._share(now)
        except Temporary as err:
            s.temporary_errors += 1
            s.status = "temporary_error"
            s.last_error, s.last_error_at = str(err), now
            delay = BACKOFF[min(s.attempts, len(BACKOFF) - 1)]
            s.attempts += 1
            s.next_run = now + max(delay, err.retry_after or 0)
        except Permanent as err:
            s.permanent_errors += 1
            s.status = "permanent_error"
            s.last_error, s.last_error_at, s.next_run = str(err), now, None
            self._notify(f"Zscaler threat sharing '{self.config.name}' stopped: permanent error", str(err))
        else:
            s.status, s.attempts, s.last_success = "normal", 0, now
            s.next_run = now + self.account.sharing_poll_seconds

    def _notify(self, subject: str, body: str) -> None:
        if self.config.notification_emails:
            self.env.mailbox.send(
                "mimecast", self.config.notification_emails, subject, body, tenant=self.account.account_code
            )
            self.state.emails_sent += 1

    def _apply_age_limit(self, now: float) -> None:
        s = self.state
        oldest = now - MAX_ERROR_AGE
        if s.bookmark >= oldest:
            return
        dropped = self.env.count_threats(self.account, self.config, s.bookmark, oldest)
        s.dropped += dropped
        s.last_drop = {"count": dropped, "from": mc_date(s.bookmark), "to": mc_date(oldest)}
        s.bookmark = oldest
        if dropped:
            self._notify(
                f"Zscaler threat sharing '{self.config.name}': {dropped} threats older than 30 days dropped",
                f"The integration was in an error state for more than 30 days; threats observed between "
                f"{s.last_drop['from']} and {s.last_drop['to']} were dropped.",
            )

    async def _share(self, now: float) -> None:
        s = self.state
        category = await self._category(now)
        entries = await self._collect(s.bookmark, now)
        fresh = [e for e in entries if e not in s.shared]
        for start in range(0, len(fresh), BATCH):
            batch = fresh[start : start + BATCH]
            await self._zia(
                "PUT",
                f"/urlCategories/{category}",
                params={"action": "ADD_TO_LIST"},
                json={"configuredName": self.config.name, "urls": batch},
            )
            s.shared.update(batch)
            s.shared_count += len(batch)
            s.needs_activation = True
        if s.needs_activation:
            await self._zia("POST", "/status/activate")
            s.needs_activation = False
        s.bookmark = now  # only now is everything up to `now` in ZIA

    # -- Mimecast side ---------------------------------------------------------------------------
    async def _collect(self, since: float, until: float) -> list[str]:
        cfg = self.config.sources
        out: list[str] = []
        try:
            if cfg.malicious_urls or cfg.extracted_domains:
                async for rec in self.env.logs(
                    self.account, "url", since, until, {"scanResult": "malicious"}
                ):
                    if cfg.malicious_urls:
                        self._add(out, zia_entry_for_url(rec["url"]))
                    if cfg.extracted_domains:
                        self._add(
                            out, zia_entry_for_domain(urlsplit(rec["url"]).hostname or "", wildcard=True)
                        )
            if cfg.malicious_domains:
                async for rec in self.env.logs(
                    self.account, "impersonation", since, until, {"taggedMalicious": True}
                ):
                    if DOMAIN_IDENTIFIERS & set(rec.get("identifiers", [])):
                        domain = rec["senderAddress"].rpartition("@")[2]
                        self._add(out, zia_entry_for_domain(domain, wildcard=False))
        except (httpx.HTTPError, KeyError, ValueError) as err:
            raise Temporary(f"Mimecast service degradation: {type(err).__name__}: {err}") from None
        return list(dict.fromkeys(out))

    def _add(self, out: list[str], entry: str | None) -> None:
        if entry is None:
            self.state.skipped_invalid += 1
        else:
            out.append(entry)

    # -- the OAuth 2.0 provider and ZIA ----------------------------------------------------------
    async def _access_token(self) -> str:
        now = self.clock.now()
        if self._token and self._token[1] - 60 > now:
            return self._token[0]
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "scope": self.config.scope,
        }
        try:
            r = await self.env.http.post(
                self.env.resolve_token_endpoint(self.config.token_endpoint), data=form
            )
        except httpx.HTTPError as err:
            raise Temporary(f"OAuth 2.0 provider unreachable: {type(err).__name__}") from None
        if r.status_code in (429,) or r.status_code >= 500:
            raise Temporary(f"OAuth 2.0 provider answered {r.status_code}")
        if r.status_code != 200:
            raise Permanent(
                f"The OAuth 2.0 provider refused the client credentials ({r.status_code}): {_describe(r)}"
            )
        body = r.json()
        self._token = (body["access_token"], now + float(body.get("expires_in", 3600)))
        return self._token[0]

    async def _zia(self, method: str, path: str, retried: bool = False, **kw) -> httpx.Response:
        token = await self._access_token()
        try:
            r = await self.env.http.request(
                method, f"{self.env.zia_base}{path}", headers={"Authorization": f"Bearer {token}"}, **kw
            )
        except httpx.HTTPError as err:
            raise Temporary(f"ZIA unreachable: {type(err).__name__}") from None
        if r.status_code < 300:
            return r
        reason = _describe(r)
        if r.status_code == 401 and not retried:
            self._token = None  # the token may just have expired: one fresh token, then it is permanent
            return await self._zia(method, path, retried=True, **kw)
        if r.status_code in (401, 403):
            raise Permanent(f"ZIA rejected the API call ({r.status_code}): {reason}")
        if r.status_code == 404 and path.startswith("/urlCategories/"):
            raise Permanent(f"The URL category {path.rsplit('/', 1)[1]} was deleted in ZIA")
        if r.status_code == 400 and "maximum of" in reason:
            raise Permanent(f"ZIA URL quota exhausted: {reason}")
        if r.status_code == 429:
            retry = r.headers.get("retry-after", "")
            raise Temporary("ZIA rate limit (429)", float(retry) if retry.isdigit() else None)
        if r.status_code == 409 or r.status_code >= 500:
            raise Temporary(f"ZIA answered {r.status_code}: {reason}")
        raise Permanent(f"ZIA refused the request ({r.status_code}): {reason}")

    async def _category(self, now: float) -> str:
        s = self.state
        if s.category_id:
            return s.category_id
        r = await self._zia("GET", "/urlCategories", params={"customOnly": "true"})
        found = next((c for c in r.json() if c.get("configuredName") == self.config.name), None)
        if found is None:
            if s.shared:  # the category was deleted in ZIA: a new one starts from the fetch-from window
                s.shared = set()
                s.bookmark = min(s.bookmark, now - self.config.fetch_from_hours * 3600)
            body = {
                "configuredName": self.config.name,
                "superCategory": "USER_DEFINED",
                "type": "URL_CATEGORY",
                "customCategory": True,
                "urls": [],
                "description": self.config.description or "Zscaler Managed by Mimecast SASE Threat Sharing",
            }
            found = (await self._zia("POST", "/urlCategories", json=body)).json()
            s.needs_activation = True
        s.category_id = found["id"]
        s.shared.update(found.get("urls", []))  # already in ZIA: never sent twice
        return s.category_id


def _describe(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "code", "detail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:200]


class SharingEnv:
    """What the integration needs from the world; provided by the Mimecast sim."""

    clock: SimClock
    mailbox: Mailbox
    http: httpx.AsyncClient
    zia_base: str

    def resolve_token_endpoint(self, ref: str) -> str:  # pragma: no cover - implemented by the sim
        raise NotImplementedError

    def logs(self, account, function, since, until, filters):  # pragma: no cover
        raise NotImplementedError

    def count_threats(self, account, config, since, until) -> int:  # pragma: no cover
        raise NotImplementedError
