"""The JSON documents of a Saviynt REST connection, parsed into what the engine runs.

Inputs are the texts an admin pastes (reference saviynt-cyberark.md §1.2-1.5): ConnectionJSON,
ImportAccountEntJSON and the provisioning documents (CreateAccountJSON, UpdateAccountJSON,
DisableAccountJSON, EnableAccountJSON, RemoveAccountJSON, AddAccessJSON, RemoveAccessJSON).
``{{name}}`` placeholders are filled first (fixtures use them for base URLs and tokens), then the
text is read with ``lenient.read_json``. Structure the guide's page breaks put in the wrong place
(attributes of ``acctAuth`` at the top level, ``acctEntParams`` inside ``entitlementParams``...) is
moved to the one place it fits when that place is unambiguous, and reported; with ``strict`` the
engine does neither and behaves as a parser that refuses damaged JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sims.saviynt import expr, lenient
from sims.saviynt.paths import ColumnMap, PathError, parse_columns, split_path
from sims.saviynt.report import Finding

PROVISIONING = {
    "create-account": "CreateAccountJSON",
    "update-account": "UpdateAccountJSON",
    "enable-account": "EnableAccountJSON",
    "disable-account": "DisableAccountJSON",
    "add-access": "AddAccessJSON",
    "remove-access": "RemoveAccessJSON",
    "remove-account": "RemoveAccountJSON",
}

AUTH_ATTRIBUTES = {
    "authType", "url", "httpMethod", "httpParams", "httpHeaders", "httpContentType", "properties",
    "tokenResponsePath", "tokenType", "accessToken", "authHeaderName", "expiryError", "authError",
    "errorPath", "timeOutError", "retryFailureStatusCode", "maxRefreshTryCount", "refreshType",
    "refreshToken", "refreshTokenResponsePath", "refreshTokenAuthError", "refreshTokenErrorPath",
    "refreshTokenCall", "jwtConfig", "httpParamsName", "testConnectionParams", "ssl",
    "apiRateLimitConfig", "maskInLogs", "cleanUpTextContent", "testname", "cookies",
}  # fmt: skip
AUTH_NOT_SIMULATED = {
    "refreshType", "refreshToken", "refreshTokenResponsePath", "refreshTokenAuthError",
    "refreshTokenErrorPath", "refreshTokenCall", "jwtConfig", "httpParamsName", "testConnectionParams",
    "ssl", "apiRateLimitConfig", "timeOutError", "maskInLogs", "cleanUpTextContent", "testname", "cookies",
}  # fmt: skip
SUPPORTED_AUTH = {"oauth2": "oauth2", "basic": "basic", "bearer": "bearer"}
DOCUMENTED_AUTH = {"basicwithaccesstoken", "basicwithhmac", "cookies", "signedheaders", "jwt"}
CALL_ATTRIBUTES = {
    "listField", "keyField", "colsToPropsMap", "pagination", "statusConfig", "successResponses",
    "unsuccessResponses", "inputParams", "nextApiKeyField", "callOrder", "stageNumber", "connection",
    "http", "disableDeletedEntitlements", "makeProcessingStatus",
}  # fmt: skip
HTTP_ATTRIBUTES = {"url", "httpMethod", "httpHeaders", "httpParams", "httpContentType"}
PROVISIONING_CALL_ATTRIBUTES = HTTP_ATTRIBUTES | {
    "name", "connection", "successResponses", "unsuccessResponses", "callOrder", "showResponse",
    "SuccessResponses", "UnsuccessResponses",
}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
_GUIDE_PLACEHOLDER = re.compile(r"<[a-z][a-z ]*[a-z]>")  # <domain name>, <access token>


class DocumentError(ValueError):
    """A document the engine cannot run; the message names the document and the place."""

    def __init__(self, document: str, message: str) -> None:
        super().__init__(f"{document}: {message}")
        self.document = document
        self.message = message


class _Doc:
    """Collects findings while one document is parsed."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name = name
        self.strict = strict
        self.findings: list[Finding] = []

    def note(self, kind: str, message: str, where: str = "") -> None:
        self.findings.append(Finding(kind, self.name, message, where))

    def error(self, message: str) -> DocumentError:
        return DocumentError(self.name, message)


def fill_placeholders(text: str, values: Mapping[str, str], document: str) -> str:
    """``{{name}}`` -> value, escaped for a JSON string (placeholders sit inside strings)."""
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1) not in values})
    if missing:
        raise DocumentError(
            document,
            f"placeholder(s) {', '.join('{{' + m + '}}' for m in missing)} have no value: pass --world-url "
            f"to take them from a running world, or --set {missing[0]}=VALUE",
        )
    return _PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], text)


def read_document(
    name: str, text: str, *, strict: bool, placeholders: Mapping[str, str] | None = None
) -> tuple[dict, list[Finding]]:
    doc = _Doc(name, strict)
    text = fill_placeholders(text, placeholders or {}, name)
    if not text.strip():
        raise doc.error("the document is empty")
    try:
        value, repairs = lenient.read_json(text, lenient=not strict)
    except lenient.JsonReadError as err:
        hint = " (run without --strict to read through PDF copy damage)" if strict else ""
        raise doc.error(f"not JSON the engine can read: {err}{hint}") from None
    for r in repairs:
        doc.note(
            "repair" if r.kind == "syntax" else "warning", r.message, f"line {r.line}, column {r.column}"
        )
    if not isinstance(value, dict):
        raise doc.error(f"the document must be a JSON object, got {expr.type_name(value)}")
    return value, doc.findings


