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
from sims.idp.provisioning import SOURCES, MappingEntry, ProvisioningConfig
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


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = None
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    department: str | None = None
    password: str | None = Field(default=None, min_length=1)
    attributes: dict[str, str] | None = None


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
        before = set(d.roles.get(role, []))
        d.roles[role] = list(dict.fromkeys(body.members))
        sim.outbound.changed(directory_id, before ^ set(d.roles[role]))  # joiners and leavers
        return {"name": role, "members": d.roles[role]}

    @router.patch("/directories/{directory_id}/users/{login}", summary="Change a user's attributes")
    async def patch_user(directory_id: str, login: str, body: UserChange) -> dict:
        d = portal(directory_id).directory
        user = d.users.get(login)
        if user is None:
            raise HTTPException(404, f"no user {login!r}")
        for name, value in body.model_dump(exclude_unset=True, exclude={"attributes"}).items():
            setattr(user, name, value)
        user.attributes.update(body.attributes or {})
        sim.outbound.changed(directory_id, {login})
        return asdict(user) | {"password": "<hidden>"}

    # -- outbound provisioning (the app's Provisioning tab) ---------------------------------------
    def provisioner(directory_id: str, app_id: str):
        web_app(portal(directory_id), app_id)
        prov = sim.outbound.apps.get((directory_id, app_id))
        if prov is None:
            raise HTTPException(404, f"provisioning is not enabled for app {app_id!r}")
        return prov

    def prov_view(prov) -> dict:
        return {
            **prov.config.model_dump(),
            "bearer_token": "********",
            "verified": prov.verified,
            "discovered": prov.discovered,
            "provisioned": prov.provisioned,
            "last_report": prov.last_report,
        }

    @router.get("/directories/{directory_id}/apps/{app_id}/provisioning")
    async def get_provisioning(directory_id: str, app_id: str) -> dict:
        return prov_view(provisioner(directory_id, app_id))

    @router.put(
        "/directories/{directory_id}/apps/{app_id}/provisioning", summary="Enable / edit provisioning"
    )
    async def put_provisioning(directory_id: str, app_id: str, body: dict) -> dict:
        web_app(portal(directory_id), app_id)
        current = sim.outbound.apps.get((directory_id, app_id))
        merged = {**(current.config.model_dump() if current else {}), **body}
        try:
            config = ProvisioningConfig.model_validate(merged)
        except ValidationError as err:
            raise invalid(err) from None
        return prov_view(sim.outbound.configure(directory_id, app_id, config))

    @router.post("/directories/{directory_id}/apps/{app_id}/provisioning/verify", summary="The Verify button")
    async def verify(directory_id: str, app_id: str) -> dict:
        result = await provisioner(directory_id, app_id).verify(sim.outbound.http)
        if not result["verified"]:
            raise HTTPException(400, f"Verify failed: {result['error']}")
        return result

    @router.post("/directories/{directory_id}/apps/{app_id}/provisioning/sync", summary="Start Sync (full)")
    async def start_sync(directory_id: str, app_id: str) -> dict:
        prov = provisioner(directory_id, app_id)
        if not prov.verified:
            raise HTTPException(409, "Verify the SCIM service URL and token first")
        return await sim.outbound.run((directory_id, app_id))

    @router.patch(
        "/directories/{directory_id}/apps/{app_id}/provisioning/mapping",
        summary="Enable a (discovered) attribute with a source, or disable one",
    )
    async def map_attribute(directory_id: str, app_id: str, body: MappingEntry) -> dict:
        prov = provisioner(directory_id, app_id)
        if body.source and not (body.source in SOURCES or body.source.startswith("attributes.")):
            raise HTTPException(
                400, f"unknown source {body.source!r} (use {', '.join(SOURCES)} or attributes.<name>)"
            )
        entries = [m for m in prov.config.mapping if m.target != body.target]
        prov.config.mapping = [*entries, body]
        return prov_view(prov)

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
