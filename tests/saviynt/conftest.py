"""Fixtures of the connector engine tests, and the small real SCIM 2.0 server they run against.

Just what the guide's documents call, in the two URL dialects: ZIA ``/<org>/<idp>/scim/...``
(1,000 a page, group lists carry members) and ZPA ``/scim/1/<idp>/v2/...`` (10 a page by default,
100 at most, group lists without members, as the reference scim.md §3.2 says). Bearer tokens per
tenant, ``GET /Users`` and ``/Groups`` with ``startIndex`` / ``count`` paging and ``userName eq``,
``POST /Users``, ``DELETE /Users/{id}``, ``PATCH /Groups/{id}`` adding members (pathless
``value: {members: [...]}`` or ``path: members``) and removing them with the value filter path
``members[value eq "ID"]``; anything else in a PATCH path is a 400 ``invalidPath``. Plus a token
endpoint (``POST /oauth2/token``) for refresh tests and ``GET /world`` shaped like a world.

Served by uvicorn on a free loopback port in a background thread: real HTTP, as the tests need.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sims.core.serve import bind

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_VALUE_FILTER = re.compile(r'^members\[value eq "([^"]*)"\]$')
_USERNAME_FILTER = re.compile(r'^userName eq "([^"]*)"$', re.IGNORECASE)

SEED_USERS = [
    ("alice.admin@safemarch.example", "Alice Admin", "IT"),
    ("bob.sales@safemarch.example", "Bob Sales", "Sales"),
    ("carol.eng@safemarch.example", "Carol Eng", "Engineering"),
] + [(f"user{n:02d}@safemarch.example", f"User {n:02d}", "Staff") for n in range(1, 10)]
SEED_GROUPS = [
    ("Zscaler Users", [0, 1, 2]),
    ("Zscaler Admins", [0]),
    ("Sales", [1]),
]


def error(status: int, detail: str, scim_type: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type="application/scim+json")


@dataclass
class Tenant:
    name: str
    prefix: str  # /3173833/1001/scim or /scim/1/<idp>/v2
    tokens: set[str]
    page_default: int
    page_max: int
    group_list_members: bool
    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    auth_error_body: dict | None = None  # e.g. a Graph-style {"error": {"code": ...}} for authError tests

    def seed(self) -> None:
        self.users.clear()
        self.groups.clear()
        ids = []
        for n, (login, display, dept) in enumerate(SEED_USERS):
            uid = str(uuid.UUID(int=n + 1 + (0 if self.name == "zia" else 1000)))
            ids.append(uid)
            self.users[uid] = {
                "id": uid,
                "userName": login,
                "displayName": display,
                "department": dept,
                "active": True,
            }
        for n, (display, members) in enumerate(SEED_GROUPS):
            gid = str(90000 + n) if self.name == "zia" else str(uuid.UUID(int=500 + n))
            self.groups[gid] = {"id": gid, "displayName": display, "members": [ids[i] for i in members]}

    def user_resource(self, base: str, u: dict) -> dict:
        groups = [
            {"value": g["id"], "display": g["displayName"], "$ref": f"{base}/Groups/{g['id']}"}
            for g in self.groups.values()
            if u["id"] in g["members"]
        ]
        return {
            "schemas": [USER, ENTERPRISE],
            "id": u["id"],
            "userName": u["userName"],
            "displayName": u.get("displayName"),
            "active": u.get("active", True) if self.name == "zia" else str(u.get("active", True)).lower(),
            "department": u.get("department"),
            ENTERPRISE: {"department": u.get("department")},
            "groups": groups,
            "meta": {"resourceType": "User", "location": f"{base}/Users/{u['id']}"},
        }

    def group_resource(self, base: str, g: dict, with_members: bool) -> dict:
        out = {
            "schemas": [GROUP],
            "id": g["id"],
            "displayName": g["displayName"],
            "meta": {"resourceType": "Group", "location": f"{base}/Groups/{g['id']}"},
        }
        if with_members:
            out["members"] = [
                {"value": m, "display": self.users[m]["userName"], "$ref": f"{base}/Users/{m}"}
                for m in g["members"]
                if m in self.users
            ]
        return out

    def members_by_name(self) -> dict[str, set[str]]:
        """{group displayName: {userName, ...}}: what tests compare the store with."""
        return {
            g["displayName"]: {self.users[m]["userName"] for m in g["members"] if m in self.users}
            for g in self.groups.values()
        }


class ScimServer:
    """Both tenants on one server; ``reset()`` restores the seeded state."""

    def __init__(self) -> None:
        self.zia = Tenant("zia", "/3173833/1001/scim", {"zia-scim-token-3173833"}, 1000, 1000, True)
        self.zpa = Tenant("zpa", "/scim/1/216196257331281921/v2", {"zpa-scim-token-2161"}, 10, 100, False)
        self.token_requests: list[dict] = []
        self.issue_valid_tokens = True
        self.requests: list[tuple[str, str]] = []
        self._counter = itertools.count(1)
        self.url = ""
        self.item_count = 25
        self.last_authorization: str | None = None
        self.reset()

    def reset(self) -> None:
        for t in (self.zia, self.zpa):
            t.seed()
            t.auth_error_body = None
        self.zia.tokens = {"zia-scim-token-3173833"}
        self.zpa.tokens = {"zpa-scim-token-2161"}
        self.token_requests.clear()
        self.requests.clear()
        self.issue_valid_tokens = True
        self.item_count = 25

    def base(self, tenant: Tenant) -> str:
        return self.url + tenant.prefix

    def token(self, tenant: Tenant) -> str:
        return sorted(tenant.tokens)[0]

    # -- the ASGI app

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/token", self.token_endpoint, methods=["POST"]),
                Route("/world", self.world, methods=["GET"]),
                Route("/api/items", self.items, methods=["GET"]),
                Route("/api/memberships", self.memberships, methods=["GET"]),
                Route("/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    async def world(self, request: Request) -> JSONResponse:
        def idp(t: Tenant) -> dict:
            return {
                "id": t.prefix,
                "scim": {"enabled": True, "base_url": self.base(t), "token": self.token(t)},
            }

        return JSONResponse(
            {
                "world": "saviynt-test",
                "sims": {
                    "zia": {
                        "url": self.url,
                        "tenants": [{"org_id": 3173833, "identity_providers": [idp(self.zia)]}],
                    },
                    "zpa": {
                        "url": self.url,
                        "tenants": [{"customer_id": "1", "identity_providers": [idp(self.zpa)]}],
                    },
                },
            }
        )

    async def items(self, request: Request) -> JSONResponse:
        """A plain paged API for the three paging styles: ``page``/``size``, ``offset``/``limit``,
        ``cursor`` with a ``next`` URL in the body and a ``Link`` header."""
        q = request.query_params
        self.requests.append(("GET", f"/api/items?{q}"))
        self.last_authorization = request.headers.get("authorization")
        data = [{"id": f"i{n:02d}", "name": f"item {n}"} for n in range(1, self.item_count + 1)]
        nxt = None
        if "page" in q:
            size = int(q.get("size", "10"))
            chunk = data[(int(q["page"]) - 1) * size : int(q["page"]) * size]
        elif "offset" in q:
            chunk = data[int(q["offset"]) : int(q["offset"]) + int(q.get("limit", "10"))]
        else:
            at = int(q.get("cursor", "0"))
            chunk = data[at : at + 10]
            nxt = f"{self.url}/api/items?cursor={at + 10}" if at + 10 < len(data) else None
        headers = (
            {"Link": f'<{nxt}>; rel="next"', "X-Total-Count": str(len(data))}
            if nxt
            else {"X-Total-Count": str(len(data))}
        )
        return JSONResponse({"items": chunk, "total": len(data), "next": nxt}, headers=headers)

    async def memberships(self, request: Request) -> JSONResponse:
        """Every (user, group) pair of the ZIA tenant in one listing, for acctEntParams 'http'."""
        pairs = [{"user": m, "group": g["id"]} for g in self.zia.groups.values() for m in g["members"]]
        return JSONResponse({"pairs": pairs})

    async def token_endpoint(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        self.token_requests.append(
            {
                "content_type": request.headers.get("content-type"),
                "body": body,
                "headers": dict(request.headers),
            }
        )
        token = f"refreshed-{next(self._counter)}"
        if self.issue_valid_tokens:
            self.zia.tokens.add(token)
            self.zpa.tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, headers={"X-Token": token}
        )

    async def dispatch(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        self.requests.append((request.method, path))
        for tenant in (self.zia, self.zpa):
            if path.startswith(tenant.prefix + "/"):
                return await self.scim(request, tenant, path[len(tenant.prefix) :])
        return error(404, f"no SCIM endpoint at {path}")

    async def scim(self, request: Request, t: Tenant, rest: str) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in t.tokens:
            if t.auth_error_body is not None:
                return JSONResponse(t.auth_error_body, status_code=401)
            return error(401, "Authentication failed: invalid or missing bearer token")
        base = self.base(t)
        m = request.method
        parts = [p for p in rest.split("/") if p]
        if parts[:1] == ["Users"] and len(parts) == 1 and m == "GET":
            users = list(t.users.values())
            flt = request.query_params.get("filter")
            if flt:
                fm = _USERNAME_FILTER.match(flt)
                if not fm:
                    return error(400, f"unsupported filter {flt!r}", "invalidFilter")
                users = [u for u in users if u["userName"].lower() == fm.group(1).lower()]
            return self.listing(request, t, [t.user_resource(base, u) for u in users])
        if parts[:1] == ["Users"] and len(parts) == 1 and m == "POST":
            body = await self.json(request)
            if isinstance(body, Response):
                return body
            name = body.get("userName")
            if not isinstance(name, str) or not name:
                return error(400, "userName is required", "invalidValue")
            if any(u["userName"].lower() == name.lower() for u in t.users.values()):
                return error(409, f"userName {name} already exists", "uniqueness")
            uid = str(uuid.uuid4())
            dept = (body.get(ENTERPRISE) or {}).get("department") or body.get("department")
            t.users[uid] = {
                "id": uid,
                "userName": name,
                "displayName": body.get("displayName"),
                "department": dept,
            }
            r = t.user_resource(base, t.users[uid])
            return JSONResponse(r, status_code=201, media_type="application/scim+json")
        if parts[:1] == ["Users"] and len(parts) == 2:
            u = t.users.get(parts[1])
            if u is None:
                return error(404, f"User {parts[1]} not found")
            if m == "GET":
                return JSONResponse(t.user_resource(base, u), media_type="application/scim+json")
            if m in ("PUT", "PATCH"):
                body = await self.json(request)
                if isinstance(body, Response):
                    return body
                if m == "PUT":
                    dept = (body.get(ENTERPRISE) or {}).get("department") or body.get("department")
                    u.update(displayName=body.get("displayName", u.get("displayName")), department=dept)
                for op in body.get("Operations", []) if m == "PATCH" else []:
                    if str(op.get("op")).lower() == "replace" and op.get("path") == "active":
                        u["active"] = str(op.get("value")).lower() == "true"
                    else:
                        return error(400, f"unsupported user PATCH {op!r}", "invalidPath")
                return JSONResponse(t.user_resource(base, u), media_type="application/scim+json")
            if m == "DELETE":
                del t.users[parts[1]]
                for g in t.groups.values():
                    g["members"] = [x for x in g["members"] if x != parts[1]]
                return Response(status_code=204)
        if parts[:1] == ["Groups"] and len(parts) == 1 and m == "GET":
            return self.listing(
                request, t, [t.group_resource(base, g, t.group_list_members) for g in t.groups.values()]
            )
        if parts[:1] == ["Groups"] and len(parts) == 2:
            g = t.groups.get(parts[1])
            if g is None:
                return error(404, f"Group {parts[1]} not found")
            if m == "GET":
                return JSONResponse(t.group_resource(base, g, True), media_type="application/scim+json")
            if m == "PATCH":
                return await self.patch_group(request, t, g)
        return error(404 if m == "GET" else 405, f"{m} {rest} is not supported here")

    @staticmethod
    async def json(request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError as err:
            return error(400, f"request body is not valid JSON: {err}", "invalidSyntax")
        if not isinstance(body, dict):
            return error(400, "request body must be a JSON object", "invalidSyntax")
        return body

    def listing(self, request: Request, t: Tenant, resources: list[dict]) -> JSONResponse:
        try:
            start = max(1, int(request.query_params.get("startIndex", "1")))
            count = min(t.page_max, max(0, int(request.query_params.get("count", str(t.page_default)))))
        except ValueError:
            return error(400, "startIndex and count must be integers", "invalidValue")
        page = resources[start - 1 : start - 1 + count]
        return JSONResponse(
            {
                "schemas": [LIST],
                "totalResults": len(resources),
                "itemsPerPage": len(page),
                "startIndex": start,
                "Resources": page,
            },
            media_type="application/scim+json",
        )

    async def patch_group(self, request: Request, t: Tenant, g: dict) -> Response:
        body = await self.json(request)
        if isinstance(body, Response):
            return body
        if PATCH_OP not in (body.get("schemas") or []):
            return error(400, "schemas must contain the PatchOp URN", "invalidSyntax")
        ops = body.get("Operations")
        if not isinstance(ops, list) or not ops:
            return error(400, "Operations must be a non-empty list", "invalidSyntax")
        members = list(g["members"])
        for op in ops:
            kind = str(op.get("op", "")).lower()
            path = op.get("path")
            value = op.get("value")
            if kind == "add":
                if path is None and isinstance(value, dict) and "members" in value:
                    new = value["members"]
                elif path == "members":
                    new = value
                else:
                    return error(400, f"unsupported add path {path!r}", "invalidPath")
                for item in new if isinstance(new, list) else [new]:
                    uid = item.get("value") if isinstance(item, dict) else None
                    if uid not in t.users:
                        return error(400, f"member {uid!r} is not a user", "invalidValue")
                    if uid not in members:
                        members.append(uid)
            elif kind == "remove":
                fm = _VALUE_FILTER.match(path or "")
                if fm:
                    members = [x for x in members if x != fm.group(1)]
                elif path == "members" and isinstance(value, list):
                    gone = {v.get("value") for v in value if isinstance(v, dict)}
                    members = [x for x in members if x not in gone]
                else:
                    return error(400, f"invalid PATCH path {path!r}", "invalidPath")
            else:
                return error(400, f"unsupported op {op.get('op')!r}", "invalidValue")
        g["members"] = members
        return Response(status_code=204)


class Served:
    """A uvicorn server for ``app`` on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test SCIM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Fixtures

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "saviynt"


def guide_document(sim: str, name: str) -> str:
    """The guide's document as shipped in fixtures/saviynt/<sim>/<name>.txt."""
    return (FIXTURES / sim / f"{name}.txt").read_text()


def corrected_document(sim: str, name: str) -> str:
    return (FIXTURES / "corrected" / sim / f"{name}.json").read_text()


@pytest.fixture(scope="session")
def scim_server() -> Iterator[ScimServer]:
    server = ScimServer()
    served = Served(server.app()).start()
    server.url = served.url
    yield server
    served.stop()


@pytest.fixture
def scim(scim_server: ScimServer) -> ScimServer:
    scim_server.reset()
    return scim_server


@pytest.fixture
def placeholders(scim: ScimServer) -> dict[str, str]:
    return {
        "zia_scim_base": scim.base(scim.zia),
        "zia_scim_token": "Bearer " + scim.token(scim.zia),
        "zpa_scim_base": scim.base(scim.zpa),
        "zpa_scim_token": "Bearer " + scim.token(scim.zpa),
    }
