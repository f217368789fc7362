"""The engine end to end over real HTTP (the SCIM server of conftest.py): the guide's documents,
paging, success rules, token regeneration, and failures explained instead of raised."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from sims.saviynt import engine
from sims.saviynt.documents import Rule
from sims.saviynt.provision import Inputs
from sims.saviynt.report import RunReport
from sims.saviynt.session import Response, judge
from sims.saviynt.store import REMOVED, SUSPENDED, Store
from tests.saviynt.conftest import ScimServer, corrected_document, guide_document

DANA = {"email": "dana.new@safemarch.example", "username": "dana.new"}


def run(
    conn: str,
    steps: list[tuple[str, str]],
    placeholders: dict[str, str] | None = None,
    store: Store | None = None,
    **inputs: Any,
) -> RunReport:
    opts = {k: inputs.pop(k) for k in ("strict", "keep_going") if k in inputs}
    return engine.run(
        conn,
        [engine.Step(op, text, op) for op, text in steps],
        store=store,
        inputs=Inputs(**inputs),
        placeholders=placeholders or {},
        **opts,
    )


def op(report: RunReport, name: str):
    return next(o for o in report.operations if o.operation == name)


def links_by_name(store: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ent_type, records in store.entitlements.items():
        for ent_id, rec in records.items():
            out[rec["entitlement_value"]] = {
                store.accounts[a]["name"] for a in store.members(ent_type, ent_id) if a in store.accounts
            }
    return out


# ---------------------------------------------------------------------------------------------
# The guide's documents


def test_guide_zia_documents_end_to_end(scim: ScimServer, placeholders):
    doc = lambda name: guide_document("zia", name)  # noqa: E731
    store = Store()
    report = run(doc("ConnectionJSON"), [("import", doc("ImportAccountEntJSON"))], placeholders, store)
    assert report.ok, report.to_json()
    assert store.account_key == "name" and len(store.accounts) == 12
    alice = store.accounts["alice.admin@safemarch.example"]
    assert (alice["accountID"], alice["displayName"], alice["customproperty2"]) == (
        "00000000-0000-0000-0000-000000000001",
        "Alice Admin",
        "IT",
    )
    assert links_by_name(store) == scim.zia.members_by_name()
    assert len(store.users) == 12  # createUsers
    imp = op(report, "import")
    assert imp.repairs == 6 and [e.url.rsplit("/", 1)[1] for e in imp.exchanges] == ["Users", "Groups"]

    report = run(
        doc("ConnectionJSON"),
        [("create-account", doc("CreateAccountJSON")), ("add-access", doc("AddAccessJSON"))],
        placeholders,
        store,
        user=DANA,
        entitlement={"entitlement_value": "Sales"},
    )
    assert report.ok, report.to_json()
    dana = next(u for u in scim.zia.users.values() if u["userName"] == DANA["email"])
    assert (dana["displayName"], dana["department"]) == ("dana.new", "Saviynt Global")
    assert store.accounts[DANA["email"]]["accountID"] == dana["id"]
    assert scim.zia.members_by_name()["Sales"] == {"bob.sales@safemarch.example", DANA["email"]}
    assert links_by_name(store) == scim.zia.members_by_name()
    add = op(report, "add-access")
    assert any("httpParams is not valid JSON after binding" in f.message for f in add.findings)
    sent = json.loads(add.exchanges[0].request_body)
    assert sent["Operations"][0]["value"]["members"] == [{"display": DANA["email"], "value": dana["id"]}]

    # The guide's RemoveAccessJSON cannot work: the body it sends is not a SCIM PatchOp.
    report = run(
        doc("ConnectionJSON"),
        [("remove-access", doc("RemoveAccessJSON"))],
        placeholders,
        store,
        account={"name": DANA["email"]},
        entitlement={"entitlement_value": "Sales"},
    )
    failed = op(report, "remove-access")
    assert not report.ok and failed.exchanges[0].status == 400
    assert "The server refused the request (400)" in failed.error and "not valid JSON" in failed.error
    assert any("sent as written" in f.message for f in failed.findings)
    assert DANA["email"] in scim.zia.members_by_name()["Sales"]

    report = run(
        doc("ConnectionJSON"),
        [
            ("remove-access", corrected_document("zia", "RemoveAccessJSON")),
            ("remove-account", doc("RemoveAccountJSON")),
        ],
        placeholders,
        store,
        account={"name": DANA["email"]},
        entitlement={"entitlement_value": "Sales"},
    )
    assert report.ok, report.to_json()
    assert DANA["email"] not in {u["userName"] for u in scim.zia.users.values()}
    assert store.accounts[DANA["email"]]["status"] == REMOVED
    assert links_by_name(store) == scim.zia.members_by_name()


def test_guide_zpa_documents_end_to_end(scim: ScimServer, placeholders):
    doc = lambda name: guide_document("zpa", name)  # noqa: E731
    store = Store()
    report = run(doc("ConnectionJSON"), [("import", doc("ImportAccountEntJSON"))], placeholders, store)
    assert report.ok, report.to_json()
    imp = op(report, "import")
    warnings = " | ".join(f.message for f in imp.findings if f.kind == "warning")
    # ZPA pages by 10 and lists groups without members: the guide's import sees neither.
    assert len(store.accounts) == 10 and "totalResults 12 but holds 10" in warnings
    assert "none of the 3 entitlement records has 'members'" in warnings
    assert not store.links
    assert op(report, "connection").repairs == 5

    report = run(
        doc("ConnectionJSON"),
        [
            ("create-account", doc("CreateAccountJSON")),
            ("add-access", doc("AddAccessJSON")),
            ("remove-access", doc("RemoveAccessJSON")),
        ],
        placeholders,
        store,
        user=DANA,
        entitlement={"entitlement_value": "Zscaler Admins"},
    )
    assert op(report, "create-account").ok and op(report, "add-access").ok
    assert scim.zpa.members_by_name()["Zscaler Admins"] == {"alice.admin@safemarch.example", DANA["email"]}
    failed = op(report, "remove-access")
    assert not failed.ok and "invalid PATCH path" in failed.error and "]}" in failed.error
    assert DANA["email"] in scim.zpa.members_by_name()["Zscaler Admins"]

    report = run(
        doc("ConnectionJSON"),
        [
            ("remove-access", corrected_document("zpa", "RemoveAccessJSON")),
            ("remove-account", doc("RemoveAccountJSON")),
        ],
        placeholders,
        store,
        account={"name": DANA["email"]},
        entitlement={"entitlement_value": "Zscaler Admins"},
    )
    assert report.ok, report.to_json()
    assert scim.zpa.members_by_name()["Zscaler Admins"] == {"alice.admin@safemarch.example"}
    assert DANA["email"] not in {u["userName"] for u in scim.zpa.users.values()}


@pytest.mark.parametrize("sim", ["zia", "zpa"])
def test_corrected_documents_run_strict_and_the_target_matches_after_each_step(scim, placeholders, sim):
    doc = lambda name: corrected_document(sim, name)  # noqa: E731
    tenant = getattr(scim, sim)
    store = Store()
    steps = [
        ("import", "ImportAccountEntJSON", {}),
        ("create-account", "CreateAccountJSON", {"user": DANA}),
        (
            "add-access",
            "AddAccessJSON",
            {"account": {"name": DANA["email"]}, "entitlement": {"entitlement_value": "Sales"}},
        ),
        (
            "remove-access",
            "RemoveAccessJSON",
            {"account": {"name": DANA["email"]}, "entitlement": {"entitlement_value": "Sales"}},
        ),
        ("remove-account", "RemoveAccountJSON", {"account": {"name": DANA["email"]}}),
    ]
    for operation, name, inputs in steps:
        report = run(
            doc("ConnectionJSON"), [(operation, doc(name))], placeholders, store, strict=True, **inputs
        )
        assert report.ok, report.to_json()
        assert all(o.repairs == 0 for o in report.operations)
        names = {u["userName"] for u in tenant.users.values()}
        if operation == "create-account":
            assert DANA["email"] in names
        if operation == "add-access":
            assert DANA["email"] in tenant.members_by_name()["Sales"]
        if operation == "remove-access":
            assert DANA["email"] not in tenant.members_by_name()["Sales"]
        if operation == "remove-account":
            assert DANA["email"] not in names
        if sim == "zia":  # the ZPA group list carries no members to compare with
            active = {k for k, r in store.accounts.items() if r["status"] != REMOVED}
            expected = {g: ms & active for g, ms in tenant.members_by_name().items()}
            assert links_by_name(store) == expected


def test_the_zpa_example_imports_every_page_and_membership(scim, placeholders):
    example = (
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "fixtures/saviynt/examples/zpa-ImportAccountEntJSON-paged.json"
    ).read_text()
    store = Store()
    report = run(
        corrected_document("zpa", "ConnectionJSON"), [("import", example)], placeholders, store, strict=True
    )
    assert report.ok, report.to_json()
    assert len(store.accounts) == 12
    assert links_by_name(store) == scim.zpa.members_by_name()
    urls = [e.url.split("/v2")[1] for e in op(report, "import").exchanges]
    assert urls[:4] == ["/Users", "/Users?startIndex=11&count=10", "/Users?startIndex=13&count=2", "/Groups"]
    assert sum(1 for u in urls if u.startswith("/Groups/")) == 3


# ---------------------------------------------------------------------------------------------
# Paging styles, against a plain paged API


def items_connection(scim: ScimServer) -> str:
    return json.dumps(
        {"authentications": {"api": {"authType": "Basic", "properties": {"userName": "u", "password": "p"}}}}
    )


def items_import(scim: ScimServer, pagination: dict | None, url: str = "/api/items") -> str:
    call: dict[str, Any] = {
        "connection": "api",
        "http": {"url": scim.url + url, "httpMethod": "GET", "httpHeaders": {"Accept": "application/json"}},
        "listField": "items",
        "keyField": "accountID",
        "colsToPropsMap": {"accountID": "id~#~char", "name": "name~#~char"},
    }
    if pagination:
        call["pagination"] = pagination
    return json.dumps({"accountParams": {"call": {"call1": call}}})


@pytest.mark.parametrize(
    ("pagination", "queries"),
    [
        (
            {
                "page": {
                    "pageSizeParam": "size",
                    "pageSize": 10,
                    "pageNumberParam": "page",
                    "firstPageNumber": 1,
                }
            },
            ["page=1&size=10", "page=2&size=10", "page=3&size=10"],
        ),
        (
            {
                "page": {
                    "pageSizeParam": "size",
                    "pageSize": 5,
                    "pageNumberParam": "page",
                    "totalCountPath": "completeResponseMap.total",
                }
            },
            [f"page={n}&size=5" for n in range(1, 6)],  # stops at the total: no empty sixth page
        ),
        (
            {
                "offset": {
                    "offsetParam": "offset",
                    "batchParam": "limit",
                    "batchSize": 10,
                    "totalCountPath": "headers.x-total-count",
                }
            },
            ["offset=0&limit=10", "offset=10&limit=10", "offset=20&limit=10"],
        ),
        ({"nextUrl": {"nextUrlPath": "next"}}, ["", "cursor=10", "cursor=20"]),
        (
            {
                "nextUrl": {
                    "nextUrlPath": "${headers.Link == null ? null "
                    ": headers.Link.substring(1, headers.Link.indexOf('>'))}"
                }
            },
            ["", "cursor=10", "cursor=20"],
        ),
    ],
)
def test_paging_styles(scim, pagination, queries):
    store = Store()
    report = run(items_connection(scim), [("import", items_import(scim, pagination))], {}, store)
    assert report.ok, report.to_json()
    assert sorted(store.accounts) == [f"i{n:02d}" for n in range(1, 26)]
    assert [r[1].split("?", 1)[1] for r in scim.requests] == queries
    assert scim.last_authorization == "Basic dTpw"


def test_paging_that_never_ends_is_stopped(scim):
    pagination = {"nextUrl": {"nextUrlPath": f"${{'{scim.url}/api/items?cursor=0'}}"}}
    report = run(items_connection(scim), [("import", items_import(scim, pagination))], {})
    assert not report.ok
    assert "pagination loops: nextUrlPath gave" in op(report, "import").error
    assert "The EIC store is unchanged" in op(report, "import").error


def test_an_unpaged_call_says_what_it_missed(scim):
    report = run(items_connection(scim), [("import", items_import(scim, None))], {})
    assert report.ok  # no totalResults in this API: nothing to warn about
    scim_like = json.loads(items_import(scim, None, "/api/items"))
    scim_like["accountParams"]["call"]["call1"]["listField"] = "missing"
    report = run(items_connection(scim), [("import", json.dumps(scim_like))], {})
    assert (
        "listField 'missing' is not in the response (it has: items, total, next)"
        in op(report, "import").error
    )


# ---------------------------------------------------------------------------------------------
# Success rules


def response(status: int, body: Any = None) -> Response:
    return Response(status, {}, json.dumps(body) if body is not None else "", body, body is not None)


@pytest.mark.parametrize(
    ("status", "body", "success", "unsuccess", "ok", "rule"),
    [
        (201, None, None, None, True, "201 is 2xx (no successResponses given)"),
        (404, None, None, None, False, "404 is not 2xx"),
        (
            201,
            None,
            Rule("successResponses", [201]),
            None,
            True,
            "201 matches successResponses (statusCode [201])",
        ),
        (
            200,
            None,
            Rule("successResponses", [201]),
            None,
            False,
            "200 is not in successResponses (statusCode [201])",
        ),
        (
            409,
            None,
            Rule("s", [200, 409]),
            Rule("unsuccessResponses", [409]),
            False,
            "unsuccessResponses (statusCode [409]) contains 409",
        ),
        (200, {"status": "Failed"}, None, Rule("u", [], {"status": ["Failed"]}), False, "status is 'Failed'"),
        (
            200,
            {"r": {"s": "CompletedSuccessfully"}},
            Rule("s", [], {"r.s": ["CompletedSuccessfully"]}),
            None,
            True,
            "matches",
        ),
        (
            200,
            {"r": {"s": "Running"}},
            Rule("s", [], {"r.s": ["CompletedSuccessfully"]}),
            None,
            False,
            "r.s is 'Running'",
        ),
        (200, {"ok": True}, Rule("s", [200], {"ok": ["true"]}), None, True, "matches"),
    ],
)
def test_success_rules(status, body, success, unsuccess, ok, rule):
    decided, why = judge(response(status, body), success, unsuccess)
    assert decided is ok and rule in why


# ---------------------------------------------------------------------------------------------
# Tokens


def oauth_connection(scim: ScimServer, **overrides: Any) -> str:
    auth = {
        "authType": "oauth2",
        "url": f"{scim.url}/oauth2/token",
        "httpMethod": "POST",
        "httpParams": {"grant_type": "client_credentials", "client_id": "saviynt", "client_secret": "s e"},
        "httpContentType": "application/x-www-form-urlencoded",
        "tokenResponsePath": "access_token",
        "tokenType": "Bearer",
        "accessToken": "Bearer stale",
        "retryFailureStatusCode": [401],
        "maxRefreshTryCount": 2,
    }
    auth.update(overrides)
    return json.dumps({"authentications": {"acctAuth": auth}})


def test_token_regenerated_on_retry_failure_status(scim, placeholders):
    report = run(
        oauth_connection(scim), [("import", guide_document("zia", "ImportAccountEntJSON"))], placeholders
    )
    assert report.ok, report.to_json()
    ex = op(report, "import").exchanges
    assert [(e.purpose, e.status, e.outcome) for e in ex[:3]] == [
        ("accounts call1", 401, "refresh"),
        ("token regeneration", 200, "success"),
        ("accounts call1", 200, "success"),
    ]
    assert (
        "401 is in retryFailureStatusCode [401]: regenerating the token (1 of maxRefreshTryCount 2)"
        in ex[0].rule
    )
    assert (
        scim.token_requests[0]["body"]
        == "grant_type=client_credentials&client_id=saviynt&client_secret=s%20e"
    )
    assert ex[2].request_headers["Authorization"] == "Bearer ref…(11 chars)"
    assert len(scim.token_requests) == 1  # the new token serves the next calls too


def test_token_regenerated_on_auth_error_at_error_path(scim, placeholders):
    scim.zia.auth_error_body = {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}
    conn = oauth_connection(
        scim,
        retryFailureStatusCode=[],
        errorPath="error.code",
        authError=["InvalidAuthenticationToken", "AuthenticationFailed"],
        httpContentType="application/json",
        tokenResponsePath="#HEADERS#X-Token",
        tokenType="",
        accessToken="stale",
    )
    scim.zia.tokens.add("placeholder-never-used")
    report = run(conn, [("import", guide_document("zia", "ImportAccountEntJSON"))], placeholders)
    ex = op(report, "import").exchanges
    assert "error.code is 'InvalidAuthenticationToken', listed in authError" in ex[0].rule
    assert json.loads(scim.token_requests[0]["body"])["client_id"] == "saviynt"
    # tokenType "" sends the raw token, which this server refuses: a clear failure after 2 refreshes.
    assert not report.ok
    assert "regenerated 2 time(s) (maxRefreshTryCount 2) and is still refused" in op(report, "import").error


def test_refresh_gives_up_after_max_refresh_try_count(scim, placeholders):
    scim.issue_valid_tokens = False
    report = run(
        oauth_connection(scim), [("import", guide_document("zia", "ImportAccountEntJSON"))], placeholders
    )
    imp = op(report, "import")
    assert not report.ok and len(scim.token_requests) == 2
    assert [e.outcome for e in imp.exchanges] == ["refresh", "success", "refresh", "success", "failure"]
    assert "maxRefreshTryCount (2) is used up" in imp.exchanges[-1].rule
    assert "The server refused the credentials (401)" in imp.error
    assert "The EIC store is unchanged" in imp.error


def test_the_first_token_is_fetched_when_there_is_none(scim, placeholders):
    conn = oauth_connection(scim, accessToken="", retryFailureStatusCode=[])
    report = run(conn, [("import", guide_document("zia", "ImportAccountEntJSON"))], placeholders)
    assert report.ok, report.to_json()
    ex = op(report, "import").exchanges
    assert ex[0].purpose == "token regeneration" and "no accessToken" in ex[0].rule


def test_the_guides_object_object_params_make_a_useless_token_call(scim, placeholders):
    """With the guide's ConnectionJSON a refresh POSTs nothing to the SCIM base URL."""
    conn = guide_document("zia", "ConnectionJSON").replace(
        '"retryFailureStatusCode": []', '"retryFailureStatusCode": [401]'
    )
    bad = {**placeholders, "zia_scim_token": "Bearer wrong"}
    report = run(conn, [("import", guide_document("zia", "ImportAccountEntJSON"))], bad)
    imp = op(report, "import")
    token_call = imp.exchanges[1]
    assert token_call.purpose == "token regeneration" and token_call.request_body is None
    assert token_call.url == placeholders["zia_scim_base"] and token_call.status == 404
    assert "regenerating the token of 'acctAuth' failed: POST" in imp.error
    assert "check url, httpParams and httpContentType" in imp.error


