"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), parsed by recursive descent.

Hand-written rather than scim2-models' lark grammar (which the tests use as an oracle): importing
scim2-models costs ~350 ms and ~13 MB (its pydantic resource models), a third of ``sims up``'s
startup budget, for a grammar of ~40 lines. The grammar follows RFC 7644 with the errata scim2-models
applies (full boolean expressions inside brackets, no nested value paths) and Entra's extension
``emails[type eq "work"].value eq "x"`` (read as ``emails[type eq "work" and value eq "x"]``).

Keywords and operators are case-insensitive; attribute names are kept as written (resolution against
the schema is case-insensitive). The result is a small tree of named tuples, cached by text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import NamedTuple

from sims.core.scim.errors import ScimError, invalid_filter, invalid_path

MAX_DEPTH = 32  # deeper trees would exhaust recursive evaluators; no client sends them
MAX_LENGTH = 8192
OPERATORS = frozenset(("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"))
ORDERING = frozenset(("gt", "ge", "lt", "le"))
STRING_OPS = frozenset(("co", "sw", "ew"))

_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
      (?P<str>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*")
    | (?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![\w.:$-])
    | (?P<punct>[()\[\]])
    | (?P<dot>\.)
    | (?P<word>[A-Za-z$][\w.:$-]*)
    )""",
    re.X,
)
_NAME = r"\$?[A-Za-z][\w$-]*"
_URN = r"urn:[A-Za-z0-9][\w.-]*(?::[A-Za-z0-9][\w.-]*)*"
_ATTR_PATH = re.compile(rf"(?:(?P<uri>{_URN}):)?(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}))?", re.I)
_SUB_NAME = re.compile(_NAME)


class AttrPath(NamedTuple):
    uri: str | None  # a schema URN when qualified
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        return (f"{self.uri}:" if self.uri else "") + self.attr + (f".{self.sub}" if self.sub else "")


class Compare(NamedTuple):
    path: AttrPath
    op: str  # lower case
    value: object  # str, int, float, bool or None


class Present(NamedTuple):
    path: AttrPath


class And(NamedTuple):
    terms: tuple


class Or(NamedTuple):
    terms: tuple


class Not(NamedTuple):
    expr: object


class ValueFilter(NamedTuple):
    """``attr[filter]`` inside a filter: true when some value of the multi-valued ``attr`` matches."""

    path: AttrPath
    filter: object


class PatchPath(NamedTuple):
    """``attrPath``, ``attrPath[valFilter]`` or ``attrPath[valFilter].subAttr`` (RFC 7644 §3.5.2)."""

    attr: AttrPath
    filter: object | None = None
    sub: str | None = None


Node = Compare | Present | And | Or | Not | ValueFilter


def split_attr_path(raw: str) -> AttrPath | None:
    """``[urn:...:]name[.sub]`` into its parts (the URN is everything up to the last colon)."""
    m = _ATTR_PATH.fullmatch(raw)
    if m is None:
        return None
    return AttrPath(m.group("uri"), m.group("attr"), m.group("sub"))


class _Parser:
    __slots__ = ("error", "i", "text", "tokens")

    def __init__(self, text: str, error) -> None:
        self.text = text
        self.error = error
        self.tokens: list[tuple[str, str, int]] = []
        pos, end = 0, len(text)
        while pos < end:
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise error(f"invalid character at column {pos + 1} of {text!r}")
            kind = m.lastgroup
            if kind is None:  # only whitespace matched: the end
                break
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    # -- token helpers -----------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def fail(self, expected: str) -> ScimError:
        tok = self.peek()
        where = f"column {tok[2] + 1} ({tok[1]!r})" if tok else "the end"
        return self.error(f"{expected} expected at {where} of {self.text!r}")

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise self.fail(repr(value) if value else kind)
        self.i += 1
        return tok[1]

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() in words:
            self.i += 1
            return tok[1].lower()
        return None

    def at_punct(self, p: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "punct" and tok[1] == p

    def done(self) -> None:
        if self.peek() is not None:
            raise self.fail("end of expression")

    # -- grammar -----------------------------------------------------------------------------------
    def or_expr(self, depth: int, inner: bool) -> Node:
        terms = [self.and_expr(depth, inner)]
        while self.keyword("or"):
            terms.append(self.and_expr(depth, inner))
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_expr(self, depth: int, inner: bool) -> Node:
        terms = [self.not_expr(depth, inner)]
        while self.keyword("and"):
            terms.append(self.not_expr(depth, inner))
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def not_expr(self, depth: int, inner: bool) -> Node:
        tok, nxt = self.peek(), self.peek(1)
        if (
            tok is not None
            and tok[0] == "word"
            and tok[1].lower() == "not"
            and nxt is not None
            and nxt[1] == "("
        ):
            self.i += 2
            expr = self.nested(depth, inner)
            self.take("punct", ")")
            return Not(expr)
        return self.primary(depth, inner)

    def nested(self, depth: int, inner: bool) -> Node:
        if depth >= MAX_DEPTH:
            raise self.error(f"the expression nests more than {MAX_DEPTH} levels")
        return self.or_expr(depth + 1, inner)

    def primary(self, depth: int, inner: bool) -> Node:
        if self.at_punct("("):
            self.i += 1
            expr = self.nested(depth, inner)
            self.take("punct", ")")
            return expr
        path = self.attr_path(inner)
        if self.at_punct("["):
            if inner:
                raise self.error(f"value paths cannot nest in {self.text!r}")
            if path.sub is not None:
                raise self.error(f"a value path cannot select into the sub-attribute {path}")
            self.i += 1
            val = self.nested(depth, True)
            self.take("punct", "]")
            if self.peek() is not None and self.peek()[0] == "dot":  # Entra: emails[...].value eq "x"
                self.i += 1
                sub = AttrPath(None, self.sub_name())
                val = And((*(val.terms if isinstance(val, And) else (val,)), self.attr_exp(sub)))
            return ValueFilter(path, val)
        return self.attr_exp(path)

    def attr_exp(self, path: AttrPath) -> Node:
        op = self.keyword("pr", *OPERATORS)
        if op is None:
            raise self.fail("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
        if op == "pr":
            return Present(path)
        return Compare(path, op, self.literal())

    def literal(self) -> object:
        tok = self.peek()
        if tok is None:
            raise self.fail("a value")
        kind, text, _ = tok
        if kind == "str":
            self.i += 1
            return json.loads(text)
        if kind == "num":
            self.i += 1
            return int(text) if text.lstrip("-").isdigit() else float(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            self.i += 1
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise self.fail('a value ("string", number, true, false or null)')

    def attr_path(self, inner: bool) -> AttrPath:
        tok = self.peek()
        if tok is None or tok[0] != "word":
            raise self.fail("an attribute path")
        path = split_attr_path(tok[1])
        if path is None or (inner and (path.uri or path.sub)):
            raise self.error(f"invalid attribute path {tok[1]!r} at column {tok[2] + 1}")
        self.i += 1
        return path

    def sub_name(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] != "word" or not _SUB_NAME.fullmatch(tok[1]):
            raise self.fail("a sub-attribute name")
        self.i += 1
        return tok[1]


def _parse_filter(text: str) -> Node:
    if not text or not text.strip():
        raise invalid_filter("the filter is empty")
    if len(text) > MAX_LENGTH:
        raise invalid_filter(f"the filter is longer than {MAX_LENGTH} characters")
    p = _Parser(text, invalid_filter)
    node = p.or_expr(0, False)
    p.done()
    return node


def _parse_path(text: str) -> PatchPath:
    if not isinstance(text, str) or not text.strip():
        raise invalid_path("the path is empty")
    if len(text) > MAX_LENGTH:
        raise invalid_path(f"the path is longer than {MAX_LENGTH} characters")
    p = _Parser(text, invalid_path)
    attr = p.attr_path(False)
    flt = sub = None
    if p.at_punct("["):
        if attr.sub is not None:
            raise invalid_path(f"a value path cannot select into the sub-attribute {attr}")
        p.i += 1
        flt = p.nested(0, True)
        p.take("punct", "]")
        if p.peek() is not None and p.peek()[0] == "dot":
            p.i += 1
            sub = p.sub_name()
    p.done()
    return PatchPath(attr, flt, sub)


_cached_filter = lru_cache(maxsize=2048)(_parse_filter)
_cached_path = lru_cache(maxsize=1024)(_parse_path)


def parse_filter(text: str) -> Node:
    """The tree of a filter; ScimError 400 invalidFilter when it is not one."""
    return _cached_filter(text) if len(text) <= 1024 else _parse_filter(text)


def parse_path(text: str) -> PatchPath:
    """The parts of a PATCH path; ScimError 400 invalidPath when it is not one."""
    return _cached_path(text) if isinstance(text, str) and len(text) <= 1024 else _parse_path(text)
