"""Control-plane operations on Mimecast: the Integrations Hub (threat sharing), event injection."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sims.mimecast.account import Account, SharingError
from sims.mimecast.config import ThreatSharingConfig
from sims.mimecast.events import mc_date


class Inject(BaseModel):
    """An event for a scenario; fields not given come from a generated event of the same kind."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["click", "impersonation"]
    at: datetime | None = Field(default=None, description="default: now on the sim clock")
    fields: dict = Field(default_factory=dict, description="e.g. url, scanResult, senderAddress, identifiers")


class Generator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


def build_router(sim) -> APIRouter:
    router = APIRouter(tags=["mimecast"])

    def account(code: str) -> Account:
        a = sim.accounts.get(code)
        if a is None:
            raise HTTPException(404, f"no Mimecast account {code}")
        return a

    def validated(body: dict) -> ThreatSharingConfig:
        try:
            return ThreatSharingConfig.model_validate(body)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise HTTPException(400, f"{where}: {first['msg']}" if where else first["msg"]) from None

    @router.get(
        "/accounts/{code}/threat-sharing", summary="Integrations Hub: every configuration and its state"
    )
    async def list_sharing(code: str) -> list[dict]:
        return [s.view() for s in account(code).sharing.values()]

    @router.post(
        "/accounts/{code}/threat-sharing", status_code=201, summary="Add a configuration and save it"
    )
    async def add_sharing(code: str, body: dict) -> dict:
        a = account(code)
        try:
            share = a.add_sharing(validated(body))
        except SharingError as err:
            raise HTTPException(
                409 if "at most" in str(err) or "exists" in str(err) else 400, str(err)
            ) from None
        sim.schedule_share(a, share)
        return share.view()

    @router.get("/accounts/{code}/threat-sharing/{name}")
    async def get_sharing(code: str, name: str) -> dict:
        share = account(code).sharing.get(name)
        if share is None:
            raise HTTPException(404, f"no threat sharing configuration {name!r}")
        return share.view()

    @router.put(
        "/accounts/{code}/threat-sharing/{name}", summary="Edit and Save (also retries a permanent error)"
    )
    async def save_sharing(code: str, name: str, body: dict | None = None) -> dict:
        a = account(code)
        share = a.sharing.get(name)
        if share is None:
            raise HTTPException(404, f"no threat sharing configuration {name!r}")
        merged = {**share.config.model_dump(), **(body or {})}
        try:
            share = a.save_sharing(name, validated(merged))
        except SharingError as err:
            raise HTTPException(400, str(err)) from None
        sim.forget_share(a, name)
        sim.schedule_share(a, share)
        return share.view()

    @router.delete("/accounts/{code}/threat-sharing/{name}", status_code=204)
    async def delete_sharing(code: str, name: str) -> None:
        a = account(code)
        if a.sharing.pop(name, None) is None:
            raise HTTPException(404, f"no threat sharing configuration {name!r}")
        sim.forget_share(a, name)

    @router.post("/accounts/{code}/events", status_code=201, summary="Inject an event for a scenario")
    async def inject(code: str, body: Inject) -> dict:
        a = account(code)
        ts = body.at.timestamp() if body.at else sim.clock.now()
        if ts > sim.clock.now():
            raise HTTPException(400, "an event cannot be in the future of the sim clock")
        book = a.events
        stream = book.clicks if body.type == "click" else book.impersonations
        template = stream.build(10_000_000 + len(stream.injected), ts)
        record = {**template, **body.fields}
        record["date" if body.type == "click" else "eventTime"] = mc_date(ts)
        if body.type == "click" and "scanResult" in body.fields and "tagMap" not in body.fields:
            record.pop("tagMap", None)
        stream.inject(ts, record)
        return record

    @router.post("/accounts/{code}/generator", summary="Turn the event generator on or off")
    async def generator(code: str, body: Generator) -> dict:
        a = account(code)
        a.generator_enabled = body.enabled
        if body.enabled:
            a.events.generate_until(sim.clock.now())
        return {
            "enabled": a.generator_enabled,
            "clicks": len(a.events.clicks),
            "impersonations": len(a.events.impersonations),
        }

    @router.post("/accounts/{code}/expire-tokens", summary="Expire every API 2.0 token of the account")
    async def expire_tokens(code: str) -> dict:
        return {"expired": sim.tokens.expire_all(account(code).code)}

    return router