# ---------------------------------------------------------------------------------------------
# Failures explained, not raised


def test_wrong_token(scim, placeholders):
    bad = {**placeholders, "zia_scim_token": "Bearer not-the-token"}
    store = Store()
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("import", guide_document("zia", "ImportAccountEntJSON"))],
        bad,
        store,
    )
    imp = op(report, "import")
    assert not report.ok and not store.accounts
    assert imp.error.startswith("ImportAccountEntJSON: accountParams.call.call1: GET ")
    assert (
        "The server refused the credentials (401): check accessToken of ConnectionJSON 'acctAuth'"
        in imp.error
    )
    assert "matched neither retryFailureStatusCode nor authError: no new token was requested" in imp.error
    assert "'Authentication failed: invalid or missing bearer token'" in imp.error
    assert imp.exchanges[0].request_headers["Authorization"] == "Bearer not-…(13 chars)"


def test_wrong_base_url(scim, placeholders):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    nowhere = {**placeholders, "zia_scim_base": f"http://127.0.0.1:{free}/3173833/1001/scim"}
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("import", guide_document("zia", "ImportAccountEntJSON"))],
        nowhere,
    )
    err = op(report, "import").error
    assert f"could not connect to 127.0.0.1:{free}" in err and "check the base URL" in err
    wrong_path = {**placeholders, "zia_scim_base": placeholders["zia_scim_base"].replace("1001", "9999")}
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("import", guide_document("zia", "ImportAccountEntJSON"))],
        wrong_path,
    )
    err = op(report, "import").error
    assert "/3173833/9999/scim/Users (404): check the base URL and the path" in err
    unfilled = guide_document("zia", "RemoveAccountJSON").replace(
        "{{zia_scim_base}}", "https://<domain name>/8651360/48097/scim"
    )
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("remove-account", unfilled)],
        placeholders,
        account={"accountID": "x"},
    )
    failed = op(report, "remove-account")
    assert "url still contains the guide's placeholder" in " ".join(f.message for f in failed.findings)
    assert "still contains a placeholder" in failed.error