# ---------------------------------------------------------------------------------------------
# Shared pieces


@dataclass
class Rule:
    """``successResponses`` / ``unsuccessResponses``: status codes and/or body field values."""

    source: str
    status_codes: list[int] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        parts = []
        if self.status_codes:
            parts.append(f"statusCode {self.status_codes}")
        parts += [f"{path} in {values}" for path, values in self.fields.items()]
        return f"{self.source} ({'; '.join(parts) or 'empty'})"


def _status_list(value: Any, where: str, doc: _Doc) -> list[int]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not (
            isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit())
        ):
            raise doc.error(f"{where}: status codes must be numbers, got {item!r}")
        out.append(int(item))
    return out


def _rule(container: dict, key: str, where: str, doc: _Doc) -> Rule | None:
    found = key if key in container else next((k for k in container if k.lower() == key.lower()), None)
    if found is None:
        return None
    if found != key:
        doc.note("oddity", f"'{found}' read as '{key}'", where)
    raw = container[found]
    if not isinstance(raw, dict):
        raise doc.error(f'{where}.{found} must be an object like {{"statusCode": [200]}}')
    rule = Rule(f"{found} of {where}" if where else found)
    for k, v in raw.items():
        if k == "statusCode":
            rule.status_codes = _status_list(v, f"{where}.{found}.statusCode", doc)
        else:
            rule.fields[k] = [expr.to_text(x) for x in (v if isinstance(v, list) else [v])]
    return rule


def _str(container: dict, key: str, where: str, doc: _Doc, default: str | None = None) -> str | None:
    value = container.get(key, default)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise doc.error(f"{where}.{key} must be a string, got {expr.type_name(value)}")


def _path(container: dict, key: str, where: str, doc: _Doc) -> str | None:
    """A path attribute (listField, errorPath...), checked now rather than failing per response."""
    value = _str(container, key, where, doc)
    if value and not value.startswith("#HEADERS#"):
        try:
            split_path(value)
        except PathError as err:
            raise doc.error(f"{where}.{key}: {err}") from None
    return value


def _headers(value: Any, where: str, doc: _Doc) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise doc.error(f"{where}.httpHeaders must be an object, got {expr.type_name(value)}")
    return {str(k): expr.to_text(v) for k, v in value.items()}


def _check_templates(values: list[tuple[str, str]], doc: _Doc) -> None:
    """Parse every ${...} now, so that a malformed binding fails before any request is sent."""
    for where, text in values:
        try:
            for _start, _end, expression in expr.find_bindings(text):
                expr.parse(expression)
        except expr.ExpressionError as err:
            shown = err.expression or text
            raise doc.error(f"{where}: bad binding `{expr.short(shown)}`: {err.message}") from None


# ---------------------------------------------------------------------------------------------
# ConnectionJSON


@dataclass
class Auth:
    name: str
    auth_type: str  # oauth2 | basic | bearer | unsupported:<name>
    raw: dict
    url: str | None = None
    http_method: str = "POST"
    http_params: dict | str | None = None
    http_headers: dict[str, str] = field(default_factory=dict)
    http_content_type: str = "application/x-www-form-urlencoded"
    token_response_path: str = "access_token"
    token_type: str = ""
    access_token: str | None = None
    auth_header_name: str = "Authorization"
    error_path: str | None = None
    auth_errors: list[str] = field(default_factory=list)
    expiry_error: str | None = None
    retry_status: list[int] = field(default_factory=list)
    max_refresh: int = 1
    properties: dict = field(default_factory=dict)


@dataclass
class Connection:
    auths: dict[str, Auth]
    findings: list[Finding]


def parse_connection(
    text: str, *, strict: bool = False, placeholders: Mapping[str, str] | None = None
) -> Connection:
    raw, findings = read_document("ConnectionJSON", text, strict=strict, placeholders=placeholders)
    doc = _Doc("ConnectionJSON", strict)
    doc.findings = findings
    auths_raw = raw.get("authentications")
    if not isinstance(auths_raw, dict):
        raise doc.error(
            'no \'authentications\' object: ConnectionJSON is {"authentications": {"<name>": {...}}}'
        )
    _relocate_auth_attributes(raw, auths_raw, doc)
    auths: dict[str, Auth] = {}
    for name, body in auths_raw.items():
        if not isinstance(body, dict):
            raise doc.error(f"authentications.{name} must be an object, got {expr.type_name(body)}")
        auths[name] = _auth(name, body, doc)
    if not auths:
        raise doc.error("'authentications' is empty")
    return Connection(auths, doc.findings)


