"""The idp's outbound provisioning runs: which apps provision, when they sync, where reports go."""

from __future__ import annotations

import math

import httpx

from sims.idp.provisioning import Provisioner, ProvisioningConfig

CHANGE_DELAY = 5.0  # "immediately synchronizes ... changes": a few seconds later on the sim clock


class Outbound:
    def __init__(self, sim) -> None:
        self.sim = sim
        self._http: httpx.AsyncClient | None = None
        self.reset()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        return self._http

    def reset(self) -> None:
        for job in getattr(self, "jobs", {}).values():
            job.cancel()
        self.jobs: dict[tuple[str, str], object] = {}
        self.apps: dict[tuple[str, str], Provisioner] = {}
        self.pending: dict[tuple[str, str], set[str]] = {}
        for d in self.sim.ctx.world.idp.directories:
            for app in d.web_apps:
                if app.provisioning is not None:
                    self.apps[(d.id, app.id)] = Provisioner(app.provisioning.model_copy(deep=True))

    def configure(self, directory: str, app: str, config: ProvisioningConfig) -> Provisioner:
        key = (directory, app)
        current = self.apps.get(key)
        prov = Provisioner(config)
        if current is not None:  # keep what the app already provisioned and discovered
            prov.provisioned, prov.group_ids, prov.discovered = (
                current.provisioned,
                current.group_ids,
                current.discovered,
            )
        self.apps[key] = prov
        self._schedule_daily(key, prov)
        return prov

    # -- running ---------------------------------------------------------------------------------
    async def run(self, key: tuple[str, str], only: set[str] | None = None) -> dict:
        prov = self.apps[key]
        directory = self.sim.directories[key[0]]
        report = await prov.sync(self.http, directory, self.sim.clock.now(), only)
        emails = prov.config.report_emails
        if emails and only is None:
            self.sim.ctx.mailbox.send(
                "idp",
                emails,
                f"Provisioning report: {key[1]} ({report.mode} mode)",
                report.text(),
                tenant=key[0],
            )
        return prov.last_report

    def changed(self, directory: str, logins: set[str]) -> None:
        """Users whose data or roles changed: sync them soon in every app that provisions them."""
        for key, prov in self.apps.items():
            if key[0] != directory or not prov.config.enabled or not prov.config.sync_on_change:
                continue
            first = key not in self.pending
            self.pending.setdefault(key, set()).update(logins)
            if first:
                self.sim.clock.schedule(
                    self.sim.clock.now() + CHANGE_DELAY,
                    f"idp:provision:{key[1]}",
                    lambda key=key: self._run_pending(key),
                )

    async def _run_pending(self, key: tuple[str, str]) -> None:
        logins = self.pending.pop(key, set())
        if key in self.apps and logins:
            prov = self.apps[key]
            directory = self.sim.directories[key[0]]
            gone = {u for u in logins if u not in prov.in_scope(directory)}
            await self.run(key, only=logins - gone)
            if gone and prov.config.deprovision != "none":  # out of every mapped role: deprovision them
                await self.run(key)

    def schedule_jobs(self) -> None:
        for key, prov in self.apps.items():
            self._schedule_daily(key, prov)

    def _schedule_daily(self, key: tuple[str, str], prov: Provisioner) -> None:
        old = self.jobs.pop(key, None)
        if old is not None:
            old.cancel()
        hour = prov.config.daily_sync_hour
        if hour is None or not prov.config.enabled:
            return
        now = self.sim.clock.now()
        first = math.floor(now / 86400) * 86400 + hour * 3600
        if first <= now:
            first += 86400

        async def daily() -> None:
            if self.apps.get(key) is prov and prov.config.enabled:
                await self.run(key)

        self.jobs[key] = self.sim.clock.schedule(
            first, f"idp:daily-sync:{key[0]}:{key[1]}", daily, every=86400
        )

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {f"{d}/{a}": p.export() for (d, a), p in self.apps.items()}

    def load(self, state: dict) -> None:
        self.apps = {}
        for key, pstate in state.items():
            d, _, a = key.partition("/")
            self.apps[(d, a)] = Provisioner.load(pstate)