def test_a_success_code_the_server_never_returns(scim, placeholders):
    create = guide_document("zpa", "CreateAccountJSON").replace('"statusCode": [201]', '"statusCode": [200]')
    store = Store()
    report = run(
        guide_document("zpa", "ConnectionJSON"), [("create-account", create)], placeholders, store, user=DANA
    )
    err = op(report, "create-account").error
    assert "The server answered 201, a success status, but the call's rule says failure" in err
    assert "201 is not in successResponses of call[0] 'Entitlement' (statusCode [200])" in err
    assert "add 201 to successResponses.statusCode" in err
    assert DANA["email"] in {u["userName"] for u in scim.zpa.users.values()}  # made on the target anyway
    assert not store.accounts  # but not in EIC


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "${account.accountID}",
            "${account.accountID",
            "RemoveAccountJSON: call[0] 'Call11' url: bad binding "
            '`${account.accountID}",...`: unterminated ${',
        ),
        (
            "${account.accountID}",
            "${acount.accountID}",
            "RemoveAccountJSON, call 'Call11', url: "
            "cannot evaluate `${acount.accountID}`: unknown variable 'acount'",
        ),
        (
            "${account.accountID}",
            "${account.manager.id}",
            "cannot evaluate `${account.manager.id}`: cannot read 'id' of null (account.manager is null",
        ),
        (
            "${account.accountID}",
            "${account.accountID +}",
            "bad binding `account.accountID +`: expected a value",
        ),
        (
            "${access_token}",
            "${access_token.x}",
            "httpHeaders.Authorization: cannot evaluate `${access_token.x}`",
        ),
    ],
)
def test_a_malformed_binding(scim, placeholders, old, new, message):
    remove = guide_document("zia", "RemoveAccountJSON").replace(old, new)
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("remove-account", remove)],
        placeholders,
        account={"accountID": "x"},
    )
    failed = op(report, "remove-account")
    assert not failed.ok
    assert message.split("`")[0] in failed.error or message in failed.error
    assert message.split(": ", 1)[-1].split("`")[-1].strip(":. ") in failed.error
    assert not failed.exchanges and not scim.requests  # nothing was sent