def _relocate_auth_attributes(root: dict, auths: dict, doc: _Doc) -> None:
    """Auth attributes outside any authentication: the guide's ZPA ConnectionJSON closes
    ``acctAuth`` early and continues its attributes after a page break."""
    stray_in_auths = [k for k, v in auths.items() if k in AUTH_ATTRIBUTES and not isinstance(v, dict)]
    stray_at_root = [k for k in root if k != "authentications" and k in AUTH_ATTRIBUTES]
    unknown_root = [k for k in root if k != "authentications" and k not in AUTH_ATTRIBUTES]
    for k in unknown_root:
        doc.note("oddity", f"top-level attribute '{k}' is not part of ConnectionJSON; ignored")
    if not stray_in_auths and not stray_at_root:
        return
    targets = [k for k, v in auths.items() if isinstance(v, dict) and k not in stray_in_auths]
    places = []
    if stray_in_auths:
        places.append(f"{', '.join(repr(k) for k in stray_in_auths)} inside 'authentications'")
    if stray_at_root:
        places.append(f"{', '.join(repr(k) for k in stray_at_root)} at the top level")
    what = " and ".join(places)
    if doc.strict or len(targets) != 1:
        why = "strict mode" if doc.strict else f"{len(targets)} authentications could own them"
        doc.note(
            "warning", f"authentication attributes outside any authentication ({what}) are ignored ({why})"
        )
        for k in stray_in_auths:
            del auths[k]
        return
    target = auths[targets[0]]
    for source, keys in ((auths, stray_in_auths), (root, stray_at_root)):
        for k in keys:
            value = source.pop(k)
            if k in target:
                doc.note("warning", f"'{k}' appears twice; the value inside '{targets[0]}' is kept")
            else:
                target[k] = value
    doc.note(
        "repair",
        f"authentication attributes sit outside any authentication ({what}), as when a page break cuts "
        f"the document: moved into the only authentication, '{targets[0]}'. "
        "Saviynt would not read them there.",
    )


def _auth(name: str, body: dict, doc: _Doc) -> Auth:
    where = f"authentications.{name}"
    raw_type = body.get("authType")
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise doc.error(f"{where}.authType is missing (oauth2, Basic, ...)")
    key = raw_type.strip().lower()
    if key in SUPPORTED_AUTH:
        auth_type = SUPPORTED_AUTH[key]
        if key == "bearer":
            doc.note(
                "oddity",
                "authType 'Bearer' is not in Saviynt's documented list; run as a static token "
                "(what Saviynt documents as oauth2 with accessToken and dummy token-call values)",
                where,
            )
    elif key in DOCUMENTED_AUTH:
        auth_type = f"unsupported:{raw_type}"
        doc.note(
            "warning", f"authType '{raw_type}' is not simulated by this engine; calls using it fail", where
        )
    else:
        raise doc.error(f"{where}.authType '{raw_type}' is not a Saviynt authType (oauth2, Basic, Jwt, ...)")
    a = Auth(name=name, auth_type=auth_type, raw=body)
    a.url = _str(body, "url", where, doc)
    a.http_method = (_str(body, "httpMethod", where, doc) or "POST").upper()
    a.http_headers = _headers(body.get("httpHeaders"), where, doc)
    for header in a.http_headers:
        if header.lower() in ("contenttype", "content_type"):
            doc.note(
                "oddity",
                f"httpHeaders has '{header}', which is not an HTTP header name: it is sent as a header "
                f"literally named '{header}' on the token call (its content type is httpContentType)",
                where,
            )
    a.http_content_type = _str(body, "httpContentType", where, doc) or "application/x-www-form-urlencoded"
    params = body.get("httpParams")
    if isinstance(params, str):
        if params.strip() == "[object Object]":
            doc.note(
                "oddity",
                "httpParams is the text '[object Object]' (a JavaScript object printed by a web form, as in "
                "the guide). Saviynt keeps it: httpParams are only sent when the token is regenerated. "
                "Read as no parameters; a token refresh would send none.",
                where,
            )
            params = None
        elif params.strip().startswith("{"):
            try:
                parsed, _ = lenient.read_json(params, lenient=False)
                params = parsed if isinstance(parsed, dict) else params
            except lenient.JsonReadError:
                doc.note("warning", "httpParams is text that is not a JSON object; sent as written", where)
        elif params.strip() == "":
            params = None
    elif params is not None and not isinstance(params, dict):
        raise doc.error(f"{where}.httpParams must be an object or a JSON string")
    a.http_params = params
    a.token_response_path = _path(body, "tokenResponsePath", where, doc) or "access_token"
    a.token_type = _str(body, "tokenType", where, doc) or ""
    a.access_token = _str(body, "accessToken", where, doc)
    a.auth_header_name = _str(body, "authHeaderName", where, doc) or "Authorization"
    a.error_path = _path(body, "errorPath", where, doc)
    errors = body.get("authError", [])
    a.auth_errors = [expr.to_text(e) for e in (errors if isinstance(errors, list) else [errors])]
    a.expiry_error = _str(body, "expiryError", where, doc)
    a.retry_status = _status_list(
        body.get("retryFailureStatusCode", []), f"{where}.retryFailureStatusCode", doc
    )
    max_refresh = body.get("maxRefreshTryCount", 1)  # UNVERIFIED default: one regeneration
    if isinstance(max_refresh, str) and max_refresh.strip().isdigit():
        max_refresh = int(max_refresh)
    if isinstance(max_refresh, bool) or not isinstance(max_refresh, int) or not 0 <= max_refresh <= 100:
        raise doc.error(f"{where}.maxRefreshTryCount must be a number from 0 to 100, got {max_refresh!r}")
    a.max_refresh = max_refresh
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise doc.error(f"{where}.properties must be an object")
    a.properties = props
    for k in body:
        if k in AUTH_NOT_SIMULATED:
            doc.note("oddity", f"'{k}' is not simulated by this engine; ignored", where)
    if a.access_token and _GUIDE_PLACEHOLDER.search(a.access_token):
        doc.note("warning", f"accessToken is still the guide's placeholder {a.access_token!r}", where)
    if a.url and _GUIDE_PLACEHOLDER.search(a.url):
        doc.note("warning", f"url still contains the guide's placeholder: {a.url!r}", where)
    if auth_type == "basic" and not (a.properties.get("userName") or a.properties.get("username")):
        doc.note("warning", "Basic authentication without properties.userName / password", where)
    bare = bool(a.access_token and a.token_type and not a.access_token.startswith(a.token_type + " "))
    if auth_type in ("oauth2", "bearer") and bare and "${" not in (a.access_token or ""):
        doc.note(
            "warning",
            f"accessToken does not start with tokenType '{a.token_type} ': Saviynt sends accessToken as "
            f"written wherever ${{access_token}} is bound, so the header will carry the bare token",
            where,
        )
    _check_templates([(f"{where}.httpParams", json.dumps(a.http_params))] if a.http_params else [], doc)
    return a


