"""HTTP layer of the Mimecast sim: /oauth/token and the post-REST /api/... functions."""

from __future__ import annotations

import ast
import json
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response

from sims.core.http import install_error_handlers
from sims.mimecast.account import Account
from sims.mimecast.auth import check_client, check_hmac
from sims.mimecast.errors import FunctionError, GatewayError, gateway
from sims.mimecast.feed import threat_feed
from sims.mimecast.logs import run as run_logs

REWRITE_PREFIX = "https://protect-us.mimecast.com/s/"


def envelope(data: list, fail: list | None = None, pagination: dict | None = None, status: int = 200) -> dict:
    meta: dict = {"status": status}
    if pagination is not None:
        meta["pagination"] = pagination
    return {"meta": meta, "data": data, "fail": fail or []}


def ok(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def parse_body(raw: bytes) -> dict:
    """JSON; or a Python literal, as Mimecast's own sample code and Rapid7's plugins send (str(dict))."""
    if not raw.strip():
        return {}
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except RecursionError:
        raise gateway(400, "bad_request", "The request body is nested too deeply") from None
    except ValueError:
        try:
            body = ast.literal_eval(text)  # literals only: no names, calls or attributes
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise gateway(400, "bad_request", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise gateway(400, "bad_request", "The request body must be an object with meta and data")
    for key, kind in (("meta", dict), ("data", list)):
        if key in body and not isinstance(body[key], kind):
            raise gateway(400, "bad_request", f"'{key}' must be a{'n object' if kind is dict else ' list'}")
    return body


def build_app(sim) -> FastAPI:  # sim: MimecastSim
    app = FastAPI(title="sims mimecast: Mimecast API 2.0 / 1.0", version="1")
    install_error_handlers(app, sim)

    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, exc: GatewayError) -> Response:
        return ok(exc.body, exc.status, exc.headers)

    async def caller(request: Request) -> Account:
        auth = request.headers.get("authorization", "")
        now = sim.clock.now()
        if auth[:7].lower() == "bearer ":
            code = sim.tokens.account_for(auth[7:].strip(), now)
            account = sim.accounts[code]
        elif auth.startswith("MC "):
            account = sim.accounts[
                check_hmac(
                    {c: a.config for c, a in sim.accounts.items()},
                    dict(request.headers),
                    request.url.path,
                    now,
                ).account_code
            ]
        else:
            raise gateway(401, "unauthorized", "Authorization is required (Bearer token or MC signature)")
        limits = account.limits()
        if limits:
            verdict = account.rate.hit("api", limits, now)
            reset_ms = str(verdict.reset * 1000)
            headers = {
                "X-RateLimit-Limit": str(verdict.limit.count),
                "X-RateLimit-Remaining": str(verdict.remaining),
                "X-RateLimit-Reset": reset_ms,
                "X-Rate-Limit-Reset": reset_ms,
            }
            if not verdict.allowed:
                raise gateway(
                    429, "rate_limit_exceeded", "Too many requests: the API call quota is exhausted", headers
                )
            request.state.rate_headers = headers
        if account.generator_enabled:
            account.events.generate_until(now)
        return account

    def reply(request: Request, body: dict) -> Response:
        return ok(body, headers=getattr(request.state, "rate_headers", None))

    @app.post("/oauth/token", summary="API 2.0: client credentials, 30-minute bearer tokens")
    async def token(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise gateway(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        account = check_client({c: a.config for c, a in sim.accounts.items()}, form)
        return ok(sim.tokens.issue(account, sim.clock.now()), headers={"Cache-Control": "no-store"})

    async def logs(function: str, request: Request) -> Response:
        account = await caller(request)
        body = parse_body(await request.body())
        pagination = (body.get("meta") or {}).get("pagination") or {}
        if not isinstance(pagination, dict):
            raise gateway(400, "bad_request", "meta.pagination must be an object")
        items = body.get("data") or []
        item = items[0] if items else None
        if item is not None and not isinstance(item, dict):
            raise gateway(400, "bad_request", "data items must be objects")
        try:
            data, meta = run_logs(
                function,
                account.events,
                sim.page_tokens,
                account.code,
                item,
                pagination,
                sim.clock.now(),
                account.config.max_page_size,
            )
        except FunctionError as err:
            return reply(request, envelope([], [err.item(item if item is not None else pagination)]))
        return reply(request, envelope([data], pagination=meta))

    @app.post("/api/ttp/url/get-logs", summary="TTP URL Protect click logs")
    async def url_logs(request: Request) -> Response:
        return await logs("url", request)

    @app.post("/api/ttp/impersonation/get-logs", summary="TTP Impersonation Protect logs")
    async def impersonation_logs(request: Request) -> Response:
        return await logs("impersonation", request)

    @app.post("/api/ttp/threat-intel/get-feed", summary="Threat intel feed (STIX 2.0 or CSV)")
    async def get_feed(request: Request) -> Response:
        account = await caller(request)
        body = parse_body(await request.body())
        item = (body.get("data") or [{}])[0]
        try:
            content, media, headers = threat_feed(
                account.events, item if isinstance(item, dict) else {}, sim.clock.now()
            )
        except FunctionError as err:
            return reply(request, envelope([], [err.item(item)]))
        headers.update(getattr(request.state, "rate_headers", None) or {})
        return Response(content, media_type=media, headers=headers)

    @app.post("/api/ttp/url/decode-url", summary="Decode rewritten URLs")
    async def decode_url(request: Request) -> Response:
        await caller(request)
        body = parse_body(await request.body())
        data, fail = [], []
        for item in body.get("data") or []:
            url = item.get("url") if isinstance(item, dict) else None
            if isinstance(url, str) and url.startswith(REWRITE_PREFIX):
                import base64

                token = url[len(REWRITE_PREFIX) :].split("?", 1)[0]
                try:
                    data.append(
                        {
                            "url": base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode(),
                            "success": True,
                        }
                    )
                    continue
                except (ValueError, UnicodeDecodeError):
                    pass
            fail.append(FunctionError("err_ttp_url_decode_failed", "The URL could not be decoded").item(item))
        return reply(request, envelope(data, fail))

    @app.post("/api/ttp/url/get-all-managed-urls", summary="Managed URLs")
    async def managed_urls(request: Request) -> Response:
        account = await caller(request)
        body = parse_body(await request.body())
        item = (body.get("data") or [{}])[0]
        wanted = item.get("domainOrUrl") if isinstance(item, dict) else None
        urls = [
            m
            for m in account.managed_urls
            if not wanted or wanted in m["domain"] or wanted in m.get("path", "")
        ]
        return reply(request, envelope(urls))

    @app.post("/api/ttp/url/create-managed-url", summary="Create a managed URL (block or permit)")
    async def create_managed_url(request: Request) -> Response:
        account = await caller(request)
        body = parse_body(await request.body())
        data, fail = [], []
        for item in body.get("data") or []:
            try:
                data.append(_managed(account, item))
            except FunctionError as err:
                fail.append(err.item(item))
        return reply(request, envelope(data, fail))

    @app.post("/api/account/get-account", summary="The account")
    async def get_account(request: Request) -> Response:
        account = await caller(request)
        c = account.config
        return reply(
            request,
            envelope(
                [
                    {
                        "accountCode": c.account_code,
                        "accountName": c.name,
                        "region": c.region,
                        "domains": c.domains,
                        "type": "full",
                    }
                ]
            ),
        )

    return app


def _managed(account: Account, item: object) -> dict:
    from urllib.parse import urlsplit

    if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"].strip():
        raise FunctionError("err_validation_null", "url is required")
    action = item.get("action", "block")
    if action not in ("block", "permit"):
        raise FunctionError("err_validation_invalid_value", "action must be block or permit")
    match = item.get("matchType", "explicit")
    if match not in ("explicit", "domain"):
        raise FunctionError("err_validation_invalid_value", "matchType must be explicit or domain")
    parts = urlsplit(item["url"] if "://" in item["url"] else f"http://{item['url']}")
    if not parts.hostname:
        raise FunctionError("err_validation_invalid_url", "url is not a valid URL")
    query = parts.query
    same = (parts.hostname, parts.path, query, match)
    if any(
        (m["domain"], m["path"], m["queryString"], m["matchType"]) == same and m["action"] == action
        for m in account.managed_urls
    ):
        raise FunctionError(
            "err_managed_url_exists_code", "The managed URL already exists; to update it, delete and recreate"
        )
    # The recorded shape (Rapid7 fixtures); mimecast-api's is_url_managed() reads queryString.
    entry = {
        "id": f"mu-{len(account.managed_urls) + 1:06d}",
        "scheme": parts.scheme,
        "domain": parts.hostname,
        "port": parts.port or -1,
        "path": parts.path,
        "queryString": query,
        "matchType": match,
        "action": action,
        "comment": item.get("comment", ""),
        "disableUserAwareness": bool(item.get("disableUserAwareness", False)),
        "disableRewrite": bool(item.get("disableRewrite", False)),
        "disableLogClick": bool(item.get("disableLogClick", False)),
    }
    account.managed_urls.append(entry)
    return entry
