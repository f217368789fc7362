"""The web dashboard at ``/ui``: server-rendered pages over the running world (no build step).

The pages read the runtime directly (same process, same event loop as the sims). Forms POST and
redirect back. When the control plane requires a token, a browser passes it as ``?token=<token>``
(the pages carry it on to every link and form).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from sims.core.faults import FaultSpec
from sims.core.runtime import Runtime

TEMPLATES = Path(__file__).parent / "templates"
ADVANCES = [("30 s", 30), ("5 min", 300), ("1 h", 3600), ("1 day", 86400)]
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _zia_view(sim) -> list[dict]:
    tenants = []
    for t in sim.tenants.values():
        cats = t.pending.categories
        active = t.active.config
        active_rules = {r["id"]: r for r in active.rules.listing()}
        saml = t.saml
        idp_names = {i: idp.config.name for i, idp in saml.pending.idps.items()} if saml else {}
        tenants.append(
            {
                "org_id": t.config.org_id,
                "name": t.config.name,
                "pending_changes": t.dirty,
                "quota": cats.quota(),
                "categories": [
                    {
                        "id": c.id,
                        "name": c.configured_name or c.id,
                        "pending_urls": len(c.urls) + len(c.db_urls),
                        "active_urls": len(a.urls) + len(a.db_urls)
                        if (a := active.categories.items.get(c.id))
                        else None,
                    }
                    for c in cats.custom()
                ],
                "rules": [  # "active" when the activated configuration holds the rule exactly so
                    {**r, "active": active_rules.get(r["id"]) == r} for r in t.pending.rules.listing()
                ],
                "saml_idps": [
                    {"name": idp.config.name, "enabled": idp.config.enabled}
                    for idp in (saml.pending.idps.values() if saml else [])
                ],
                "scim": [
                    {
                        "idp": idp_names.get(s.idp_id, s.idp_id),
                        "enabled": s.enabled,
                        "users": len(s.directory.users),
                        "groups": len(s.directory.groups),
                    }
                    for s in t.scim.values()
                ],
            }
        )
    return tenants


def build_ui_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, status_code: int = 200, **data) -> HTMLResponse:
        token = request.query_params.get("token")
        refresh = request.query_params.get("refresh")

        def url(path: str, **params) -> str:
            params = {k: v for k, v in params.items() if v not in (None, "")}
            if token:
                params["token"] = token
            return f"/ui{path}" + (f"?{urlencode(params)}" if params else "")

        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = _env.get_template(template).render(
            url=url,
            token=token,
            here=here,
            page=template.removesuffix(".html"),
            refresh=int(refresh) if refresh and refresh.isdigit() else None,
            clock=rt.clock.state(),
            world=rt.world.name,
            **data,
        )
        return HTMLResponse(html, status_code=status_code)

    async def form(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(403, "cross-origin form refused")
        body = (await request.body()).decode("utf-8", "replace")
        return {k: v[-1].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}

    def back(request: Request, fields: dict[str, str], default: str) -> RedirectResponse:
        target = fields.get("back") or ""
        if not target.startswith("/ui") or target.startswith("//"):
            token = request.query_params.get("token")
            target = default + (f"?{urlencode({'token': token})}" if token else "")
        return RedirectResponse(target, status_code=303)

    @router.get("")
    @router.get("/")
    async def overview(request: Request) -> HTMLResponse:
        sims = [
            {"name": n, "title": s.title, "url": rt.urls[n], "serving": rt.serving.get(n, False)}
            for n, s in rt.sims.items()
        ]
        return render(
            request, "overview.html", sims=sims, advances=ADVANCES, control_url=rt.urls.get("control")
        )

    @router.post("/clock/advance")
    async def advance(request: Request) -> RedirectResponse:
        fields = await form(request)
        try:
            seconds = float(fields.get("seconds", ""))
        except ValueError:
            raise HTTPException(400, "seconds must be a number") from None
        if not 0 <= seconds <= 10 * 365 * 86400:
            raise HTTPException(400, "seconds out of range")
        try:
            await rt.clock.advance_async(seconds)
        except RuntimeError:
            raise HTTPException(409, "the clock is running scheduled jobs; retry the advance") from None
        return back(request, fields, "/ui")

    @router.post("/clock/freeze")
    async def freeze(request: Request) -> RedirectResponse:
        fields = await form(request)
        rt.clock.freeze(None)
        return back(request, fields, "/ui")

    @router.post("/clock/resume")
    async def resume(request: Request) -> RedirectResponse:
        fields = await form(request)
        rt.clock.resume()
        return back(request, fields, "/ui")

    @router.get("/zia")
    async def zia(request: Request) -> HTMLResponse:
        sim = rt.sims.get("zia")
        return render(request, "zia.html", running=sim is not None, tenants=_zia_view(sim) if sim else [])

    @router.get("/mimecast")
    async def mimecast(request: Request) -> HTMLResponse:
        sim = rt.sims.get("mimecast")
        accounts = [
            {"code": code, "sharing": [s.view() for s in acc.sharing.values()]}
            for code, acc in (sim.accounts.items() if sim else [])
        ]
        return render(request, "mimecast.html", running=sim is not None, accounts=accounts)

    @router.get("/mailbox")
    async def mailbox(request: Request) -> HTMLResponse:
        return render(request, "mailbox.html", messages=list(reversed(rt.mailbox.list())))

    def faults_page(request: Request, error: str | None = None, status_code: int = 200) -> HTMLResponse:
        rules = [r.describe() for r in rt.faults.rules.values()]
        return render(request, "faults.html", status_code, rules=rules, sims=list(rt.sims), error=error)

    @router.get("/faults")
    async def faults(request: Request) -> HTMLResponse:
        return faults_page(request)

    @router.post("/faults")
    async def add_fault(request: Request):
        fields = await form(request)
        spec = {k: fields[k] for k in ("sim", "method", "path", "status", "count") if fields.get(k)}
        try:
            parsed = FaultSpec.model_validate(spec)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            return faults_page(request, f"invalid fault: {problems}", 400)
        if parsed.sim is not None and parsed.sim not in rt.sims:
            return faults_page(request, f"no sim {parsed.sim!r} runs in this world", 400)
        rt.faults.add(parsed)
        return back(request, fields, "/ui/faults")

    @router.post("/faults/{fault_id}/remove")
    async def remove_fault(request: Request, fault_id: str) -> RedirectResponse:
        fields = await form(request)
        rt.faults.remove(fault_id)
        return back(request, fields, "/ui/faults")

    @router.get("/journal")
    async def journal(request: Request) -> HTMLResponse:
        q = request.query_params
        filters = {k: (q.get(k) or "").strip() for k in ("sim", "method", "status", "path")}
        error = None
        entries = []
        if filters["status"] and not filters["status"].isdigit():
            error = "status must be a number"
        else:
            try:
                entries = rt.journal.query(
                    sim=filters["sim"] or None,
                    method=filters["method"] or None,
                    path=filters["path"] or None,
                    status=int(filters["status"]) if filters["status"] else None,
                    limit=200,
                )
            except Exception as err:  # a bad regular expression
                error = f"bad path filter: {err}"
        return render(
            request,
            "journal.html",
            status_code=400 if error else 200,
            entries=[e.summary() for e in reversed(entries)],
            filters=filters,
            sims=list(rt.sims),
            error=error,
            total=rt.journal.total,
        )

    @router.get("/journal/{entry_id}")
    async def journal_entry(request: Request, entry_id: int) -> HTMLResponse:
        entry = rt.journal.get(entry_id)
        if entry is None:
            return render(request, "entry.html", status_code=404, entry=None, entry_id=entry_id)
        return render(request, "entry.html", entry=entry.detail(), entry_id=entry_id)

    return router
