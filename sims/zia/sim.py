"""The ZIA sim: tenants (cloud + org), their API, and the bearer verifier that trusts the idp."""

from __future__ import annotations

import base64
import json

import httpx
from fastapi import APIRouter, FastAPI

from sims.core.seeded import export_rng, load_rng
from sims.core.sim import Sim
from sims.zia.auth import SCOPE, BearerVerifier
from sims.zia.errors import ZiaError
from sims.zia.policy import ActiveConfig, PolicyConfig
from sims.zia.tenant import AuthServer, Session, Tenant

ZSCALER_API_AUDIENCE = "https://api.zscaler.com"
_STATUS_BODIES = {
    400: ("INVALID_INPUT_ARGUMENT", "Invalid input argument"),
    401: ("NOT_AUTHENTICATED", "Session is not authenticated or timed out"),
    403: ("AUTHORIZATION_FAILURE", "Access denied"),
    404: ("RESOURCE_NOT_FOUND", "Resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    409: ("EDIT_LOCK_NOT_AVAILABLE", None),
    413: ("INVALID_INPUT_ARGUMENT", "Request body is too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"),
    500: ("UNEXPECTED_ERROR", "An unexpected error has occurred, please contact Zscaler's support"),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable"),
}


class ZiaSim(Sim):
    name = "zia"
    default_port = 7402
    title = "ZIA cloud service API (legacy /api/v1 and OneAPI /zia/api/v1)"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        saml_env = (ctx.world, ctx.urls, ctx.base_url)
        self.tenants = {
            str(t.org_id): Tenant(t, ctx.clock, ctx.world.seed, self.resolve, saml_env)
            for t in ctx.world.zia.tenants
        }
        self.sessions: dict[str, Tenant] = {}
        self.verifier = BearerVerifier(self.tenants, self._oneapi_issuers(), self._fetch_jwks)
        self._http: httpx.AsyncClient | None = None
        self._http_insecure: httpx.AsyncClient | None = None

    # -- trust in the idp ------------------------------------------------------------------------
    def _idp_server(self, server_id: str):
        return next((a for a in self.ctx.world.idp.authorization_servers if a.id == server_id), None)

    def resolve(self, ref: str, kind: str) -> str:
        """``idp:<server id>`` to that authorization server's JWKS URL or issuer; URLs pass through."""
        if not ref.startswith("idp:"):
            return ref
        from sims.idp.oauth import public_urls

        server = self._idp_server(ref[4:])
        if server is None:
            raise ValueError(f"{ref!r} names no authorization server of the idp")
        return public_urls(server, self.ctx.urls["idp"])[kind]

    def _oneapi_issuers(self) -> dict[str, tuple[str, str]]:
        from sims.idp.oauth import public_urls

        out = {}
        for t in self.ctx.world.zia.tenants:
            if t.oneapi:
                server = self._idp_server(t.oneapi.authorization_server)
                if server is not None:
                    urls = public_urls(server, self.ctx.urls["idp"])
                    out[urls["issuer"]] = (urls["jwks"], server.audience or ZSCALER_API_AUDIENCE)
        return out

    async def _fetch_jwks(self, url: str, verify_tls: bool) -> dict:
        """ZIA fetches the JWKS over HTTP like the real service (a real request, journaled by the idp)."""
        attr = "_http" if verify_tls else "_http_insecure"
        client = getattr(self, attr)
        if client is None:
            client = httpx.AsyncClient(
                timeout=10.0, verify=verify_tls, headers={"User-Agent": "Zscaler-JWKS/sims"}
            )
            setattr(self, attr, client)
        r = await client.get(url)
        r.raise_for_status()
        return r.json()

    # -- state -----------------------------------------------------------------------------------
    def tenant_for_session(self, sid: str) -> Tenant | None:
        return self.sessions.get(sid)

    def reset(self) -> None:
        for t in self.tenants.values():
            t.reset()
        self.sessions.clear()
        self.verifier.oneapi_keys.clear()

    def export_state(self) -> dict:
        return {"tenants": {k: _export_tenant(t) for k, t in self.tenants.items()}}

    def import_state(self, state: dict) -> None:
        self.reset()
        for key, tstate in state.get("tenants", {}).items():
            tenant = self.tenants.get(key)
            if tenant is None:
                raise ValueError(f"state names ZIA org {key}, which the world does not have")
            _import_tenant(tenant, tstate)
            for sid in tenant.sessions:
                self.sessions[sid] = tenant

    # -- HTTP ------------------------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        from sims.zia.app import build_app

        return build_app(self)

    def control_router(self) -> APIRouter:
        from sims.zia.control import build_router

        return build_router(self)

    def tenant_of(self, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        if path.startswith("/sim/v1/"):
            return path.split("/", 4)[3]
        if path.startswith("/sfc_sso/"):
            org = path.split("/", 3)[2]
            return org if org in self.tenants else None
        parts = path.split("/", 4)
        if len(parts) > 3 and parts[3] == "scim" and parts[1] in self.tenants:
            return parts[1]
        for name, value in headers:
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "JSESSIONID" and v in self.sessions:
                        return self.sessions[v].key
            elif name == b"authorization" and value[:7].lower() == b"bearer ":
                return self._tenant_of_token(value[7:].decode("latin-1").strip())
        return None

    def _tenant_of_token(self, token: str) -> str | None:
        payload = token.split(".")[1] if token.count(".") == 2 else ""
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        for name in ("scope", "scp", "roles"):
            value = claims.get(name)
            for s in value.split() if isinstance(value, str) else value or []:
                m = SCOPE.match(s) if isinstance(s, str) else None
                if m and m["org"] in self.tenants:
                    return m["org"]
        client = next((claims.get(c) for c in ("client_id", "cid", "appid")), None)
        for key, t in self.tenants.items():
            if t.config.oneapi and client in t.config.oneapi.clients:
                return key
        return None

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        if status == 429:
            body = {"message": "Rate Limit (2/SECOND) exceeded", "Retry-After": "1 seconds"}
        else:
            code, default = _STATUS_BODIES.get(status, ("UNEXPECTED_ERROR", None))
            detail = None if message in ("injected fault", "Not Found", "Method Not Allowed") else message
            body = ZiaError(status, code, detail or default).body()
        return json.dumps(body).encode(), "application/json"

    # -- discovery -------------------------------------------------------------------------------
    def describe(self) -> dict:
        tenants = []
        for t in self.tenants.values():
            c = t.config
            entry = {
                "cloud": c.cloud,
                "org_id": c.org_id,
                "name": c.name,
                "legacy_base_url": f"{self.base_url}/api/v1",
                "oneapi_base_url": f"{self.base_url}/zia/api/v1",
                "policy_decision_url": f"{self.base_url}/sim/v1/{c.org_id}/policy/decision",
                "admins": [
                    {"username": a.username, "password": a.password, "api_key": a.api_key, "role": a.role}
                    for a in c.admins
                ],
                "api_roles": [r.name for r in c.api_roles],
                "oauth_scopes": [f"{c.cloud}::{c.org_id}::{r.name}" for r in c.api_roles],
                "authorization_servers": [s.view() for s in t.auth_servers],
            }
            if c.oneapi:
                entry["oneapi"] = self._oneapi_view(c)
            if t.saml is not None:
                entry["saml"] = self._saml_view(t)
            entry["scim"] = [
                {
                    "idp_id": s.idp_id,
                    "idp": t.saml.pending.idps[s.idp_id].config.name if t.saml else None,
                    "base_url": f"{self.base_url}/{c.org_id}/{s.idp_id}/scim",
                    "bearer_token": s.token,
                    "enabled": s.enabled,
                }
                for s in t.scim.values()
            ]
            tenants.append(entry)
        return {"tenants": tenants}

    def _saml_view(self, t: Tenant) -> dict:
        sp = t.saml
        org = t.config.org_id
        control = self.ctx.urls.get("control", "")
        return {
            "authentication_type": sp.active.profile.authentication_type,
            "sp_entity_id": t.config.cloud,
            "org_specific_entity_id": f"{self.base_url}/sfc_sso/{org}",
            "acs_url": sp.acs_url(),
            "acs_url_org_specific": sp.acs_url(True),
            "login_url": f"{self.base_url}{sp.portal_path()}",
            "sso_start_url": f"{self.base_url}/sim/v1/{org}/sso/start",
            "sp_metadata_url": f"{self.base_url}/sim/v1/{org}/sp-metadata",
            "identity_providers": [
                {
                    "id": i.id,
                    "name": i.config.name,
                    "enabled": i.config.enabled,
                    "saml_portal_url": i.sso_url,
                    "expected_issuer": i.issuer,
                    "sp_entity_id": sp.entity_id(i),
                    "acs_url": sp.acs_url(i.config.org_specific_entity_id),
                    "sign_saml_request": i.config.sign_saml_request,
                    "signature_algorithm": i.config.signature_algorithm,
                    "auto_provisioning": i.config.auto_provisioning,
                    "sp_metadata_url": f"{self.base_url}/sim/v1/{org}/sp-metadata?idp={i.id}",
                    "admin_url": f"{control}/sims/zia/tenants/{org}/idps/{i.id}",
                }
                for i in sp.active.idps.values()
            ],
        }

    def _oneapi_view(self, c) -> dict:
        from sims.idp.oauth import public_urls

        server = self._idp_server(c.oneapi.authorization_server)
        urls = public_urls(server, self.ctx.urls["idp"]) if server else {}
        client_id = next(iter(c.oneapi.clients), None)
        secret = None
        if server is not None:
            secret = next((x.client_secret for x in server.clients if x.client_id == client_id), None)
        return {
            "token_url": f"{self.ctx.urls['idp']}/oauth2/v1/token"
            if server and server.root_alias
            else urls.get("token"),
            "client_id": client_id,
            "client_secret": secret,
            "audience": (server.audience if server else None) or ZSCALER_API_AUDIENCE,
            "clients": dict(c.oneapi.clients),
        }


def _export_tenant(t: Tenant) -> dict:
    return {
        "pending": t.pending.export(),
        "active": t.active.config.export(),
        "dirty": t.dirty,
        "edit_lock_until": t.edit_lock_until,
        "sessions": [vars(s) for s in t.sessions.values()],
        "rng": export_rng(t.rng),  # session ids must not repeat after a restore
        "authorization_servers": [
            {
                "config": s.config.model_dump(),
                "keys": s.keys,
                "fetched_at": s.fetched_at,
                "last_success": s.last_success,
                "last_error": s.last_error,
            }
            for s in t.auth_servers
        ],
        "people": t.people.export(),
        "scim": [
            {
                "idp_id": s.idp_id,
                "token": s.token,
                "enabled": s.enabled,
                "directory": s.directory.export_state(),
            }
            for s in t.scim.values()
        ],
        "saml": t.saml.export() if t.saml is not None else None,
        "settings": t.settings.model_dump(),
        "api_roles": [
            {"name": r.name, "rank": r.rank, "permissions": {a: lv.name for a, lv in r.levels.items()}}
            for r in t.roles.values()
            if r.api
        ],
    }


def _import_tenant(t: Tenant, state: dict) -> None:
    from sims.zia.config import AuthorizationServerRef, RoleConfig, ZiaSettings
    from sims.zia.permissions import parse_levels
    from sims.zia.tenant import Role

    t.pending = PolicyConfig.load(state["pending"], t.limits)
    t.active = ActiveConfig(PolicyConfig.load(state["active"], t.limits))
    t.dirty = bool(state["dirty"])
    t.edit_lock_until = float(state["edit_lock_until"])
    t.sessions = {s["id"]: Session(**s) for s in state["sessions"]}
    load_rng(t.rng, state.get("rng"))
    servers = []
    for s in state["authorization_servers"]:
        server = t._server(AuthorizationServerRef.model_validate(s["config"]))
        server.keys, server.fetched_at = s["keys"], s["fetched_at"]
        server.last_success, server.last_error = s["last_success"], s["last_error"]
        servers.append(server)
    t.auth_servers = servers
    t.people.load(state["people"])
    t.scim = {}
    for s in state.get("scim", []):
        scim = t.enable_scim(int(s["idp_id"]), s["token"])
        scim.enabled = bool(s["enabled"])
        scim.directory.import_state(s["directory"])
    if t.saml is not None and state.get("saml") is not None:
        t.saml.load(state["saml"])
    t.apply_settings(ZiaSettings.model_validate(state["settings"]))
    for r in [r for r in t.roles.values() if r.api]:
        del t.roles[r.name]
    for i, r in enumerate(state["api_roles"]):
        cfg = RoleConfig.model_validate(r)
        t.roles[cfg.name] = Role(19000 + i, cfg.name, cfg.rank, parse_levels(cfg.permissions), api=True)
    t.token_cache.clear()


__all__ = ["AuthServer", "ZiaSim"]
