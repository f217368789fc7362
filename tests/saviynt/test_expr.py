"""The ${...} evaluator: Groovy semantics the connection JSONs rely on, and hostile input refused
cleanly (an ExpressionError with a message, never another exception)."""

from __future__ import annotations

import pytest

from sims.saviynt import expr
from sims.saviynt.expr import ExpressionError, evaluate, render

VARS = {
    "user": {"email": "dana@safemarch.example", "username": "dana", "city": None, "firstname": "Dana"},
    "account": {"accountID": "u-1", "name": "dana@safemarch.example", "roles": ["a", "b"]},
    "entitlementValue": {"entitlementID": "90002", "entitlement_value": "Sales"},
    "response": {
        "Entitlement": {
            "message": {"id": "new-id", "emails": [{"value": "x@y"}], "members": [{"value": "m1"}]}
        },
        "completeResponseMap": {"itemsPerPage": 10, "startIndex": 1, "totalResults": 25},
        "objectList": [1, 2, 3],
    },
    "access_token": "Bearer abc",
    "requestAccessAttributes": None,
    "n": 7,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("user.email", "dana@safemarch.example"),
        ("account.accountID", "u-1"),
        ("response.Entitlement.message.id", "new-id"),
        ("response.Entitlement.message.emails[0].value", "x@y"),
        ("response.Entitlement.message.members.value", ["m1"]),  # Groovy's implicit spread
        ("account['name']", "dana@safemarch.example"),
        ("account.roles[-1]", "b"),
        ("account.roles[5]", None),  # Groovy lists answer null beyond their end
        ("user.city==null?'':user.city", ""),
        ("user.firstname==null?'':user.firstname", "Dana"),
        ("user?.missing?.deeper", None),
        ("requestAccessAttributes?.addRemoveAlias", None),
        ("user.city ?: 'none'", "none"),
        ("user.email ?: 'none'", "dana@safemarch.example"),
        ("'a' + 1 + 2", "a12"),
        ("1 + 2 + 'a'", "3a"),
        ("n * 2 - 4 / 2", 12),
        ("7 / 2", 3.5),
        ("n % 4", 3),
        ("-n + 10", 3),
        ("n > 5 && n < 10", True),
        ("n > 5 && !(n < 10) || false", False),
        ("null < 1", True),
        ("user.username.toUpperCase()", "DANA"),
        ("user.email.substring(0, user.email.indexOf('@'))", "dana"),
        ("user.email.split('@')[1]", "safemarch.example"),
        ("account.roles.size()", 2),
        ("account.roles.join(',')", "a,b"),
        ("account.roles.contains('b')", True),
        ("user.email.contains('@') ? 'mail' : 'name'", "mail"),
        ("true ? 'x' : 'y'", "x"),
        ("false ? 'x' : true ? 'y' : 'z'", "y"),
        (
            "Math.addExact(response.completeResponseMap.itemsPerPage, "
            "response.completeResponseMap.startIndex)",
            11,
        ),
        ("Integer.parseInt('42') + 1", 43),
        ("String.valueOf(null)", "null"),
        ("[1, 2, 3].size()", 3),
        ("10L + 1", 11),
        ("return user.username;", "dana"),
        ("entitlementValue.entitlementID.equals('90002')", True),
        ("user.email.equalsIgnoreCase('DANA@SAFEMARCH.EXAMPLE')", True),
    ],
)
def test_groovy_subset(expression, expected):
    assert evaluate(expression, VARS) == expected


def test_the_saviynt_zscaler_next_url_expression():
    """The nextUrlPath of Saviynt's own Zscaler example (reference §1.4 pagination)."""
    path = (
        "response?.objectList?.size()>0?'https://scim.zscalertwo.net/1/2/scim/Users?startIndex='"
        "+Math.addExact(response.completeResponseMap.itemsPerPage,response.completeResponseMap.startIndex)"
        "+'&count='+response.completeResponseMap.itemsPerPage:null"
    )
    assert evaluate(path, VARS) == "https://scim.zscalertwo.net/1/2/scim/Users?startIndex=11&count=10"
    empty = {"response": {**VARS["response"], "objectList": []}}
    assert evaluate(path, empty) is None
    assert evaluate(path, {"response": None}) is None  # ?. all the way


def test_render_prints_as_a_gstring_without_json_escaping():
    assert render("${user.city}", VARS) == "null"
    assert render("x=${account}", {"account": {"a": 1, "b": [True, None]}}) == "x=[a:1, b:[true, null]]"
    assert render("${a}", {"a": {}}) == "[:]"
    # Values are pasted textually (reference §1.3): a quote in a value is not escaped.
    assert render('{"n": "${v}"}', {"v": 'say "hi"'}) == '{"n": "say "hi""}'
    assert render("no bindings $ here {}", {}) == "no bindings $ here {}"
    assert render("${n}${n}", VARS) == "77"
    assert render("${'}'}", {}) == "}"  # a brace inside a string literal does not end the binding
    assert render("${true ? '{x}' : 'y'}", {}) == "{x}"