def test_operations_stop_at_the_first_failure_unless_keep_going(scim, placeholders):
    steps = [
        ("remove-access", guide_document("zia", "RemoveAccessJSON")),
        ("remove-account", guide_document("zia", "RemoveAccountJSON")),
    ]
    report = run(guide_document("zia", "ConnectionJSON"), steps, placeholders, account={"accountID": "x"})
    assert [o.operation for o in report.operations] == ["connection", "remove-access"]
    assert "needs an entitlement value" in op(report, "remove-access").error
    report = run(
        guide_document("zia", "ConnectionJSON"),
        steps,
        placeholders,
        account={"accountID": "x"},
        keep_going=True,
    )
    assert [o.operation for o in report.operations] == ["connection", "remove-access", "remove-account"]
    assert "Nothing at" in op(report, "remove-account").error  # no such user: 404


def test_missing_inputs_and_unknown_call_names(scim, placeholders):
    conn = guide_document("zia", "ConnectionJSON")
    report = run(conn, [("remove-account", guide_document("zia", "RemoveAccountJSON"))], placeholders)
    assert "needs an account: pass --account" in op(report, "remove-account").error
    add = guide_document("zia", "AddAccessJSON").replace('"name": "Entitlement"', '"name": "Group"')
    report = run(
        conn,
        [("add-access", add)],
        placeholders,
        account={"accountID": "x"},
        entitlement={"entitlementID": "90000", "entitlementtype": "Role"},
    )
    assert (
        "has no call named 'Role', the entitlement type of this task (its calls: Group)"
        in op(report, "add-access").error
    )
    report = run(conn, [("import", guide_document("zia", "ImportAccountEntJSON"))], {})
    assert (
        "placeholder(s) {{zia_scim_base}}, {{zia_scim_token}} have no value" in op(report, "connection").error
    )
    assert [o.operation for o in report.operations] == ["connection"]


