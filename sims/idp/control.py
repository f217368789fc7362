"""Control-plane operations on the idp: key and secret rotation, direct token minting, directory."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from sims.core.clock import iso
from sims.idp.oauth import AuthorizationServer, OAuthClient


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

    return router
