"""ZIA's error shape: ``{"code": ..., "message": ...}`` (sometimes only one of the two)."""

from __future__ import annotations


class ZiaError(Exception):
    def __init__(
        self, status: int, code: str | None, message: str | None = None, headers: dict | None = None
    ):
        super().__init__(message or code or str(status))
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def with_body(self, body: dict) -> ZiaError:
        """Use an exact body instead of code/message (e.g. the 429 body, which has neither)."""
        self._body = body
        return self

    def body(self) -> dict:
        if getattr(self, "_body", None) is not None:
            return self._body
        out: dict = {}
        if self.code:
            out["code"] = self.code
        if self.message:
            out["message"] = self.message
        return out


def invalid(message: str) -> ZiaError:
    return ZiaError(400, "INVALID_INPUT_ARGUMENT", message)


def body_invalid() -> ZiaError:
    # Recorded from a real tenant: 400 {"message":"Request body is invalid."} with no code.
    return ZiaError(400, None, "Request body is invalid.")


def not_found(what: str) -> ZiaError:
    return ZiaError(404, "RESOURCE_NOT_FOUND", f"{what} not found")  # message wording UNVERIFIED


def forbidden(message: str = "Access denied: the role does not have the permission for this API") -> ZiaError:
    return ZiaError(403, "AUTHORIZATION_FAILURE", message)  # code UNVERIFIED; status per ZIA's docs


def unauthenticated(message: str = "Session is not authenticated or timed out") -> ZiaError:
    return ZiaError(401, "NOT_AUTHENTICATED", message)  # code UNVERIFIED; message from ZIA's docs


def edit_lock() -> ZiaError:
    return ZiaError(409, "EDIT_LOCK_NOT_AVAILABLE")  # recorded: code only


def duplicate(message: str) -> ZiaError:
    return ZiaError(409, "DUPLICATE_ITEM", message)
