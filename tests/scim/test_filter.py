"""The filter and PATCH path parser: grammar, errors, limits, and agreement with scim2-models' grammar."""

from __future__ import annotations

import pytest

from sims.core.scim.errors import ScimError
from sims.core.scim.filter import (
    MAX_DEPTH,
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    PatchPath,
    Present,
    ValueFilter,
    parse_filter,
    parse_path,
)

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def cmp(attr, op, value, sub=None, uri=None):
    return Compare(AttrPath(uri, attr, sub), op, value)


def test_operators_and_literals():
    for op in ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"):
        assert parse_filter(f'userName {op} "x"') == cmp("userName", op, "x")
    assert parse_filter("userName pr") == Present(AttrPath(None, "userName"))
    assert parse_filter("active eq true") == cmp("active", "eq", True)
    assert parse_filter("active eq False") == cmp("active", "eq", False)
    assert parse_filter("title eq null") == cmp("title", "eq", None)
    assert parse_filter("n gt 12") == cmp("n", "gt", 12)
    assert parse_filter("n lt -1.5e2") == cmp("n", "lt", -150.0)
    assert parse_filter(r'displayName eq "a \"q\" \u00e9\\"') == cmp("displayName", "eq", 'a "q" é\\')


def test_keywords_are_case_insensitive_and_names_kept():
    assert parse_filter('USERNAME EQ "x" AND Active Eq TRUE') == And(
        (cmp("USERNAME", "eq", "x"), cmp("Active", "eq", True))
    )
    assert parse_filter("NOT (title PR)") == Not(Present(AttrPath(None, "title")))


def test_precedence_and_parentheses():
    a, b, c = cmp("a", "eq", 1), cmp("b", "eq", 2), cmp("c", "eq", 3)
    assert parse_filter("a eq 1 or b eq 2 and c eq 3") == Or((a, And((b, c))))
    assert parse_filter("(a eq 1 or b eq 2) and c eq 3") == And((Or((a, b)), c))
    assert parse_filter("a eq 1 and b eq 2 and c eq 3") == And((a, b, c))
    assert parse_filter("not(a eq 1) or ((b eq 2))") == Or((Not(a), b))


def test_paths_sub_attributes_and_urns():
    assert parse_filter('name.givenName sw "B"') == cmp("name", "sw", "B", sub="givenName")
    assert parse_filter('meta.lastModified gt "2011-05-13T04:42:34Z"') == cmp(
        "meta", "gt", "2011-05-13T04:42:34Z", sub="lastModified"
    )
    assert parse_filter(f'{ENT}:department eq "IT"') == cmp("department", "eq", "IT", uri=ENT)
    assert parse_filter(f'{ENT}:manager.value eq "1"') == cmp("manager", "eq", "1", sub="value", uri=ENT)
    assert parse_filter('$ref eq "x"') == cmp("$ref", "eq", "x")


def test_value_paths():
    work = cmp("type", "eq", "work")
    assert parse_filter('emails[type eq "work"]') == ValueFilter(AttrPath(None, "emails"), work)
    assert parse_filter('emails[type eq "work" and value co "@x"]') == ValueFilter(
        AttrPath(None, "emails"), And((work, cmp("value", "co", "@x")))
    )
    # Entra's form: emails[type eq "work"].value eq "x" reads as emails[type eq "work" and value eq "x"]
    assert parse_filter('emails[type eq "work"].value eq "x"') == ValueFilter(
        AttrPath(None, "emails"), And((work, cmp("value", "eq", "x")))
    )
    assert parse_filter('members[value eq "1"] or userName pr') == Or(
        (ValueFilter(AttrPath(None, "members"), cmp("value", "eq", "1")), Present(AttrPath(None, "userName")))
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "userName",
        "userName eq",
        'userName xx "a"',
        'userName eq "unterminated',
        "userName eq bare",
        'userName eq "a" and',
        'userName eq "a" or or b pr',
        '(userName eq "a"',
        'userName eq "a")',
        'emails[type eq "work"',
        'emails[type eq "work"]]',
        'emails[emails[type eq "x"]]',  # value paths do not nest
        'emails.value[type eq "x"]',  # no value path on a sub-attribute
        'emails[urn:x:y:type eq "x"]',  # inside brackets: sub-attribute names only
        'a.b.c eq "x"',
        '"x" eq userName',
        'userName eq "a" # comment',
        "userName eq 12abc",
        'userName eq "\x01"',
        "not userName pr",
        'userName eq "a" userName eq "b"',
        'userName eq "\\x"',
    ],
)
def test_malformed_filters(text):
    with pytest.raises(ScimError) as err:
        parse_filter(text)
    assert err.value.status == 400 and err.value.scim_type == "invalidFilter"
    assert err.value.detail


