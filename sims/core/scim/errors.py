"""RFC 7644 §3.12 errors: ``{"schemas": [...Error], "status": "409", "scimType": ..., "detail": ...}``."""

from __future__ import annotations

import json

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An error a SCIM endpoint answers with; raised anywhere in the engine (and by dialect hooks)."""

    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict:
        out: dict = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            out["scimType"] = self.scim_type
        out["detail"] = self.detail
        return out

    def __repr__(self) -> str:
        return f"ScimError({self.status}, {self.scim_type!r}, {self.detail!r})"


def error_body(status: int, detail: str, scim_type: str | None = None) -> bytes:
    """An RFC 7644 error body, for a sim's ``error_body`` on its SCIM paths (e.g. the shared 413)."""
    return json.dumps(ScimError(status, detail, scim_type).body()).encode()


# -- the scimTypes of RFC 7644 table 9, and the statuses that have none ----------------------------
def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def no_target(detail: str) -> ScimError:
    return ScimError(400, detail, "noTarget")


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, "mutability")


def too_many(detail: str) -> ScimError:
    return ScimError(400, detail, "tooMany")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def precondition_failed(detail: str = "the resource has changed (If-Match does not match)") -> ScimError:
    return ScimError(412, detail)


def too_large(limit: int) -> ScimError:
    return ScimError(413, f"the request body is larger than the maximum of {limit} bytes")


def unauthorized(detail: str = "authorization failure: a valid bearer token is required") -> ScimError:
    return ScimError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})
