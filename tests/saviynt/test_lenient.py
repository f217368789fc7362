"""Reading JSON as pasted from the guide: each kind of damage repaired with its position, or
refused with its position in strict mode; hostile documents refused cleanly."""

from __future__ import annotations

import pytest

from sims.saviynt.lenient import JsonReadError, read_json


def messages(text: str) -> tuple[object, list[str]]:
    value, repairs = read_json(text)
    return value, [r.describe() for r in repairs]


def test_valid_json_is_read_as_is():
    assert read_json('{"a": [1, 2.5, true, null, "x"]}') == ({"a": [1, 2.5, True, None, "x"]}, [])


def test_trailing_commas():
    value, notes = messages('{"a": [1, 2,],\n "b": {"c": 1,},\n}')
    assert value == {"a": [1, 2], "b": {"c": 1}}
    assert notes == [
        "line 1, column 12: trailing comma before ']' ignored",
        "line 2, column 14: trailing comma before '}' ignored",
        "line 2, column 16: trailing comma before '}' ignored",
    ]


def test_wrapped_and_hyphenated_strings():
    text = (
        '{"url": "https://h/scim/1/2/v2/\nGroups/${entitlementValue.entitlementID}",\n'
        '"p": "Pa-\ntchOp ${ac-\n  count.accountID}"}'
    )
    value, notes = messages(text)
    assert value == {
        "url": "https://h/scim/1/2/v2/Groups/${entitlementValue.entitlementID}",
        "p": "PatchOp ${account.accountID}",
    }
    assert "line 1, column 32: line break inside the string starting at line 1 removed" in notes[0]
    assert notes[1] == "line 3, column 10: word hyphenated across lines ('Pa-' + 'tchOp') joined as 'PatchOp'"
    assert "'${ac-' + 'count.accountID}') joined as '${account.accountID}'" in notes[2]


def test_stray_backslash_before_the_closing_quote():
    """The guide's ZIA RemoveAccessJSON: `...}]}\\",` at the end of the line."""
    text = '{"httpParams": "{\\"a\\": 1}\\",\n "next": 2}'
    value, notes = messages(text)
    assert value == {"httpParams": '{"a": 1}', "next": 2}
    assert (
        "a stray backslash before the closing quote" in notes[0]
        and "read as the end of the string" in notes[0]
    )


def test_missing_closer_inside_an_array():
    """The guide's ZIA CreateAccountJSON: the call object is never closed before ']'."""
    value, notes = messages('{"call": [\n  {"name": "x",\n   "s": {"statusCode": [201]}\n  ]\n}')
    assert value == {"call": [{"name": "x", "s": {"statusCode": [201]}}]}
    assert notes == [
        "line 4, column 3: ']' closes an enclosing container while the object opened at line 2 is still "
        "open: closed it first (a '}' is missing)"
    ]


def test_document_continued_after_its_end():
    """A page break: the document closes, then its remaining members follow with stray closers."""
    value, notes = messages('{"a": 1}\n\n"b": 2,\n"c": {"d": 3}\n}}}\n')
    assert value == {"a": 1, "b": 2, "c": {"d": 3}}
    assert "the document goes on after its closing brace (line 1)" in notes[0]
    assert "'b', 'c' read into the top-level object" in notes[0]


def test_unclosed_document_and_strings():
    value, notes = messages('{"a": {"b": 1}')
    assert value == {"a": {"b": 1}}
    assert "the document ends inside the object opened at line 1" in notes[0]
    value, notes = messages('{"ops": [{"op": "remove"}]"')
    assert value == {"ops": [{"op": "remove"}]}
    assert "never closed" in notes[0]
    value, notes = messages('{"a": 1}"')
    assert value == {"a": 1} and "text after the document" in notes[0]


def test_other_repairs():
    value, notes = messages('```json\n{"a": 1 "b": 2, , "a": 3}\n```')
    assert value == {"a": 3, "b": 2}
    assert notes[0] == "line 1, column 1: markdown code fences (```) removed"
    assert any("missing ','" in n for n in notes)
    assert any("extra comma" in n for n in notes)
    assert any("duplicate key 'a'" in n for n in notes)
    value, notes = messages("{\u201ca\u201d: 1]\u00a0}")
    assert value == {"a": 1}
    assert any("typographic quote" in n for n in notes)
    assert any("stray ']'" in n for n in notes)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1,}', "line 1, column 8: trailing comma"),
        ('{"a": "x\ny"}', "line 1, column 9: line break inside"),
        ('{"a": 1}\n"b": 2', "line 2, column 1: the document goes on"),
        ('{"a": [1}', "line 1, column 9: '}' closes an enclosing container"),
    ],
)
def test_strict_mode_refuses_with_the_position(text, where):
    with pytest.raises(JsonReadError) as err:
        read_json(text, lenient=False)
    assert where.split(": ", 1)[1].split()[0] in str(err.value)
    assert str(err.value).startswith(where.split(": ")[0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the document is empty"),
        ("   \n ", "the document is empty"),
        ("{a: 1}", "expected a quoted key"),
        ('{"a" 1}', "expected ':' after the key 'a'"),
        ('{"a": tru}', "expected a value"),
        ('{"a": undefined}', "expected a value"),
        ('"never closed', "string is never closed"),
    ],
)
def test_unreadable_documents(text, message):
    with pytest.raises(JsonReadError, match=message):
        read_json(text)


def test_hostile_documents():
    with pytest.raises(JsonReadError, match="nested more than 200 levels"):
        read_json("[" * 100_000)
    with pytest.raises(JsonReadError, match="nested more than 200 levels"):
        read_json('{"a":' * 5000 + "1" + "}" * 4999)
    with pytest.raises(JsonReadError, match="at most"):
        read_json('"' + "x" * (5 * 1024 * 1024) + '"')
    value, notes = read_json("[" + "1," * 100_000 + "]")
    assert len(value) == 100_000 and len(notes) == 1  # one trailing comma


def test_mutated_guide_documents_read_or_fail_cleanly():
    """Seeded deletions, duplications and insertions in the guide's documents: every outcome is a
    value with repairs or a JsonReadError."""
    import random

    from tests.saviynt.conftest import FIXTURES

    texts = [p.read_text() for p in sorted(FIXTURES.glob("z*/*.txt"))]
    rng = random.Random(3173833)
    read = 0
    for _ in range(1500):
        t = list(rng.choice(texts))
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(t))
            what = rng.random()
            if what < 0.4:
                del t[i]
            elif what < 0.7:
                t.insert(i, rng.choice('{}[],:"\\\n \u201c-'))
            else:
                t.insert(i, t[i])
        try:
            read_json("".join(t))
            read += 1
        except JsonReadError:
            pass
    assert read > 500
