"""The TTP log functions: filters, dates, and page tokens that carry the whole query.

A page token is the query (function, account, filters, position) signed with a key derived from
the world seed: clients may send it alone (Elastic drops ``data`` on follow-up pages), and a
forged or altered token is refused as a function failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from sims.mimecast.errors import FunctionError
from sims.mimecast.events import EventBook, Stream, page

DEFAULT_PAGE_SIZE = 100
ROUTES = {"inbound", "outbound", "internal", "all"}
SCAN_RESULTS = {"clean", "malicious", "all"}
SEARCH_FIELDS = {"senderAddress", "recipientAddress", "subject", "policy", "all"}


def parse_date(value: object, field: str) -> float:
    """Dates as real clients send them: +0000, Z, +00:00, or none (UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise FunctionError("err_validation_invalid_date", f"{field} is not a valid date")
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FunctionError(
            "err_validation_invalid_date", f"{field} is not a valid date: {value!r}"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class Tokens:
    def __init__(self, seed: int) -> None:
        # A per-process secret beside the seed: world seeds are public, and a key derived only from
        # them would let anyone mint valid tokens. Tokens do not need to outlive the process.
        self._key = hashlib.sha256(f"mimecast-page-token:{seed}:".encode() + secrets.token_bytes(16)).digest()

    def export(self) -> str:
        return self._key.hex()  # page tokens handed out before a restart stay valid after it

    def load(self, key_hex: str) -> None:
        key = bytes.fromhex(key_hex)
        if len(key) != 32:
            raise ValueError("page token key must be 32 bytes")
        self._key = key

    def encode(self, query: dict) -> str:
        payload = json.dumps(query, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")

    def decode(self, token: str) -> dict:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, payload = raw[:12], raw[12:]
            ok = hmac.compare_digest(mac, hmac.new(self._key, payload, hashlib.sha256).digest()[:12])
            query = json.loads(payload) if ok else None
        except (ValueError, UnicodeDecodeError):
            query = None
        if not isinstance(query, dict):
            raise FunctionError("err_invalid_page_token", "The page token is not valid")
        return query


def _bool(item: dict, key: str, default: bool | None) -> bool | None:
    value = item.get(key, default)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FunctionError("err_validation_boolean", f"{key} must be true or false")


def _window(item: dict, now: float) -> tuple[float, float]:
    start_of_day = now - now % 86400
    start = parse_date(item["from"], "from") if item.get("from") else start_of_day
    end = parse_date(item["to"], "to") if item.get("to") else now
    if end < start:
        raise FunctionError("err_validation_date_range", "to must not be before from")
    return start, end


def url_query(item: dict, now: float) -> dict:
    start, end = _window(item, now)
    route = item.get("route", "all")
    scan = item.get("scanResult", "all")
    if not isinstance(route, str) or route not in ROUTES:
        raise FunctionError("err_validation_invalid_value", f"route must be one of {sorted(ROUTES)}")
    if not isinstance(scan, str) or scan not in SCAN_RESULTS:
        raise FunctionError(
            "err_validation_invalid_value", f"scanResult must be one of {sorted(SCAN_RESULTS)}"
        )
    return {
        "from": start,
        "to": end,
        "oldestFirst": _bool(item, "oldestFirst", False),
        "route": route,
        "scanResult": scan,
    }


def impersonation_query(item: dict, now: float) -> dict:
    start, end = _window(item, now)
    search, query = item.get("searchField"), item.get("query")
    if query is not None and not isinstance(query, str):
        raise FunctionError("err_validation_invalid_value", "query must be a string")
    if search is not None and (not isinstance(search, str) or search not in SEARCH_FIELDS):
        raise FunctionError(
            "err_validation_invalid_value", f"searchField must be one of {sorted(SEARCH_FIELDS)}"
        )
    if search is not None and not query:
        raise FunctionError("err_validation_null", "query is required when searchField is set")
    for key in ("identifiers", "actions"):
        if item.get(key) is not None and (
            not isinstance(item[key], list) or not all(isinstance(x, str) for x in item[key])
        ):
            raise FunctionError("err_validation_invalid_value", f"{key} must be a list of strings")
    return {
        "from": start,
        "to": end,
        "oldestFirst": _bool(item, "oldestFirst", False),
        "taggedMalicious": _bool(item, "taggedMalicious", None),
        "identifiers": item.get("identifiers"),
        "actions": item.get("actions"),
        "searchField": search or ("all" if query else None),
        "query": query,
    }


def url_filter(book: EventBook, q: dict):
    stream = book.clicks
    scan, route = q["scanResult"], q["route"]

    def keep(key: tuple) -> bool:
        if key[1] == 0 and route == "all":  # cheap path: maliciousness needs no full record
            if scan == "all":
                return True
            return book.is_malicious_click(key[2]) == (scan == "malicious")
        rec = stream.record(key)
        return (scan == "all" or rec["scanResult"] == scan) and (route == "all" or rec["route"] == route)

    return keep


def impersonation_filter(book: EventBook, q: dict):
    stream = book.impersonations

    def keep(key: tuple) -> bool:
        rec = stream.record(key)
        if q["taggedMalicious"] is not None and rec["taggedMalicious"] != q["taggedMalicious"]:
            return False
        if q["identifiers"] and not set(q["identifiers"]) & set(rec["identifiers"]):
            return False
        if q["actions"] and rec["action"] not in q["actions"]:
            return False
        if q["query"]:
            fields = ["senderAddress", "recipientAddress", "subject", "definition"]
            if q["searchField"] not in (None, "all"):
                fields = ["definition" if q["searchField"] == "policy" else q["searchField"]]
            return any(q["query"].lower() in str(rec.get(f, "")).lower() for f in fields)
        return True

    return keep


FUNCTIONS = {
    "url": ("clickLogs", url_query, url_filter, lambda b: b.clicks),
    "impersonation": (
        "impersonationLogs",
        impersonation_query,
        impersonation_filter,
        lambda b: b.impersonations,
    ),
}


def run(
    function: str,
    book: EventBook,
    tokens: Tokens,
    account: str,
    item: dict | None,
    pagination: dict,
    now: float,
    max_page: int,
) -> tuple[dict, dict]:
    """One get-logs call: the ``data[0]`` object and ``meta.pagination``."""
    list_name, build_query, build_filter, pick = FUNCTIONS[function]
    size = pagination.get("pageSize", pagination.get("page_size"))
    if size is None:  # absent, or null as XSOAR sometimes sends it
        size = DEFAULT_PAGE_SIZE
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= max_page:
        raise FunctionError("err_validation_page_size", f"pageSize must be between 1 and {max_page}")
    token = pagination.get("pageToken") or None
    if token is not None:
        state = tokens.decode(str(token))
        if state.get("f") != function or state.get("a") != account:
            raise FunctionError("err_invalid_page_token", "The page token is not valid for this request")
        try:
            q, after = state["q"], tuple(state["p"])
            q["from"], q["to"], q["oldestFirst"]
        except (KeyError, TypeError):
            raise FunctionError("err_invalid_page_token", "The page token is not valid") from None
    else:
        q, after = build_query(item or {}, now), None
    stream: Stream = pick(book)
    result = page(stream, q["from"], q["to"], q["oldestFirst"], after, size, build_filter(book, q))
    meta = {"pageSize": len(result.records)}
    if result.next_cursor is not None:
        meta["next"] = tokens.encode({"f": function, "a": account, "q": q, "p": list(result.next_cursor)})
    data = {list_name: result.records}
    if function == "impersonation":
        data["resultCount"] = len(result.records)
    return data, meta
