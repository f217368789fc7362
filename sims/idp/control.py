"""Control-plane operations on the idp: key and secret rotation, direct token minting, the directory
(users, roles) and its SAML web apps (settings, trust, broken Responses, minted Responses)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sims import samlkit as sk
from sims.core.clock import iso
from sims.idp.config import BrokenMode, DirectoryUser, WebAppConfig
from sims.idp.oauth import AuthorizationServer, OAuthClient
from sims.idp.saml import SsoError, WebApp
from sims.idp.sso import SamlPortal


class RotateKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: float | None = Field(default=None, ge=0, description="default: the server's key_grace")


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: float = Field(default=0, ge=0, description="how long the old secret keeps working")
    new_secret: str | None = Field(default=None, min_length=8, description="default: generated")


class ExpireSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime | None = Field(default=None, description="default: now")


class MintToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str
    scopes: list[str] | None = Field(default=None, description="default: every scope the client may have")


class RoleMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[str] = Field(default_factory=list)


class SpMetadataUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    xml: str = Field(min_length=1, max_length=256 * 1024, description="the SP's metadata document")
    set_urls: bool = Field(default=False, description="also take the entity id and ACS URL (Zscaler apps)")


class Break(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: BrokenMode
    count: int | None = Field(default=None, ge=1, description="how many Responses (default: until cleared)")


class MintResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    in_response_to: str | None = None


def build_router(sim) -> APIRouter:
    router = APIRouter(tags=["idp"])

    def server(as_id: str) -> AuthorizationServer:
        s = sim.servers.get(as_id)
        if s is None:
            raise HTTPException(404, f"no authorization server {as_id!r}")
        return s

    def client(s: AuthorizationServer, client_id: str) -> OAuthClient:
        c = s.clients.get(client_id)
        if c is None:
            raise HTTPException(404, f"no client {client_id!r} on {s.config.id!r}")
        return c

    def client_view(c: OAuthClient) -> dict:
        now = sim.clock.now()
        return {
            "client_id": c.client_id,
            "auth_methods": c.config.auth_methods,
            "scopes": c.config.scopes,
            "secrets": [
                {
                    "value": x.value,
                    "expires_at": iso(x.expires_at) if x.expires_at else None,
                    "live": x.live(now),
                }
                for x in c.secrets
            ],
        }

    def server_view(s: AuthorizationServer) -> dict:
        now = sim.clock.now()
        return {
            "id": s.config.id,
            "flavour": s.flavour,
            "issuer": s.issuer,
            "signing_kid": s.keys.signing.kid,
            "keys": [
                {
                    "kid": k.kid,
                    "created_at": iso(k.created_at),
                    "retire_at": iso(k.retire_at) if k.retire_at else None,
                    "published": k.published(now),
                }
                for k in s.keys.keys
            ],
            "clients": [client_view(c) for c in s.clients.values()],
            "tokens_issued": s.issued,
        }

    @router.get("/authorization-servers", summary="Authorization servers with keys and client secrets")
    async def list_servers() -> list[dict]:
        return [server_view(s) for s in sim.servers.values()]

    @router.get("/authorization-servers/{as_id}")
    async def get_server(as_id: str) -> dict:
        return server_view(server(as_id))

    @router.post("/authorization-servers/{as_id}/rotate-keys", summary="Publish a new signing key")
    async def rotate_keys(as_id: str, body: RotateKeys | None = None) -> dict:
        s = server(as_id)
        s.rotate_keys((body or RotateKeys()).grace_seconds)
        return server_view(s)

    @router.post("/authorization-servers/{as_id}/clients/{client_id}/rotate-secret")
    async def rotate_secret(as_id: str, client_id: str, body: RotateSecret | None = None) -> dict:
        body = body or RotateSecret()
        s = server(as_id)
        c = client(s, client_id)
        if not c.secrets:
            raise HTTPException(409, f"client {client_id!r} has no secret to rotate")
        value = body.new_secret or s.new_secret_value(client_id)
        c.rotate_secret(value, sim.clock.now(), body.grace_seconds)
        return {"client_secret": value, **client_view(c)}

    @router.post("/authorization-servers/{as_id}/clients/{client_id}/expire-secret")
    async def expire_secret(as_id: str, client_id: str, body: ExpireSecret | None = None) -> dict:
        c = client(server(as_id), client_id)
        at = body.at.timestamp() if body and body.at else sim.clock.now()
        for x in c.secrets:
            if x.expires_at is None or x.expires_at > at:
                x.expires_at = at
        return client_view(c)

    @router.post("/authorization-servers/{as_id}/tokens", summary="Mint a token without the token endpoint")
    async def mint(as_id: str, body: MintToken) -> dict:
        s = server(as_id)
        c = client(s, body.client_id)
        grant = s.issue(c, body.scopes if body.scopes is not None else list(c.config.scopes))
        return s.token_response(grant)

    @router.get("/directories/{directory_id}/users")
    async def users(directory_id: str) -> list[dict]:
        d = sim.directories.get(directory_id)
        if d is None:
            raise HTTPException(404, f"no directory {directory_id!r}")
        return [d_user | {"password": "<hidden>"} for d_user in d.export()["users"]]

    # -- directory users and roles (Core Services > Users, Roles) --------------------------------
    def portal(directory_id: str) -> SamlPortal:
        p = sim.portals.get(directory_id)
        if p is None:
            raise HTTPException(404, f"no directory {directory_id!r}")
        return p

    def invalid(err: Exception) -> HTTPException:
        text = str(err).replace("\n", " ")
        return HTTPException(400, text[:600] or "invalid request")

    @router.post("/directories/{directory_id}/users", status_code=201, summary="Add a user to the directory")
    async def add_user(directory_id: str, body: DirectoryUser) -> dict:
        d = portal(directory_id).directory
        if body.login in d.users:
            raise HTTPException(409, f"user {body.login!r} exists")
        return asdict(d.add_user(body)) | {"password": "<hidden>"}

    @router.put("/directories/{directory_id}/roles/{role}", summary="Create a role or replace its members")
    async def put_role(directory_id: str, role: str, body: RoleMembers) -> dict:
        d = portal(directory_id).directory
        unknown = [m for m in body.members if m not in d.users]
        if unknown:
            raise HTTPException(400, f"unknown user {unknown[0]!r}")
        d.roles[role] = list(dict.fromkeys(body.members))
        return {"name": role, "members": d.roles[role]}

    # -- SAML web apps (Apps & Widgets > Web Apps: Settings, Trust, SAML Response) ---------------
    def web_app(p: SamlPortal, app_id: str) -> WebApp:
        found = p.apps.get(app_id)
        if found is None:
            raise HTTPException(404, f"no web app {app_id!r} in directory {p.id!r}")
        return found

    def put(p: SamlPortal, raw: dict) -> WebApp:
        try:
            return p.put_app(WebAppConfig.model_validate(raw))
        except (ValidationError, ValueError) as err:
            raise invalid(err) from None

    @router.get("/directories/{directory_id}/apps", summary="The directory's web apps")
    async def list_apps(directory_id: str) -> list[dict]:
        return [a.view() for a in portal(directory_id).apps.values()]

    @router.post("/directories/{directory_id}/apps", status_code=201, summary="Add Web Apps (e.g. Zscaler)")
    async def add_app(directory_id: str, body: dict) -> dict:
        p = portal(directory_id)
        if body.get("id") in p.apps:
            raise HTTPException(409, f"web app {body.get('id')!r} exists")
        return put(p, body).view()

    @router.get("/directories/{directory_id}/apps/{app_id}")
    async def get_app(directory_id: str, app_id: str) -> dict:
        return web_app(portal(directory_id), app_id).view()

    @router.patch("/directories/{directory_id}/apps/{app_id}", summary="Change an app's settings")
    async def patch_app(directory_id: str, app_id: str, body: dict) -> dict:
        p = portal(directory_id)
        current = web_app(p, app_id)
        raw = {**current.config.model_dump(mode="json"), **body, "id": app_id}
        broken, left = current.broken, current.broken_left
        updated = put(p, raw)
        if "broken" not in body:
            updated.broken, updated.broken_left = broken, left
        return updated.view()

    @router.delete("/directories/{directory_id}/apps/{app_id}", status_code=204)
    async def delete_app(directory_id: str, app_id: str) -> None:
        p = portal(directory_id)
        web_app(p, app_id)
        del p.apps[app_id]

    @router.get("/directories/{directory_id}/apps/{app_id}/metadata", summary="IdP metadata (Trust page)")
    async def app_metadata(directory_id: str, app_id: str) -> Response:
        found = web_app(portal(directory_id), app_id)
        return Response(found.metadata(sim.clock.now()), media_type="application/samlmetadata+xml")

    @router.get(
        "/directories/{directory_id}/apps/{app_id}/certificate", summary="Download Signing Certificate"
    )
    async def app_certificate(directory_id: str, app_id: str) -> Response:
        return PlainTextResponse(web_app(portal(directory_id), app_id).certificate_pem())

    @router.post("/directories/{directory_id}/apps/{app_id}/sp-metadata", summary="Upload the SP's metadata")
    async def upload_sp_metadata(directory_id: str, app_id: str, body: SpMetadataUpload) -> dict:
        p = portal(directory_id)
        current = web_app(p, app_id)
        try:
            meta = sk.read_sp_metadata(body.xml.encode())
        except sk.SamlXmlError as err:
            raise HTTPException(400, err.message) from None
        raw = current.config.model_dump(mode="json")
        if meta.certificate is not None:
            raw["sp_certificate"] = sk.cert_to_pem(meta.certificate)
        raw["require_signed_requests"] = meta.authn_requests_signed and meta.certificate is not None
        if current.config.template == "saml" or body.set_urls:
            raw["sp_entity_id"] = meta.entity_id or raw.get("sp_entity_id")
            raw["acs_url"] = (meta.acs_urls or [raw.get("acs_url")])[0]
        return put(p, raw).view()

    @router.post(
        "/directories/{directory_id}/apps/{app_id}/break", summary="Send deliberately broken Responses"
    )
    async def break_app(directory_id: str, app_id: str, body: Break) -> dict:
        found = web_app(portal(directory_id), app_id)
        found.broken, found.broken_left = body.mode, body.count
        return found.view()

    @router.delete("/directories/{directory_id}/apps/{app_id}/break", summary="Back to correct Responses")
    async def unbreak_app(directory_id: str, app_id: str) -> dict:
        found = web_app(portal(directory_id), app_id)
        found.broken, found.broken_left = None, None
        return found.view()

    @router.post("/directories/{directory_id}/apps/{app_id}/responses", summary="Mint a signed Response")
    async def mint_response(directory_id: str, app_id: str, body: MintResponse) -> dict:
        p = portal(directory_id)
        try:
            done = p.response_for(web_app(p, app_id), body.user, body.in_response_to)
        except SsoError as err:
            raise HTTPException(err.status, err.message) from None
        return {
            "acs_url": done.acs_url,
            "saml_response": done.saml_response,
            "relay_state": done.relay_state,
            "broken": done.broken,
        }

    @router.get("/directories/{directory_id}/sessions", summary="Users signed in to the portal")
    async def portal_sessions(directory_id: str) -> list[dict]:
        return [
            {"login": s.login, "created": iso(s.created), "expires": iso(s.expires)}
            for s in portal(directory_id).sessions.values()
        ]

    return router
