"""HTTP for a run: authentications and their tokens, each exchange recorded, success decided.

One ``Session`` per run holds the current access token of each authentication of the
ConnectionJSON (starting from ``accessToken``, regenerated from ``url`` / ``httpParams`` when a
response matches ``retryFailureStatusCode`` or an ``authError`` at ``errorPath``, at most
``maxRefreshTryCount`` times per call; reference §1.2 "Token lifecycle"), sends requests with
httpx, and records every exchange in the operation's report with the rule that decided it.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sims.saviynt import expr, lenient
from sims.saviynt.documents import Auth, Connection, Rule
from sims.saviynt.paths import get_path
from sims.saviynt.report import Exchange, Finding, OperationResult, clip, redact


class BindingError(Exception):
    """A ``${...}`` that cannot be evaluated, named by document, call, field and expression."""

    def __init__(self, document: str, call: str, where: str, expression: str, message: str) -> None:
        self.document = document
        self.call = call
        self.where = where
        self.expression = expression
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        return (
            f"{self.document}, call '{self.call}', {self.where}: cannot evaluate "
            f"`${{{expr.short(self.expression)}}}`: {self.message}"
        )


class CallFailed(Exception):
    """A call of a document failed; the message is the explanation for the run report."""


def bind(
    text: str,
    variables: dict[str, Any],
    *,
    document: str,
    call: str,
    where: str,
    notes: list[str] | None = None,
) -> str:
    try:
        return expr.render(text, variables, notes)
    except expr.ExpressionError as err:
        raise BindingError(document, call, where, err.expression or text, err.describe()) from None


class HeaderMap(dict):
    """Response headers for bindings: names are case-insensitive (``headers.Link`` finds
    ``link``, which is how HTTP/1.1 servers often send it)."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__((k.lower(), v) for k, v in items.items())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes | None = None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    json: Any  # parsed body, or None when it is not JSON
    is_json: bool


@dataclass
class CallOutcome:
    ok: bool
    exchange: Exchange
    response: Response | None
    explanation: str = ""


def _detail(resp: Response) -> str:
    """The server's own words about an error, from the usual error shapes."""
    body = resp.json
    if isinstance(body, dict):
        for path in (
            "detail",
            "error_description",
            "message",
            "error.message",
            "error.code",
            "error",
            "errors",
        ):
            found, value = get_path(body, path)
            if found and value not in (None, "", [], {}):
                return expr.to_text(value)[:300]
    return resp.text.strip()[:300]


def judge(resp: Response, success: Rule | None, unsuccess: Rule | None) -> tuple[bool, str]:
    """(success?, the rule that decided): unsuccessResponses first, then successResponses,
    else any 2xx (the default when a call gives no successResponses; UNVERIFIED)."""

    def field_value(path: str) -> str | None:
        found, value = get_path(resp.json, path) if resp.is_json else (False, None)
        return expr.to_text(value) if found else None

    if unsuccess is not None:
        if unsuccess.status_codes and resp.status in unsuccess.status_codes:
            return False, f"{unsuccess.describe()} contains {resp.status}"
        for path, values in unsuccess.fields.items():
            value = field_value(path)
            if value is not None and value in values:
                return False, f"{unsuccess.describe()}: {path} is {value!r}"
    if success is not None:
        if success.status_codes and resp.status not in success.status_codes:
            return False, f"{resp.status} is not in {success.describe()}"
        for path, values in success.fields.items():
            value = field_value(path)
            if value not in values:
                return False, f"{path} is {value!r}, not in {success.describe()}"
        return True, f"{resp.status} matches {success.describe()}"
    if 200 <= resp.status < 300:
        return True, f"{resp.status} is 2xx (no successResponses given)"
    return False, f"{resp.status} is not 2xx (no successResponses given)"


