"""One ZIA tenant (cloud + org): roles, admins, sessions, OAuth servers, configuration, activation."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sims.core.clock import SimClock
from sims.core.ratelimit import RateLimiter
from sims.zia.categories import Limits
from sims.zia.config import AuthorizationServerRef, TimeWindow, ZiaTenantConfig
from sims.zia.errors import ZiaError, edit_lock, invalid
from sims.zia.people import People
from sims.zia.permissions import FULL_ACCESS, Level, parse_levels
from sims.zia.policy import ActiveConfig, PolicyConfig

SUPER_ADMIN = "Super Admin"


@dataclass
class Role:
    id: int
    name: str
    rank: int
    levels: dict[str, Level]
    api: bool = False

    def lite(self) -> dict:
        out = {
            "id": self.id,
            "rank": self.rank,
            "name": self.name,
            "roleType": "API_ROLE" if self.api else "ORG_ADMIN",
            "reportTimeDuration": -1,
        }
        if self.name == SUPER_ADMIN:
            out["roleType"] = "EXEC_INSIGHT_AND_ORG_ADMIN"
        if self.api:
            out["isApiRole"] = True
        return out


@dataclass
class Principal:
    """Who is calling: an admin session, an API role (external OAuth) or a OneAPI client."""

    kind: str  # "admin" | "api" | "oneapi"
    name: str
    role: Role
    session_id: str | None = None


@dataclass
class Session:
    id: str
    username: str
    created: float
    last_seen: float


@dataclass
class AuthServer:
    """The guide's OAuth 2.0 authorization server entry, with ZIA's JWKS cache."""

    config: AuthorizationServerRef
    jwks_url: str
    issuer: str | None
    keys: dict[str, dict] = field(default_factory=dict)  # kid -> JWK
    fetched_at: float | None = None
    last_success: float | None = None
    last_error: str | None = None

    def view(self) -> dict:
        from sims.core.clock import iso

        return {
            **self.config.model_dump(),
            "resolved_jwks_url": self.jwks_url,
            "resolved_issuer": self.issuer,
            "last_successful_fetch": iso(self.last_success) if self.last_success else None,
            "last_error": self.last_error,
            "cached_kids": sorted(self.keys),
        }


class Tenant:
    def __init__(
        self, config: ZiaTenantConfig, clock: SimClock, seed: int, resolve, saml_env: tuple | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.resolve = resolve  # "idp:<id>" -> URLs of that authorization server
        self.saml_env = saml_env  # (world, urls, base url) for the SAML service provider
        self.key = str(config.org_id)
        self.rate = RateLimiter()
        self.reset()

    @property
    def settings(self):
        return self._settings

    def reset(self) -> None:
        cfg = self.config
        self._settings = cfg.settings.model_copy()  # the control plane may change these; reset restores
        self.rng = random.Random(f"{self.seed}:zia:{cfg.org_id}")
        self.roles: dict[str, Role] = {SUPER_ADMIN: Role(11521, SUPER_ADMIN, 0, dict(FULL_ACCESS))}
        for i, r in enumerate(cfg.admin_roles):
            self.roles[r.name] = Role(11600 + i, r.name, r.rank, parse_levels(r.permissions))
        for i, r in enumerate(cfg.api_roles):
            self.roles[r.name] = Role(19000 + i, r.name, r.rank, parse_levels(r.permissions), api=True)
        self.admins = {a.username.lower(): a for a in cfg.admins}
        self.sessions: dict[str, Session] = {}
        self.auth_servers = [self._server(a) for a in cfg.authorization_servers]
        self.limits = Limits()
        self.apply_settings(self._settings)
        self.pending = PolicyConfig.empty(self.limits)
        self.active = ActiveConfig(self.pending.clone())
        self.dirty = False
        self.edit_lock_until = 0.0
        self.people = People()
        for user in cfg.users:
            self.people.add(user)
        if cfg.generate_users:
            self.people.generate(cfg.generate_users)
        self.time_windows: dict[int, TimeWindow] = {50_000_001 + i: w for i, w in enumerate(cfg.time_windows)}
        self.rate.clear()
        self.token_cache: dict[str, tuple] = {}
        self.saml = None
        if self.saml_env is not None:
            from sims.zia.sso import SamlSP

            world, urls, base_url = self.saml_env
            self.saml = SamlSP(self, world, urls, base_url, self.clock)
        self.scim: dict[int, object] = {}
        if self.saml is not None:
            by_name = {i.config.name: i.id for i in self.saml.pending.idps.values()}
            for entry in cfg.scim:
                self.enable_scim(by_name[entry.idp], entry.token)

    # -- SCIM (Edit IdP > Enable SCIM Provisioning) ----------------------------------------------
    def enable_scim(self, idp_id: int, token: str | None = None):
        """SCIM on a saved IdP; returns its ScimIdp. A new token replaces the old one."""
        from sims.zia.scim import ScimIdp, new_directory

        current = self.scim.get(idp_id)
        token = token or self.new_scim_token()
        if current is None:
            current = ScimIdp(idp_id, token, new_directory(self, idp_id, self.clock.now))
            self.scim[idp_id] = current
        current.token, current.enabled = token, True
        return current

    def new_scim_token(self) -> str:
        return "".join(
            self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            for _ in range(40)
        )

    def apply_settings(self, settings) -> None:
        self._settings = settings
        self.limits.max_urls = settings.max_custom_urls
        self.limits.max_categories = settings.max_custom_categories
        self.limits.max_keywords_per_category = settings.max_keywords_per_category
        self.limits.max_keywords = settings.max_keywords
        self.rate.clear()

    def _server(self, ref: AuthorizationServerRef) -> AuthServer:
        jwks = self.resolve(ref.jwks_url, "jwks")
        issuer = self.resolve(ref.issuer, "issuer") if ref.issuer else None
        return AuthServer(ref, jwks, issuer)

    # -- principals ------------------------------------------------------------------------------
    def role_named(self, name: str) -> Role | None:
        return self.roles.get(name)

    def enabled_server(self) -> AuthServer | None:
        return next((s for s in self.auth_servers if s.config.enabled), None)

    def new_session(self, username: str) -> Session:
        sid = "".join(self.rng.choice("0123456789ABCDEF") for _ in range(32))
        now = self.clock.now()
        session = Session(sid, username, now, now)
        self.sessions[sid] = session
        return session

    def session(self, sid: str) -> Session | None:
        """A live session (touching it), or None when unknown or idle too long."""
        session = self.sessions.get(sid)
        if session is None:
            return None
        now = self.clock.now()
        if now - session.last_seen >= self.settings.session_idle_timeout:
            del self.sessions[sid]
            return None
        session.last_seen = now
        return session

    def admin_principal(self, session: Session) -> Principal:
        admin = self.admins[session.username.lower()]
        return Principal("admin", admin.username, self.roles[admin.role], session.id)

    # -- configuration editing -------------------------------------------------------------------
    def check_edit_lock(self) -> None:
        if self.clock.now() < self.edit_lock_until:
            raise edit_lock()

    def changed(self) -> None:
        self.dirty = True

    def activate(self) -> dict:
        self.check_edit_lock()
        if self.dirty:
            self.active = ActiveConfig(self.pending.clone())
            if self.saml is not None:
                self.saml.activate()  # identity providers and the authentication profile
            self.dirty = False
        return {"status": "ACTIVE"}

    def status(self) -> dict:
        return {"status": "PENDING" if self.dirty else "ACTIVE"}  # PENDING wording UNVERIFIED

    def known(self) -> dict:
        """Existence checks the rule validator needs."""
        return {
            "category": lambda cid: cid in self.pending.categories.items,
            "user": lambda uid: uid in self.people.users,
            "group": lambda gid: gid in self.people.groups,
            "department": lambda did: did in self.people.departments,
            "time_window": lambda tid: tid in self.time_windows,
        }

    def delete_category(self, cid: str) -> None:
        using = self.pending.rules.referencing(cid)
        if using:
            raise invalid(f"URL category {cid} is referenced by URL filtering rule {using[0]['name']!r}")
        self.pending.categories.delete(cid)

    # -- administration (control plane / world) --------------------------------------------------
    def set_servers(self, refs: list[AuthorizationServerRef]) -> None:
        if len(refs) > 2:
            raise ZiaError(400, "INVALID_INPUT_ARGUMENT", "At most two authorization servers per tenant")
        if sum(r.enabled for r in refs) > 1:
            raise ZiaError(400, "INVALID_INPUT_ARGUMENT", "Only one authorization server can be enabled")
        self.auth_servers = [self._server(r) for r in refs]
        self.token_cache.clear()
