"""The request journal: every request to every sim, bounded in memory, secrets redacted."""

from __future__ import annotations

import itertools
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-mc-app-key"}
)
# Keys whose values are secrets wherever they appear (form fields, JSON keys, query parameters).
SECRET_KEYS = frozenset(
    {
        "client_secret",
        "client_assertion",
        "password",
        "apikey",
        "api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "secret",
        "bearertoken",
        "samlresponse",
    }
)
log = logging.getLogger("sims.requests")
_FORM = re.compile(r"^[^\s=&]+=[^\s]*$")
_JSON_SECRET = re.compile(
    r'("(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value and name.endswith("authorization") else ""
            value = f"{scheme} {REDACTED}".strip()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def redact_body(body: bytes, content_type: str, full_size: int) -> str:
    """The kept (bounded) body as text with secrets masked, marked when it was cut."""
    if not body:
        return ""
    ct = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", "replace")
    stripped = text.lstrip()
    if "json" in ct or stripped.startswith(("{", "[")):
        text = _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    elif ct == "application/x-www-form-urlencoded" or _FORM.match(stripped):
        # by shape too: a client that forgets the content type must not leak its secret here
        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode([(k, REDACTED if k.lower() in SECRET_KEYS else v) for k, v in pairs])
    return text + (f"... [{full_size - len(body)} more bytes]" if full_size > len(body) else "")


def redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if k.lower() in SECRET_KEYS else v) for k, v in pairs])


@dataclass
class Entry:
    """One exchange. Raw headers and bounded bodies are kept as bytes; redaction happens when an
    entry is read, so the request path pays only for copying a few references."""

    id: int
    time: str
    sim: str
    method: str
    path: str
    query: str
    tenant: str | None
    status: int = 0
    latency_ms: float = 0.0
    client: str | None = None
    fault: str | None = None
    note: str | None = None
    raw_request_headers: list = field(default_factory=list, repr=False)
    raw_request_body: bytes = field(default=b"", repr=False)
    request_size: int = 0
    raw_response_headers: list = field(default_factory=list, repr=False)
    raw_response_body: bytes = field(default=b"", repr=False)
    response_size: int = 0

    def summary(self) -> dict:
        return {
            "id": self.id,
            "time": self.time,
            "sim": self.sim,
            "method": self.method,
            "path": self.path,
            "query": redact_query(self.query),
            "tenant": self.tenant,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "fault": self.fault,
            "note": self.note,
        }

    def detail(self) -> dict:
        req_headers = redact_headers(self.raw_request_headers)
        resp_headers = redact_headers(self.raw_response_headers)
        return {
            **self.summary(),
            "client": self.client,
            "request": {
                "headers": req_headers,
                "body": redact_body(
                    self.raw_request_body, req_headers.get("content-type", ""), self.request_size
                ),
                "size": self.request_size,
            },
            "response": {
                "headers": resp_headers,
                "body": redact_body(
                    self.raw_response_body, resp_headers.get("content-type", ""), self.response_size
                ),
                "size": self.response_size,
            },
        }


class Journal:
    """A ring buffer of entries; old entries fall off the end so memory stays bounded."""

    def __init__(self, capacity: int = 10_000, body_limit: int = 4096) -> None:
        self.capacity = capacity
        self.body_limit = body_limit
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._ids = itertools.count(1)
        self.total = 0
        # one INFO line per request on the logger ``sims.requests``; off unless asked (sims up at
        # --log-level info or debug), so the request path pays one attribute read
        self.log_requests = False

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, entry: Entry) -> None:
        self._entries.append(entry)
        self.total += 1
        if self.log_requests:
            log.info(
                "%s %s %s -> %d (%.1f ms)",
                entry.sim,
                entry.method,
                entry.path,
                entry.status,
                entry.latency_ms,
                extra={
                    "journal_id": entry.id,
                    "sim": entry.sim,
                    "method": entry.method,
                    "path": entry.path,
                    "status": entry.status,
                    "latency_ms": entry.latency_ms,
                    "tenant": entry.tenant,
                    "fault": entry.fault,
                },
            )

    def clear(self) -> None:
        self._entries.clear()

    def get(self, entry_id: int) -> Entry | None:
        for e in reversed(self._entries):
            if e.id == entry_id:
                return e
        return None

    def query(
        self,
        *,
        sim: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        tenant: str | None = None,
        since_id: int = 0,
        limit: int = 100,
    ) -> list[Entry]:
        """Newest last. ``path`` is a substring, or a regular expression when it starts with ``re:``."""
        pattern = re.compile(path[3:]) if path and path.startswith("re:") else None
        out: list[Entry] = []
        for e in reversed(self._entries):
            if e.id <= since_id:
                break
            if sim and e.sim != sim:
                continue
            if method and e.method != method.upper():
                continue
            if status is not None and e.status != status:
                continue
            if tenant and e.tenant != tenant:
                continue
            if path and not (pattern.search(e.path) if pattern else path in e.path):
                continue
            out.append(e)
            if len(out) >= limit:
                break
        out.reverse()
        return out

    def __len__(self) -> int:
        return len(self._entries)