# ---------------------------------------------------------------------------------------------
# ImportAccountEntJSON


@dataclass
class HttpSpec:
    url: str
    method: str
    headers: dict[str, str]
    params: Any  # str (JSON text) | dict | None
    content_type: str | None


@dataclass
class Pagination:
    style: str  # nextUrl | page | offset
    next_url_path: str | None = None
    size_param: str | None = None
    size: int | None = None
    number_param: str | None = None
    first: int = 1
    offset_param: str | None = None
    total_count_path: str | None = None


@dataclass
class ImportCall:
    name: str
    where: str
    order: int
    connection: str | None
    http: HttpSpec
    list_field: str | None
    key_field: str
    columns: list[ColumnMap]
    pagination: Pagination | None = None
    success: Rule | None = None
    unsuccess: Rule | None = None
    dependent: bool = False
    status_config: dict | None = None


@dataclass
class EntMapping:
    """Entitlement-driven links (in ``entTypes.<T>.acctEntMappings``): each entitlement record
    lists its members at ``list_field``; ``id_path`` in a member is an account's ``account_field``."""

    list_field: str
    id_path: str
    account_field: str
    key_field: str | None  # as written


@dataclass
class AcctMapping:
    """Account-driven links (``accountParams.acctEntMappings.<T>``): each account record lists its
    entitlements at ``list_path``; ``id_path`` in an item is the entitlement's ``key_field``."""

    ent_type: str
    list_path: str
    id_path: str
    key_field: str


@dataclass
class EntType:
    name: str
    order: int
    calls: list[ImportCall]
    mapping: EntMapping | None = None


@dataclass
class AccountParams:
    connection: str | None
    calls: list[ImportCall]
    success: Rule | None
    unsuccess: Rule | None
    create_users: bool
    mappings: list[AcctMapping]
    key_field: str


@dataclass
class AcctEntCall:
    name: str
    where: str
    order: int
    connection: str | None
    http: HttpSpec
    list_field: str | None
    acct_id_path: str | None
    ent_id_path: str | None
    acct_key_field: str
    ent_key_field: str
    pagination: Pagination | None
    success: Rule | None
    unsuccess: Rule | None


@dataclass
class AcctEntParams:
    processing_type: str
    connection: str | None
    calls: dict[str, list[AcctEntCall]]  # per entitlement type


@dataclass
class ImportDoc:
    accounts: AccountParams | None
    ent_connection: str | None
    ent_success: Rule | None
    ent_types: list[EntType]
    acct_ent: AcctEntParams | None
    date_format: str | None
    findings: list[Finding]


ACCT_ENT_TYPES = ("entToAcctMapping", "acctToEntMapping", "httpEntToAcct", "httpAcctToEnt", "http")


def parse_import(
    text: str, *, strict: bool = False, placeholders: Mapping[str, str] | None = None
) -> ImportDoc:
    raw, findings = read_document("ImportAccountEntJSON", text, strict=strict, placeholders=placeholders)
    doc = _Doc("ImportAccountEntJSON", strict)
    doc.findings = findings
    _relocate_import(raw, doc)
    date_format = None
    if isinstance(raw.get("globalSettings"), dict):
        date_format = _str(raw["globalSettings"], "dateFormat", "globalSettings", doc)
    date_format = _str(raw, "dateFormat", "", doc) or date_format
    for k in raw:
        if k not in ("accountParams", "entitlementParams", "acctEntParams", "globalSettings", "dateFormat"):
            doc.note("oddity", f"top-level attribute '{k}' is not simulated; ignored")
    accounts = _account_params(raw["accountParams"], doc) if "accountParams" in raw else None
    ent_types: list[EntType] = []
    ent_connection = None
    ent_success = None
    ep = raw.get("entitlementParams")
    if ep is not None:
        if not isinstance(ep, dict):
            raise doc.error("entitlementParams must be an object")
        ent_connection = _str(ep, "connection", "entitlementParams", doc)
        ent_success = _rule(ep, "successResponses", "entitlementParams", doc)
        _processing_type(ep, "entitlementParams", doc)
        types = ep.get("entTypes")
        if not isinstance(types, dict) or not types:
            raise doc.error("entitlementParams.entTypes must be an object of entitlement types")
        for i, (name, body) in enumerate(types.items()):
            if not isinstance(body, dict):
                raise doc.error(
                    f"entitlementParams.entTypes.{name} must be an object, got {expr.type_name(body)}"
                )
            ent_types.append(_ent_type(name, body, i, doc))
        ent_types.sort(key=lambda t: t.order)
    acct_ent = _acct_ent_params(raw["acctEntParams"], doc) if "acctEntParams" in raw else None
    if accounts is None and not ent_types:
        raise doc.error("neither accountParams nor entitlementParams: nothing to import")
    return ImportDoc(accounts, ent_connection, ent_success, ent_types, acct_ent, date_format, doc.findings)


