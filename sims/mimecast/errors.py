"""Mimecast's failure shapes: gateway failures (non-200, flat ``fail``) and function failures
(HTTP 200, ``fail[].key`` + ``errors[]``)."""

from __future__ import annotations


class GatewayError(Exception):
    """Refused before the function runs (auth, rate limit, malformed request)."""

    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def gateway(status: int, code: str, message: str, headers: dict | None = None) -> GatewayError:
    """API 2.0 gateway shape: ``{"fail": [{"code", "message"}]}`` (Rapid7 / Sentinel read fail[0].code)."""
    return GatewayError(
        status,
        {"meta": {"status": status}, "data": [], "fail": [{"code": code, "message": message}]},
        headers,
    )


def hmac_failure(status: int, code: str, message: str) -> GatewayError:
    """API 1.0 shape (recorded by Rapid7): ``fail[].errors[]`` with ``meta.isLastToken``."""
    body = {
        "meta": {"isLastToken": False, "status": status},
        "fail": [{"errors": [{"code": code, "message": message, "retryable": False}]}],
    }
    return GatewayError(status, body)


class FunctionError(Exception):
    """A per-item failure: HTTP 200 with ``fail: [{"key": <item>, "errors": [...]}]``."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable

    def item(self, key: object) -> dict:
        return {
            "key": key,
            "errors": [{"code": self.code, "message": self.message, "retryable": self.retryable}],
        }
