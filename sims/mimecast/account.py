"""One Mimecast account: its events, managed URLs, rate limit and threat sharing configurations."""

from __future__ import annotations

from sims.core import progress
from sims.core.ratelimit import Limit, RateLimiter
from sims.mimecast.config import MAX_SHARING_CONFIGS, MimecastAccount, ThreatSharingConfig
from sims.mimecast.events import EventBook
from sims.mimecast.threatshare import ShareState, SharingEnv, ThreatShare


class SharingError(ValueError):
    """A threat sharing configuration the Integrations Hub refuses (the message says why)."""


class Account:
    def __init__(self, config: MimecastAccount, world_seed: int, env: SharingEnv) -> None:
        self.config = config
        self.seed = world_seed
        self.env = env
        self.rate = RateLimiter()
        self.reset()

    @property
    def code(self) -> str:
        return self.config.account_code

    def reset(self) -> None:
        cfg = self.config
        seed = cfg.generator.seed or hash_seed(self.seed, cfg.account_code)
        self.events = EventBook(cfg.generator, seed, cfg.domains, cfg.custom_domains)
        self.managed_urls: list[dict] = []
        self.rate.clear()
        self.sharing: dict[str, ThreatShare] = {}
        self.generator_enabled = cfg.generator.enabled
        if self.generator_enabled:
            self.events.generate_until(
                self.env.clock.now(), progress.current(), label=f"mimecast {cfg.account_code}"
            )
        for share in cfg.threat_sharing:
            self.add_sharing(share)

    def limits(self) -> tuple[Limit, ...] | None:
        rl = self.config.rate_limit
        return (Limit(rl.limit, rl.window_seconds),) if rl.enabled else None

    # -- threat sharing (the Integrations Hub) ---------------------------------------------------
    def _check_cloud(self, config: ThreatSharingConfig) -> None:
        clouds = self.env.zia_clouds()
        if config.zscaler_cloud not in clouds:
            raise SharingError(
                f"Zscaler Base URL: {config.zscaler_cloud!r} is not one of {', '.join(clouds)}"
            )

    def add_sharing(self, config: ThreatSharingConfig) -> ThreatShare:
        if config.name in self.sharing:
            raise SharingError(f"a configuration named {config.name!r} already exists")
        if len(self.sharing) >= MAX_SHARING_CONFIGS:
            raise SharingError(
                f"an account can have at most {MAX_SHARING_CONFIGS} threat sharing configurations"
            )
        self._check_cloud(config)
        share = ThreatShare(config, self.config, self.env)
        share.save(first=True)
        self.sharing[config.name] = share
        return share

    def save_sharing(self, name: str, config: ThreatSharingConfig) -> ThreatShare:
        share = self.sharing[name]
        if config.name != name and config.name in self.sharing:
            raise SharingError(f"a configuration named {config.name!r} already exists")
        self._check_cloud(config)
        share.save(config)
        if config.name != name:
            self.sharing[config.name] = self.sharing.pop(name)
        return share

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {
            "events": self.events.export(),
            "managed_urls": self.managed_urls,
            "generator_enabled": self.generator_enabled,
            "sharing": [
                {"config": s.config.model_dump(), "state": s.state.export()} for s in self.sharing.values()
            ],
        }

    def load(self, state: dict) -> None:
        self.events.load(state["events"])
        self.managed_urls = list(state["managed_urls"])
        self.generator_enabled = bool(state["generator_enabled"])
        self.sharing = {}
        for item in state["sharing"]:
            share = ThreatShare(ThreatSharingConfig.model_validate(item["config"]), self.config, self.env)
            share.state = ShareState.load(item["state"])
            self.sharing[share.config.name] = share


def hash_seed(world_seed: int, code: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{world_seed}:{code}".encode()).digest()[:6], "big")
