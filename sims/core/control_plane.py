"""The control plane (port 7400): health, reset, state, clock, faults, journal, mailbox, sim admin."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sims.core.faults import FaultSpec
from sims.core.runtime import Runtime, StateError


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400, description="how far to move time forward")


class ClockFreeze(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime | None = Field(default=None, description="instant to freeze at (default: now)")


class ClockSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime


class HealthSim(BaseModel):
    status: Literal["serving", "starting"]
    url: str


class Health(BaseModel):
    status: Literal["ok", "starting"]
    world: str
    sims: dict[str, HealthSim]


def build_control_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="sims control plane",
        version="1",
        description="Control the simulated world: health, reset, state, clock, faults, journal, mailbox.",
    )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "details": errors}, status_code=400)

    async def authorized(request: Request) -> None:
        token = rt.control_token
        if not token:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip() if scheme.lower() == "bearer" else ""
        if not value and request.url.path.startswith("/ui"):  # a browser cannot send a bearer header
            value = request.query_params.get("token", "")
        if not value or not hmac.compare_digest(value.encode(), token.encode()):
            raise HTTPException(401, "control plane token required", headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorized)]
    from sims.core.ui import build_ui_router  # the web dashboard (Jinja2 templates)

    app.include_router(build_ui_router(rt), prefix="/ui", dependencies=guarded)

    @app.get("/health", response_model=Health, summary="200 once every sim is serving (no token needed)")
    async def health() -> JSONResponse:
        sims = {
            name: {"status": "serving" if rt.serving.get(name) else "starting", "url": rt.urls[name]}
            for name in rt.sims
        }
        ok = all(rt.serving.values())
        body = {"status": "ok" if ok else "starting", "world": rt.world.name, "sims": sims}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        dependencies=guarded,
        response_class=Response,
        summary="Prometheus metrics: requests by sim, route and status; latency histograms",
    )
    async def metrics() -> Response:
        body, ctype = rt.metrics.exposition()
        return Response(body, media_type=ctype)

    @app.get("/world", dependencies=guarded, summary="The resolved world (same as `sims world --json`)")
    async def world() -> dict:
        return rt.describe()

    @app.post("/reset", dependencies=guarded, summary="Back to the world as loaded")
    async def reset() -> dict:
        rt.reset()
        return {"status": "reset", "clock": rt.clock.state()}

    @app.get("/state", dependencies=guarded, summary="Export the whole state as JSON")
    async def export_state() -> dict:
        return rt.export_state()

    @app.put("/state", dependencies=guarded, summary="Import a state exported earlier (all or nothing)")
    async def import_state(request: Request) -> dict:
        try:
            state = await request.json()
        except ValueError:
            raise HTTPException(400, "body is not JSON") from None
        try:
            rt.import_state(state)
        except StateError as err:
            raise HTTPException(400, str(err)) from None
        return {"status": "imported"}

    # -- clock -----------------------------------------------------------------------------------
    @app.get("/clock", dependencies=guarded)
    async def clock() -> dict:
        return rt.clock.state()

    @app.post("/clock/freeze", dependencies=guarded)
    async def freeze(body: ClockFreeze | None = None) -> dict:
        rt.clock.freeze(body.at.timestamp() if body and body.at else None)
        return rt.clock.state()

    @app.post("/clock/resume", dependencies=guarded, summary="Follow real time from the current instant")
    async def resume() -> dict:
        rt.clock.resume()
        return rt.clock.state()

    @app.post("/clock/advance", dependencies=guarded, summary="Move time forward, running due jobs in order")
    async def advance(body: ClockAdvance) -> dict:
        try:
            ran = await rt.clock.advance_async(body.seconds)
        except RuntimeError:
            raise HTTPException(409, "the clock is running scheduled jobs; retry the advance") from None
        return {**rt.clock.state(), "jobs_run": ran}

    @app.post("/clock/set", dependencies=guarded, summary="Jump to an instant (forward runs due jobs)")
    async def set_clock(body: ClockSet) -> dict:
        try:
            await rt.clock.set_async(body.at.timestamp())
        except RuntimeError:
            raise HTTPException(409, "the clock is running scheduled jobs; retry") from None
        return rt.clock.state()

    # -- faults ----------------------------------------------------------------------------------
    @app.get("/faults", dependencies=guarded)
    async def list_faults() -> list[dict]:
        return [r.describe() for r in rt.faults.rules.values()]

    @app.post("/faults", dependencies=guarded, status_code=201)
    async def add_fault(spec: FaultSpec) -> dict:
        if spec.sim is not None and spec.sim not in rt.sims:
            raise HTTPException(400, f"no sim {spec.sim!r} runs in this world")
        return rt.faults.add(spec).describe()

    @app.delete("/faults/{fault_id}", dependencies=guarded, status_code=204)
    async def remove_fault(fault_id: str) -> None:
        if not rt.faults.remove(fault_id):
            raise HTTPException(404, f"no fault {fault_id!r}")

    @app.delete("/faults", dependencies=guarded, status_code=204)
    async def clear_faults() -> None:
        rt.faults.clear()

    # -- journal ---------------------------------------------------------------------------------
    @app.get("/journal", dependencies=guarded, summary="Recorded requests, oldest first")
    async def journal(
        sim: str | None = None,
        method: str | None = None,
        path: str | None = Query(default=None, description="substring, or `re:<regex>`"),
        status: int | None = None,
        tenant: str | None = None,
        since_id: int = Query(default=0, ge=0),
        limit: int = Query(default=100, ge=1, le=10_000),
        detail: bool = Query(default=False, description="include headers and bodies"),
    ) -> dict:
        try:
            entries = rt.journal.query(
                sim=sim,
                method=method,
                path=path,
                status=status,
                tenant=tenant,
                since_id=since_id,
                limit=limit,
            )
        except Exception as err:  # a bad regular expression
            raise HTTPException(400, f"bad path filter: {err}") from None
        return {
            "total": rt.journal.total,
            "kept": len(rt.journal),
            "entries": [e.detail() if detail else e.summary() for e in entries],
        }

    @app.get("/journal/{entry_id}", dependencies=guarded)
    async def journal_entry(entry_id: int) -> dict:
        entry = rt.journal.get(entry_id)
        if entry is None:
            raise HTTPException(404, f"no journal entry {entry_id} (it may have been dropped from the ring)")
        return entry.detail()

    @app.delete("/journal", dependencies=guarded, status_code=204)
    async def clear_journal() -> None:
        rt.journal.clear()

    # -- mailbox ---------------------------------------------------------------------------------
    @app.get("/mailbox", dependencies=guarded)
    async def mailbox(sim: str | None = None, to: str | None = None) -> list[dict]:
        return rt.mailbox.list(sim=sim, to=to)

    @app.delete("/mailbox", dependencies=guarded, status_code=204)
    async def clear_mailbox() -> None:
        rt.mailbox.clear()

    # -- per-sim administration ------------------------------------------------------------------
    for name, sim in rt.sims.items():
        router = sim.control_router()
        if router is not None:
            app.include_router(router, prefix=f"/sims/{name}", dependencies=guarded)

    return app