def test_nulls_read_from_maps_are_noted():
    notes: list[str] = []
    assert render("/Groups/${entitlementValue.entitlementId}", VARS, notes) == "/Groups/null"
    assert notes == ["entitlementValue has no 'entitlementId' (null)"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("usr.email", "unknown variable 'usr'"),
        ("user.city.length()", "cannot call length() on null (user.city is null)"),
        ("user.city.x", "cannot read 'x' of null (user.city is null; use ?. to allow null)"),
        ("user.email.nope()", "method 'nope' is not available on a string"),
        ("n.x", "cannot read property 'x' of a number"),
        ("user.email > 3", "cannot compare a string with a number"),
        ("user.email - 1", "'-' needs numbers"),
        ("1 / 0", "division by zero"),
        ("user.email.substring(5, 2)", "substring(5, 2) is out of range"),
        ("Math.pow(2, 10)", "Math.pow() is not available"),
        ("Math", "'Math' can only be used to call one of its methods"),
        ("Integer.parseInt('12a')", "is not an integer"),
        ("user.email.substring('a')", "substring expects an integer"),
        ("", "empty expression"),
        ("user.", "expected a property name"),
        ("(user.email", "expected ')'"),
        ("user.email)", "expected the end of the expression"),
        ("a ? b", "expected ':'"),
        ("'unterminated", "unterminated string literal"),
        ("x = 1", "assignment is not supported"),
        ("{ -> 1 }", "closures and blocks are not supported"),
        ("for (Map m : list) { m }", "Groovy statements ('for') are not supported"),
        ("new java.util.HashMap()", "Groovy statements ('new') are not supported"),
        ("Map tempMap = 1", "declarations ('Map tempMap') are not supported"),
        ('"${user.email}"', "inside a string literal is not supported"),
        ("user.email ~= 'x'", "regular expressions are not supported"),
        ("'\\q'", "unknown escape"),
    ],
)
def test_errors_say_what_is_wrong(expression, message):
    with pytest.raises(ExpressionError) as err:
        evaluate(expression, VARS)
    assert message in err.value.message


def test_error_positions_point_into_the_expression():
    with pytest.raises(ExpressionError) as err:
        evaluate("user.email + usr.name", VARS)
    assert err.value.position == 13
    assert "column 14" in err.value.describe()


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "user.__class__",
        "user.email.__class__.__mro__",
        "''.__class__",
        "user['__class__']",  # a dict key: harmless, but still just a key lookup
        "user.getClass()",
        "user.email.getClass().forName('java.lang.Runtime')",
        "user.email.execute()",
        "'ls'.execute().text",
        "this.binding",
        "System.exit(0)",
        "Runtime.getRuntime()",
        "user.email.format('%s')",
        "user.constructor",
    ],
)
def test_no_attribute_dunder_or_code_access(expression):
    """Whatever the expression, the result is a value from the data or an ExpressionError."""
    try:
        value = evaluate(expression, VARS)
    except ExpressionError:
        return
    assert value is None or isinstance(value, (str, int, float, bool, list, dict))
    assert value is None  # only dict keys that do not exist can be reached


def test_huge_and_deep_inputs_are_refused_cleanly():
    with pytest.raises(ExpressionError, match="at most 4096"):
        evaluate("1+" * 5000 + "1", VARS)
    with pytest.raises(ExpressionError, match="nested more than"):
        evaluate("(" * 500 + "1" + ")" * 500, VARS)
    with pytest.raises(ExpressionError, match="nested more than"):
        evaluate("!" * 1000 + "true", VARS)
    with pytest.raises(ExpressionError, match="nested more than"):
        evaluate("true ? " * 300 + "1" + " : 0" * 300, VARS)
    with pytest.raises(ExpressionError, match="nested more than"):
        evaluate("[" * 300 + "]" * 300, VARS)
    with pytest.raises(ExpressionError, match="nested more than"):
        evaluate("user.email.concat(" * 60 + "'x'" + ")" * 60, VARS)
    # A long flat chain is fine: chains are evaluated in a loop, not by recursion.
    assert evaluate("+".join(["1"] * 2000), VARS) == 2000
    with pytest.raises(ExpressionError, match="number literal too long"):
        evaluate("9" * 100, VARS)
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("*".join(["99999999999999999999999999999999999999999999999999"] * 40), VARS)
    with pytest.raises(ExpressionError, match="at most 262144"):
        render("x" * 300_000, VARS)


def test_string_growth_is_bounded():
    big = {"s": "x" * 600_000}
    with pytest.raises(ExpressionError, match="grew beyond"):
        evaluate("s + s", big)
    with pytest.raises(ExpressionError, match="would build a string beyond"):
        evaluate("s.replace('x', 'xxxxxxxx')", big)
    with pytest.raises(ExpressionError, match="'\\*' needs numbers"):
        evaluate("'ab' * 1000000000", VARS)


def test_templates_with_bad_bindings():
    with pytest.raises(ExpressionError, match="unterminated"):
        render("/Users/${account.accountID", VARS)
    with pytest.raises(ExpressionError) as err:
        render("/Users/${account..accountID}", VARS)
    assert err.value.expression == "account..accountID"


def test_to_text_and_truth():
    assert expr.to_text(1.5) == "1.5"
    assert expr.to_text([1, "a", None]) == "[1, a, null]"
    assert [expr.truthy(v) for v in (None, 0, "", [], {}, "0", [0], 0.1)] == [
        False, False, False, False, False, True, True, True,
    ]  # fmt: skip


def test_random_expressions_fail_only_with_expression_errors():
    """A seeded fuzz over the grammar's pieces: every outcome is a value or an ExpressionError."""
    import random

    rng = random.Random(7053)
    pieces = [
        "user", "account", ".", "?.", "email", "roles", "[", "]", "(", ")", "0", "-1", "1e308", "10", "'x'",
        '"y"', "?", ":", "?:", "==", "!=", "<", ">=", "+", "-", "*", "/", "%", "!", "&&", "||", "null",
        "true",
        "size()", "substring(", ",", "Math.addExact(", "Math.max(", "Integer.parseInt(", "n", "__", "${", "}",
        "9" * 40, "'", "\\", "response", "Entitlement", "message",
    ]  # fmt: skip
    values = 0
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        try:
            evaluate(text, VARS)
            values += 1
        except ExpressionError:
            pass
    assert values > 50  # the fuzz reaches valid expressions too