def _relocate_import(raw: dict, doc: _Doc) -> None:
    """Put back what the guide's page breaks moved (see the module docstring)."""
    ep = raw.get("entitlementParams")
    moves: list[str] = []
    ignored: list[str] = []
    if isinstance(ep, dict) and "acctEntParams" in ep:
        if doc.strict or "acctEntParams" in raw:
            ignored.append("'acctEntParams' inside entitlementParams")
            ep.pop("acctEntParams")
        else:
            raw["acctEntParams"] = ep.pop("acctEntParams")
            moves.append("'acctEntParams' from inside entitlementParams to the top level")
    types = ep.get("entTypes") if isinstance(ep, dict) else None
    real_types = (
        [k for k, v in types.items() if isinstance(v, dict) and "call" in v]
        if isinstance(types, dict)
        else []
    )
    if isinstance(types, dict):
        strays = [k for k in types if k in CALL_ATTRIBUTES | {"acctEntMappings"} and k not in real_types]
        if strays and len(real_types) == 1 and not doc.strict:
            target = types[real_types[0]]
            for k in strays:
                value = types.pop(k)
                if k == "acctEntMappings":
                    target.setdefault(k, value)
                    continue
                calls = target.get("call")
                for call in calls.values() if isinstance(calls, dict) else []:
                    if isinstance(call, dict):
                        call.setdefault(k, value)
            moves.append(
                f"{', '.join(repr(k) for k in strays)} from beside the entitlement types into "
                f"'{real_types[0]}' (its calls)"
            )
        elif strays:
            for k in strays:
                types.pop(k)
            ignored.append(f"{', '.join(repr(k) for k in strays)} beside the entitlement types")
    top = raw.get("acctEntMappings")
    if isinstance(top, dict):
        ent_driven = "listField" in top
        if (
            not doc.strict
            and ent_driven
            and len(real_types) == 1
            and "acctEntMappings" not in types[real_types[0]]
        ):
            types[real_types[0]]["acctEntMappings"] = raw.pop("acctEntMappings")
            moves.append(f"'acctEntMappings' from the top level into entitlement type '{real_types[0]}'")
        elif not doc.strict and not ent_driven and isinstance(raw.get("accountParams"), dict):
            raw["accountParams"].setdefault("acctEntMappings", raw.pop("acctEntMappings"))
            moves.append("'acctEntMappings' from the top level into accountParams")
        else:
            raw.pop("acctEntMappings")
            ignored.append("'acctEntMappings' at the top level")
    if moves:
        doc.note(
            "repair",
            "misplaced attributes moved (the guide's page breaks put them there; Saviynt would not read "
            "them in that place): " + "; ".join(moves),
        )
    if ignored:
        doc.note("warning", "misplaced attributes ignored, as Saviynt ignores them: " + "; ".join(ignored))


def _processing_type(container: dict, where: str, doc: _Doc) -> None:
    pt = container.get("processingType")
    if pt is not None and pt != "SequentialAndIterative":
        doc.note("oddity", f"processingType {pt!r}: Saviynt documents only 'SequentialAndIterative'", where)


def _http(call: dict, where: str, doc: _Doc) -> HttpSpec:
    http = call.get("http")
    if not isinstance(http, dict):
        raise doc.error(f"{where}.http must be an object with url, httpMethod, httpHeaders...")
    url = _str(http, "url", f"{where}.http", doc)
    if not url:
        raise doc.error(f"{where}.http.url is missing")
    for k in http:
        if k in ("basicUrl", "hostUrl"):
            continue
        if k not in HTTP_ATTRIBUTES:
            doc.note("oddity", f"'{k}' is not an http attribute of a call; ignored", f"{where}.http")
    odd = [k for k in ("basicUrl", "hostUrl") if k in http]
    if odd:
        detail = ""
        host = http.get("hostUrl")
        if isinstance(host, str) and host and host not in url:
            detail = f"; hostUrl {host!r} does not even match url"
        doc.note(
            "oddity",
            f"{' and '.join(odd)} are not REST connector attributes; ignored (the call uses url){detail}",
            f"{where}.http",
        )
    if _GUIDE_PLACEHOLDER.search(url):
        doc.note("warning", f"url still contains the guide's placeholder: {url!r}", f"{where}.http")
    spec = HttpSpec(
        url=url,
        method=(_str(http, "httpMethod", f"{where}.http", doc) or "GET"),
        headers=_headers(http.get("httpHeaders"), f"{where}.http", doc),
        params=http.get("httpParams"),
        content_type=_str(http, "httpContentType", f"{where}.http", doc),
    )
    _check_http_templates(spec, f"{where}.http", doc)
    return spec


