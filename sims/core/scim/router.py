"""The HTTP face of the engine: a FastAPI router for one dialect. It only translates (path, query,
headers, body) to Directory calls and results to JSON; every rule lives in the store and the dialect.

Every error leaves as an RFC 7644 error body, whatever the app around it renders for its own errors:
the route class catches ScimError, and a catch-all route under the base path answers unknown paths
(404) and wrong methods (405) in the same shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from sims.core.ratelimit import RateLimiter
from sims.core.scim import discovery
from sims.core.scim.bulk import run_bulk
from sims.core.scim.dialect import Dialect
from sims.core.scim.errors import (
    ScimError,
    invalid_syntax,
    invalid_value,
    not_found,
    too_large,
    unauthorized,
)
from sims.core.scim.evaluate import projection, select, sort_records
from sims.core.scim.schema import SEARCH_REQUEST
from sims.core.scim.store import Directory, Record, etag_matches

StoreResolver = Callable[[dict[str, str]], Directory | None]
OWN_PARAMS = frozenset(("scim_id", "scim_rest"))
_KNOWN = re.compile(
    r"(?i)^(ServiceProviderConfig|Schemas(/[^/]+)?|ResourceTypes(/[^/]+)?|Users(/[^/]+)?|Groups(/[^/]+)?"
    r"|Bulk|\.search|Users/\.search|Groups/\.search)/?$"
)


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def build_scim_router(dialect: Dialect, store_resolver: StoreResolver) -> APIRouter:
    """Routes for Users, Groups, discovery, /.search and /Bulk under ``dialect.base_path``.

    ``store_resolver`` gets the base path's parameters (e.g. ``{"org_id": "3173833", "idp_id": "7"}``)
    and returns the Directory they name, or None (404: no SCIM there, e.g. not enabled on that IdP).
    """
    base_path = dialect.base_path.rstrip("/")
    limiter = RateLimiter()  # shared by the directories this router serves; dialects key it (per tenant)

    def media(request: Request) -> str:
        accept = request.headers.get("accept", "")
        if "application/json" in accept and "scim+json" not in accept and "*/*" not in accept:
            return "application/json"
        return dialect.media_type

    def reply(request: Request, doc: object, status: int = 200, headers: dict | None = None) -> Response:
        return Response(_dumps(doc), status_code=status, media_type=media(request), headers=headers)

    def error_reply(request: Request, err: ScimError) -> Response:
        return reply(request, err.body(), err.status, err.headers or None)

    class ScimRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()
            # How many path segments follow the base path ("/Users/{scim_id}": 2): the base URL is the
            # request's path without them, however the router was mounted (prefixes, root paths).
            segments = self.path_format[self.path_format.rfind(base_path) + len(base_path) :].count("/")

            async def run(request: Request) -> Response:
                request.scope["sims.scim_segments"] = segments
                try:
                    return await handler(request)
                except ScimError as err:
                    return error_reply(request, err)

            return run

    router = APIRouter(route_class=ScimRoute)

    # -- plumbing ----------------------------------------------------------------------------------
    def enter(request: Request, *, discovery_call: bool = False) -> tuple[Directory, str]:
        """The directory of this request and its SCIM base URL, after the rate limit and authentication."""
        params = {k: v for k, v in request.path_params.items() if k not in OWN_PARAMS}
        directory = store_resolver(params)
        if directory is None:
            raise not_found("no SCIM service at this address")
        if dialect.rate_limit is not None:
            rule = dialect.rate_limit(directory)
            if rule is not None:
                key, limits = rule
                verdict = limiter.hit(key, limits, directory.clock())
                if not verdict.allowed:
                    raise ScimError(
                        429,
                        f"rate limit of {verdict.limit.describe()} exceeded",
                        headers={"Retry-After": str(verdict.reset)},
                    )
        needs_auth = dialect.authenticate is not None and (
            dialect.discovery_requires_auth or not discovery_call
        )
        if needs_auth and not dialect.authenticate(directory, request.headers.get("authorization")):
            raise unauthorized()
        scope = request.scope
        host = request.headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
        rest = request.path_params.get("scim_rest")
        segments = 1 + rest.count("/") if rest is not None else scope.get("sims.scim_segments", 1)
        prefix = scope["path"].rsplit("/", segments)[0]
        base = f"{scope.get('scheme', 'http')}://{host}{prefix}"
        if dialect.public_base_url is not None:
            base = dialect.public_base_url(directory, base)
        return directory, base

    async def read_json(request: Request, limit: int) -> object:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise too_large(limit)
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype and ctype not in dialect.accept_content_types:
            raise ScimError(415, f"Content-Type {ctype} is not accepted: use {dialect.media_type}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise invalid_syntax("the request needs a JSON body")
        try:
            return json.loads(raw, parse_constant=_no_constants)
        except (ValueError, RecursionError) as err:
            raise invalid_syntax(f"the body is not valid JSON: {str(err)[:200]}") from None

    def query_params(request: Request) -> dict[str, str]:
        q = {k.lower(): v for k, v in request.query_params.items()}
        if "excludeattributes" in q:  # ZPA's documentation spells it so, and ZPA honours it
            q.setdefault("excludedattributes", q["excludeattributes"])
        return q

    def int_param(q: dict, name: str) -> int | None:
        raw = q.get(name.lower())
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise invalid_value(f"{name} must be an integer") from None

    def one(
        request: Request, directory: Directory, kind: str, rec: Record, base: str, status: int = 200
    ) -> Response:
        q = query_params(request)
        proj = projection(directory.types[kind], q.get("attributes"), q.get("excludedattributes"))
        doc = directory.render(kind, rec, base, proj)
        headers = {"ETag": rec.etag}
        if status == 201:
            headers["Location"] = doc.get("meta", {}).get("location") or f"{base}/{kind}s/{rec.id}"
        return reply(request, doc, status, headers)

    def listing(
        directory: Directory,
        kinds: tuple[str, ...],
        base: str,
        *,
        filter_text: str | None,
        start_index: int | None,
        count: int | None,
        sort_by: str | None,
        sort_order: str | None,
        attributes: str | None,
        excluded: str | None,
    ) -> dict:
        if sort_order is not None and sort_order.lower() not in ("ascending", "descending"):
            raise invalid_value("sortOrder must be ascending or descending")
        descending = (sort_order or "").lower() == "descending"
        if not dialect.sort:
            sort_by = None
        start = max(1, start_index or 1)
        if len(kinds) == 1:
            total, page = directory.query(
                kinds[0],
                filter=filter_text,
                start_index=start,
                count=count,
                sort_by=sort_by,
                descending=descending,
            )
            pairs = [(kinds[0], r) for r in page]
        else:  # root /.search: every resource type; an attribute one type lacks is false there
            found, first_error = [], None
            for kind in kinds:
                rt = directory.types[kind]
                try:
                    recs = select(rt, directory, directory.records(kind).values(), filter_text)
                    if sort_by:
                        recs = sort_records(rt, directory, recs, sort_by, descending)
                except ScimError as err:
                    first_error = first_error or err
                    continue
                found.extend((kind, r) for r in recs)
            if (
                first_error is not None
                and not found
                and all(_fails(directory, k, filter_text) for k in kinds)
            ):
                raise first_error
            size = dialect.default_page_size if count is None else max(0, min(count, dialect.max_page_size))
            total, pairs = len(found), found[start - 1 : start - 1 + size]
        resources = []
        projections = {k: projection(directory.types[k], attributes, excluded) for k in kinds}
        for kind, rec in pairs:
            with_members = dialect.list_group_members or _asks_members(attributes)
            resources.append(directory.render(kind, rec, base, projections[kind], members=with_members))
        return discovery.list_response(resources, total, start)

    def _fails(directory: Directory, kind: str, filter_text: str | None) -> bool:
        try:
            select(directory.types[kind], directory, (), filter_text)
        except ScimError:
            return True
        return False

    # -- resources ---------------------------------------------------------------------------------
    def add_resource_routes(kind: str, endpoint: str) -> None:
        path = f"{base_path}{endpoint}"

        @router.get(path, name=f"scim_list_{kind}", summary=f"List or filter {kind}s")
        async def list_resources(request: Request) -> Response:
            directory, base = enter(request)
            q = query_params(request)
            doc = listing(
                directory,
                (kind,),
                base,
                filter_text=q.get("filter"),
                start_index=int_param(q, "startIndex"),
                count=int_param(q, "count"),
                sort_by=q.get("sortby"),
                sort_order=q.get("sortorder"),
                attributes=q.get("attributes"),
                excluded=q.get("excludedattributes"),
            )
            return reply(request, doc)

        @router.post(path, name=f"scim_create_{kind}", summary=f"Create a {kind}")
        async def create(request: Request) -> Response:
            directory, base = enter(request)
            body = await read_json(request, dialect.max_payload_bytes)
            rec = directory.create(kind, body)
            return one(request, directory, kind, rec, base, 201)

        @router.post(f"{path}/.search", name=f"scim_search_{kind}", summary=f"Search {kind}s")
        async def search(request: Request) -> Response:
            directory, base = enter(request)
            body = await read_json(request, dialect.max_payload_bytes)
            return reply(request, listing(directory, (kind,), base, **_search_args(body)))

        @router.get(f"{path}/{{scim_id}}", name=f"scim_get_{kind}", summary=f"Get a {kind}")
        async def get(request: Request) -> Response:
            directory, base = enter(request)
            rec = directory.get(kind, request.path_params["scim_id"])
            none_match = request.headers.get("if-none-match")
            if none_match is not None and etag_matches(none_match, rec):
                return Response(status_code=304, headers={"ETag": rec.etag})
            return one(request, directory, kind, rec, base)

        @router.put(f"{path}/{{scim_id}}", name=f"scim_replace_{kind}", summary=f"Replace a {kind}")
        async def put(request: Request) -> Response:
            directory, base = enter(request)
            body = await read_json(request, dialect.max_payload_bytes)
            rid = request.path_params["scim_id"]
            directory.get(kind, rid)  # 404 before 400: the resource is named first
            rec = directory.replace(kind, rid, body, if_match=request.headers.get("if-match"))
            if rec is None:
                return Response(status_code=204)
            return one(request, directory, kind, rec, base)

        @router.patch(f"{path}/{{scim_id}}", name=f"scim_patch_{kind}", summary=f"Patch a {kind}")
        async def patch(request: Request) -> Response:
            directory, base = enter(request)
            body = await read_json(request, dialect.max_payload_bytes)
            rid = request.path_params["scim_id"]
            directory.get(kind, rid)
            rec = directory.patch(kind, rid, body, if_match=request.headers.get("if-match"))
            q = query_params(request)
            wants_body = "attributes" in q or "excludedattributes" in q
            if rec is None or (dialect.patch_status.get(kind, 200) == 204 and not wants_body):
                headers = {"ETag": rec.etag} if rec is not None else None
                return Response(status_code=204, headers=headers)
            return one(request, directory, kind, rec, base)

        @router.delete(f"{path}/{{scim_id}}", name=f"scim_delete_{kind}", summary=f"Delete a {kind}")
        async def delete(request: Request) -> Response:
            directory, _ = enter(request)
            directory.delete(kind, request.path_params["scim_id"], if_match=request.headers.get("if-match"))
            return Response(status_code=204)

    add_resource_routes("User", "/Users")
    add_resource_routes("Group", "/Groups")

    # -- discovery, search, bulk -------------------------------------------------------------------
    @router.get(f"{base_path}/ServiceProviderConfig", name="scim_service_provider_config")
    async def spc(request: Request) -> Response:
        _, base = enter(request, discovery_call=True)
        return reply(request, discovery.service_provider_config(dialect, base))

    @router.get(f"{base_path}/Schemas", name="scim_schemas")
    async def schemas(request: Request) -> Response:
        directory, base = enter(request, discovery_call=True)
        return reply(request, discovery.schemas(directory.types, base))

    @router.get(f"{base_path}/Schemas/{{scim_id}}", name="scim_schema")
    async def schema(request: Request) -> Response:
        directory, base = enter(request, discovery_call=True)
        return reply(request, discovery.schema(directory.types, request.path_params["scim_id"], base))

    @router.get(f"{base_path}/ResourceTypes", name="scim_resource_types")
    async def resource_types(request: Request) -> Response:
        directory, base = enter(request, discovery_call=True)
        return reply(request, discovery.resource_types(directory.types, base))

    @router.get(f"{base_path}/ResourceTypes/{{scim_id}}", name="scim_resource_type")
    async def resource_type(request: Request) -> Response:
        directory, base = enter(request, discovery_call=True)
        return reply(request, discovery.resource_type(directory.types, request.path_params["scim_id"], base))

    @router.post(f"{base_path}/.search", name="scim_search")
    async def root_search(request: Request) -> Response:
        directory, base = enter(request)
        body = await read_json(request, dialect.max_payload_bytes)
        return reply(request, listing(directory, ("User", "Group"), base, **_search_args(body)))

    if dialect.bulk_max_operations > 0:

        @router.post(f"{base_path}/Bulk", name="scim_bulk")
        async def bulk(request: Request) -> Response:
            directory, base = enter(request)
            body = await read_json(request, dialect.bulk_max_payload_bytes)
            return reply(request, run_bulk(directory, body, base))

    @router.api_route(
        f"{base_path}/{{scim_rest:path}}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
    async def elsewhere(request: Request) -> Response:
        """Unknown paths (404) and known ones with the wrong method (405), as SCIM errors."""
        params = {k: v for k, v in request.path_params.items() if k not in OWN_PARAMS}
        if store_resolver(params) is None:
            raise not_found("no SCIM service at this address")
        rest = request.path_params.get("scim_rest", "")
        if rest.strip("/").lower() == "me":
            raise ScimError(501, "/Me is not supported")
        if _KNOWN.match(rest.strip("/")):
            raise ScimError(405, f"{request.method} is not supported on {rest}")
        raise not_found(f"no SCIM endpoint at /{rest}")

    return router


def _asks_members(attributes: str | None) -> bool:
    return bool(attributes) and any(a.strip().lower().startswith("members") for a in attributes.split(","))


def _search_args(body: object) -> dict:
    """A SearchRequest (RFC 7644 §3.4.3) as listing() arguments."""
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    b = {k.lower(): v for k, v in body.items()}
    schemas = b.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST not in schemas):
        raise invalid_syntax(f"schemas must be [{SEARCH_REQUEST!r}]")

    def names(key: str) -> str | None:
        v = b.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return v
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return ",".join(v)
        raise invalid_value(f"{key} must be a list of attribute names")

    def integer(key: str) -> int | None:
        v = b.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise invalid_value(f"{key} must be an integer")
        return v

    for key in ("filter", "sortby", "sortorder"):
        if b.get(key) is not None and not isinstance(b[key], str):
            raise invalid_value(f"{key} must be a string")
    return {
        "filter_text": b.get("filter"),
        "start_index": integer("startindex"),
        "count": integer("count"),
        "sort_by": b.get("sortby"),
        "sort_order": b.get("sortorder"),
        "attributes": names("attributes"),
        "excluded": names("excludedattributes"),
    }