def explain_failure(resp: Response, rule: str, auth: Auth | None, refreshes: int, url: str) -> str:
    """One paragraph that tells the user what to fix."""
    detail = _detail(resp)
    said = f" The server said: {detail!r}." if detail else ""
    s = resp.status
    if s in (401, 403):
        if auth is None:
            cause = "no authentication was used for this call"
        elif refreshes:
            cause = (
                f"the token was regenerated {refreshes} time(s) (maxRefreshTryCount {auth.max_refresh}) "
                "and is still refused"
            )
        elif not auth.retry_status and not auth.auth_errors:
            cause = "retryFailureStatusCode and authError are empty, so no new token was requested"
        else:
            cause = (
                "the response matched neither retryFailureStatusCode nor authError: "
                "no new token was requested"
            )
        who = f"accessToken of ConnectionJSON '{auth.name}'" if auth else "the credentials"
        return f"The server refused the credentials ({s}): check {who}; {cause}.{said} (rule: {rule})"
    if s == 404:
        tail = " The URL contains 'null': a binding in it was null." if "/null" in url else ""
        return (
            f"Nothing at {url} (404): check the base URL and the path of the call's url.{tail}{said} "
            f"(rule: {rule})"
        )
    if 200 <= s < 300:
        return (
            f"The server answered {s}, a success status, but the call's rule says failure: {rule}. "
            f"Saviynt counts the call as failed although the target may have made the change; "
            f"add {s} to successResponses.statusCode if {s} is what this target answers."
        )
    if s == 400:
        return f"The server refused the request (400).{said} Check the body the call sent. (rule: {rule})"
    if s == 409:
        return f"Conflict (409): the object exists already or is in use.{said} (rule: {rule})"
    if s == 429:
        return f"Rate limited (429).{said} (rule: {rule})"
    if s >= 500:
        return f"The server failed ({s}).{said} (rule: {rule})"
    return f"The server answered {s}.{said} (rule: {rule})"


