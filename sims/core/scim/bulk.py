"""/Bulk (RFC 7644 §3.7): operations run in order, each whole or not at all, each with its own status.
``bulkId:<id>`` in later operations' data and paths stands for the id a POST created."""

from __future__ import annotations

from sims.core.scim.errors import ScimError, invalid_syntax, invalid_value
from sims.core.scim.schema import BULK_REQUEST, BULK_RESPONSE
from sims.core.scim.store import Directory

_ENDPOINTS = {"users": "User", "groups": "Group"}


def run_bulk(directory: Directory, body: object, base: str) -> dict:
    d = directory.dialect
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    keys = {k.lower(): k for k in body}
    if d.strict:
        schemas = body.get(keys.get("schemas", "schemas"))
        if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
            raise invalid_syntax(f"schemas must be [{BULK_REQUEST!r}]")
    ops = body.get(keys.get("operations", "Operations"))
    if not isinstance(ops, list) or not ops:
        raise invalid_syntax("Operations must be a non-empty array")
    if len(ops) > d.bulk_max_operations:
        raise ScimError(413, f"at most {d.bulk_max_operations} operations in one bulk request")
    fail_on = body.get(keys.get("failonerrors", "failOnErrors"))
    if fail_on is not None and (not isinstance(fail_on, int) or isinstance(fail_on, bool) or fail_on < 1):
        raise invalid_syntax("failOnErrors must be a positive integer")
    created: dict[str, str] = {}
    results = []
    errors = 0
    for op in ops:
        result = _one(directory, op, created, base)
        results.append(result)
        if int(result["status"]) >= 400:
            errors += 1
            if fail_on is not None and errors >= fail_on:
                break
    return {"schemas": [BULK_RESPONSE], "Operations": results}


def _one(directory: Directory, op: object, created: dict[str, str], base: str) -> dict:
    out: dict = {}
    try:
        if not isinstance(op, dict):
            raise invalid_syntax("each operation must be an object")
        keys = {k.lower(): k for k in op}
        method = op.get(keys.get("method", "method"))
        out["method"] = method
        bulk_id = op.get(keys.get("bulkid", "bulkId"))
        if bulk_id is not None:
            out["bulkId"] = bulk_id
        path = op.get(keys.get("path", "path"))
        data = op.get(keys.get("data", "data"))
        version = op.get(keys.get("version", "version"))
        if not isinstance(method, str) or method.upper() not in ("POST", "PUT", "PATCH", "DELETE"):
            raise invalid_syntax("method must be POST, PUT, PATCH or DELETE")
        method = out["method"] = method.upper()
        if not isinstance(path, str) or not path.startswith("/"):
            raise invalid_syntax("path must be a resource path such as /Users or /Users/<id>")
        parts = _resolve(path, created).strip("/").split("/")
        kind = _ENDPOINTS.get(parts[0].lower())
        if kind is None or len(parts) > 2:
            raise ScimError(404, f"no resource endpoint at {path}")
        data = _resolve(data, created)
        if method == "POST":
            if len(parts) != 1:
                raise ScimError(404, "POST goes to the resource type's endpoint")
            if not isinstance(bulk_id, str) or not bulk_id:
                raise invalid_value("a POST in a bulk request needs a bulkId")
            rec = directory.create(kind, data)
            created[bulk_id] = rec.id
            out.update(status="201", location=f"{base}{directory.types[kind].endpoint}/{rec.id}")
            out["version"] = rec.etag
            return out
        if len(parts) != 2:
            raise ScimError(404, f"{method} needs a resource id in the path")
        rid = parts[1]
        out["location"] = f"{base}{directory.types[kind].endpoint}/{rid}"
        if method == "DELETE":
            directory.delete(kind, rid, if_match=version)
            out["status"] = "204"
            return out
        action = directory.replace if method == "PUT" else directory.patch
        rec = action(kind, rid, data, if_match=version)
        out["status"] = "200"
        if rec is not None:
            out["version"] = rec.etag
        return out
    except ScimError as err:
        out["status"] = str(err.status)
        out["response"] = err.body()
        return out


def _resolve(value: object, created: dict[str, str]) -> object:
    """``bulkId:x`` (whole strings, and path segments) replaced by the id created for ``x``."""
    if isinstance(value, str):
        if "bulkId:" not in value:
            return value
        if value.startswith("bulkId:"):
            ref = value[7:]
            if ref not in created:
                raise ScimError(409, f"bulkId {ref} does not name a resource created earlier in the request")
            return created[ref]
        return "/".join(_resolve(part, created) for part in value.split("/"))
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value
