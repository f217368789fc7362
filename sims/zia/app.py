"""HTTP layer of the ZIA sim: the cloud service API under /api/v1 (session cookie or bearer) and
/zia/api/v1 (OneAPI bearer), plus the sim's own policy-decision endpoint under /sim/v1."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sims.core.http import install_error_handlers
from sims.core.ratelimit import Limit
from sims.zia.catalog import SECURITY_ALERT, classify
from sims.zia.errors import ZiaError, body_invalid, forbidden, invalid, not_found, unauthenticated
from sims.zia.policy import decide
from sims.zia.rules import PROTOCOLS
from sims.zia.tenant import Principal, Tenant
from sims.zia.urls import normalise_request_url

LIGHT = (Limit(2, 1), Limit(1000, 3600))  # GET: 2/s and 1000/h (ZIA's API rate-limit summary)
MEDIUM = (Limit(1, 1), Limit(400, 3600))  # POST/PUT/DELETE: 1/s and 400/h
ACTIVATE = (Limit(10, 60), Limit(40, 3600))  # /status/activate: 10/min and 40/h
REVIEW = (Limit(10, 60), Limit(40, 3600))
GATEWAY_401 = {"detail": "unauthorized", "type": "", "title": "", "status": ""}  # OneAPI gateway (recorded)
MAX_LOOKUP = 100

URLS_AREA = ("url_categories",)
RULES_AREA = ("access_control_policy",)
# The guide's Mimecast role (URL Categories = Full) "creates and manages IP and FQDN groups" too.
IP_GROUPS_AREA = ("url_categories", "shared_policy_components", "access_control_components")
ADMIN_AREA = ("administrative_access", "administrative_controls")
USERS_AREA = ("access_control_policy", "access_control_components", "administrative_controls")


def ok(data: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json", headers=headers)


def no_content() -> Response:
    return Response(status_code=204)  # no body and no Content-Type, as the real service (recorded)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=4096)
    user: str | None = None
    method: str = "GET"
    protocol: str = "HTTPS_RULE"
    time: float | None = Field(default=None, description="epoch seconds; default: the sim clock")
    location_id: int | None = None
    device_trust_level: Literal["UNKNOWN_DEVICETRUSTLEVEL", "LOW_TRUST", "MEDIUM_TRUST", "HIGH_TRUST"] = (
        "UNKNOWN_DEVICETRUSTLEVEL"
    )
    user_risk_level: Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"] = "LOW"


def build_app(sim) -> FastAPI:  # sim: ZiaSim
    app = FastAPI(title="sims zia: ZIA cloud service API", version="1")
    install_error_handlers(app, sim)

    @app.exception_handler(ZiaError)
    async def _zia_error(request: Request, exc: ZiaError) -> Response:
        headers = dict(exc.headers)
        if exc.status == 401 and request.url.path.startswith("/zia/"):
            headers["X-Sims-Auth-Error"] = exc.message or ""
            return ok(GATEWAY_401, 401, headers)
        return ok(exc.body(), exc.status, headers)

    # -- request plumbing ------------------------------------------------------------------------
    async def caller(request: Request) -> tuple[Tenant, Principal]:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            tenant, principal = await sim.verifier.verify(auth[7:].strip(), sim.clock.now())
        else:
            sid = request.cookies.get("JSESSIONID")
            tenant = sim.tenant_for_session(sid) if sid else None
            session = tenant.session(sid) if tenant else None
            if session is None:
                raise unauthenticated()
            principal = tenant.admin_principal(session)
        _limit(request, tenant)
        return tenant, principal

    def _limit(request: Request, tenant: Tenant) -> None:
        if not tenant.settings.realistic_rate_limits:
            return
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path).replace("/zia/api/v1", "").replace("/api/v1", "")
        method = request.method
        limits = LIGHT if method == "GET" else MEDIUM
        if template == "/status/activate":
            limits = ACTIVATE
        elif template.startswith("/urlCategories/review"):
            limits = REVIEW
        verdict = tenant.rate.hit((template, method), limits, sim.clock.now())
        headers = {
            "x-ratelimit-limit": f"{verdict.limit.count}, {verdict.limit.count};w={verdict.limit.window}",
            "x-ratelimit-remaining": str(verdict.remaining),
            "x-ratelimit-reset": str(verdict.reset),
        }
        request.state.rate_headers = headers
        if not verdict.allowed:
            raise ZiaError(429, None, None, headers={**headers, "Retry-After": str(verdict.reset)}).with_body(
                {
                    "message": f"Rate Limit ({verdict.limit.describe()}) exceeded",
                    "Retry-After": f"{verdict.reset} seconds",
                }
            )

    def need(principal: Principal, areas: tuple[str, ...], write: bool) -> None:
        from sims.zia.permissions import allows

        if not allows(principal.role.levels, areas, write):
            raise forbidden()

    async def json_body(request: Request, required: bool = True) -> object:
        raw = await request.body()
        if not raw.strip():
            if required:
                raise body_invalid()
            return None
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise ZiaError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise body_invalid() from None

    def respond(request: Request, data: object, status: int = 200) -> Response:
        return ok(data, status, getattr(request.state, "rate_headers", None))

    def paged(request: Request, items: list) -> list:
        """`page` (1-based) and `pageSize`; no paging parameters return everything. Past the end: []."""
        q = request.query_params
        if "page" not in q and "pageSize" not in q:
            return items
        try:
            page = int(q.get("page", "1"))
            size = int(q.get("pageSize", "500"))
        except ValueError:
            raise invalid("page and pageSize must be numbers") from None
        if page < 1 or not 1 <= size <= 10_000:
            raise invalid("page must be at least 1 and pageSize between 1 and 10000")
        return items[(page - 1) * size : page * size]

    def truthy(request: Request, name: str) -> bool:
        return request.query_params.get(name, "false").lower() == "true"  # SDKs send True/False/true

    def writing(tenant: Tenant) -> None:
        tenant.check_edit_lock()

    Caller = Depends(caller)
    api = APIRouter()

    # -- session ---------------------------------------------------------------------------------
    @api.post("/authenticatedSession", summary="Log in with the obfuscated API key")
    async def create_session(request: Request) -> Response:
        from sims.zia.auth import login

        body = await json_body(request)
        tenant, principal = login(sim.tenants, body, sim.clock.now())
        sim.sessions[principal.session_id] = tenant
        info = {
            "authType": "ADMIN_LOGIN",
            "obfuscateApiKey": False,
            "passwordExpiryTime": 0,
            "passwordExpiryDays": 0,
        }
        response = ok(info)
        # No `Secure` over http (clients would drop it) and a trailing attribute so that the official
        # SDK's regex `JSESSIONID=(.*?);` finds the value (reference §2).
        response.headers["Set-Cookie"] = f"JSESSIONID={principal.session_id}; Path=/; HttpOnly"
        return response

    @api.get("/authenticatedSession", summary="Check the session")
    async def check_session(request: Request) -> Response:
        sid = request.cookies.get("JSESSIONID")
        tenant = sim.tenant_for_session(sid) if sid else None
        if tenant and tenant.session(sid):
            return ok(
                {
                    "authType": "ADMIN_LOGIN",
                    "obfuscateApiKey": False,
                    "passwordExpiryTime": 0,
                    "passwordExpiryDays": 0,
                }
            )
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            await sim.verifier.verify(auth[7:].strip(), sim.clock.now())
            return ok({"authType": "ADMIN_LOGIN", "obfuscateApiKey": False})
        return ok({})  # real ZIA answers 200 without authType for an expired session (docs)

    @api.delete(
        "/authenticatedSession", summary="Log out (activates pending changes, as ending a session does)"
    )
    async def end_session(request: Request) -> Response:
        sid = request.cookies.get("JSESSIONID")
        tenant = sim.tenant_for_session(sid) if sid else None
        if tenant is not None and tenant.session(sid):
            status = (
                tenant.activate() if tenant.dirty and tenant.clock.now() >= tenant.edit_lock_until else None
            )
            tenant.sessions.pop(sid, None)
            sim.sessions.pop(sid, None)
            return ok(status or tenant.status())
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":  # the OneAPI SDK sends this on exit
            tenant, _ = await sim.verifier.verify(auth[7:].strip(), sim.clock.now())
            return ok(tenant.status())
        raise unauthenticated()

    # -- activation ------------------------------------------------------------------------------
    @api.get("/status")
    async def get_status(request: Request, who=Caller) -> Response:
        return respond(request, who[0].status())

    @api.post("/status/activate")
    async def activate(request: Request, who=Caller) -> Response:
        tenant, principal = who
        if not any(level >= 2 for level in principal.role.levels.values()):
            raise forbidden("The role may not activate changes")
        await json_body(request, required=False)
        return respond(request, tenant.activate())

    # -- URL categories --------------------------------------------------------------------------
    @api.get("/urlCategories/lite")
    async def categories_lite(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        return respond(request, paged(request, [c.lite() for c in who[0].pending.categories.items.values()]))

    @api.get("/urlCategories/urlQuota")
    async def url_quota(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        return respond(request, who[0].pending.categories.quota())

    @api.get("/urlCategories")
    async def list_categories(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        cats = list(who[0].pending.categories.items.values())
        if truthy(request, "customOnly"):
            cats = [c for c in cats if c.custom]
        kind = request.query_params.get("type")
        if kind and kind != "ALL":
            cats = [c for c in cats if c.type == kind]
        counts = truthy(request, "includeOnlyUrlKeywordCounts")
        return respond(request, paged(request, [c.to_api(counts_only=counts) for c in cats]))

    @api.get("/urlCategories/{category_id}")
    async def get_category(category_id: str, request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        return respond(request, who[0].pending.categories.get(category_id).to_api())

    @api.post("/urlCategories")
    async def create_category(request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, URLS_AREA, True)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise body_invalid()
        writing(tenant)
        cat = tenant.pending.categories.create(body)
        tenant.changed()
        return respond(request, cat.to_api())

    @api.put("/urlCategories/{category_id}")
    async def update_category(category_id: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, URLS_AREA, True)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise body_invalid()
        writing(tenant)
        action = request.query_params.get("action")
        book = tenant.pending.categories
        book.get(category_id)  # an unknown category is 404 whatever the action
        if action is None:
            cat = book.replace(category_id, body)
        elif action == "ADD_TO_LIST":
            cat = book.add_to_list(category_id, body)
        elif action == "REMOVE_FROM_LIST":
            cat = book.remove_from_list(category_id, body)
        else:
            raise invalid(f"Invalid action: {action}")
        tenant.changed()
        return respond(request, cat.to_api())

    @api.delete("/urlCategories/{category_id}")
    async def delete_category(category_id: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, URLS_AREA, True)
        writing(tenant)
        tenant.delete_category(category_id)
        tenant.changed()
        return no_content()

    @api.post("/urlCategories/review/domains")
    async def review_domains(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        body = await json_body(request)
        if not isinstance(body, list):
            raise body_invalid()
        return respond(request, [])  # recorded: an empty list for a domain not in any custom category

    @api.put("/urlCategories/review/domains")
    async def review_domains_put(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, True)
        raise body_invalid()  # recorded: PUT ["example.com"] -> 400 {"message":"Request body is invalid."}

    @api.post("/urlLookup")
    async def url_lookup(request: Request, who=Caller) -> Response:
        need(who[1], URLS_AREA, False)
        body = await json_body(request)
        if not isinstance(body, list) or not all(isinstance(u, str) for u in body):
            raise body_invalid()
        if len(body) > MAX_LOOKUP:
            raise invalid(f"At most {MAX_LOOKUP} URLs can be looked up per request")
        out = []
        for url in body:
            if len(url) > 1024:
                raise invalid(f"URL longer than 1024 characters: {url[:40]}...")
            classes = classify(normalise_request_url(url)[0])
            out.append(
                {
                    "url": url,
                    "urlClassifications": [c for c in classes if c not in SECURITY_ALERT],
                    "urlClassificationsWithSecurityAlert": [c for c in classes if c in SECURITY_ALERT],
                }
            )
        return respond(request, out)

    # -- URL filtering rules ---------------------------------------------------------------------
    def stamp(principal: Principal) -> dict:
        return {
            "lastModifiedTime": int(sim.clock.now()),
            "lastModifiedBy": {"id": principal.role.id, "name": principal.name},
        }

    def rule_view(rule: dict) -> dict:
        return {
            **rule,
            "accessControl": "READ_WRITE",
            "sourceIpGroups": rule.get("sourceIpGroups", []),
            "httpHeaderProfiles": [],
            "httpHeaderActionProfiles": [],
        }

    def rule_id(raw: str) -> int:
        if not raw.isdigit():
            raise not_found(f"URL filtering rule {raw}")
        return int(raw)

    @api.get("/urlFilteringRules")
    async def list_rules(request: Request, who=Caller) -> Response:
        need(who[1], RULES_AREA, False)
        rules = [rule_view(r) for r in who[0].pending.rules.listing()]
        search = request.query_params.get("search")
        if search:
            rules = [r for r in rules if search.lower() in r["name"].lower()]
        return respond(request, paged(request, rules))

    @api.get("/urlFilteringRules/{rid}")
    async def get_rule(rid: str, request: Request, who=Caller) -> Response:
        need(who[1], RULES_AREA, False)
        return respond(request, rule_view(who[0].pending.rules.get(rule_id(rid))))

    @api.post("/urlFilteringRules")
    async def create_rule(request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, RULES_AREA, True)
        body = await json_body(request)
        writing(tenant)
        rule = tenant.pending.rules.create(
            body if isinstance(body, dict) else None,
            principal.role.rank,
            tenant.settings.admin_rank_enabled,
            tenant.known(),
            stamp(principal),
        )
        tenant.changed()
        return respond(request, rule)

    @api.put("/urlFilteringRules/{rid}")
    async def update_rule(rid: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, RULES_AREA, True)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise body_invalid()
        writing(tenant)
        rule = tenant.pending.rules.update(
            rule_id(rid),
            body,
            principal.role.rank,
            tenant.settings.admin_rank_enabled,
            tenant.known(),
            stamp(principal),
        )
        tenant.changed()
        return respond(request, rule)

    @api.delete("/urlFilteringRules/{rid}")
    async def delete_rule(rid: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, RULES_AREA, True)
        writing(tenant)
        tenant.pending.rules.delete(rule_id(rid), principal.role.rank, tenant.settings.admin_rank_enabled)
        tenant.changed()
        return no_content()

    # -- IP destination groups -------------------------------------------------------------------
    def group_id(raw: str) -> int:
        if not raw.isdigit():
            raise not_found(f"IP destination group {raw}")
        return int(raw)

    async def list_groups(request: Request, who=Caller) -> Response:
        need(who[1], IP_GROUPS_AREA, False)
        book = who[0].pending.ip_groups
        groups = [book.view(g) for g in book.listing(request.query_params.get("excludeType"))]
        return respond(request, paged(request, groups))

    api.add_api_route("/ipDestinationGroups", list_groups, methods=["GET"])
    api.add_api_route("/ipDestinationGroups/", list_groups, methods=["GET"], include_in_schema=False)

    @api.get("/ipDestinationGroups/lite")
    async def groups_lite(request: Request, who=Caller) -> Response:
        need(who[1], IP_GROUPS_AREA, False)
        book = who[0].pending.ip_groups
        return respond(
            request, [{"id": g["id"], "name": g["name"], "type": g["type"]} for g in book.listing()]
        )

    @api.get("/ipDestinationGroups/{gid}")
    async def get_group(gid: str, request: Request, who=Caller) -> Response:
        need(who[1], IP_GROUPS_AREA, False)
        book = who[0].pending.ip_groups
        return respond(request, book.view(book.get(group_id(gid))))

    @api.post("/ipDestinationGroups")
    async def create_group(request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, IP_GROUPS_AREA, True)
        body = await json_body(request)
        writing(tenant)
        group = tenant.pending.ip_groups.create(body if isinstance(body, dict) else None)
        tenant.changed()
        return respond(request, group)

    @api.put("/ipDestinationGroups/{gid}")
    async def update_group(gid: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, IP_GROUPS_AREA, True)
        body = await json_body(request)
        writing(tenant)
        group = tenant.pending.ip_groups.update(group_id(gid), body if isinstance(body, dict) else None)
        tenant.changed()
        return respond(request, group)

    @api.delete("/ipDestinationGroups/{gid}")
    async def delete_group(gid: str, request: Request, who=Caller) -> Response:
        tenant, principal = who
        need(principal, IP_GROUPS_AREA, True)
        writing(tenant)
        tenant.pending.ip_groups.delete(group_id(gid))
        tenant.changed()
        return no_content()

    # -- roles, users, groups, departments -------------------------------------------------------
    @api.get("/adminRoles/lite")
    async def roles_lite(request: Request, who=Caller) -> Response:
        need(who[1], ADMIN_AREA, False)
        roles = [r.lite() for r in who[0].roles.values() if not r.api or truthy(request, "includeApiRole")]
        return respond(request, roles)

    @api.get("/users")
    async def users(request: Request, who=Caller) -> Response:
        need(who[1], USERS_AREA, False)
        people = who[0].people
        return respond(request, paged(request, [people.user_view(u) for u in people.users.values()]))

    @api.get("/groups")
    async def groups(request: Request, who=Caller) -> Response:
        need(who[1], USERS_AREA, False)
        return respond(
            request, paged(request, [{"id": k, "name": v} for k, v in who[0].people.groups.items()])
        )

    @api.get("/departments")
    async def departments(request: Request, who=Caller) -> Response:
        need(who[1], USERS_AREA, False)
        items = [{"id": k, "name": v} for k, v in who[0].people.departments.items()]
        return respond(request, paged(request, items))

    app.include_router(api, prefix="/api/v1", tags=["ZIA API (session or bearer)"])
    app.include_router(api, prefix="/zia/api/v1", tags=["ZIA OneAPI (bearer)"])

    # -- the sim's own namespace -----------------------------------------------------------------
    @app.post("/sim/v1/{org_id}/policy/decision", tags=["sim"], summary="What the activated policy does")
    async def policy_decision(org_id: str, body: Decision) -> Response:
        tenant = sim.tenants.get(org_id)
        if tenant is None:
            raise not_found(f"organization {org_id}")
        if body.protocol not in PROTOCOLS:
            raise invalid(f"Invalid protocol: {body.protocol}")
        result = decide(
            tenant.active,
            tenant.people,
            tenant.time_windows,
            user=body.user,
            url=body.url,
            method=body.method,
            protocol=body.protocol,
            at=body.time if body.time is not None else sim.clock.now(),
            location_id=body.location_id,
            device_trust_level=body.device_trust_level,
            user_risk_level=body.user_risk_level,
        )
        return ok(result)

    from sims.zia.sso_app import add_sso_routes

    add_sso_routes(app, sim)
    # -- SCIM, last: its /{org_id}/{idp_id}/scim/... pattern must not shadow the routes above ------
    from sims.core.scim import build_scim_router
    from sims.zia.scim import ZIA_DIALECT

    def scim_directory(params: dict[str, str]):
        tenant = sim.tenants.get(params.get("org_id", ""))
        idp = params.get("idp_id", "")
        scim = tenant.scim.get(int(idp)) if tenant is not None and idp.isdigit() else None
        return scim.directory if scim is not None and scim.enabled else None

    app.include_router(build_scim_router(ZIA_DIALECT, scim_directory), tags=["ZIA SCIM"])
    return app