# ---------------------------------------------------------------------------------------------
# Store effects and chained calls


def test_reimport_suspends_and_inactivates_what_is_gone(scim, placeholders):
    store = Store()
    conn, imp = guide_document("zia", "ConnectionJSON"), guide_document("zia", "ImportAccountEntJSON")
    assert run(conn, [("import", imp)], placeholders, store).ok
    carol = next(k for k, u in scim.zia.users.items() if u["userName"].startswith("carol"))
    del scim.zia.users[carol]
    scim.zia.groups.pop("90002")
    report = run(conn, [("reimport", imp)], placeholders, store)
    assert report.ok and "re-imported 11 account(s) (0 new, 1 suspended)" in op(report, "reimport").summary
    assert store.accounts["carol.eng@safemarch.example"]["status"] == SUSPENDED
    assert store.entitlements["Entitlement"]["90002"]["status"] == "Inactive"


def test_later_calls_see_earlier_responses(scim, placeholders):
    base = placeholders["zia_scim_base"]
    create = {
        "accountIdPath": "lookup.message.id",
        "responseColsToPropsMap": {
            "customproperty5": "lookup.message.department~#~char",
            "customproperty6": "create.statusCode~#~int",
        },
        "call": [
            {
                "name": "create",
                "connection": "acctAuth",
                "url": f"{base}/Users",
                "httpMethod": "POST",
                "httpParams": '{"userName": "${user.email}", "department": "${user.city ?: \'Remote\'}"}',
                "httpHeaders": {"Authorization": "${access_token}"},
                "httpContentType": "application/scim+json",
                "successResponses": {"statusCode": [201]},
            },
            {
                "name": "lookup",
                "connection": "acctAuth",
                "url": f"{base}/Users/${{response.create1.message.id}}",
                "httpMethod": "${response.create.statusCode == 201 ? 'GET' : 'DELETE'}",
                "httpHeaders": {"Authorization": "${access_token}"},
            },
        ],
    }
    store = Store()
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("create-account", json.dumps(create))],
        placeholders,
        store,
        user=DANA,
    )
    assert report.ok, report.to_json()
    rec = store.accounts[next(iter(store.accounts))]
    assert rec["customproperty5"] == "Remote" and rec["customproperty6"] == 201
    assert rec["accountID"] in scim.zia.users
    assert [e.method for e in op(report, "create-account").exchanges] == ["POST", "GET"]


