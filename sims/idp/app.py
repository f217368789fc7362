"""HTTP layer of the idp sim: token, JWKS and discovery endpoints in each provider's path shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Request, Response

from sims.core.clock import iso
from sims.core.http import install_error_handlers
from sims.idp.errors import TokenError
from sims.idp.oauth import AuthorizationServer

MAX_TOKEN_REQUEST = 16 * 1024  # a client-credentials form is a few hundred bytes
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """RFC 6749 §3.2: a form body, each parameter at most once."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise TokenError("bad_content_type")
    if len(body) > MAX_TOKEN_REQUEST:
        raise TokenError("body_too_large", limit=MAX_TOKEN_REQUEST)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as err:
        raise TokenError("bad_form", detail=str(err).split(":")[0]) from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise TokenError("duplicate_param", param=key)
        params[key] = value
    return params


def _json(body: dict, status: int = 200, headers: dict | None = None, charset: bool = False) -> Response:
    media = "application/json;charset=UTF-8" if charset else "application/json"
    return Response(json.dumps(body), status_code=status, media_type=media, headers=headers)


def build_app(sim) -> FastAPI:  # sim: IdpSim (not imported, to keep the import graph one-way)
    app = FastAPI(title="sims idp: OAuth 2.0 authorization servers", version="1", docs_url="/docs")
    install_error_handlers(app, sim)

    def server(as_id: str | None, *flavours: str) -> AuthorizationServer:
        s = sim.root_server if as_id is None else sim.servers.get(as_id)
        if s is None or (flavours and s.flavour not in flavours):
            raise HTTPException(404, f"no authorization server {as_id!r} at this path")
        return s

    async def token(request: Request, s: AuthorizationServer) -> Response:
        try:
            params = parse_form(await request.body(), request.headers.get("content-type"))
            pending = s.prepare(params, request.headers.get("authorization"))
        except TokenError as err:
            status, payload, headers = err.render(s.flavour, iso(sim.clock.now()))
            return _json(payload, status, headers)
        body = s.token_response(pending.sign())
        return _json(body, 200, _NO_STORE, charset=s.flavour == "zidentity")

    def jwks(s: AuthorizationServer) -> Response:
        return _json(s.jwks(), headers={"Cache-Control": "max-age=300"})

    def add(method: str, path: str, handler: Callable, summary: str) -> None:
        app.add_api_route(path, handler, methods=[method], summary=summary, response_class=Response)

    # ZIdentity at the root, as the OneAPI SDK and zscaler-api-talkers call it ({vanity}/oauth2/v1/token).
    async def root_token(request: Request) -> Response:
        return await token(request, server(None))

    async def root_keys() -> Response:
        return jwks(server(None))

    async def root_discovery() -> Response:
        return _json(server(None).discovery())

    add("POST", "/oauth2/v1/token", root_token, "ZIdentity token endpoint (root alias)")
    add("GET", "/oauth2/v1/keys", root_keys, "ZIdentity JWKS (root alias)")
    add("GET", "/.well-known/openid-configuration", root_discovery, "ZIdentity discovery (root alias)")

    # Okta custom authorization servers and the generic RFC 9068 flavour: /oauth2/{id}/v1/...
    async def okta_token(as_id: str, request: Request) -> Response:
        return await token(request, server(as_id, "okta", "generic"))

    async def okta_keys(as_id: str) -> Response:
        return jwks(server(as_id, "okta", "generic"))

    async def okta_discovery(as_id: str) -> Response:
        return _json(server(as_id, "okta", "generic").discovery())

    add("POST", "/oauth2/{as_id}/v1/token", okta_token, "Okta / generic token endpoint")
    add("GET", "/oauth2/{as_id}/v1/keys", okta_keys, "Okta / generic JWKS")
    add("GET", "/oauth2/{as_id}/.well-known/openid-configuration", okta_discovery, "Okta / generic discovery")
    add("GET", "/oauth2/{as_id}/.well-known/oauth-authorization-server", okta_discovery, "RFC 8414 metadata")

    # Entra ID: /{tenant}/oauth2/v2.0/token, /{tenant}/discovery/v2.0/keys
    async def entra_token(as_id: str, request: Request) -> Response:
        return await token(request, server(as_id, "entra"))

    async def entra_keys(as_id: str) -> Response:
        return jwks(server(as_id, "entra"))

    async def entra_discovery(as_id: str) -> Response:
        return _json(server(as_id, "entra").discovery())

    add("POST", "/{as_id}/oauth2/v2.0/token", entra_token, "Entra ID token endpoint")
    add("GET", "/{as_id}/discovery/v2.0/keys", entra_keys, "Entra ID JWKS")
    add("GET", "/{as_id}/v2.0/.well-known/openid-configuration", entra_discovery, "Entra ID discovery")

    # PingFederate: /as/token.oauth2, /pf/JWKS; ZIdentity: /oauth2/v1/token, /oauth2/v1/keys
    async def ping_token(as_id: str, request: Request) -> Response:
        return await token(request, server(as_id, "ping"))

    async def ping_keys(as_id: str) -> Response:
        return jwks(server(as_id, "ping"))

    async def zid_token(as_id: str, request: Request) -> Response:
        return await token(request, server(as_id, "zidentity"))

    async def zid_keys(as_id: str) -> Response:
        return jwks(server(as_id, "zidentity"))

    async def as_discovery(as_id: str) -> Response:
        return _json(server(as_id, "ping", "zidentity").discovery())

    add("POST", "/{as_id}/as/token.oauth2", ping_token, "PingFederate token endpoint")
    add("GET", "/{as_id}/pf/JWKS", ping_keys, "PingFederate JWKS")
    add("POST", "/{as_id}/oauth2/v1/token", zid_token, "ZIdentity token endpoint")
    add("GET", "/{as_id}/oauth2/v1/keys", zid_keys, "ZIdentity JWKS")
    add(
        "GET", "/{as_id}/.well-known/openid-configuration", as_discovery, "PingFederate / ZIdentity discovery"
    )

    from sims.idp.saml_app import add_saml_routes

    add_saml_routes(app, sim)
    return app


class TokenFastPath:
    """Token requests straight from ASGI, skipping FastAPI's routing and Request/Response objects
    (about a fifth of a token's cost). Same parsing, checks, errors and body as the FastAPI route,
    which stays registered for the OpenAPI document and for every other method and path."""

    def __init__(self, app, sim) -> None:
        self.app = app
        self.sim = sim
        self.routes = {s.paths["token"]: s for s in sim.servers.values()}
        if sim.root_server is not None:
            self.routes["/oauth2/v1/token"] = sim.root_server

    async def __call__(self, scope, receive, send) -> None:
        server = self.routes.get(scope.get("path")) if scope["type"] == "http" else None
        if server is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_TOKEN_REQUEST:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if size > MAX_TOKEN_REQUEST:
                raise TokenError("body_too_large", limit=MAX_TOKEN_REQUEST)
            params = parse_form(b"".join(chunks), headers.get("content-type"))
            pending = server.prepare(params, headers.get("authorization"))
        except TokenError as err:
            status, payload, extra = err.render(server.flavour, iso(self.sim.clock.now()))
            await _send(send, status, payload, extra, "application/json")
            return
        media = "application/json;charset=UTF-8" if server.flavour == "zidentity" else "application/json"
        await _send(send, 200, server.token_response(pending.sign()), _NO_STORE, media)


async def _send(send, status: int, payload: dict, headers: dict, media: str) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
