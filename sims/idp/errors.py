"""Token endpoint failures and how each provider flavour words them (RFC 6749 §5.2 codes).

Okta and Entra descriptions follow their documented messages; Entra adds its AADSTS codes and
trace fields. Wording for Ping, ZIdentity and the generic flavour is RFC-style (UNVERIFIED).
"""

from __future__ import annotations

import uuid

# reason -> (status, RFC 6749 error code, generic description)
REASONS: dict[str, tuple[int, str, str]] = {
    "bad_content_type": (400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"),
    "bad_form": (400, "invalid_request", "The request body is not a valid form: {detail}"),
    "duplicate_param": (400, "invalid_request", "The '{param}' parameter is included more than once"),
    "body_too_large": (413, "invalid_request", "The request body exceeds {limit} bytes"),
    "missing_grant_type": (400, "invalid_request", "The 'grant_type' parameter is missing"),
    "unsupported_grant": (400, "unsupported_grant_type", "The grant type '{grant_type}' is not supported"),
    "multiple_auth": (400, "invalid_request", "The client used more than one authentication method"),
    "client_id_mismatch": (400, "invalid_request", "client_id does not match the authenticated client"),
    "bad_basic": (401, "invalid_client", "The Authorization header is not valid Basic credentials"),
    "no_client_auth": (401, "invalid_client", "Client authentication is required"),
    "unknown_client": (401, "invalid_client", "Unknown client '{client_id}'"),
    "auth_method_not_allowed": (401, "invalid_client", "The client may not authenticate with {method}"),
    "bad_secret": (401, "invalid_client", "The client secret is invalid"),
    "expired_secret": (401, "invalid_client", "The client secret has expired"),
    "bad_assertion": (401, "invalid_client", "The client assertion is invalid: {detail}"),
    "assertion_replay": (401, "invalid_client", "The client assertion has already been used (jti replay)"),
    "unauthorized_grant": (400, "unauthorized_client", "The client may not use this grant type"),
    "no_scope": (400, "invalid_scope", "No scope was requested and the client has no default scope"),
    "scope_not_allowed": (400, "invalid_scope", "The client may not request the scope '{scope}'"),
    "entra_scope": (400, "invalid_scope", "The scope '{scope}' is not valid; use <resource>/.default"),
    "bad_audience_param": (400, "invalid_target", "The audience '{audience}' is not valid"),
    "server_error": (500, "server_error", "{detail}"),
    "unavailable": (503, "temporarily_unavailable", "{detail}"),
    "rate_limited": (429, "slow_down", "{detail}"),
    "not_found": (404, "invalid_request", "{detail}"),
}

OKTA: dict[str, str] = {
    "missing_grant_type": "The request is missing a required parameter: 'grant_type'.",
    "unsupported_grant": "The authorization grant type is not supported by the authorization server. "
    "Configured grant types: [client_credentials].",
    "unknown_client": "The client_id is not found or is not valid.",  # UNVERIFIED exact wording
    "bad_secret": "The client secret supplied for a confidential client is invalid.",
    "expired_secret": "The client secret supplied for a confidential client is invalid.",
    "no_client_auth": "Client authentication failed. "
    "Either the client or the client credentials are invalid.",
    "no_scope": "The authorization server resource does not have any configured default scopes, "
    "'scope' must be provided.",
    "scope_not_allowed": "One or more scopes are not configured for the authorization server resource.",
    "unauthorized_grant": "The client is not authorized to use the provided grant type. "
    "Configured grant types: [client_credentials].",
}

# reason -> (AADSTS code, message, status/error override)
ENTRA: dict[str, tuple[int, str, tuple[int, str] | None]] = {
    "missing_grant_type": (
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
        None,
    ),
    "unsupported_grant": (70003, "The app requested an unsupported grant type '{grant_type}'.", None),
    "unknown_client": (
        700016,
        "Application with identifier '{client_id}' was not found in the directory. This can happen if the "
        "application has not been installed by the administrator of the tenant.",
        (400, "unauthorized_client"),
    ),
    "bad_secret": (
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID, for a secret added to app '{client_id}'.",
        None,
    ),
    "expired_secret": (7000222, "The provided client secret keys for app '{client_id}' are expired.", None),
    "no_client_auth": (
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        None,
    ),
    "entra_scope": (
        1002012,
        "The provided value for scope {scope} is not valid. Client credential flows "
        "must have a scope value with /.default suffixed to the resource identifier.",
        None,
    ),
    "scope_not_allowed": (500011, "The resource principal named {scope} was not found in the tenant.", None),
}


class TokenError(Exception):
    def __init__(self, reason: str, **context: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context = context

    def render(self, flavour: str, now_iso: str = "") -> tuple[int, dict, dict[str, str]]:
        """Status, JSON body and extra headers for this failure as ``flavour`` words it."""
        status, code, template = REASONS[self.reason]
        fields = _Fields(self.context)
        description = template.format_map(fields)
        if flavour == "okta" and self.reason in OKTA:
            description = OKTA[self.reason]
        body: dict = {"error": code, "error_description": description}
        if flavour == "entra" and self.reason in ENTRA:
            aadsts, message, override = ENTRA[self.reason]
            if override:
                status, code = override
            trace, correlation = uuid.uuid4(), uuid.uuid4()
            body = {
                "error": code,
                "error_description": f"AADSTS{aadsts}: {message.format_map(fields)} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {now_iso}",
                "error_codes": [aadsts],
                "timestamp": now_iso,
                "trace_id": str(trace),
                "correlation_id": str(correlation),
                "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
            }
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if status == 401 and self.context.get("basic"):
            headers["WWW-Authenticate"] = 'Basic realm="sims"'
        return status, body, headers


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return ""