def test_disable_and_update_with_actions(scim, placeholders):
    base = placeholders["zia_scim_base"]
    store = Store()
    conn = guide_document("zia", "ConnectionJSON")
    assert run(conn, [("import", guide_document("zia", "ImportAccountEntJSON"))], placeholders, store).ok
    disable = {
        "actions": {
            "Disable": {
                "call": [
                    {
                        "name": "call1",
                        "connection": "acctAuth",
                        "url": f"{base}/Users/${{account.accountID}}",
                        "httpMethod": "PATCH",
                        "httpParams": '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], '
                        '"Operations": [{"op": "replace", "path": "active", "value": "false"}]}',
                        "httpHeaders": {"Authorization": "${access_token}"},
                        "httpContentType": "application/json",
                        "successResponses": {"statusCode": [200, 204]},
                    }
                ]
            }
        }
    }
    update = {
        "responseColsToPropsMap": {"displayName": "call1.message.displayName~#~char"},
        "call": [
            {
                "name": "call1",
                "connection": "acctAuth",
                "url": f"{base}/Users/${{account.accountID}}",
                "httpMethod": "PUT",
                "httpParams": '{"displayName": "${user.firstname} ${user.lastname}"}',
                "httpHeaders": {"Authorization": "${access_token}"},
                "httpContentType": "application/json",
            }
        ],
    }
    bob = {"name": "bob.sales@safemarch.example"}
    report = run(
        conn,
        [("disable-account", json.dumps(disable)), ("update-account", json.dumps(update))],
        placeholders,
        store,
        account=bob,
        user={"firstname": "Robert", "lastname": "Sales"},
    )
    assert report.ok, report.to_json()
    record = store.accounts[bob["name"]]
    assert record["status"] == "Disabled" and record["displayName"] == "Robert Sales"
    user = scim.zia.users[record["accountID"]]
    assert user["active"] is False and user["displayName"] == "Robert Sales"


