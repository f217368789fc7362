"""Control-plane operations on ZIA: the Admin Portal steps of the guide, without a browser.

API roles (Administration > Role Management), OAuth 2.0 authorization servers (Cloud Service API
Security), tenant settings, an edit lock held "by another admin", users, and views of the pending
and activated configuration.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sims.core.clock import iso
from sims.zia.config import AuthorizationServerRef, RoleConfig, ZiaSettings, ZiaUser
from sims.zia.errors import ZiaError
from sims.zia.permissions import AREAS, parse_levels
from sims.zia.tenant import Role, Tenant


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

    return router
