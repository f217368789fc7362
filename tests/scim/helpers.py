"""Shared test helpers: bodies, error assertions, state snapshots."""

from __future__ import annotations

import json

from sims.core.scim import CORE_USER, ENTERPRISE_USER
from sims.core.scim.errors import ERROR_SCHEMA

BASE = "/scim/t1/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user(user_name: str = "alice@example.com", **extra) -> dict:
    body = {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "displayName": "Alice Smith",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def enterprise(**attrs) -> dict:
    return {ENTERPRISE_USER: attrs}


def patch(*ops: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


def assert_error(response, status: int, scim_type: str | None = None, contains: str | None = None) -> dict:
    """The response is exactly an RFC 7644 error with ``status`` (and ``scimType``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json"), response.headers
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    if scim_type is None:
        assert "scimType" not in body, body
    else:
        assert body.get("scimType") == scim_type, body
    assert isinstance(body["detail"], str) and body["detail"]
    if contains:
        assert contains.lower() in body["detail"].lower(), body["detail"]
    return body


def snapshot(directory) -> str:
    """The whole directory state, to compare before and after a refused request."""
    return json.dumps(directory.export_state(), sort_keys=True)
