"""World-file schema of ZIA tenants: admins, roles, API roles, OAuth 2.0 servers, limits, users."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from sims.core.worldfile import Strict
from sims.zia.permissions import AREAS, parse_levels

_NAME = re.compile(r"^[A-Za-z0-9]{1,64}$")


class ZiaAdmin(Strict):
    username: str
    password: str
    api_key: str = Field(description="the 12-character API key the legacy session obfuscates")
    role: str = "Super Admin"

    @field_validator("api_key")
    @classmethod
    def _twelve(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{12}", v):
            raise ValueError("a ZIA API key is 12 letters or digits")
        return v


class RoleConfig(Strict):
    """An admin role or an API role: a rank and one level per permission area."""

    name: str = Field(min_length=1, max_length=128)
    rank: int = Field(default=7, ge=0, le=7)
    permissions: dict[str, str] = Field(default_factory=dict, description="area: NONE | VIEW_ONLY | FULL")

    @field_validator("permissions")
    @classmethod
    def _levels(cls, v: dict[str, str]) -> dict[str, str]:
        parse_levels(v)
        return v


class AuthorizationServerRef(Strict):
    """The guide's "Add Authorization Server" form."""

    name: str
    description: str = Field(default="", max_length=256)
    enabled: bool = True
    jwks_url: str = Field(description="URL, or idp:<server id> for an authorization server of the idp sim")
    validate_jwks_certificate: bool = True
    audience: str | None = None
    issuer: str | None = Field(default=None, description="URL, or idp:<server id> for its issuer")
    client_id: str | None = None

    @field_validator("name")
    @classmethod
    def _alnum(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("the name can only contain letters and digits, without spaces, at most 64")
        return v


class OneApiConfig(Strict):
    """ZIdentity (OneAPI) clients that may call this tenant, and the role each acts with."""

    authorization_server: str = Field(description="id of the idp's zidentity authorization server")
    clients: dict[str, str] = Field(default_factory=dict, description="client id -> admin or API role name")


class ZiaUser(Strict):
    name: str = Field(description="login name, e.g. alice@safemarch.example")
    display_name: str | None = None
    department: str | None = None
    groups: list[str] = Field(default_factory=list)


class TimeWindow(Strict):
    name: str
    days: list[str] = Field(default_factory=lambda: ["EVERYDAY"])
    start: int = Field(default=0, ge=0, le=1440, description="minutes after midnight (UTC)")
    end: int = Field(default=1440, ge=0, le=1440)


class ZiaSettings(Strict):
    realistic_rate_limits: bool = Field(default=False, description="ZIA's per-endpoint limits (2/s, 1/s...)")
    session_idle_timeout: int = Field(
        default=300, gt=0, description="seconds; the official SDK assumes 5 min (UNVERIFIED)"
    )
    login_max_skew: int | None = Field(
        default=None, description="reject logins whose timestamp is this far from the sim clock (UNVERIFIED)"
    )
    jwks_cache_seconds: int = Field(default=300, ge=0, description="JWKS cache period (UNVERIFIED)")
    jwks_refetch_min_interval: int = Field(default=0, ge=0, description="on an unknown kid, refetch after")
    jwt_leeway: int = Field(default=0, ge=0, le=300)
    max_custom_urls: int = Field(default=25_000, ge=0)
    max_custom_categories: int = Field(default=64, ge=0)
    max_keywords_per_category: int = Field(default=30, ge=0)
    max_keywords: int = Field(default=1000, ge=0)
    admin_rank_enabled: bool = True


class ZiaTenantConfig(Strict):
    cloud: str = Field(description="cloud domain, e.g. zscloud.net")
    org_id: int
    name: str
    domains: list[str] = Field(default_factory=list)
    admins: list[ZiaAdmin] = Field(default_factory=list)
    admin_roles: list[RoleConfig] = Field(
        default_factory=list, description="besides the built-in Super Admin"
    )
    api_roles: list[RoleConfig] = Field(default_factory=list)
    authorization_servers: list[AuthorizationServerRef] = Field(default_factory=list)
    oneapi: OneApiConfig | None = None
    users: list[ZiaUser] = Field(default_factory=list)
    time_windows: list[TimeWindow] = Field(default_factory=list)
    settings: ZiaSettings = Field(default_factory=ZiaSettings)

    @model_validator(mode="after")
    def _consistent(self) -> ZiaTenantConfig:
        if len(self.api_roles) > 16:
            raise ValueError("ZIA allows at most 16 API roles")
        if len(self.authorization_servers) > 2:
            raise ValueError("ZIA allows at most two authorization servers per tenant")
        if sum(a.enabled for a in self.authorization_servers) > 1:
            raise ValueError("only one authorization server may be enabled at a time")
        roles = {"Super Admin"} | {r.name for r in self.admin_roles}
        for admin in self.admins:
            if admin.role not in roles:
                raise ValueError(f"admin {admin.username!r} has unknown role {admin.role!r}")
        if self.oneapi:
            known = roles | {r.name for r in self.api_roles}
            for client, role in self.oneapi.clients.items():
                if role not in known:
                    raise ValueError(f"OneAPI client {client!r} has unknown role {role!r}")
        return self


class ZiaConfig(Strict):
    tenants: list[ZiaTenantConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ZiaConfig:
        keys = [(t.cloud, t.org_id) for t in self.tenants]
        if len(set(keys)) != len(keys):
            raise ValueError("two ZIA tenants share a cloud and org id")
        orgs = [t.org_id for t in self.tenants]
        if len(set(orgs)) != len(orgs):
            raise ValueError("two ZIA tenants share an org id")
        users = [a.username.lower() for t in self.tenants for a in t.admins]
        if len(set(users)) != len(users):
            raise ValueError("an admin username is used twice (logins find the tenant by username)")
        return self


__all__ = ["AREAS", "ZiaConfig", "ZiaTenantConfig"]