def test_the_json_report_redacts_tokens(scim, placeholders):
    report = run(
        guide_document("zia", "ConnectionJSON"),
        [("import", guide_document("zia", "ImportAccountEntJSON"))],
        placeholders,
    )
    text = report.to_json()
    assert scim.token(scim.zia) not in text
    data = json.loads(text)
    assert data["ok"] and data["placeholders"]["zia_scim_token"].startswith("Bearer zia-…")
    ex = data["operations"][1]["exchanges"][0]
    assert ex["request_headers"]["Authorization"] == "Bearer zia-…(22 chars)"
    assert ex["rule"] == "200 is 2xx (no successResponses given)"
    assert len(data["store"]["accounts"]) == 12


# ---------------------------------------------------------------------------------------------
# The other ways of linking accounts to entitlements


def zia_import_with(
    acct_ent_params: dict, placeholders: dict[str, str], account_mappings: bool = False
) -> str:
    doc = json.loads(
        corrected_document("zia", "ImportAccountEntJSON").replace(
            "{{zia_scim_base}}", placeholders["zia_scim_base"]
        )
    )
    del doc["entitlementParams"]["entTypes"]["Entitlement"]["acctEntMappings"]
    if account_mappings:
        call = doc["accountParams"]["call"]["call1"]
        call["colsToPropsMap"]["customproperty31"] = "STORE#ACC#ENT#MAPPINGINFO~#~char"
        doc["accountParams"]["acctEntMappings"] = {
            "Entitlement": {"listPath": "groups", "idPath": "value", "keyField": "entitlementID"}
        }
    doc["acctEntParams"] = acct_ent_params
    return json.dumps(doc)


def http_link_call(url: str, **fields: str) -> dict:
    return {
        "processingType": fields.pop("processingType"),
        "entTypes": {
            "Entitlement": {
                "call": {
                    "call1": {
                        "connection": "acctAuth",
                        "http": {
                            "url": url,
                            "httpMethod": "GET",
                            "httpHeaders": {"Authorization": "${access_token}"},
                        },
                        **fields,
                    }
                }
            }
        },
    }


