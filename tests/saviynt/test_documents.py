"""Parsing the connection documents: the guide's documents as shipped (and that they are the
guide's, edited only in their base URLs and tokens), their oddities reported, bad documents
refused with the document and the place named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sims.saviynt.documents import (
    DocumentError,
    fill_placeholders,
    parse_connection,
    parse_import,
    parse_provisioning,
)
from tests.saviynt.conftest import FIXTURES, corrected_document, guide_document

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "guides" / "002_7053a407825855ce.txt"
NAMES = [
    "ConnectionJSON",
    "ImportAccountEntJSON",
    "CreateAccountJSON",
    "AddAccessJSON",
    "RemoveAccessJSON",
    "RemoveAccountJSON",
]
PH = {
    "zia_scim_base": "http://127.0.0.1:9/3173833/1001/scim",
    "zia_scim_token": "Bearer zia-token",
    "zpa_scim_base": "http://127.0.0.1:9/scim/1/216196257331281921/v2",
    "zpa_scim_token": "Bearer zpa-token",
}
# The guide's code blocks, in order, per document (a document split by page breaks has several).
BLOCKS = {
    ("zpa", "ConnectionJSON"): [0, 1],
    ("zia", "ConnectionJSON"): [2, 3],
    ("zpa", "ImportAccountEntJSON"): [4, 5, 6],
    ("zia", "ImportAccountEntJSON"): [7, 8, 9],
    ("zpa", "CreateAccountJSON"): [10, 11],
    ("zia", "CreateAccountJSON"): [12, 13],
    ("zpa", "AddAccessJSON"): [14, 15],
    ("zia", "AddAccessJSON"): [16, 17],
    ("zpa", "RemoveAccessJSON"): [18],
    ("zia", "RemoveAccessJSON"): [19],
    ("zpa", "RemoveAccountJSON"): [20],
    ("zia", "RemoveAccountJSON"): [21],
}
BASES = {
    "zia": "https://<domain name>/8651360/48097/scim",
    "zpa": "https://<domain name>/scim/1/72058300560048147/v2",
}


def parse(kind: str, text: str, strict: bool = False):
    if kind == "ConnectionJSON":
        return parse_connection(text, strict=strict, placeholders=PH)
    if kind == "ImportAccountEntJSON":
        return parse_import(text, strict=strict, placeholders=PH)
    return parse_provisioning(kind, text, strict=strict, placeholders=PH)


@pytest.mark.skipif(not GUIDE.exists(), reason=f"the guide is not at {GUIDE}")
@pytest.mark.parametrize(("sim", "name"), sorted(BLOCKS))
def test_fixtures_are_the_guide_verbatim_but_for_base_urls_and_tokens(sim, name):
    parts = GUIDE.read_text().split("```")
    blocks = [parts[i] for i in range(1, len(parts), 2)]
    guide = "".join(blocks[i] for i in BLOCKS[(sim, name)]).strip("\n") + "\n"
    shipped = guide_document(sim, name)
    undone = shipped.replace(f"{{{{{sim}_scim_base}}}}", BASES[sim]).replace(
        f"{{{{{sim}_scim_token}}}}", "<access token>"
    )
    assert undone == guide
    assert set(re.findall(r"\{\{(\w+)\}\}", shipped)) <= {f"{sim}_scim_base", f"{sim}_scim_token"}


def kinds(findings) -> list[str]:
    return [f.kind for f in findings]


# What reading each of the guide's documents takes: (repairs, oddities, warnings).
EXPECTED = {
    ("zia", "ConnectionJSON"): (0, 2, 0),
    ("zpa", "ConnectionJSON"): (5, 2, 0),
    ("zia", "ImportAccountEntJSON"): (6, 3, 0),
    ("zpa", "ImportAccountEntJSON"): (2, 3, 0),
    ("zia", "CreateAccountJSON"): (1, 0, 0),
    ("zpa", "CreateAccountJSON"): (0, 0, 0),
    ("zia", "AddAccessJSON"): (0, 0, 0),
    ("zpa", "AddAccessJSON"): (3, 0, 0),
    ("zia", "RemoveAccessJSON"): (1, 0, 0),
    ("zpa", "RemoveAccessJSON"): (3, 0, 0),
    ("zia", "RemoveAccountJSON"): (0, 0, 0),
    ("zpa", "RemoveAccountJSON"): (1, 0, 0),
}


@pytest.mark.parametrize(("sim", "name"), sorted(EXPECTED))
def test_every_guide_document_reads_with_its_repairs_reported(sim, name):
    doc = parse(name, guide_document(sim, name))
    found = kinds(doc.findings)
    assert (found.count("repair"), found.count("oddity"), found.count("warning")) == EXPECTED[(sim, name)], [
        f.describe() for f in doc.findings
    ]


@pytest.mark.parametrize(("sim", "name"), sorted(EXPECTED))
def test_strict_mode_refuses_exactly_the_damaged_ones(sim, name):
    damaged = EXPECTED[(sim, name)][0] > 0
    if not damaged:
        parse(name, guide_document(sim, name), strict=True)
        return
    with pytest.raises(DocumentError) as err:
        parse(name, guide_document(sim, name), strict=True)
    assert err.value.document == name
    assert re.search(r"line \d+, column \d+|moved into|misplaced", str(err.value)) or "strict" in str(
        err.value
    )


@pytest.mark.parametrize("sim", ["zia", "zpa"])
@pytest.mark.parametrize("name", NAMES)
def test_corrected_documents_are_clean_json(sim, name):
    text = corrected_document(sim, name)
    json.loads(fill_placeholders(text, PH, name))
    doc = parse(name, text, strict=True)
    assert "repair" not in kinds(doc.findings) and "warning" not in kinds(doc.findings)


def test_the_zpa_connection_is_put_back_together():
    conn = parse("ConnectionJSON", guide_document("zpa", "ConnectionJSON"))
    auth = conn.auths["acctAuth"]
    assert list(conn.auths) == ["acctAuth"]
    assert (auth.auth_type, auth.url, auth.access_token) == (
        "oauth2",
        PH["zpa_scim_base"],
        "Bearer zpa-token",
    )
    assert auth.auth_errors == ["InvalidAuthenticationToken", "AuthenticationFailed"]
    assert (auth.error_path, auth.max_refresh, auth.retry_status, auth.http_params) == (
        "error.code",
        5,
        [],
        None,
    )
    moved = [f for f in conn.findings if "moved into the only authentication, 'acctAuth'" in f.message]
    assert len(moved) == 1 and "'authError' inside 'authentications'" in moved[0].message


def test_the_guide_oddities_are_named():
    conn = parse("ConnectionJSON", guide_document("zia", "ConnectionJSON"))
    text = " | ".join(f.message for f in conn.findings)
    assert "'[object Object]'" in text and "Read as no parameters" in text
    assert "header literally named 'contentType'" in text
    imp = parse("ImportAccountEntJSON", guide_document("zia", "ImportAccountEntJSON"))
    text = " | ".join(f.message for f in imp.findings)
    assert "basicUrl and hostUrl are not REST connector attributes" in text
    assert "keyField 'entitlementID' names an entitlement column" in text
    assert "'acctEntMappings' from the top level into entitlement type 'Entitlement'" in text
    et = imp.ent_types[0]
    assert (et.name, et.calls[0].list_field, et.calls[0].key_field) == (
        "Entitlement",
        "Resources",
        "entitlementID",
    )
    assert et.mapping is not None and (
        et.mapping.list_field,
        et.mapping.id_path,
        et.mapping.account_field,
    ) == (
        "members",
        "value",
        "accountID",
    )
    assert imp.acct_ent is not None and imp.acct_ent.processing_type == "entToAcctMapping"
    assert imp.accounts is not None and imp.accounts.key_field == "name"
    zpa = parse("ImportAccountEntJSON", guide_document("zpa", "ImportAccountEntJSON"))
    assert "'/72058300560048128/scim/Users' does not even match url" in " ".join(
        f.message for f in zpa.findings
    )


def test_strict_mode_ignores_misplaced_attributes_as_saviynt_would():
    raw = json.loads(fill_placeholders(corrected_document("zia", "ImportAccountEntJSON"), PH, "x"))
    raw["entitlementParams"]["acctEntParams"] = raw.pop("acctEntParams")
    doc = parse_import(json.dumps(raw), strict=True)
    assert doc.acct_ent is None
    assert any("misplaced attributes ignored" in f.message for f in doc.findings)
    doc = parse_import(json.dumps(raw))
    assert doc.acct_ent is not None


def test_auth_types():
    def auth(body: dict):
        return parse_connection(json.dumps({"authentications": {"a": body}})).auths["a"]

    basic = auth({"authType": "Basic", "properties": {"userName": "u", "password": "p"}})
    assert basic.auth_type == "basic"
    bearer = parse_connection(
        json.dumps({"authentications": {"a": {"authType": "Bearer", "accessToken": "Bearer x"}}})
    )
    assert bearer.auths["a"].auth_type == "bearer"
    assert "not in Saviynt's documented list" in bearer.findings[0].message
    jwt = parse_connection(json.dumps({"authentications": {"a": {"authType": "Jwt"}}}))
    assert jwt.auths["a"].auth_type == "unsupported:Jwt"
    params = auth({"authType": "oauth2", "httpParams": '{"grant_type": "client_credentials"}'})
    assert params.http_params == {"grant_type": "client_credentials"}
    bare = parse_connection(
        json.dumps(
            {"authentications": {"a": {"authType": "oauth2", "tokenType": "Bearer", "accessToken": "raw"}}}
        )
    )
    assert "does not start with tokenType 'Bearer '" in bare.findings[0].message


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("ConnectionJSON", "[1]", "ConnectionJSON: the document must be a JSON object, got list"),
        ("ConnectionJSON", '{"a": 1}', "ConnectionJSON: no 'authentications' object"),
        ("ConnectionJSON", '{"authentications": {"a": {}}}', "authentications.a.authType is missing"),
        (
            "ConnectionJSON",
            '{"authentications": {"a": {"authType": "magic"}}}',
            "'magic' is not a Saviynt authType",
        ),
        (
            "ConnectionJSON",
            '{"authentications": {"a": {"authType": "oauth2", "maxRefreshTryCount": "many"}}}',
            "maxRefreshTryCount must be a number",
        ),
        (
            "ConnectionJSON",
            '{"authentications": {"a": {"authType": "oauth2", "retryFailureStatusCode": ["x"]}}}',
            "status codes must be numbers",
        ),
        ("ImportAccountEntJSON", "{}", "nothing to import"),
        (
            "ImportAccountEntJSON",
            '{"accountParams": {"call": {"c": {"http": {"url": "x"}}}}}',
            "colsToPropsMap is missing",
        ),
        (
            "ImportAccountEntJSON",
            '{"accountParams": {"call": {"c": {"http": {"url": "${user."}, "colsToPropsMap": {}}}}}',
            "accountParams.call.c.http.url: bad binding",
        ),
        (
            "ImportAccountEntJSON",
            '{"accountParams": {"call": {"c": {"http": {"url": "u"}, '
            '"colsToPropsMap": {"a": "b[x]~#~char"}}}}}',
            "bad path segment",
        ),
        (
            "ImportAccountEntJSON",
            '{"accountParams": {"call": {"c": {"http": {"url": "u"}, "colsToPropsMap": {}, '
            '"pagination": {"x": {}}}}}}',
            "unknown style 'x'",
        ),
        (
            "ImportAccountEntJSON",
            '{"accountParams": {"call": {"c": {"http": {"url": "u"}, "colsToPropsMap": {}}}}, '
            '"acctEntParams": {"processingType": "magic"}}',
            "acctEntParams.processingType 'magic' is not one of",
        ),
        ("AddAccessJSON", '{"call": []}', "AddAccessJSON: call must be a non-empty list"),
        ("AddAccessJSON", '{"call": [{"name": "G", "httpMethod": "GET"}]}', "call[0] 'G': url is missing"),
        ("AddAccessJSON", '{"call": [{"name": "G", "url": "u"}]}', "call[0] 'G': httpMethod is missing"),
        (
            "AddAccessJSON",
            '{"call": [{"name": "G", "url": "u/${entitlementValue.entitlementID", "httpMethod": "PATCH"}]}',
            "AddAccessJSON: call[0] 'G' url: bad binding `${entitlementValue.entitlementID`: "
            "unterminated ${ at column 3",
        ),
        (
            "AddAccessJSON",
            '{"call": [{"name": "G", "url": "u", "httpMethod": "PATCH", '
            '"httpParams": "{\\"v\\": \\"${a +}\\"}"}]}',
            "AddAccessJSON: call[0] 'G' httpParams: bad binding `a +`: expected a value",
        ),
        (
            "RemoveAccountJSON",
            '{"call": [{"url": "{{nope}}", "httpMethod": "GET"}]}',
            "placeholder(s) {{nope}} have no value",
        ),
        (
            "CreateAccountJSON",
            '{"accountIdPath": "a.b[x]", "call": [{"url": "u", "httpMethod": "GET"}]}',
            "accountIdPath",
        ),
        ("CreateAccountJSON", "", "the document is empty"),
        ("CreateAccountJSON", '{"call": [{"url": "u", "httpMethod": "GET",}', None),
    ],
)
def test_bad_documents_name_the_document_and_place(kind, text, message):
    if message is None:  # damaged but readable: repaired, with a report
        doc = parse(kind, text)
        assert "repair" in kinds(doc.findings)
        return
    with pytest.raises(DocumentError) as err:
        parse(kind, text)
    assert message in str(err.value)
    assert str(err.value).startswith(kind)


def test_actions_and_capitalised_success_responses():
    doc = parse_provisioning(
        "DisableAccountJSON",
        json.dumps(
            {
                "actions": {
                    "Disable Account": {
                        "call": [
                            {
                                "name": "call1",
                                "url": "u",
                                "httpMethod": "PATCH",
                                "SuccessResponses": {"statusCode": ["200"], "status": "ok"},
                            }
                        ]
                    }
                }
            }
        ),
    )
    call = doc.actions["Disable Account"][0]
    assert (
        call.success is not None
        and call.success.status_codes == [200]
        and call.success.fields == {"status": ["ok"]}
    )
    assert any("'SuccessResponses' read as 'successResponses'" in f.message for f in doc.findings)


def test_fixture_readme_names_every_fixture():
    readme = (FIXTURES / "README.md").read_text()
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert path.stem in readme, path
