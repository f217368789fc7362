"""The identity provider sim: OAuth 2.0 authorization servers, and directories with SAML 2.0 web apps."""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI

from sims.core.sim import Sim
from sims.idp.directory import Directory
from sims.idp.oauth import AuthorizationServer
from sims.idp.outbound import Outbound
from sims.idp.sso import SamlPortal

_STATUS_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    429: "slow_down",
    500: "server_error",
    502: "server_error",
    503: "temporarily_unavailable",
    504: "temporarily_unavailable",
}


class IdpSim(Sim):
    name = "idp"
    default_port = 7401
    title = "Identity provider (OAuth 2.0 authorization servers, SAML 2.0 SSO)"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        cfg = ctx.world.idp
        self.servers = {
            a.id: AuthorizationServer(a, ctx.base_url, ctx.world.seed, ctx.clock)
            for a in cfg.authorization_servers
        }
        self.root_server = next((s for s in self.servers.values() if s.config.root_alias), None)
        self.directories = {d.id: Directory(d) for d in cfg.directories}
        self.portals = {
            d.id: SamlPortal(self.directories[d.id], ctx.world, ctx.urls, ctx.clock) for d in cfg.directories
        }
        self.outbound = Outbound(self)

    # -- state -----------------------------------------------------------------------------------
    def reset(self) -> None:
        for s in self.servers.values():
            s.reset()
        for d in self.directories.values():
            d.reset()
        for p in self.portals.values():
            p.reset()
        self.outbound.reset()

    def export_state(self) -> dict:
        return {
            "authorization_servers": {k: s.export() for k, s in self.servers.items()},
            "directories": {k: d.export() for k, d in self.directories.items()},
            "saml": {k: p.export() for k, p in self.portals.items()},
            "provisioning": self.outbound.export(),
        }

    def import_state(self, state: dict) -> None:
        for key, sstate in state.get("authorization_servers", {}).items():
            if key not in self.servers:
                raise ValueError(f"state names authorization server {key!r}, which the world does not have")
            self.servers[key].load(sstate)
        for key, dstate in state.get("directories", {}).items():
            if key not in self.directories:
                raise ValueError(f"state names directory {key!r}, which the world does not have")
            self.directories[key].load(dstate)
        for key, pstate in state.get("saml", {}).items():
            if key not in self.portals:
                raise ValueError(f"state names directory {key!r}, which the world does not have")
            self.portals[key].load(pstate)
        self.outbound.load(state.get("provisioning", {}))

    def schedule_jobs(self) -> None:
        for server in self.servers.values():
            period = server.config.rotate_every
            if period:
                self.clock.every(period, f"idp:{server.config.id}:rotate-keys", server.rotate_keys)
        self.outbound.schedule_jobs()

    # -- HTTP ------------------------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        from sims.idp.app import TokenFastPath, build_app

        return TokenFastPath(build_app(self), self)

    def control_router(self) -> APIRouter:
        from sims.idp.control import build_router

        return build_router(self)

    def server_for_path(self, path: str) -> AuthorizationServer | None:
        parts = path.split("/", 3)
        if len(parts) < 2:
            return None
        if parts[1] == "oauth2":
            if len(parts) > 2 and parts[2] in self.servers:
                return self.servers[parts[2]]
            return self.root_server
        if parts[1] == ".well-known":
            return self.root_server
        return self.servers.get(parts[1])

    def tenant_of(self, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        if first in self.directories:
            return first
        server = self.server_for_path(path)
        return server.config.id if server else None

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        body = {"error": _STATUS_ERRORS.get(status, "server_error"), "error_description": message}
        return json.dumps(body).encode(), "application/json"

    # -- discovery -------------------------------------------------------------------------------
    @staticmethod
    def _app_view(app) -> dict:
        return {
            "id": app.config.id,
            "name": app.name,
            "template": app.config.template,
            "app_key": app.key_id,
            "saml_portal_url": app.sso_url,
            "sso_url": app.sso_url,
            "idp_entity_id": app.entity_id,
            "metadata_url": app.metadata_url,
            "certificate_url": app.certificate_url,
            "launch_url": app.launch_url,
            "sp_entity_id": app.sp_entity_id,
            "acs_url": app.acs_url,
            "require_signed_requests": app.config.require_signed_requests,
            "roles": list(app.config.roles),
        }

    def describe(self) -> dict:
        servers = []
        for s in self.servers.values():
            clients = []
            for c in s.clients.values():
                live = [x.value for x in c.secrets if x.live(self.clock.now())]
                entry = {
                    "client_id": c.client_id,
                    "client_secret": live[-1] if live else None,
                    "auth_methods": list(c.config.auth_methods),
                    "scopes": list(c.config.scopes),
                }
                if c.private_key_pem():
                    entry["private_key_pem"] = c.private_key_pem()
                clients.append(entry)
            servers.append(
                {
                    "id": s.config.id,
                    "flavour": s.flavour,
                    "name": s.config.name,
                    "issuer": s.issuer,
                    "audience": s.audience,
                    "token_endpoint": s.url("token"),
                    "jwks_uri": s.url("jwks"),
                    "discovery": s.url("discovery"),
                    "scope_claim": s.scope_claim,
                    "client_id_claim": s.client_id_claim,
                    "clients": clients,
                }
            )
            if s.config.root_alias:
                servers[-1]["root_token_endpoint"] = f"{self.base_url}/oauth2/v1/token"
        directories = [
            {
                "id": d.id,
                "name": d.config.name,
                "users": len(d.users),
                "roles": sorted(d.roles),
                "user_portal_url": f"{self.base_url}/{d.id}/my",
                "login_url": f"{self.base_url}/{d.id}/login",
                "web_apps": [self._app_view(a) for a in self.portals[d.id].apps.values()],
            }
            for d in self.directories.values()
        ]
        return {"authorization_servers": servers, "directories": directories}
