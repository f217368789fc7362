"""World-file schema of Mimecast accounts: API credentials, the event generator, threat sharing."""

from __future__ import annotations

import base64
import re

from pydantic import Field, field_validator, model_validator

from sims.core.worldfile import Strict

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_SHARING_CONFIGS = 10


class HmacBinding(Strict):
    """API 1.0 keys: the user binding (access key, base64 secret key) and the application (id, key)."""

    access_key: str
    secret_key: str = Field(description="base64, as Mimecast issues it")
    app_id: str
    app_key: str

    @field_validator("secret_key")
    @classmethod
    def _base64(cls, v: str) -> str:
        try:
            base64.b64decode(v, validate=True)
        except ValueError:
            raise ValueError("secret_key must be base64") from None
        return v


class RateLimitConfig(Strict):
    enabled: bool = False
    limit: int = Field(default=300, gt=0, description="calls per window (the real numbers are not public)")
    window_seconds: int = Field(default=60, gt=0)


class GeneratorConfig(Strict):
    """Seeded events on the simulated clock."""

    enabled: bool = True
    seed: int = 0
    clicks_per_hour: float = Field(default=60, ge=0, le=1_000_000)
    malicious_ratio: float = Field(default=0.1, ge=0, le=1)
    impersonations_per_hour: float = Field(default=4, ge=0, le=100_000)
    history_hours: float = Field(
        default=24, ge=0, le=24 * 90, description="backfilled before the clock start"
    )
    max_catch_up_hours: float = Field(default=48, gt=0, description="a longer jump generates only this much")
    users: int = Field(default=25, ge=1, le=100_000)


class Sources(Strict):
    malicious_domains: bool = True
    malicious_urls: bool = False
    extracted_domains: bool = False


class ThreatSharingConfig(Strict):
    """One "Zscaler Managed by Mimecast SASE Threat Sharing" configuration (the guide's form)."""

    name: str = Field(min_length=1, max_length=64, description="Application Name; also the ZIA category name")
    description: str = Field(default="", max_length=256)
    zscaler_cloud: str = Field(description="Zscaler Base URL: one of the ZIA clouds the world knows")
    token_endpoint: str = Field(description="OAuth 2.0 Provider Token Endpoint (URL, or idp:<server id>)")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str = Field(min_length=1)
    fetch_from_hours: int = Field(
        default=24, ge=1, le=720, description="Fetch from Duration (at most 30 days)"
    )
    sources: Sources = Field(default_factory=Sources)
    notification_emails: list[str] = Field(default_factory=list)

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if not _EMAIL.match(e)]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return v

    @model_validator(mode="after")
    def _sources(self) -> ThreatSharingConfig:
        s = self.sources
        if not (s.malicious_domains or s.malicious_urls or s.extracted_domains):
            raise ValueError("select at least one source to send from Mimecast")
        if s.extracted_domains and not s.malicious_urls:
            raise ValueError(
                "Malicious Domains Extracted from URLs can only be enabled if Malicious URLs is enabled"
            )
        return self


class MimecastAccount(Strict):
    account_code: str = Field(pattern=r"^[A-Za-z0-9]{3,32}$")
    name: str
    region: str = "us"
    client_id: str = Field(description="API 2.0 client id")
    client_secret: str
    hmac: HmacBinding | None = None
    domains: list[str] = Field(default_factory=list, description="the account's own domains")
    custom_domains: list[str] = Field(default_factory=list, description="Impersonation custom domain list")
    token_lifetime: int = Field(default=1800, gt=0, description="API 2.0 tokens: 30 minutes")
    hmac_max_skew: int = Field(default=900, ge=0, description="x-mc-date tolerance, seconds (UNVERIFIED)")
    max_page_size: int = Field(default=500, ge=1, le=10_000, description="UNVERIFIED: >=500 works for real")
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    sharing_poll_seconds: int = Field(default=300, ge=10, description="threat sharing polls this often")
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    threat_sharing: list[ThreatSharingConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _limits(self) -> MimecastAccount:
        if len(self.threat_sharing) > MAX_SHARING_CONFIGS:
            raise ValueError(f"at most {MAX_SHARING_CONFIGS} threat sharing configurations per account")
        names = [c.name for c in self.threat_sharing]
        if len(set(names)) != len(names):
            raise ValueError("two threat sharing configurations share a name")
        return self


class MimecastConfig(Strict):
    accounts: list[MimecastAccount] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> MimecastConfig:
        codes = [a.account_code for a in self.accounts]
        if len(set(codes)) != len(codes):
            raise ValueError("two Mimecast accounts share an account code")
        ids = [a.client_id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise ValueError("two Mimecast accounts share an API 2.0 client id")
        return self
