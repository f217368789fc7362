"""The HTTP layer every sim is wrapped in: journal, faults, body limits and error shapes.

It is plain ASGI (not Starlette's BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sims.core.clock import SimClock, iso
from sims.core.faults import FaultEngine, FaultRule
from sims.core.journal import Entry, Journal
from sims.core.metrics import Metrics, route_of
from sims.core.sim import Sim

log = logging.getLogger("sims.http")

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class _TooLarge(StarletteHTTPException):
    """Raised from ``receive`` so that the sim's own handler renders the 413 in its error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


JOURNAL_ENTRY = "sims.journal_entry"


def journal_note(scope: dict, note: str) -> None:
    """Set the ``note`` of the journal entry of the request whose ASGI scope this is (if journaled)."""
    entry = scope.get(JOURNAL_ENTRY)
    if entry is not None:
        entry.note = note


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def install_error_handlers(app: FastAPI, sim: Sim) -> None:
    """Every error a sim's app raises leaves in the real service's shape, never as a traceback."""

    def reply(status: int, message: str, headers: dict | None = None) -> Response:
        body, ctype = sim.error_body(status, message)
        return Response(body, status_code=status, media_type=ctype, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return reply(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return reply(400, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> Response:
        log.exception("%s: unhandled error", sim.name)
        return reply(500, "internal error")


class SimHTTP:
    """ASGI wrapper: record each exchange, apply fault rules, refuse oversized bodies."""

    def __init__(
        self,
        app: Callable,
        sim: Sim,
        *,
        clock: SimClock,
        journal: Journal,
        faults: FaultEngine,
        max_body: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.sim = sim
        self.clock = clock
        self.journal = journal
        self.faults = faults
        self.max_body = max_body
        self.metrics = metrics

    async def _reply(self, send: Send, entry: Entry, status: int, body: bytes, ctype: str, extra=()) -> None:
        headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()), *extra]
        entry.status = status
        entry.raw_response_headers = headers
        entry.raw_response_body = body[: self.journal.body_limit]
        entry.response_size = len(body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fault(self, rule: FaultRule, send: Send, entry: Entry) -> bool:
        """Apply ``rule``; True when the request is answered (or dropped) and the sim must not run."""
        spec = rule.spec
        entry.fault = rule.id
        if spec.action == "delay":
            # Latency is deliberately real time: it exists to exercise clients' real timeouts.
            await asyncio.sleep(spec.delay_ms / 1000)
            return False
        if spec.action == "drop":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                transport.abort()  # reset the TCP connection without a response
                entry.note = "connection dropped by fault"
                return True
            entry.note = "drop unsupported by this server; answered 502"
            body, ctype = self.sim.error_body(502, "connection dropped")
            await self._reply(send, entry, 502, body, ctype)
            return True
        declared = next((v for k, v in spec.headers.items() if k.lower() == "content-type"), None)
        if spec.body is None:
            body, ctype = self.sim.error_body(spec.status, "injected fault")
        elif isinstance(spec.body, str):
            body, ctype = spec.body.encode(), declared or "text/plain"
        else:
            body, ctype = json.dumps(spec.body).encode(), declared or "application/json"
        extra = [
            (k.lower().encode(), v.encode()) for k, v in spec.headers.items() if k.lower() != "content-type"
        ]
        await self._reply(send, entry, spec.status, body, ctype, extra)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()  # measures latency only; simulated time comes from the clock
        headers = scope["headers"]
        path = scope["path"]
        method = scope["method"]
        try:
            tenant = self.sim.tenant_of(path, headers)
        except Exception:  # tenant lookup is best effort, never a reason to fail a request
            tenant = None
        client = scope.get("client")
        entry = Entry(
            id=self.journal.next_id(),
            time=iso(self.clock.now()),
            sim=self.sim.name,
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            tenant=tenant,
            client=f"{client[0]}:{client[1]}" if client else None,
            raw_request_headers=headers,
        )
        scope[JOURNAL_ENTRY] = entry  # lets the sim's app annotate its own journal entry (journal_note)
        try:
            await self._handle(scope, receive, send, entry)
        finally:
            elapsed = time.perf_counter() - started
            entry.latency_ms = round(elapsed * 1000, 3)
            self.journal.add(entry)
            if self.metrics is not None:
                self.metrics.observe(self.sim.name, method, route_of(scope), entry.status, elapsed)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, entry: Entry) -> None:
        length = _header(scope["headers"], b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            body, ctype = self.sim.error_body(413, f"request body larger than {self.max_body} bytes")
            await self._reply(send, entry, 413, body, ctype)
            return
        rule = self.faults.pick(self.sim.name, entry.method, entry.path, entry.tenant)
        if rule is not None and await self._fault(rule, send, entry):
            return

        keep = self.journal.body_limit
        request_chunks: list[bytes] = []
        received = 0

        async def tee_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body:
                    raise _TooLarge(self.max_body)
                if keep and sum(map(len, request_chunks)) < keep:
                    request_chunks.append(chunk)
            return message

        started_response = False
        response_chunks: list[bytes] = []
        response_size = 0

        async def tee_send(message: dict) -> None:
            nonlocal started_response, response_size
            if message["type"] == "http.response.start":
                started_response = True
                entry.status = message["status"]
                entry.raw_response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                response_size += len(chunk)
                if keep and sum(map(len, response_chunks)) < keep:
                    response_chunks.append(chunk)
            await send(message)

        try:
            await self.app(scope, tee_receive, tee_send)
        except Exception as exc:  # already rendered by the app's handlers when the response started
            if not started_response:
                status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
                if status == 500:
                    log.exception("%s: unhandled error", self.sim.name)
                body, ctype = self.sim.error_body(
                    status, "internal error" if status == 500 else str(exc.detail)
                )
                await self._reply(send, entry, status, body, ctype)
        finally:
            entry.raw_request_body = b"".join(request_chunks)[:keep]
            entry.request_size = received
            if response_chunks or response_size:
                entry.raw_response_body = b"".join(response_chunks)[:keep]
                entry.response_size = response_size