def _check_http_templates(spec: HttpSpec, where: str, doc: _Doc) -> None:
    items = [(f"{where}.url", spec.url), (f"{where}.httpMethod", spec.method)]
    items += [(f"{where}.httpHeaders.{k}", v) for k, v in spec.headers.items()]
    if isinstance(spec.params, str):
        items.append((f"{where}.httpParams", spec.params))
    elif spec.params is not None:
        items.append((f"{where}.httpParams", json.dumps(spec.params)))
    _check_templates(items, doc)


def _pagination(value: Any, where: str, doc: _Doc) -> Pagination | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise doc.error(
            f'{where}.pagination must be one of {{"nextUrl": ...}}, {{"page": ...}}, {{"offset": ...}}'
        )
    style, body = next(iter(value.items()))
    w = f"{where}.pagination.{style}"
    if not isinstance(body, dict):
        raise doc.error(f"{w} must be an object")

    def number(key: str, default: int | None) -> int | None:
        v = body.get(key, default)
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise doc.error(f"{w}.{key} must be a number, got {v!r}")
        return v

    total = body.get("totalCountPath")
    total = expr.to_text(total) if total is not None else None
    if style == "nextUrl":
        path = _str(body, "nextUrlPath", w, doc)
        if not path:
            raise doc.error(f"{w}.nextUrlPath is missing")
        _check_templates([(f"{w}.nextUrlPath", path)], doc)
        return Pagination("nextUrl", next_url_path=path)
    if style == "page":
        size = number("pageSize", None)
        if not size or size < 1:
            raise doc.error(f"{w}.pageSize must be a positive number")
        return Pagination(
            "page",
            size_param=_str(body, "pageSizeParam", w, doc),
            size=size,
            number_param=_str(body, "pageNumberParam", w, doc) or "page",
            first=number("firstPageNumber", 1) or 0,
            total_count_path=total,
        )
    if style == "offset":
        size = number("batchSize", None)
        if not size or size < 1:
            raise doc.error(f"{w}.batchSize must be a positive number")
        return Pagination(
            "offset",
            offset_param=_str(body, "offsetParam", w, doc) or "offset",
            size_param=_str(body, "batchParam", w, doc),
            size=size,
            first=0,  # UNVERIFIED: offsets start at 0 and grow by batchSize
            total_count_path=total,
        )
    raise doc.error(f"{where}.pagination: unknown style '{style}' (nextUrl, page or offset)")


def _import_calls(container: dict, where: str, doc: _Doc, *, key_default: str) -> list[ImportCall]:
    calls = container.get("call")
    if isinstance(calls, list):
        doc.note(
            "oddity",
            "import calls are an object of named calls (call1, call2...); read the list in order",
            where,
        )
        calls = {f"call{i + 1}": c for i, c in enumerate(calls)}
    if not isinstance(calls, dict) or not calls:
        raise doc.error(f'{where}.call must be an object of named calls, e.g. {{"call1": {{...}}}}')
    out = []
    for i, (name, call) in enumerate(calls.items()):
        w = f"{where}.call.{name}"
        if not isinstance(call, dict):
            raise doc.error(f"{w} must be an object")
        for k in call:
            if k not in CALL_ATTRIBUTES:
                doc.note("oddity", f"'{k}' is not a call attribute; ignored", w)
        order = call.get("callOrder", i)
        if isinstance(order, str) and order.strip().isdigit():
            order = int(order)
        dependent = bool(
            isinstance(call.get("inputParams"), dict) and call["inputParams"].get("dependentCall")
        )
        cols_raw = call.get("colsToPropsMap")
        if cols_raw is None:
            raise doc.error(
                f"{w}.colsToPropsMap is missing: nothing says which response fields become columns"
            )
        try:
            columns = parse_columns(cols_raw, f"{w}.colsToPropsMap", lambda m, w=w: doc.note("warning", m, w))
        except PathError as err:
            raise doc.error(str(err)) from None
        list_field = call.get("listField")
        if list_field is not None and not isinstance(list_field, str):
            raise doc.error(f'{w}.listField must be a string ("" when the response is the list)')
        _path(call, "listField", w, doc)
        out.append(
            ImportCall(
                name=name,
                where=w,
                order=order if isinstance(order, int) else i,
                connection=_str(call, "connection", w, doc),
                http=_http(call, w, doc),
                list_field=list_field,
                key_field=_str(call, "keyField", w, doc) or key_default,
                columns=columns,
                pagination=_pagination(call.get("pagination"), w, doc),
                success=_rule(call, "successResponses", w, doc),
                unsuccess=_rule(call, "unsuccessResponses", w, doc),
                dependent=dependent,
                status_config=call.get("statusConfig")
                if isinstance(call.get("statusConfig"), dict)
                else None,
            )
        )
    out.sort(key=lambda c: c.order)
    return out


