"""Publishing a sim's OpenAPI document: FastAPI's, corrected to the shapes the real service uses.

FastAPI documents what its routes declare; most sim routes read their bodies by hand (to answer in
the real service's error shape), so the generated document misses request bodies, response bodies
and every error status, and it advertises a 422 that no sim ever sends (validation errors leave as
400 in the service's shape, see ``sims.core.http``). ``publish_openapi`` merges per-operation
corrections over the generated document and declares the error answers every operation can give.
The fuzz tests (tests/fuzz) hold each sim to the document it publishes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

Operations = Mapping[str, Mapping[str, Any]]  # "METHOD /path" -> partial OpenAPI operation

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
REASONS = {
    400: "Malformed or invalid request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "No such resource",
    405: "Method not allowed",
    409: "Conflict with the current state",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Rate limit exceeded",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def deep_merge(base: dict, extra: Mapping) -> dict:
    """``extra`` merged into ``base`` (in place): mappings merge key by key, anything else replaces."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def error_response(status: int, schema: Mapping[str, Any], media_type: str = "application/json") -> dict:
    return {"description": REASONS.get(status, "Error"), "content": {media_type: {"schema": dict(schema)}}}


def correct_document(
    doc: dict,
    *,
    error_schema: Mapping[str, Any],
    error_statuses: Iterable[int] = (400, 401, 403, 404, 413, 429),
    error_media_type: str = "application/json",
    operations: Operations | None = None,
    security_schemes: Mapping[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    components: Mapping[str, Any] | None = None,
) -> dict:
    """Apply the corrections to a generated OpenAPI document (in place) and return it."""
    statuses = list(error_statuses)
    wanted = dict(operations or {})
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # sims answer validation errors with 400 in their own shape
            extra = wanted.pop(f"{method.upper()} {path}", None)
            if extra:
                deep_merge(op, extra)
            for status in statuses:
                responses.setdefault(str(status), error_response(status, error_schema, error_media_type))
            if security is not None and "security" not in op:
                op["security"] = copy.deepcopy(security)
    if wanted:  # a correction for an operation the app does not have is a bug in the corrections
        raise ValueError(f"OpenAPI corrections for unknown operations: {sorted(wanted)}")
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    if components:
        deep_merge(doc["components"], components)
    if security_schemes:
        doc["components"].setdefault("securitySchemes", {}).update(copy.deepcopy(dict(security_schemes)))
    return doc


def publish_openapi(app: FastAPI, **corrections: Any) -> None:
    """Serve the corrected document at the app's ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = correct_document(doc, **corrections)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
