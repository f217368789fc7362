"""The Mimecast sim: API 2.0 / 1.0, TTP logs and the Zscaler threat sharing integration."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, FastAPI

from sims.core.sim import Sim
from sims.mimecast.account import Account
from sims.mimecast.auth import TokenBook
from sims.mimecast.events import mc_date
from sims.mimecast.logs import Tokens
from sims.mimecast.threatshare import DOMAIN_IDENTIFIERS, SharingEnv, ThreatShare

GENERATOR_PERIOD = 3600.0  # events are also generated on every read, so this only bounds catch-up


class MimecastSim(Sim, SharingEnv):
    name = "mimecast"
    default_port = 7404
    title = "Mimecast API 2.0 / 1.0 (TTP logs, threat intel) and Zscaler threat sharing"

    def __init__(self, ctx) -> None:
        Sim.__init__(self, ctx)
        self.mailbox = ctx.mailbox
        self.tokens = TokenBook(ctx.world.seed)
        self.page_tokens = Tokens(ctx.world.seed)
        self._http: httpx.AsyncClient | None = None
        self.zia_base = f"{ctx.urls.get('zia', '')}/api/v1"
        self.accounts = {
            a.account_code: Account(a, ctx.world.seed, self) for a in ctx.world.mimecast.accounts
        }
        self._jobs: dict[tuple[str, str], object] = {}

    # -- the environment the integration runs in -------------------------------------------------
    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(10.0), headers={"User-Agent": "Mimecast-ThreatShare/sims"}
            )
        return self._http

    def zia_clouds(self) -> list[str]:
        return [t.cloud for t in self.ctx.world.zia.tenants]

    def resolve_token_endpoint(self, ref: str) -> str:
        if not ref.startswith("idp:"):
            return ref
        from sims.idp.oauth import public_urls

        server = next((a for a in self.ctx.world.idp.authorization_servers if a.id == ref[4:]), None)
        if server is None:
            raise ValueError(f"{ref!r} names no authorization server of the idp")
        return public_urls(server, self.ctx.urls["idp"])["token"]

    async def logs(
        self, account, function: str, since: float, until: float, filters: dict
    ) -> AsyncIterator[dict]:
        """Read the account's own logs over HTTP with its API 2.0 credentials, page by page."""
        token = await self._own_token(account)
        body = {
            "meta": {"pagination": {"pageSize": 500}},
            "data": [{"from": mc_date(since), "to": mc_date(until), "oldestFirst": True, **filters}],
        }
        list_name = "clickLogs" if function == "url" else "impersonationLogs"
        for _ in range(10_000):  # bounded: 5 million records
            r = await self.http.post(
                f"{self.base_url}/api/ttp/{function}/get-logs",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            envelope = r.json()
            if envelope.get("fail"):
                raise ValueError(f"Mimecast function failure: {envelope['fail']}")
            for rec in envelope["data"][0][list_name]:
                yield rec
            next_token = envelope["meta"].get("pagination", {}).get("next")
            if not next_token:
                return
            body = {"meta": {"pagination": {"pageSize": 500, "pageToken": next_token}}}

    async def _own_token(self, account) -> str:
        r = await self.http.post(
            f"{self.base_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": account.client_id,
                "client_secret": account.client_secret,
            },
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def count_threats(self, account, config, since: float, until: float) -> int:
        """Threats a configuration would have shared in [since, until) (to report a 30-day drop)."""
        book = self.accounts[account.account_code].events
        book.generate_until(self.clock.now())
        count = 0
        if config.sources.malicious_urls or config.sources.extracted_domains:
            for key in book.clicks.scan(since, until, True, None):
                if key[0] < until and (
                    book.is_malicious_click(key[2])
                    if key[1] == 0
                    else book.clicks.record(key)["scanResult"] == "malicious"
                ):
                    count += 1
        if config.sources.malicious_domains:
            for key in book.impersonations.scan(since, until, True, None):
                rec = book.impersonations.record(key)
                if key[0] < until and rec["taggedMalicious"] and DOMAIN_IDENTIFIERS & set(rec["identifiers"]):
                    count += 1
        return count

    def metrics(self):
        """Threat sharing figures for ``/metrics``: shares and errors per configuration."""
        for account in self.accounts.values():
            for share in account.sharing.values():
                labels = {"account": account.code, "configuration": share.config.name}
                s = share.state
                yield "sims_threat_sharing_shared", "Threats pushed into ZIA", labels, s.shared_count
                for kind in ("temporary", "permanent"):
                    yield (
                        "sims_threat_sharing_errors",
                        "Failed threat sharing runs",
                        {**labels, "kind": kind},
                        getattr(s, f"{kind}_errors"),
                    )

    # -- jobs ------------------------------------------------------------------------------------
    def schedule_jobs(self) -> None:
        self._jobs.clear()
        if any(a.config.generator.enabled for a in self.accounts.values()):
            self.clock.every(GENERATOR_PERIOD, "mimecast:generate-events", self.generate)
        for account in self.accounts.values():
            for share in account.sharing.values():
                self.schedule_share(account, share)

    def generate(self) -> None:
        now = self.clock.now()
        for account in self.accounts.values():
            if account.generator_enabled:
                account.events.generate_until(now)

    def schedule_share(self, account: Account, share: ThreatShare) -> None:
        key = (account.code, share.config.name)
        old = self._jobs.pop(key, None)
        if old is not None:
            old.cancel()
        if share.state.next_run is None:
            return

        async def run() -> None:
            self._jobs.pop(key, None)
            await share.run()
            if account.sharing.get(share.config.name) is share:
                self.schedule_share(account, share)

        self._jobs[key] = self.clock.schedule(share.state.next_run, f"mimecast:share:{key[0]}:{key[1]}", run)

    def forget_share(self, account: Account, name: str) -> None:
        job = self._jobs.pop((account.code, name), None)
        if job is not None:
            job.cancel()

    # -- state -----------------------------------------------------------------------------------
    def reset(self) -> None:
        self.tokens = TokenBook(self.ctx.world.seed)
        for account in self.accounts.values():
            account.reset()

    def export_state(self) -> dict:
        return {
            "accounts": {code: a.export() for code, a in self.accounts.items()},
            "tokens": self.tokens.export(),
            "page_token_key": self.page_tokens.export(),
        }

    def import_state(self, state: dict) -> None:
        for code, astate in state.get("accounts", {}).items():
            if code not in self.accounts:
                raise ValueError(f"state names Mimecast account {code}, which the world does not have")
            self.accounts[code].load(astate)
        if "tokens" in state:
            self.tokens.load(state["tokens"])
        if "page_token_key" in state:
            self.page_tokens.load(state["page_token_key"])

    # -- HTTP ------------------------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        from sims.mimecast.app import build_app

        return build_app(self)

    def control_router(self) -> APIRouter:
        from sims.mimecast.control import build_router

        return build_router(self)

    def tenant_of(self, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        for name, value in headers:
            if name == b"authorization":
                text = value.decode("latin-1")
                if text[:7].lower() == "bearer ":
                    token = self.tokens.tokens.get(text[7:].strip())
                    return token.account if token else None
                if text.startswith("MC "):
                    access = text[3:].partition(":")[0]
                    return next(
                        (
                            a.code
                            for a in self.accounts.values()
                            if a.config.hmac and a.config.hmac.access_key == access
                        ),
                        None,
                    )
        return None

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            413: "payload_too_large",
            429: "rate_limit_exceeded",
            500: "internal_error",
            503: "service_unavailable",
        }.get(status, "error")
        body = {"meta": {"status": status}, "data": [], "fail": [{"code": code, "message": message}]}
        return json.dumps(body).encode(), "application/json"

    # -- discovery -------------------------------------------------------------------------------
    def describe(self) -> dict:
        accounts = []
        for a in self.accounts.values():
            c = a.config
            entry = {
                "account_code": c.account_code,
                "name": c.name,
                "api_base_url": self.base_url,
                "token_url": f"{self.base_url}/oauth/token",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "domains": c.domains,
                "threat_sharing": [s.view() for s in a.sharing.values()],
            }
            if c.hmac:
                entry["hmac"] = c.hmac.model_dump()
            accounts.append(entry)
        return {"accounts": accounts}