def _account_params(ap: Any, doc: _Doc) -> AccountParams:
    if not isinstance(ap, dict):
        raise doc.error("accountParams must be an object")
    _processing_type(ap, "accountParams", doc)
    calls = _import_calls(ap, "accountParams", doc, key_default="accountID")
    mappings = []
    m = ap.get("acctEntMappings")
    if isinstance(m, dict):
        for ent_type, spec in m.items():
            w = f"accountParams.acctEntMappings.{ent_type}"
            if not isinstance(spec, dict):
                raise doc.error(f"{w} must be an object with listPath, idPath, keyField")
            list_path = _str(spec, "listPath", w, doc) or _str(spec, "listField", w, doc)
            if not list_path:
                raise doc.error(f"{w}.listPath is missing")
            mappings.append(
                AcctMapping(
                    ent_type,
                    list_path,
                    _str(spec, "idPath", w, doc) or "",
                    _str(spec, "keyField", w, doc) or "entitlementID",
                )
            )
    create_users = ap.get("createUsers", False)
    return AccountParams(
        connection=_str(ap, "connection", "accountParams", doc),
        calls=calls,
        success=_rule(ap, "successResponses", "accountParams", doc),
        unsuccess=_rule(ap, "unsuccessResponses", "accountParams", doc),
        create_users=create_users is True or str(create_users).lower() == "true",
        mappings=mappings,
        key_field=calls[0].key_field,
    )


def _ent_type(name: str, body: dict, index: int, doc: _Doc) -> EntType:
    where = f"entitlementParams.entTypes.{name}"
    strays = [k for k in body if k in CALL_ATTRIBUTES - {"connection", "http"}]
    if strays and not doc.strict:
        calls = body.get("call")
        for call in calls.values() if isinstance(calls, dict) else []:
            if isinstance(call, dict):
                for k in strays:
                    call.setdefault(k, body[k])
        doc.note(
            "repair",
            f"call attributes {', '.join(repr(k) for k in strays)} beside 'call' applied to its calls",
            where,
        )
    elif strays:
        doc.note(
            "warning",
            f"call attributes {', '.join(repr(k) for k in strays)} beside 'call' are ignored",
            where,
        )
    calls = _import_calls(body, where, doc, key_default="entitlementID")
    mapping = None
    m = body.get("acctEntMappings")
    if isinstance(m, dict):
        w = f"{where}.acctEntMappings"
        list_field = _str(m, "listField", w, doc) or _str(m, "listPath", w, doc)
        if not list_field:
            raise doc.error(f"{w}.listField is missing (the member list in each entitlement record)")
        key_field = _str(m, "keyField", w, doc)
        account_field = key_field or "accountID"
        if key_field and (key_field.startswith("entitlement") or key_field in ("id",)):
            # The guide writes keyField "entitlementID" here; member values are account ids.
            doc.note(
                "oddity",
                f"keyField '{key_field}' names an entitlement column, but the values at "
                f"'{_str(m, 'idPath', w, doc) or 'value'}' of each member identify accounts: matched against "
                "the accounts' accountID (UNVERIFIED what Saviynt matches here; Saviynt's own examples "
                "write keyField 'accountID')",
                w,
            )
            account_field = "accountID"
        mapping = EntMapping(list_field, _str(m, "idPath", w, doc) or "", account_field, key_field)
    order = body.get("entTypeOrder", index)
    return EntType(name, order if isinstance(order, int) else index, calls, mapping)


def _acct_ent_params(raw: Any, doc: _Doc) -> AcctEntParams:
    if not isinstance(raw, dict):
        raise doc.error("acctEntParams must be an object")
    pt = _str(raw, "processingType", "acctEntParams", doc)
    if pt not in ACCT_ENT_TYPES:
        raise doc.error(f"acctEntParams.processingType {pt!r} is not one of {', '.join(ACCT_ENT_TYPES)}")
    calls: dict[str, list[AcctEntCall]] = {}
    types = raw.get("entTypes") or {}
    if not isinstance(types, dict):
        raise doc.error("acctEntParams.entTypes must be an object")
    for ent_type, body in types.items():
        w = f"acctEntParams.entTypes.{ent_type}"
        if not isinstance(body, dict) or not isinstance(body.get("call"), dict):
            raise doc.error(f"{w}.call must be an object of named calls")
        out = []
        for i, (name, call) in enumerate(body["call"].items()):
            cw = f"{w}.call.{name}"
            if not isinstance(call, dict):
                raise doc.error(f"{cw} must be an object")
            out.append(
                AcctEntCall(
                    name=name,
                    where=cw,
                    order=call.get("callOrder", i) if isinstance(call.get("callOrder", i), int) else i,
                    connection=_str(call, "connection", cw, doc),
                    http=_http(call, cw, doc),
                    list_field=_str(call, "listField", cw, doc),
                    acct_id_path=_str(call, "acctIdPath", cw, doc) or _str(call, "idPath", cw, doc),
                    ent_id_path=_str(call, "entIdPath", cw, doc) or _str(call, "idPath", cw, doc),
                    acct_key_field=_str(call, "acctKeyField", cw, doc) or "accountID",
                    ent_key_field=_str(call, "entKeyField", cw, doc) or "entitlementID",
                    pagination=_pagination(call.get("pagination"), cw, doc),
                    success=_rule(call, "successResponses", cw, doc),
                    unsuccess=_rule(call, "unsuccessResponses", cw, doc),
                )
            )
        calls[ent_type] = sorted(out, key=lambda c: c.order)
    if pt.startswith("http") and not calls:
        raise doc.error(
            f"acctEntParams.processingType '{pt}' needs entTypes.<type>.call with the calls to make"
        )
    return AcctEntParams(pt, _str(raw, "connection", "acctEntParams", doc), calls)


