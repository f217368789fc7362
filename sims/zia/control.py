"""Control-plane operations on ZIA: the Admin Portal steps of the guide, without a browser.

API roles (Administration > Role Management), OAuth 2.0 authorization servers (Cloud Service API
Security), tenant settings, an edit lock held "by another admin", users, and views of the pending
and activated configuration.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sims import samlkit as sk
from sims.core.clock import iso
from sims.zia.config import (
    AuthenticationProfile,
    AuthorizationServerRef,
    IdentityProviderConfig,
    RoleConfig,
    ZiaSettings,
    ZiaUser,
)
from sims.zia.errors import ZiaError
from sims.zia.permissions import AREAS, parse_levels
from sims.zia.sso import IdentityProvider, SamlSP, sp_material
from sims.zia.tenant import Role, Tenant


class ScimSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class EditLock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(gt=0, le=86400)


class Validate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jwks_url: str
    validate_jwks_certificate: bool = True


def build_router(sim) -> APIRouter:
    router = APIRouter(tags=["zia"])

    def tenant(org_id: str) -> Tenant:
        t = sim.tenants.get(org_id)
        if t is None:
            raise HTTPException(404, f"no ZIA organization {org_id}")
        return t

    def config_view(t: Tenant, view: str) -> dict:
        cfg = t.pending if view == "pending" else t.active.config
        return {
            "view": view,
            "pending_changes": t.dirty,
            "categories": [c.to_api() for c in cfg.categories.items.values() if c.custom]
            + [c.to_api() for c in cfg.categories.items.values() if not c.custom and (c.urls or c.db_urls)],
            "rules": cfg.rules.listing(),
            "ip_destination_groups": list(cfg.ip_groups.groups.values()),
            "quota": cfg.categories.quota(),
        }

    @router.get("/tenants", summary="Every ZIA organization with its admins and OAuth servers")
    async def tenants() -> dict:
        return sim.describe()

    @router.get("/tenants/{org_id}/config", summary="The pending or the activated configuration")
    async def config(org_id: str, view: Literal["pending", "active"] = Query("pending")) -> dict:
        return config_view(tenant(org_id), view)

    @router.post("/tenants/{org_id}/activate", summary="Activate pending changes (the portal's Activate)")
    async def activate(org_id: str) -> dict:
        try:
            return tenant(org_id).activate()
        except ZiaError as err:
            raise HTTPException(err.status, err.body()) from None

    # -- API roles -------------------------------------------------------------------------------
    @router.get("/tenants/{org_id}/api-roles")
    async def api_roles(org_id: str) -> list[dict]:
        return [
            {"name": r.name, "rank": r.rank, "permissions": {a: lv.name for a, lv in r.levels.items()}}
            for r in tenant(org_id).roles.values()
            if r.api
        ]

    @router.get("/permission-areas", summary="The permission areas of the Add API Role page")
    async def areas() -> dict:
        return AREAS

    @router.put("/tenants/{org_id}/api-roles/{name}", summary="Add or replace an API role")
    async def put_role(org_id: str, name: str, body: dict) -> dict:
        t = tenant(org_id)
        try:
            cfg = RoleConfig.model_validate({**body, "name": name})
        except (ValidationError, ValueError) as err:
            raise HTTPException(400, str(err).splitlines()[0] if str(err) else "invalid role") from None
        existing = t.roles.get(name)
        if existing is not None and not existing.api:
            raise HTTPException(409, f"{name!r} is an admin role")
        if existing is None and sum(r.api for r in t.roles.values()) >= 16:
            raise HTTPException(400, "ZIA allows at most 16 API roles")
        role_id = existing.id if existing else 19000 + len(t.roles)
        t.roles[name] = Role(role_id, name, cfg.rank, parse_levels(cfg.permissions), api=True)
        t.token_cache.clear()
        return {
            "name": name,
            "rank": cfg.rank,
            "permissions": {a: lv.name for a, lv in t.roles[name].levels.items()},
        }

    @router.delete("/tenants/{org_id}/api-roles/{name}", status_code=204)
    async def delete_role(org_id: str, name: str) -> None:
        t = tenant(org_id)
        role = t.roles.get(name)
        if role is None or not role.api:
            raise HTTPException(404, f"no API role {name!r}")
        del t.roles[name]
        t.token_cache.clear()

    # -- OAuth 2.0 authorization servers ---------------------------------------------------------
    @router.get("/tenants/{org_id}/authorization-servers")
    async def servers(org_id: str) -> list[dict]:
        return [s.view() for s in tenant(org_id).auth_servers]

    @router.post("/tenants/{org_id}/authorization-servers/validate", summary="The form's Validate button")
    async def validate(org_id: str, body: Validate) -> dict:
        tenant(org_id)
        url = sim.resolve(body.jwks_url, "jwks") if body.jwks_url.startswith("idp:") else body.jwks_url
        try:
            document = await sim._fetch_jwks(url, body.validate_jwks_certificate)
            kids = [k.get("kid") for k in document.get("keys", []) if isinstance(k, dict)]
        except Exception as err:
            raise HTTPException(400, f"JWKS at {url} could not be fetched: {type(err).__name__}") from None
        if not kids:
            raise HTTPException(400, f"JWKS at {url} has no keys")
        return {"jwks_url": url, "kids": kids, "validated_at": iso(sim.clock.now())}

    @router.put("/tenants/{org_id}/authorization-servers", summary="Replace the servers (at most two)")
    async def put_servers(org_id: str, body: list[dict]) -> list[dict]:
        t = tenant(org_id)
        try:
            refs = [AuthorizationServerRef.model_validate(b) for b in body]
            for ref in refs:
                sim.resolve(ref.jwks_url, "jwks")
        except (ValidationError, ValueError) as err:
            raise HTTPException(400, str(err).replace("\n", " ")) from None
        try:
            t.set_servers(refs)
        except ZiaError as err:
            raise HTTPException(400, err.message) from None
        return [s.view() for s in t.auth_servers]

    # -- settings, edit lock, users, sessions ----------------------------------------------------
    @router.get("/tenants/{org_id}/settings")
    async def get_settings(org_id: str) -> dict:
        return tenant(org_id).settings.model_dump()

    @router.patch("/tenants/{org_id}/settings", summary="Change settings (e.g. realistic_rate_limits)")
    async def patch_settings(org_id: str, body: dict) -> dict:
        t = tenant(org_id)
        try:
            t.apply_settings(ZiaSettings.model_validate({**t.settings.model_dump(), **body}))
        except ValidationError as err:
            raise HTTPException(400, str(err).replace("\n", " ")) from None
        return t.settings.model_dump()

    @router.post("/tenants/{org_id}/edit-lock", summary="Hold the edit lock as another admin would")
    async def lock(org_id: str, body: EditLock) -> dict:
        t = tenant(org_id)
        t.edit_lock_until = sim.clock.now() + body.seconds
        return {"locked_until": iso(t.edit_lock_until)}

    @router.delete("/tenants/{org_id}/edit-lock", status_code=204)
    async def unlock(org_id: str) -> None:
        tenant(org_id).edit_lock_until = 0.0

    @router.post("/tenants/{org_id}/users", status_code=201)
    async def add_user(org_id: str, body: ZiaUser) -> dict:
        t = tenant(org_id)
        if t.people.by_name(body.name):
            raise HTTPException(409, f"user {body.name!r} exists")
        return t.people.user_view(t.people.add(body))

    @router.get("/tenants/{org_id}/sessions")
    async def sessions(org_id: str) -> list[dict]:
        return [
            {"username": s.username, "created": iso(s.created), "last_seen": iso(s.last_seen)}
            for s in tenant(org_id).sessions.values()
        ]

    # -- SAML: Identity Providers (Add IdP / Edit IdP) and the Authentication Profile -------------
    # Edits are pending until Activate (POST /tenants/<org>/activate), as in the Admin Portal.
    def sso(org_id: str) -> SamlSP:
        t = tenant(org_id)
        if t.saml is None:
            raise HTTPException(404, f"ZIA organization {org_id} has no SAML service provider")
        return t.saml

    def idp(sp: SamlSP, idp_id: int) -> IdentityProvider:
        found = sp.pending.idps.get(idp_id)
        if found is None:
            raise HTTPException(404, f"no identity provider {idp_id}")
        return found

    def idp_config(raw: dict) -> IdentityProviderConfig:
        try:
            return IdentityProviderConfig.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise HTTPException(400, f"{where}: {first['msg']}" if where else first["msg"]) from None

    def saml_change(action):
        try:
            return action()
        except ValueError as err:
            raise HTTPException(400, str(err)) from None
        except ZiaError as err:
            raise HTTPException(err.status, err.body()) from None

    @router.get("/tenants/{org_id}/idps", summary="Identity Providers (pending, with what is active)")
    async def list_idps(org_id: str) -> list[dict]:
        return sso(org_id).listing()

    @router.post("/tenants/{org_id}/idps", status_code=201, summary="Add IdP")
    async def add_idp(org_id: str, body: dict) -> dict:
        sp = sso(org_id)
        tenant(org_id).check_edit_lock()
        created = saml_change(lambda: sp.add_idp(idp_config(body)))
        return sp.idp_view(created, False)

    @router.get("/tenants/{org_id}/idps/{idp_id}", summary="Edit IdP (the form's values)")
    async def get_idp(org_id: str, idp_id: int) -> dict:
        sp = sso(org_id)
        found = idp(sp, idp_id)
        return sp.idp_view(found, sp.active.idps.get(idp_id) is found)

    @router.put("/tenants/{org_id}/idps/{idp_id}", summary="Save the Edit IdP form (every field)")
    async def put_idp(org_id: str, idp_id: int, body: dict) -> dict:
        sp = sso(org_id)
        idp(sp, idp_id)
        updated = saml_change(lambda: sp.update_idp(idp_id, idp_config(body)))
        return sp.idp_view(updated, False)

    @router.patch("/tenants/{org_id}/idps/{idp_id}", summary="Change some fields of an IdP")
    async def patch_idp(org_id: str, idp_id: int, body: dict) -> dict:
        sp = sso(org_id)
        raw = {**idp(sp, idp_id).config.model_dump(mode="json"), **body}
        updated = saml_change(lambda: sp.update_idp(idp_id, idp_config(raw)))
        return sp.idp_view(updated, False)

    @router.delete("/tenants/{org_id}/idps/{idp_id}", status_code=204)
    async def delete_idp(org_id: str, idp_id: int) -> None:
        sp = sso(org_id)
        idp(sp, idp_id)
        saml_change(lambda: sp.delete_idp(idp_id))

    @router.get("/tenants/{org_id}/idps/{idp_id}/sp-metadata", summary="Download Metadata (SP metadata)")
    async def idp_sp_metadata(org_id: str, idp_id: int) -> Response:
        sp = sso(org_id)
        return Response(sp.sp_metadata(idp(sp, idp_id)), media_type="application/samlmetadata+xml")

    @router.get("/tenants/{org_id}/idps/{idp_id}/sp-certificate", summary="Download Certificate (SP)")
    async def idp_sp_certificate(org_id: str, idp_id: int) -> Response:
        sp = sso(org_id)
        return PlainTextResponse(sk.cert_to_pem(sp.sp_certificate(idp(sp, idp_id))[2]))

    @router.get("/tenants/{org_id}/sp-certificates", summary="The SP's request-signing certificates")
    async def sp_certificates(org_id: str) -> list[dict]:
        sp = sso(org_id)
        out = []
        for c in tenant(org_id).config.sp_certificates:
            cert = sp_material(sim.ctx.world.seed, sp.org, c)[1]
            expires = cert.not_valid_after_utc.timestamp()
            out.append({"name": c.name, "expires": iso(expires), "expired": expires <= sim.clock.now()})
        return out

    @router.get("/tenants/{org_id}/authentication-profile", summary="Authentication Profile")
    async def get_profile(org_id: str) -> dict:
        return sso(org_id).profile_view()

    @router.put("/tenants/{org_id}/authentication-profile", summary="Save the Authentication Profile")
    async def put_profile(org_id: str, body: dict) -> dict:
        sp = sso(org_id)
        try:
            profile = AuthenticationProfile.model_validate({**sp.pending.profile.model_dump(), **body})
        except ValidationError as err:
            raise HTTPException(400, err.errors()[0]["msg"]) from None
        saml_change(lambda: sp.set_profile(profile))
        return sp.profile_view()

    @router.get("/tenants/{org_id}/user-sessions", summary="End users signed in with SAML")
    async def user_sessions(org_id: str) -> list[dict]:
        return [
            {
                "login": s.login,
                "user_id": s.user_id,
                "idp_id": s.idp_id,
                "created": iso(s.created),
                "expires": iso(s.expires),
                "sp_initiated": s.in_response_to is not None,
            }
            for s in sso(org_id).sessions.values()
        ]

    # -- SCIM on an IdP (Edit IdP > Enable SCIM Provisioning, Generate Token) ---------------------
    def scim_view(t: Tenant, scim) -> dict:
        return {
            "idp_id": scim.idp_id,
            "enabled": scim.enabled,
            "bearer_token": scim.token,
            "base_url": f"{sim.base_url}/{t.config.org_id}/{scim.idp_id}/scim",
            "users": len(scim.directory.users),
            "groups": len(scim.directory.groups),
        }

    def saved_idp(t: Tenant, idp_id: int) -> None:
        if t.saml is None or idp_id not in t.saml.pending.idps:
            raise HTTPException(409, f"IdP {idp_id} is not saved: save the IdP before enabling SCIM")

    @router.get("/tenants/{org_id}/idps/{idp_id}/scim", summary="The IdP's SCIM settings")
    async def get_scim(org_id: str, idp_id: int) -> dict:
        t = tenant(org_id)
        scim = t.scim.get(idp_id)
        if scim is None:
            raise HTTPException(404, f"SCIM is not enabled on IdP {idp_id}")
        return scim_view(t, scim)

    @router.put("/tenants/{org_id}/idps/{idp_id}/scim", summary="Enable or disable SCIM provisioning")
    async def put_scim(org_id: str, idp_id: int, body: ScimSwitch) -> dict:
        t = tenant(org_id)
        saved_idp(t, idp_id)
        if body.enabled:
            scim = t.scim.get(idp_id) or t.enable_scim(idp_id)
            scim.enabled = True
        else:
            scim = t.scim.get(idp_id)
            if scim is None:
                raise HTTPException(404, f"SCIM is not enabled on IdP {idp_id}")
            scim.enabled = False
        return scim_view(t, scim)

    @router.post(
        "/tenants/{org_id}/idps/{idp_id}/scim/token", summary="Generate Token (the old one stops working)"
    )
    async def generate_token(org_id: str, idp_id: int) -> dict:
        t = tenant(org_id)
        saved_idp(t, idp_id)
        if idp_id not in t.scim:
            raise HTTPException(409, f"enable SCIM on IdP {idp_id} first")
        return scim_view(t, t.enable_scim(idp_id))

    return router