def _transport_error(err: Exception, url: str, timeout: float) -> str:
    hint = ""
    if "<" in url or "{{" in url:
        hint = " The URL still contains a placeholder (<domain name>, {{...}})."
    if isinstance(err, httpx.ConnectError):
        parts = urllib.parse.urlsplit(url)
        return (
            f"could not connect to {parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)} "
            f"({err}): nothing answers there, check the base URL of the call.{hint}"
        )
    if isinstance(err, httpx.TimeoutException):
        return f"no answer within {timeout:g} s ({type(err).__name__}).{hint}"
    if isinstance(err, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return f"{url!r} is not a usable URL: {err}.{hint}"
    if isinstance(err, httpx.RemoteProtocolError):
        return f"the server closed the connection without an answer ({err})"
    return f"{type(err).__name__}: {err}{hint}"


def encode_params(
    params: Any, content_type: str | None, variables: dict[str, Any], *, document: str, call: str, where: str
) -> tuple[str | bytes | None, str | None]:
    """(body, content type) for httpParams: JSON text sent as is; an object form-encoded or
    serialized per httpContentType; bindings rendered inside values."""
    if params is None or params == "":
        return None, content_type
    ctype = (content_type or "").lower()
    if isinstance(params, dict):
        rendered = {
            k: bind(v, variables, document=document, call=call, where=f"{where}.{k}")
            if isinstance(v, str)
            else v
            for k, v in params.items()
        }
        if "x-www-form-urlencoded" in ctype or "multipart" in ctype or not ctype:
            # Saviynt writes spaces as %20 (the -pws variant exists to avoid that).
            quote = urllib.parse.quote_plus if ctype.endswith("-pws") else urllib.parse.quote
            body = urllib.parse.urlencode({k: expr.to_text(v) for k, v in rendered.items()}, quote_via=quote)
            return body, "application/x-www-form-urlencoded"
        return json.dumps(rendered), content_type
    return bind(str(params), variables, document=document, call=call, where=where), content_type


def json_body(body: str, *, strict: bool, document: str, call: str, findings: list[Finding]) -> str:
    """A JSON body as it will be sent: as written when valid; repaired (and reported) when the
    lenient reader can read it; else as written with a warning."""
    try:
        json.loads(body)
        return body
    except ValueError:
        pass
    try:
        value, repairs = lenient.read_json(body, lenient=not strict)
    except lenient.JsonReadError as err:
        findings.append(
            Finding(
                "warning",
                document,
                f"httpParams is not valid JSON after binding ({err}); sent as written, so the target will "
                f"most likely refuse it",
                f"call '{call}'",
            )
        )
        return body
    fixed = json.dumps(value, ensure_ascii=False)
    what = "; ".join(f"column {r.column}: {r.message}" for r in repairs)
    findings.append(
        Finding(
            "repair",
            document,
            f"httpParams is not valid JSON after binding: {what}. "
            f"Sent the repaired body {expr.short(fixed, 300)!r}; "
            "Saviynt sends httpParams as written, so the real target would receive invalid JSON",
            f"call '{call}'",
        )
    )
    return fixed


class Session:
    def __init__(
        self,
        connection: Connection,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        strict: bool = False,
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self.strict = strict
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self.tokens: dict[str, str | None] = {name: a.access_token for name, a in connection.auths.items()}

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # -- authentications

    def resolve_auth(
        self, name: str | None, fallback: str | None, *, document: str, where: str, op: OperationResult
    ) -> Auth:
        auths = self.connection.auths
        for candidate in (name, fallback):
            if candidate and candidate in auths:
                if candidate != name and name:
                    op.findings.append(
                        Finding(
                            "warning",
                            document,
                            f"connection '{name}' is not defined in ConnectionJSON (it has "
                            f"{', '.join(auths)}); used '{candidate}' from the enclosing parameters instead "
                            "(UNVERIFIED what Saviynt does here)",
                            where,
                        )
                    )
                return auths[candidate]
        if not name and not fallback and len(auths) == 1:
            return next(iter(auths.values()))
        wanted = name or fallback
        raise CallFailed(
            f"{document}, {where}: connection {wanted!r} is not defined in ConnectionJSON "
            f"(it defines {', '.join(auths)})"
            if wanted
            else f"{document}, {where}: no 'connection', and ConnectionJSON defines {', '.join(auths)}"
        )

    def header_value(self, auth: Auth) -> str | None:
        if auth.auth_type == "basic":
            user = auth.properties.get("userName") or auth.properties.get("username") or ""
            password = auth.properties.get("password") or ""
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return self.tokens.get(auth.name)

    def variables(self, auth: Auth | None) -> dict[str, Any]:
        if auth is None:
            return {"access_token": None, "connection": None}
        return {"access_token": self.header_value(auth), "connection": dict(auth.raw)}

    def ensure_token(self, op: OperationResult, auth: Auth, document: str) -> None:
        if auth.auth_type.startswith("unsupported:"):
            raise CallFailed(
                f"ConnectionJSON '{auth.name}': authType {auth.auth_type.split(':', 1)[1]!r} is not simulated"
                " "
                "by this engine (oauth2, Basic and static bearer tokens are)"
            )
        if auth.auth_type == "oauth2" and not self.tokens.get(auth.name) and auth.url:
            ok, why = self.refresh(op, auth, document, "no accessToken: fetching the first token")
            if not ok:
                raise CallFailed(why)

    def refresh_trigger(self, auth: Auth | None, resp: Response) -> str | None:
        if auth is None or auth.auth_type != "oauth2":
            return None
        if resp.status in auth.retry_status:
            return f"{resp.status} is in retryFailureStatusCode {auth.retry_status}"
        if auth.error_path and resp.is_json:
            found, value = get_path(resp.json, auth.error_path)
            values = value if isinstance(value, list) else [value]
            for v in values if found else []:
                text = expr.to_text(v)
                if text in auth.auth_errors:
                    return f"{auth.error_path} is {text!r}, listed in authError"
                if auth.expiry_error and text == auth.expiry_error:
                    return f"{auth.error_path} is {text!r}, the expiryError"
        return None

    def refresh(self, op: OperationResult, auth: Auth, document: str, reason: str) -> tuple[bool, str]:
        """POST the token call of ``auth``; on success the new token replaces the current one."""
        if not auth.url:
            return False, f"ConnectionJSON '{auth.name}' has no url to regenerate the token from ({reason})"
        variables = {"connection": dict(auth.raw), "access_token": self.tokens.get(auth.name)}
        try:
            body, ctype = encode_params(
                auth.http_params, auth.http_content_type, variables,
                document="ConnectionJSON", call=f"{auth.name} token", where="httpParams",
            )  # fmt: skip
            headers = {
                k: bind(
                    v,
                    variables,
                    document="ConnectionJSON",
                    call=f"{auth.name} token",
                    where=f"httpHeaders.{k}",
                )
                for k, v in auth.http_headers.items()
            }
        except BindingError as err:
            return False, err.describe()
        if ctype and body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = ctype
        req = Request(auth.http_method, auth.url, headers, body)
        ex, resp = self.exchange(op, document, f"{auth.name} token", "token regeneration", req)
        if resp is None:
            ex.outcome = "failure"
            return False, f"regenerating the token of '{auth.name}' failed: {ex.error}"
        ok, rule = judge(resp, None, None)
        if not ok:
            ex.outcome, ex.rule = "failure", rule
            return False, (
                f"regenerating the token of '{auth.name}' failed: POST {auth.url} answered {resp.status} "
                f"({_detail(resp)!r}); check url, httpParams and httpContentType of ConnectionJSON "
                f"'{auth.name}'"
            )
        path = auth.token_response_path
        if path.startswith("#HEADERS#"):
            header = path[len("#HEADERS#") :]
            token = next((v for k, v in resp.headers.items() if k.lower() == header.lower()), None)
        else:
            found, token = get_path(resp.json, path) if resp.is_json else (False, None)
            token = token if found else None
        if not token:
            ex.outcome = "failure"
            ex.rule = f"no token at tokenResponsePath '{path}'"
            has = ", ".join(resp.json) if isinstance(resp.json, dict) else expr.short(resp.text, 80)
            return False, f"the token response of '{auth.name}' has nothing at '{path}' (it has: {has})"
        token = expr.to_text(token)
        self.tokens[auth.name] = f"{auth.token_type} {token}" if auth.token_type else token
        ex.outcome = "success"
        ex.rule = f"token read at tokenResponsePath '{path}' ({reason})"
        return True, ""

    # -- exchanges

    def exchange(
        self, op: OperationResult, document: str, call: str, purpose: str, req: Request
    ) -> tuple[Exchange, Response | None]:
        body_text = req.body.decode("utf-8", "replace") if isinstance(req.body, bytes) else req.body
        ex = Exchange(
            operation=op.operation,
            document=document,
            call=call,
            purpose=purpose,
            method=req.method,
            url=req.url,
            request_headers={k: redact(k, v) for k, v in req.headers.items()},
            request_body=clip(body_text),
        )
        op.exchanges.append(ex)
        started = time.perf_counter()
        try:
            r = self.client.request(req.method, req.url, headers=req.headers, content=req.body)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as err:
            ex.error = _transport_error(err, req.url, self.timeout)
            ex.elapsed_ms = (time.perf_counter() - started) * 1000
            return ex, None
        ex.elapsed_ms = (time.perf_counter() - started) * 1000
        text = r.text
        try:
            parsed, is_json = (json.loads(text), True) if text.strip() else (None, False)
        except ValueError:
            parsed, is_json = None, False
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in r.headers.raw}
        ex.status = r.status_code
        ex.response_headers = {k: redact(k, v) for k, v in headers.items()}
        ex.response_body = clip(text)
        return ex, Response(r.status_code, headers, text, parsed, is_json)

    def call(
        self,
        op: OperationResult,
        *,
        document: str,
        call: str,
        purpose: str,
        auth: Auth | None,
        build: Callable[[dict[str, Any]], Request],
        success: Rule | None,
        unsuccess: Rule | None,
    ) -> CallOutcome:
        """Send the request ``build`` makes from the token bindings; regenerate the token and
        send again while the response says the token is bad, up to maxRefreshTryCount."""
        if auth is not None:
            self.ensure_token(op, auth, document)
        refreshes = 0
        while True:
            req = build(self.variables(auth))
            if auth is not None:
                value = self.header_value(auth)
                if value and not any(k.lower() == auth.auth_header_name.lower() for k in req.headers):
                    req.headers[auth.auth_header_name] = value
            ex, resp = self.exchange(op, document, call, purpose, req)
            if resp is None:
                ex.outcome = "failure"
                return CallOutcome(False, ex, None, f"{req.method} {req.url}: {ex.error}")
            trigger = self.refresh_trigger(auth, resp)
            if trigger and auth is not None and refreshes < auth.max_refresh:
                refreshes += 1
                ex.outcome = "refresh"
                ex.rule = (
                    f"{trigger}: regenerating the token "
                    f"({refreshes} of maxRefreshTryCount {auth.max_refresh})"
                )
                ok, why = self.refresh(op, auth, document, f"after {resp.status} from {call}")
                if not ok:
                    return CallOutcome(False, ex, resp, why)
                continue
            ok, rule = judge(resp, success, unsuccess)
            if trigger and auth is not None:
                rule += f"; {trigger} but maxRefreshTryCount ({auth.max_refresh}) is used up"
            ex.outcome, ex.rule = ("success" if ok else "failure"), rule
            if ok:
                return CallOutcome(True, ex, resp)
            why = explain_failure(resp, rule, auth, refreshes, req.url)
            return CallOutcome(False, ex, resp, f"{req.method} {req.url}: {why}")