# ---------------------------------------------------------------------------------------------
# Provisioning documents


@dataclass
class ProvCall:
    index: int
    name: str
    where: str
    connection: str | None
    url: str
    method: str
    params: str | None
    headers: dict[str, str]
    content_type: str | None
    success: Rule | None
    unsuccess: Rule | None


@dataclass
class ProvisioningDoc:
    kind: str
    account_id_path: str | None
    response_columns: list[ColumnMap]
    date_format: str | None
    calls: list[ProvCall]
    actions: dict[str, list[ProvCall]]
    findings: list[Finding]


def parse_provisioning(
    kind: str, text: str, *, strict: bool = False, placeholders: Mapping[str, str] | None = None
) -> ProvisioningDoc:
    raw, findings = read_document(kind, text, strict=strict, placeholders=placeholders)
    doc = _Doc(kind, strict)
    doc.findings = findings
    columns: list[ColumnMap] = []
    if raw.get("responseColsToPropsMap") is not None:
        try:
            columns = parse_columns(
                raw["responseColsToPropsMap"], "responseColsToPropsMap", lambda m: doc.note("warning", m)
            )
        except PathError as err:
            raise doc.error(str(err)) from None
    account_id_path = _str(raw, "accountIdPath", "", doc)
    if account_id_path:
        try:
            split_path(account_id_path)
        except PathError as err:
            raise doc.error(f"accountIdPath: {err}") from None
    actions: dict[str, list[ProvCall]] = {}
    calls: list[ProvCall] = []
    if "actions" in raw:
        if not isinstance(raw["actions"], dict) or not raw["actions"]:
            raise doc.error("actions must be an object of named actions, each with a call list")
        for action, body in raw["actions"].items():
            if not isinstance(body, dict):
                raise doc.error(f"actions.{action} must be an object with a call list")
            actions[action] = _prov_calls(body.get("call"), f"actions.{action}", doc)
    else:
        calls = _prov_calls(raw.get("call"), "", doc)
    known = {"call", "actions", "accountIdPath", "responseColsToPropsMap", "dateFormat", "accountNamePath"}
    for k in raw:
        if k not in known:
            doc.note("oddity", f"top-level attribute '{k}' is not simulated; ignored")
    if kind == "CreateAccountJSON" and not account_id_path:
        doc.note("warning", "no accountIdPath: the created account gets no accountID from the response")
    return ProvisioningDoc(
        kind, account_id_path, columns, _str(raw, "dateFormat", "", doc), calls, actions, doc.findings
    )


def _prov_calls(value: Any, where: str, doc: _Doc) -> list[ProvCall]:
    prefix = f"{where}." if where else ""
    if isinstance(value, dict):
        doc.note(
            "oddity", "provisioning 'call' is a list; read the named calls of the object in order", where
        )
        value = [dict(v, name=v.get("name", k)) if isinstance(v, dict) else v for k, v in value.items()]
    if not isinstance(value, list) or not value:
        raise doc.error(f"{prefix}call must be a non-empty list of calls")
    out = []
    for i, call in enumerate(value):
        w = f"{prefix}call[{i}]"
        if not isinstance(call, dict):
            raise doc.error(f"{w} must be an object")
        name = _str(call, "name", w, doc) or f"call{i + 1}"
        w = f"{prefix}call[{i}] '{name}'"
        url = _str(call, "url", w, doc)
        if not url:
            raise doc.error(f"{w}: url is missing")
        method = _str(call, "httpMethod", w, doc)
        if not method:
            raise doc.error(f"{w}: httpMethod is missing")
        params = call.get("httpParams")
        if isinstance(params, (dict, list)):
            doc.note("oddity", "httpParams is an object; sent as its JSON text", w)
            params = json.dumps(params)
        elif params is not None and not isinstance(params, str):
            raise doc.error(f"{w}: httpParams must be a string (JSON text) or an object")
        for k in call:
            if k not in PROVISIONING_CALL_ATTRIBUTES:
                doc.note("oddity", f"'{k}' is not a call attribute; ignored", w)
        if _GUIDE_PLACEHOLDER.search(url):
            doc.note("warning", f"url still contains the guide's placeholder: {url!r}", w)
        pc = ProvCall(
            index=i,
            name=name,
            where=w,
            connection=_str(call, "connection", w, doc),
            url=url,
            method=method,
            params=params or None,
            headers=_headers(call.get("httpHeaders"), w, doc),
            content_type=_str(call, "httpContentType", w, doc),
            success=_rule(call, "successResponses", w, doc),
            unsuccess=_rule(call, "unsuccessResponses", w, doc),
        )
        items = [(f"{w} url", url), (f"{w} httpMethod", method)]
        items += [(f"{w} httpHeaders.{k}", v) for k, v in pc.headers.items()]
        if params:
            items.append((f"{w} httpParams", params))
        _check_templates(items, doc)
        out.append(pc)
    return out
