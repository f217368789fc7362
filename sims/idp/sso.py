"""Single sign-on at a directory: SAML portal URLs, the sign-in, the user portal and the Responses.

One ``SamlPortal`` per directory holds its web apps, the browser sessions of signed-in users and
the logins in progress (an AuthnRequest, or an IdP-initiated launch, waiting for the user to sign
in). Everything is timed by the sim clock; no HTTP here.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sims.core.clock import SimClock
from sims.idp.config import WebAppConfig
from sims.idp.directory import Directory, User
from sims.idp.saml import SsoError, WebApp, build_response, encode_response, read_authn_request

if TYPE_CHECKING:
    from sims.world import World

PENDING_TTL = 900  # seconds a login in progress waits for the user
MAX_PENDING = 10_000
MAX_SESSIONS = 10_000


@dataclass
class LoginContext:
    id: str
    app_id: str
    request_id: str | None  # None: IdP-initiated
    acs_url: str
    relay_state: str | None
    force_authn: bool
    created: float
    binding: str | None = None
    signed_with: str | None = None


@dataclass
class PortalSession:
    id: str
    login: str
    created: float
    expires: float


@dataclass
class Completion:
    app: WebApp
    user: User
    acs_url: str
    saml_response: str  # base64, as the HTTP-POST binding carries it
    relay_state: str | None
    in_response_to: str | None
    broken: str | None


class SamlPortal:
    def __init__(self, directory: Directory, world: World, urls: dict[str, str], clock: SimClock) -> None:
        self.directory = directory
        self.world = world
        self.urls = urls
        self.clock = clock
        self.reset()

    @property
    def id(self) -> str:
        return self.directory.id

    def reset(self) -> None:
        cfg = self.directory.config
        self.apps: dict[str, WebApp] = {a.id: WebApp(a, cfg, self.world, self.urls) for a in cfg.web_apps}
        self.sessions: OrderedDict[str, PortalSession] = OrderedDict()
        self.pending: OrderedDict[str, LoginContext] = OrderedDict()
        self.issued = 0

    # -- apps ------------------------------------------------------------------------------------
    def by_key(self, app_key: str) -> WebApp | None:
        return next((a for a in self.apps.values() if a.key_id == app_key), None)

    def put_app(self, config: WebAppConfig) -> WebApp:
        unknown = [r for r in config.roles if r not in self.directory.roles]
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}")
        app = WebApp(config, self.directory.config, self.world, self.urls)
        self.apps[config.id] = app
        return app

    # -- users -----------------------------------------------------------------------------------
    def user(self, login: str) -> User | None:
        user = self.directory.users.get(login)
        if user is None:
            lowered = login.lower()
            user = next((u for u in self.directory.users.values() if u.login.lower() == lowered), None)
        return user

    def roles_of(self, login: str) -> list[str]:
        return [name for name, members in self.directory.roles.items() if login in members]

    def apps_for(self, login: str) -> list[WebApp]:
        user = self.user(login)
        if user is None:
            return []
        roles = self.roles_of(user.login)
        return [a for a in self.apps.values() if a.allowed(user, roles)]

    # -- logins in progress ----------------------------------------------------------------------
    def _remember(self, ctx: LoginContext) -> LoginContext:
        self.pending[ctx.id] = ctx
        while len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)
        return ctx

    def sp_initiated(
        self, app: WebApp, binding: str, raw_query: str = "", form: dict[str, str] | None = None
    ) -> LoginContext:
        request, relay = read_authn_request(
            app, binding, now=self.clock.now(), raw_query=raw_query, form=form
        )
        return self._remember(
            LoginContext(
                id=secrets.token_urlsafe(18),
                app_id=app.config.id,
                request_id=request.id,
                acs_url=request.acs_url,
                relay_state=relay,
                force_authn=request.force_authn,
                created=self.clock.now(),
                binding=binding,
                signed_with=request.signed_with,
            )
        )

    def idp_initiated(self, app: WebApp, relay_state: str | None = None) -> LoginContext:
        if not app.config.idp_initiated:
            raise SsoError(
                "idp_initiated_disabled", f"{app.name} can only be opened from the application itself"
            )
        return self._remember(
            LoginContext(
                id=secrets.token_urlsafe(18),
                app_id=app.config.id,
                request_id=None,
                acs_url=app.acs_url,
                relay_state=relay_state if relay_state is not None else app.config.default_relay_state,
                force_authn=False,
                created=self.clock.now(),
            )
        )

    def context(self, ctx_id: str | None) -> LoginContext | None:
        ctx = self.pending.get(ctx_id or "")
        if ctx is None:
            return None
        if self.clock.now() - ctx.created > PENDING_TTL or ctx.app_id not in self.apps:
            self.pending.pop(ctx.id, None)
            return None
        return ctx

    # -- sessions --------------------------------------------------------------------------------
    def sign_in(self, login: str, password: str) -> PortalSession:
        user = self.user(login.strip())
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            raise SsoError(
                "bad_credentials", "Authentication failed: the user name or password is incorrect.", 401
            )
        now = self.clock.now()
        session = PortalSession(
            secrets.token_urlsafe(24), user.login, now, now + self.directory.config.session_lifetime
        )
        self.sessions[session.id] = session
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return session

    def session(self, sid: str | None) -> PortalSession | None:
        session = self.sessions.get(sid or "")
        if session is None:
            return None
        if self.clock.now() >= session.expires or session.login not in self.directory.users:
            self.sessions.pop(session.id, None)
            return None
        return session

    def sign_out(self, sid: str | None) -> None:
        self.sessions.pop(sid or "", None)

    def needs_sign_in(self, ctx: LoginContext, session: PortalSession | None) -> bool:
        return session is None or (ctx.force_authn and session.created < ctx.created)

    # -- the Response ----------------------------------------------------------------------------
    def complete(self, ctx: LoginContext, session: PortalSession) -> Completion:
        app = self.apps.get(ctx.app_id)
        user = self.directory.users.get(session.login)
        if app is None or user is None:
            raise SsoError("gone", "The application or the user no longer exists", 404)
        roles = self.roles_of(user.login)
        if not app.allowed(user, roles):
            raise SsoError(
                "not_assigned",
                f"You are not authorized to access {app.name}: it is not assigned to any of your roles.",
                403,
            )
        broken = app.take_broken()
        xml = build_response(
            app,
            user,
            roles,
            now=self.clock.now(),
            acs_url=ctx.acs_url,
            in_response_to=ctx.request_id,
            broken=broken,
        )
        self.pending.pop(ctx.id, None)
        self.issued += 1
        return Completion(
            app, user, ctx.acs_url, encode_response(xml), ctx.relay_state, ctx.request_id, broken
        )

    def response_for(self, app: WebApp, login: str, in_response_to: str | None = None) -> Completion:
        """A Response minted without a browser (the control plane's shortcut for scripts and tests)."""
        user = self.user(login)
        if user is None:
            raise SsoError("unknown_user", f"no user {login!r} in directory {self.id!r}", 404)
        ctx = LoginContext(
            "direct", app.config.id, in_response_to, app.acs_url, None, False, self.clock.now()
        )
        now = self.clock.now()
        return self.complete(ctx, PortalSession("direct", user.login, now, now + 1))

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {
            "apps": [a.config.model_dump(mode="json") for a in self.apps.values()],
            "broken": {k: [a.broken, a.broken_left] for k, a in self.apps.items()},
            "sessions": [asdict(s) for s in self.sessions.values()],
            "pending": [asdict(c) for c in self.pending.values()],
            "issued": self.issued,
        }

    def load(self, state: dict) -> None:
        self.apps = {}
        for raw in state["apps"]:
            self.put_app(WebAppConfig.model_validate(raw))
        for key, (mode, left) in state.get("broken", {}).items():
            if key in self.apps:
                self.apps[key].broken, self.apps[key].broken_left = mode, left
        self.sessions = OrderedDict((s["id"], PortalSession(**s)) for s in state["sessions"])
        self.pending = OrderedDict((c["id"], LoginContext(**c)) for c in state["pending"])
        self.issued = int(state.get("issued", 0))


__all__ = ["Completion", "LoginContext", "PortalSession", "SamlPortal", "SsoError"]