def test_limits():
    deep = "(" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ScimError, match="nests"):
        parse_filter(deep)
    ok = "(" * (MAX_DEPTH - 1) + "a pr" + ")" * (MAX_DEPTH - 1)
    assert parse_filter(ok) == Present(AttrPath(None, "a"))
    with pytest.raises(ScimError, match="longer"):
        parse_filter('userName eq "' + "x" * 10_000 + '"')


def test_patch_paths():
    assert parse_path("displayName") == PatchPath(AttrPath(None, "displayName"))
    assert parse_path("name.familyName") == PatchPath(AttrPath(None, "name", "familyName"))
    assert parse_path('members[value eq "2819c223"]') == PatchPath(
        AttrPath(None, "members"), cmp("value", "eq", "2819c223")
    )
    assert parse_path('emails[type eq "work"].value') == PatchPath(
        AttrPath(None, "emails"), cmp("type", "eq", "work"), "value"
    )
    assert parse_path(f"{ENT}:manager") == PatchPath(AttrPath(ENT, "manager"))
    # the whole extension: the URN splits at its last colon; the store recognises it
    assert parse_path(ENT) == PatchPath(AttrPath(ENT.rsplit(":", 1)[0], "User"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "members[",
        'members[value eq "1"',
        "a.b.c",
        'members[value eq "1"].',
        "emails pr x",
        "1abc",
        'x eq "y"',
    ],
)
def test_malformed_paths(text):
    with pytest.raises(ScimError) as err:
        parse_path(text)
    assert err.value.status == 400 and err.value.scim_type == "invalidPath"


# -- scim2-models (a well-kept lark grammar with the RFC errata) as an oracle -------------------------
VALID = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    'emails[type eq "work"].value eq "x@y"',
    "a eq 1 or b eq 2 and c eq 3 or not (d pr)",
    "x eq -0.5 and y eq 10 and z eq 1e3",
    "active eq TRUE and deleted eq false and manager eq null",
    f'{ENT}:department eq "Tour Operations"',
    f"{ENT}:manager.value pr",
    'members[value eq "1" or display sw "A"]',
    'emails[not (type eq "home")]',
]
INVALID = [
    "userName eq",
    '(userName eq "a"',
    'emails[emails[type eq "x"]]',
    'emails.value[type eq "x"]',
    'userName eq "a" and',
    "a.b.c pr",
    'userName zz "a"',
]


def _from_models(node):
    from scim2_models.path import Comparison, LogicalExpr, ValuePath
    from scim2_models.path import Not as MNot
    from scim2_models.path import Present as MPresent

    def path(p):
        return AttrPath(p.uri, p.attr, p.sub_attr)

    if isinstance(node, Comparison):
        return Compare(path(node.attr_path), node.op.value, node.value)
    if isinstance(node, MPresent):
        return Present(path(node.attr_path))
    if isinstance(node, MNot):
        return Not(_from_models(node.expr))
    if isinstance(node, LogicalExpr):
        terms = tuple(_from_models(t) for t in node.terms)
        return And(terms) if node.op.value == "and" else Or(terms)
    if isinstance(node, ValuePath):
        return ValueFilter(path(node.attr_path), _from_models(node.val_filter))
    raise AssertionError(node)


@pytest.mark.parametrize("text", VALID)
def test_agrees_with_scim2_models_on_valid_filters(text):
    models = pytest.importorskip("scim2_models")
    assert parse_filter(text) == _from_models(models.ScimFilter(text).ast)


@pytest.mark.parametrize("text", INVALID)
def test_agrees_with_scim2_models_on_invalid_filters(text):
    models = pytest.importorskip("scim2_models")
    with pytest.raises(Exception):  # noqa: B017 - scim2-models raises its own exception type
        models.ScimFilter(text)
    with pytest.raises(ScimError):
        parse_filter(text)