@pytest.mark.parametrize("style", ["acctToEntMapping", "httpAcctToEnt", "http"])
def test_links_by_each_processing_type(scim, placeholders, style):
    base = placeholders["zia_scim_base"]
    if style == "acctToEntMapping":
        doc = zia_import_with({"processingType": "acctToEntMapping"}, placeholders, account_mappings=True)
    elif style == "httpAcctToEnt":
        params = http_link_call(
            f"{base}/Users/${{id}}", processingType="httpAcctToEnt", listField="groups", entIdPath="value"
        )
        doc = zia_import_with(params, placeholders)
    else:
        params = http_link_call(
            f"{scim.url}/api/memberships",
            processingType="http",
            listField="pairs",
            acctIdPath="user",
            entIdPath="group",
        )
        doc = zia_import_with(params, placeholders)
    store = Store()
    report = run(
        corrected_document("zia", "ConnectionJSON"), [("import", doc)], placeholders, store, strict=True
    )
    assert report.ok, report.to_json()
    assert links_by_name(store) == scim.zia.members_by_name()
    if style == "acctToEntMapping":
        info = json.loads(store.accounts["alice.admin@safemarch.example"]["customproperty31"])
        assert info == {"Entitlement": {"entIds": ["90000", "90001"], "keyField": "entitlementID"}}
    if style == "httpAcctToEnt":
        assert sum(1 for e in op(report, "import").exchanges if "/Users/" in e.url) == 12


# ---------------------------------------------------------------------------------------------
# Static tokens, custom connection keys, other binding variables


def test_static_bearer_token_and_connection_keys(scim):
    conn = json.dumps(
        {
            "authentications": {
                "api": {"authType": "Bearer", "accessToken": "Bearer static-1", "apikey": "k-42"}
            }
        }
    )
    doc = json.loads(items_import(scim, None))
    doc["accountParams"]["call"]["call1"]["http"]["httpHeaders"]["X-Api-Key"] = "${connection.apikey}"
    report = run(conn, [("import", json.dumps(doc))], {})
    assert report.ok, report.to_json()
    ex = op(report, "import").exchanges[0]
    assert scim.last_authorization == "Bearer static-1"  # added under authHeaderName: no header named it
    assert ex.request_headers["X-Api-Key"] == "k…(4 chars)"


def test_a_static_token_cannot_be_regenerated(scim, placeholders):
    conn = json.dumps(
        {
            "authentications": {
                "acctAuth": {
                    "authType": "oauth2",
                    "accessToken": "Bearer wrong",
                    "retryFailureStatusCode": [401],
                }
            }
        }
    )
    report = run(conn, [("import", corrected_document("zia", "ImportAccountEntJSON"))], placeholders)
    assert "ConnectionJSON 'acctAuth' has no url to regenerate the token from" in op(report, "import").error


def test_unsupported_auth_types_fail_clearly(scim, placeholders):
    conn = json.dumps({"authentications": {"acctAuth": {"authType": "Jwt"}}})
    report = run(conn, [("import", corrected_document("zia", "ImportAccountEntJSON"))], placeholders)
    assert "authType 'Jwt' is not simulated by this engine" in op(report, "import").error
    assert "calls using it fail" in op(report, "connection").findings[0].message


def test_other_binding_variables(scim, placeholders):
    create = json.loads(
        corrected_document("zia", "CreateAccountJSON").replace(
            "{{zia_scim_base}}", placeholders["zia_scim_base"]
        )
    )
    create["call"][0]["httpParams"] = (
        '{"userName": "${user.email}", '
        '"displayName": "${requestid}-${businessJustification}-${approvers[0].name}"}'
    )
    report = run(
        corrected_document("zia", "ConnectionJSON"),
        [("create-account", json.dumps(create))],
        placeholders,
        user=DANA,
        variables={"requestid": "R-7", "approvers": [{"name": "Max"}]},
    )
    assert report.ok, report.to_json()
    created = next(u for u in scim.zia.users.values() if u["userName"] == DANA["email"])
    assert created["displayName"] == "R-7-null-Max"  # unset guide variables are null, as GStrings print them


def test_a_missing_user_is_named(scim, placeholders):
    report = run(
        guide_document("zpa", "ConnectionJSON"),
        [("create-account", guide_document("zpa", "CreateAccountJSON"))],
        placeholders,
    )
    err = op(report, "create-account").error
    assert "cannot read 'email' of null (user is null" in err
    assert "No user was given: pass --user email=... username=..." in err and not scim.requests
