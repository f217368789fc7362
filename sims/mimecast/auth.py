"""API 2.0 OAuth tokens (30 minutes on the sim clock) and API 1.0 HMAC-SHA1 request signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from sims.core.seeded import export_rng, load_rng
from sims.mimecast.config import MimecastAccount
from sims.mimecast.errors import GatewayError, gateway, hmac_failure


def sign(secret_key_b64: str, date: str, req_id: str, uri: str, app_key: str) -> str:
    """The MC signature: base64(HMAC-SHA1(b64decode(secret), "date:req-id:uri:app-key"))."""
    digest = hmac.new(
        base64.b64decode(secret_key_b64), f"{date}:{req_id}:{uri}:{app_key}".encode(), hashlib.sha1
    )
    return base64.b64encode(digest.digest()).decode()


@dataclass
class Token:
    account: str
    expires_at: float


class TokenBook:
    """Bearer tokens of every account, opaque and random (seeded), expiring on the sim clock."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"mimecast-tokens:{seed}")
        self.tokens: dict[str, Token] = {}

    def export(self) -> dict:
        return {
            "tokens": {k: [t.account, t.expires_at] for k, t in self.tokens.items()},
            "rng": export_rng(self._rng),  # token values must not repeat after a restore
        }

    def load(self, state: dict) -> None:
        self.tokens = {k: Token(str(a), float(e)) for k, (a, e) in state["tokens"].items()}
        load_rng(self._rng, state["rng"])

    def issue(self, account: MimecastAccount, now: float) -> dict:
        self.tokens = {k: t for k, t in self.tokens.items() if t.expires_at > now - 86400}  # bounded
        value = base64.urlsafe_b64encode(self._rng.getrandbits(256).to_bytes(32, "big")).decode().rstrip("=")
        self.tokens[value] = Token(account.account_code, now + account.token_lifetime)
        return {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": account.token_lifetime - 1,
            "scope": "",
        }

    def account_for(self, value: str, now: float) -> str:
        token = self.tokens.get(value)
        if token is None:
            raise gateway(401, "token_verification_failed", "The access token could not be verified")
        if now >= token.expires_at:
            raise gateway(401, "token_expired", "The access token has expired")
        return token.account

    def expire_all(self, account: str) -> int:
        hit = [k for k, t in self.tokens.items() if t.account == account]
        for k in hit:
            self.tokens[k].expires_at = 0
        return len(hit)


def check_client(accounts: dict[str, MimecastAccount], form: dict[str, str]) -> MimecastAccount:
    if form.get("grant_type") != "client_credentials":
        raise gateway(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or not secret:
        raise gateway(400, "invalid_request", "client_id and client_secret are required")
    account = next((a for a in accounts.values() if a.client_id == client_id), None)
    # UNVERIFIED: the real body for bad credentials is not recorded; clients only read fail[0].code.
    if account is None or not hmac.compare_digest(account.client_secret.encode(), secret.encode()):
        raise gateway(401, "invalid_client", "Invalid client credentials")
    return account


def check_hmac(
    accounts: dict[str, MimecastAccount], headers: dict[str, str], path: str, now: float
) -> MimecastAccount:
    """Verify ``Authorization: MC access:signature`` over ``x-mc-date:x-mc-req-id:path:app-key``."""
    auth = headers.get("authorization", "")
    date, req_id, app_id = headers.get("x-mc-date"), headers.get("x-mc-req-id"), headers.get("x-mc-app-id")
    if not (date and req_id and app_id):
        raise hmac_failure(400, "err_xdk_missing_headers", "0001 Credentials are missing")
    access_key, sep, signature = auth[3:].strip().partition(":")
    if not sep:
        raise hmac_failure(401, "err_xdk_invalid_authorization", "0001 Authentication type not supported")
    account = next((a for a in accounts.values() if a.hmac and a.hmac.access_key == access_key), None)
    if account is None:
        raise hmac_failure(401, "err_xdk_invalid_access_key", "0003 Invalid access key")
    binding = account.hmac
    if app_id != binding.app_id:
        raise hmac_failure(401, "err_developer_key", "The application id is not valid")
    expected = sign(binding.secret_key, date, req_id, path, binding.app_key)
    if not hmac.compare_digest(expected, signature.strip()):
        raise hmac_failure(401, "err_xdk_invalid_signature", "0004 Invalid Signature")
    try:
        sent = parsedate_to_datetime(date.replace(" UTC", " GMT")).timestamp()
    except (TypeError, ValueError):
        raise hmac_failure(
            401, "err_xdk_invalid_date", "0005 The x-mc-date header is not a valid date"
        ) from None
    if abs(sent - now) > account.hmac_max_skew:
        raise hmac_failure(
            401, "err_xdk_stale_date", "0006 The x-mc-date header is outside the allowed window"
        )
    return account


__all__ = ["GatewayError", "TokenBook", "check_client", "check_hmac", "sign"]
