"""The ZPA sim (minimal): ``POST /signin``, the management API's identity providers (legacy paths and
the OneAPI ``/zpa`` prefix, which takes the same sign-in token here), and ZPA as a SAML SP."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import ValidationError

from sims import samlkit as sk
from sims.core.http import install_error_handlers, journal_note
from sims.core.sim import Sim
from sims.zpa.config import ZpaIdpConfig
from sims.zpa.tenant import Customer, SsoRefused, ZpaError

JSON_UTF8 = "application/json;charset=utf-8"
_CODES = {401: "authentication.failed", 403: "forbidden", 404: "resource.not.found", 413: "request.too.large"}


class ZpaSim(Sim):
    name = "zpa"
    default_port = 7403
    title = "ZPA management API (sign-in, identity providers) and SAML service provider"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.customers = {
            t.customer_id: Customer(t, ctx.world, ctx.urls, ctx.base_url, ctx.clock)
            for t in ctx.world.zpa.tenants
        }

    def reset(self) -> None:
        for c in self.customers.values():
            c.reset()

    def export_state(self) -> dict:
        return {"customers": {k: c.export() for k, c in self.customers.items()}}

    def import_state(self, state: dict) -> None:
        for key, cstate in state.get("customers", {}).items():
            if key not in self.customers:
                raise ValueError(f"state names ZPA customer {key}, which the world does not have")
            self.customers[key].load(cstate)

    def tenant_of(self, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        for part in path.split("/"):
            if part in self.customers:
                return part
        return None

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        return json.dumps({"id": _CODES.get(status, "bad.request"), "reason": message}).encode(), JSON_UTF8

    def build_app(self) -> FastAPI:
        return build_app(self)

    def control_router(self) -> APIRouter:
        return build_router(self)

    def describe(self) -> dict:
        out = []
        for c in self.customers.values():
            out.append(
                {
                    "customer_id": c.cid,
                    "name": c.config.name,
                    "client_id": c.config.client_id,
                    "client_secret": c.config.client_secret,
                    "signin_url": f"{self.base_url}/signin",
                    "base_url": self.base_url,
                    "idp_list_url": f"{self.base_url}/mgmtconfig/v2/admin/customers/{c.cid}/idp",
                    "identity_providers": [
                        {"id": i.id, "name": i.config.name, "login_url": i.login_url, **c.sp_urls(i.id)}
                        for i in c.idps.values()
                    ],
                    "scim": [
                        {"idp_id": k, "base_url": f"{self.base_url}/scim/1/{k}/v2", "bearer_token": s.token}
                        for k, s in c.scim.items()
                    ],
                }
            )
        return {"tenants": out}


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type=JSON_UTF8)


def build_app(sim: ZpaSim) -> FastAPI:
    app = FastAPI(title="sims zpa: ZPA management API", version="1")
    install_error_handlers(app, sim)

    @app.exception_handler(ZpaError)
    async def _zpa_error(_: Request, exc: ZpaError) -> Response:
        return _json(exc.body(), exc.status)

    def customer(cid: str, request: Request) -> Customer:
        c = sim.customers.get(cid)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if c is None or not token or not c.verify(token):
            raise ZpaError(401, "authentication.failed", "The token is missing, invalid or expired")
        return c

    @app.post("/signin", summary="Client credentials to a bearer token")
    async def signin(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        c = next((c for c in sim.customers.values() if c.config.client_id == form.get("client_id")), None)
        if c is None:
            raise ZpaError(401, "authentication.failed", "Invalid client credentials")
        return _json(c.signin(form.get("client_id"), form.get("client_secret")))

    def paging(request: Request) -> tuple[int, int]:
        try:
            page = int(request.query_params.get("page", "1"))
            size = int(request.query_params.get("pagesize", "20"))
        except ValueError:
            raise ZpaError(400, "invalid.input", "page and pagesize must be numbers") from None
        if page < 1 or not 1 <= size <= 500:
            raise ZpaError(400, "invalid.input", "page must be >= 1 and pagesize 1-500")
        return page, size

    async def list_idps(cid: str, request: Request) -> Response:
        c = customer(cid, request)
        page, size = paging(request)
        return _json(c.listing(page, size, request.query_params.get("search")))

    async def get_idp(cid: str, idp_id: str, request: Request) -> Response:
        c = customer(cid, request)
        idp = c.idps.get(idp_id)
        if idp is None:
            raise ZpaError(404, "resource.not.found", f"identity provider {idp_id[:24]} not found")
        return _json(c.view(idp))

    for prefix in ("", "/zpa"):
        base = prefix + "/mgmtconfig/{version}/admin/customers/{cid}/idp"
        app.add_api_route(base.replace("{version}", "v2"), list_idps, methods=["GET"], tags=["IdP"])
        app.add_api_route(base.replace("{version}", "v1"), list_idps, methods=["GET"], tags=["IdP"])
        app.add_api_route(
            base.replace("{version}", "v1") + "/{idp_id}", get_idp, methods=["GET"], tags=["IdP"]
        )

    # -- ZPA as a SAML service provider ----------------------------------------------------------
    def sp_customer(cid: str) -> Customer:
        c = sim.customers.get(cid)
        if c is None:
            raise ZpaError(404, "resource.not.found", f"customer {cid[:24]} not found")
        return c

    @app.post("/auth/SSO/{cid}/{idp_id}", tags=["SAML"], summary="ZPA's ACS for one IdP (spPostUrl)")
    async def acs(cid: str, idp_id: str, request: Request) -> Response:
        c = sp_customer(cid)
        body = await request.body()
        if len(body) > 1024 * 1024:
            raise ZpaError(413, "request.too.large", "the form is too large")
        form = dict(parse_qsl(body.decode("ascii", "replace")))
        try:
            session = c.consume(idp_id, form.get("SAMLResponse"))
        except SsoRefused as err:
            journal_note(request.scope, f"saml {err.reason}: {err.detail}"[:500])
            page = (
                f"<h1>Authentication failed</h1><p id='reason'>{escape(err.reason)}</p>"
                f"<p>{escape(err.detail)}</p>"
            )
            return HTMLResponse(page, status_code=400)
        journal_note(request.scope, f"saml login of {session['user']} via IdP {idp_id}")
        response = HTMLResponse(f"<h1>Signed in to ZPA</h1><p id='user'>{escape(session['user'])}</p>")
        response.set_cookie(f"zpa_sso_{cid}", session["id"], path="/", httponly=True, samesite="lax")
        return response

    @app.get("/auth/metadata/{cid}/{idp_id}", tags=["SAML"], summary="SP metadata (spMetadataUrl)")
    async def metadata(cid: str, idp_id: str) -> Response:
        c = sp_customer(cid)
        idp = c.idps.get(idp_id)
        if idp is None:
            raise ZpaError(404, "resource.not.found", "identity provider not found")
        return Response(c.sp_metadata(idp), media_type="application/samlmetadata+xml")

    @app.get("/auth/certificate/{cid}/{idp_id}", tags=["SAML"], summary="SP certificate (certificateUrl)")
    async def certificate(cid: str, idp_id: str) -> Response:
        return PlainTextResponse(sk.cert_to_pem(sp_customer(cid).sp_cert))

    # -- SCIM, and the admin API pieces that read SCIM groups and attributes ---------------------
    from sims.core.scim import build_scim_router
    from sims.zpa import scim as zscim

    def scim_directory(params: dict[str, str]):
        for c in sim.customers.values():
            s = c.scim.get(params.get("idp_id", ""))
            if s is not None and s.idp_id in c.idps and params.get("userdb") == zscim.USERDB:
                return s.directory
        return None

    def scim_paging(request: Request) -> tuple[int, int]:
        q = request.query_params
        try:
            page = int(q.get("page", "1"))
            size = int(q.get("pagesize", q.get("pageSize", "20")))
        except ValueError:
            raise ZpaError(400, "invalid.input", "page and pagesize must be numbers") from None
        if page < 1 or not 1 <= size <= 500:
            raise ZpaError(400, "invalid.input", "page must be >= 1 and pagesize 1-500")
        return page, size

    async def scim_groups(cid: str, idp_id: str, request: Request) -> Response:
        c = customer(cid, request)
        page, size = scim_paging(request)
        return Response(
            json.dumps(zscim.scim_groups(c, idp_id, page, size, request.query_params.get("search"))),
            media_type="application/json",
        )

    async def scim_group(cid: str, group_id: str, request: Request) -> Response:
        c = customer(cid, request)
        for idp_id, s in c.scim.items():
            rec = s.directory.groups.get(group_id)
            if rec is not None:
                return Response(json.dumps(zscim.group_view(rec, idp_id)), media_type="application/json")
        raise ZpaError(404, "resource.not.found", f"SCIM group {group_id[:24]} not found")

    async def scim_attributes(cid: str, idp_id: str, request: Request) -> Response:
        c = customer(cid, request)
        if idp_id not in c.idps:
            raise ZpaError(404, "resource.not.found", f"identity provider {idp_id[:24]} not found")
        return _json(zscim.scim_attributes(c, idp_id))

    async def attribute_values(cid: str, idp_id: str, attr_id: str, request: Request) -> Response:
        c = customer(cid, request)
        values = zscim.attribute_values(c, idp_id, attr_id)
        return Response(
            json.dumps({"totalPages": 1, "totalCount": len(values), "list": values}),
            media_type="application/json",
        )

    for prefix in ("", "/zpa"):
        user = prefix + "/userconfig/v1/customers/{cid}"
        mgmt = prefix + "/mgmtconfig/v1/admin/customers/{cid}"
        app.add_api_route(user + "/scimgroup/idpId/{idp_id}", scim_groups, methods=["GET"], tags=["SCIM"])
        app.add_api_route(user + "/scimgroup/{group_id}", scim_group, methods=["GET"], tags=["SCIM"])
        app.add_api_route(
            mgmt + "/idp/{idp_id}/scimattribute", scim_attributes, methods=["GET"], tags=["SCIM"]
        )
        app.add_api_route(
            user + "/scimattribute/idpId/{idp_id}/attributeId/{attr_id}",
            attribute_values,
            methods=["GET"],
            tags=["SCIM"],
        )
    app.include_router(build_scim_router(zscim.ZPA_DIALECT, scim_directory), tags=["ZPA SCIM"])

    return app


def build_router(sim: ZpaSim) -> APIRouter:
    router = APIRouter(tags=["zpa"])

    def customer(cid: str) -> Customer:
        c = sim.customers.get(cid)
        if c is None:
            raise HTTPException(404, f"no ZPA customer {cid}")
        return c

    def validated(raw: dict) -> ZpaIdpConfig:
        try:
            return ZpaIdpConfig.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            raise HTTPException(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    def put(c: Customer, cfg: ZpaIdpConfig, idp_id: str | None = None) -> dict:
        try:
            return c.view(c.put(cfg, idp_id))
        except ValueError as err:
            raise HTTPException(400, str(err)) from None

    @router.get("/customers/{cid}/idps", summary="Identity providers (IdP Configuration)")
    async def idps(cid: str) -> list[dict]:
        c = customer(cid)
        return [c.view(i) for i in c.idps.values()]

    @router.post("/customers/{cid}/idps", status_code=201, summary="Add an IdP")
    async def add(cid: str, body: dict) -> dict:
        return put(customer(cid), validated(body))

    @router.patch("/customers/{cid}/idps/{idp_id}", summary="Change an IdP")
    async def patch(cid: str, idp_id: str, body: dict) -> dict:
        c = customer(cid)
        if idp_id not in c.idps:
            raise HTTPException(404, f"no identity provider {idp_id}")
        return put(c, validated({**c.idps[idp_id].config.model_dump(mode="json"), **body}), idp_id)

    @router.delete("/customers/{cid}/idps/{idp_id}", status_code=204)
    async def delete(cid: str, idp_id: str) -> None:
        if customer(cid).idps.pop(idp_id, None) is None:
            raise HTTPException(404, f"no identity provider {idp_id}")

    @router.get("/customers/{cid}/sessions", summary="Users signed in through SAML")
    async def sessions(cid: str) -> list[dict]:
        return [{"user": s["user"], "idp_id": s["idp_id"]} for s in customer(cid).sessions.values()]

    @router.post("/customers/{cid}/idps/{idp_id}/scim/token", summary="Generate New Token (SCIM)")
    async def scim_token(cid: str, idp_id: str) -> dict:
        c = customer(cid)
        if idp_id not in c.idps:
            raise HTTPException(404, f"no identity provider {idp_id}")
        current = c.scim.get(idp_id)
        s = c.enable_scim(idp_id, (current.generation + 1) if current else 0)
        return {"idp_id": idp_id, "base_url": f"{sim.base_url}/scim/1/{idp_id}/v2", "bearer_token": s.token}

    return router
