"""Bindings: the ``${...}`` expressions of Saviynt REST connector JSON, evaluated safely.

Saviynt evaluates them as Groovy GStrings (reference saviynt-cyberark.md §1.3). This is the Groovy
subset real connection JSONs use in single expressions: property paths with ``?.``, indexes,
ternary and Elvis, comparisons, ``&&`` ``||`` ``!``, arithmetic and string concatenation, list
literals, and a fixed set of methods (``size()``, ``substring()``, ``Math.addExact()``...).

It is a tokenizer and a recursive-descent parser over JSON-like data (dict, list, str, int, float,
bool, None). Nothing is ever looked up on a Python object: a property is a dict key, a method is an
entry of the tables below, so no attribute, dunder or builtin is reachable. Sizes and nesting are
bounded so that hostile input fails with an ``ExpressionError``, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_EXPRESSION = 4096  # characters in one ${...}
MAX_TEMPLATE = 262_144  # characters in one templated value (an httpParams body)
MAX_DEPTH = 48  # nesting of parentheses, ternaries, unary operators, calls
MAX_TEXT = 1_000_000  # characters of any string the evaluator builds
MAX_NUMBER = 10**300  # beyond this ints cannot even be printed (sys.int_max_str_digits)

STATEMENT_WORDS = {
    "for", "while", "if", "else", "def", "new", "try", "catch", "class", "import", "switch",
    "do", "throw", "var", "final", "static", "assert",
}  # fmt: skip
STATIC_CLASSES = {"Math", "Integer", "String", "Long"}


class ExpressionError(ValueError):
    """A bad expression or a failed evaluation; ``position`` is an offset into ``expression``."""

    def __init__(self, message: str, expression: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.position = position

    def describe(self) -> str:
        if self.position is None or not self.expression:
            return self.message
        return f"{self.message} (at column {self.position + 1} of `{short(self.expression)}`)"


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# ---------------------------------------------------------------------------------------------
# Tokenizer

_OPERATORS = [
    "?.", "?:", "==", "!=", "<=", ">=", "&&", "||", "?", ":", ".", ",", "(", ")", "[", "]",
    "+", "-", "*", "/", "%", "!", "<", ">", ";",
]  # fmt: skip
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num str id op eof
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression is {len(text)} characters long; at most {MAX_EXPRESSION}")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c in "'\"":
            value, end = _string(text, i)
            tokens.append(Token("str", value, i))
            i = end
        elif c.isdigit():
            m = _NUMBER.match(text, i)
            assert m
            if len(m.group()) > 64:
                raise ExpressionError("number literal too long", text, i)
            raw = m.group()
            tokens.append(Token("num", float(raw) if (m.group(1) or m.group(2)) else int(raw), i))
            i = m.end()
            if i < n and text[i] in "LlGgDdFf" and not (i + 1 < n and (text[i + 1].isalnum())):
                i += 1  # Groovy number suffixes (10L, 1.5G): the value is the same for us
        elif c.isalpha() or c in "_$":
            m = _IDENT.match(text, i)
            assert m
            word = m.group()
            if word.startswith("__"):
                raise ExpressionError(f"names starting with '__' are not allowed ('{word}')", text, i)
            tokens.append(Token("id", word, i))
            i = m.end()
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, i))
                    i += len(op)
                    break
            else:
                hint = {
                    "=": "assignment is not supported",
                    "{": "closures and blocks are not supported",
                    "}": "unbalanced '}'",
                    "&": "bitwise operators are not supported",
                    "|": "bitwise operators are not supported",
                    "~": "regular expressions are not supported",
                }.get(c, f"unexpected character {c!r}")
                raise ExpressionError(hint, text, i)
    tokens.append(Token("eof", None, n))
    return tokens


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "$": "$"}


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\" and i + 1 < len(text):
            e = text[i + 1]
            if e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if e not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{e} in a string literal", text, i)
            out.append(_ESCAPES[e])
            i += 2
            continue
        if quote == '"' and c == "$" and text.startswith("${", i):
            raise ExpressionError('"${...}" inside a string literal is not supported; use +', text, i)
        out.append(c)
        i += 1
    raise ExpressionError("unterminated string literal", text, start)


# ---------------------------------------------------------------------------------------------
# Parser: nodes are small tuples; chains of same-precedence operators and of postfix accesses
# are kept flat so that evaluation loops instead of recursing once per operand.


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def expect(self, op: str) -> Token:
        tok = self.peek()
        if tok.kind != "op" or tok.value != op:
            raise self.error(f"expected '{op}'", tok)
        return self.take()

    def error(self, message: str, tok: Token | None = None) -> ExpressionError:
        tok = tok or self.peek()
        found = "the end" if tok.kind == "eof" else f"'{self.text[tok.pos : tok.pos + 20].split()[0]}'"
        return ExpressionError(f"{message}, found {found}", self.text, tok.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression nested more than {MAX_DEPTH} levels deep", self.text, self.peek().pos
            )

    def program(self) -> tuple:
        tok = self.peek()
        if tok.kind == "eof":
            raise ExpressionError("empty expression ${}", self.text, 0)
        if tok.kind == "id" and tok.value == "return":
            self.take()  # ${return x;} as templates write it: the value of the one statement
        if tok.kind == "id" and tok.value in STATEMENT_WORDS:
            raise ExpressionError(
                f"Groovy statements ('{tok.value}') are not supported: a binding here is one expression",
                self.text,
                tok.pos,
            )
        node = self.expression()
        while self.at(";"):
            self.take()
        if self.peek().kind != "eof":
            raise self.error("expected the end of the expression")
        return node

    def expression(self) -> tuple:
        self.enter()
        try:
            cond = self.elvis()
            if self.at("?"):
                self.take()
                yes = self.expression()
                self.expect(":")
                no = self.expression()
                return ("tern", cond, yes, no)
            return cond
        finally:
            self.depth -= 1

    def elvis(self) -> tuple:
        left = self.binary(0)
        if self.at("?:"):
            self.take()
            self.enter()
            try:
                return ("elvis", left, self.elvis())
            finally:
                self.depth -= 1
        return left

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> tuple:
        if level == len(self._LEVELS):
            return self.unary()
        first = self.binary(level + 1)
        rest = []
        while self.at(*self._LEVELS[level]):
            op = self.take()
            rest.append((op.value, op.pos, self.binary(level + 1)))
        return ("chain", first, rest) if rest else first

    def unary(self) -> tuple:
        if self.at("!", "-", "+"):
            op = self.take()
            self.enter()
            try:
                return ("un", op.value, self.unary(), op.pos)
            finally:
                self.depth -= 1
        return self.postfix()

    def postfix(self) -> tuple:
        base = self.primary()
        steps: list[tuple] = []
        while True:
            if self.at(".", "?."):
                dot = self.take()
                name = self.take()
                if name.kind != "id":
                    raise self.error(f"expected a property name after '{dot.value}'", name)
                if name.value.startswith("__"):
                    raise ExpressionError("names starting with '__' are not allowed", self.text, name.pos)
                safe = dot.value == "?."
                if self.at("("):
                    steps.append(("call", name.value, self.arguments(), safe, name.pos))
                else:
                    steps.append(("get", name.value, safe, name.pos))
            elif self.at("["):
                pos = self.take().pos
                self.enter()
                try:
                    index = self.expression()
                finally:
                    self.depth -= 1
                self.expect("]")
                steps.append(("idx", index, False, pos))
            else:
                break
        if base[0] == "var" and base[1] in STATIC_CLASSES and steps and steps[0][0] == "call":
            _, name, args, _safe, pos = steps[0]
            base = ("static", base[1], name, args, base[2])
            steps = steps[1:]
        return ("post", base, steps) if steps else base

    def arguments(self) -> list[tuple]:
        self.expect("(")
        self.enter()
        try:
            args: list[tuple] = []
            if not self.at(")"):
                args.append(self.expression())
                while self.at(","):
                    self.take()
                    args.append(self.expression())
            self.expect(")")
            return args
        finally:
            self.depth -= 1

    def primary(self) -> tuple:
        tok = self.peek()
        if tok.kind in ("num", "str"):
            self.take()
            return ("lit", tok.value)
        if tok.kind == "id":
            self.take()
            if tok.value in ("true", "false"):
                return ("lit", tok.value == "true")
            if tok.value == "null":
                return ("lit", None)
            if tok.value in STATEMENT_WORDS or tok.value == "return":
                raise ExpressionError(
                    f"Groovy statements ('{tok.value}') are not supported: a binding here is one expression",
                    self.text,
                    tok.pos,
                )
            if self.peek().kind == "id":
                raise ExpressionError(
                    f"declarations ('{tok.value} {self.peek().value}') are not supported: "
                    "a binding here is one expression",
                    self.text,
                    tok.pos,
                )
            return ("var", tok.value, tok.pos)
        if self.at("("):
            self.take()
            self.enter()
            try:
                node = self.expression()
            finally:
                self.depth -= 1
            self.expect(")")
            return node
        if self.at("["):
            self.take()
            self.enter()
            try:
                items: list[tuple] = []
                if not self.at("]"):
                    items.append(self.expression())
                    while self.at(","):
                        self.take()
                        items.append(self.expression())
                self.expect("]")
                return ("list", items)
            finally:
                self.depth -= 1
        raise self.error("expected a value")


_LEADING_WORD = re.compile(r"\s*(?:return\s+)?([A-Za-z_]\w*)\b")
_DECLARATION = re.compile(r"\s*(?:def|[A-Z]\w*(?:<[^>]*>)?)\s+([a-z_]\w*)\s*=[^=]")


def parse(text: str) -> tuple:
    """The syntax tree of one expression (the text between ``${`` and ``}``)."""
    # Statements first, so that 'for (...) {...}' is named as such rather than as a stray '{'.
    m = _LEADING_WORD.match(text)
    if m and m.group(1) in STATEMENT_WORDS and len(text) <= MAX_EXPRESSION:
        raise ExpressionError(
            f"Groovy statements ('{m.group(1)}') are not supported: a binding here is one expression",
            text,
            m.start(1),
        )
    d = _DECLARATION.match(text)
    if d and len(text) <= MAX_EXPRESSION:
        raise ExpressionError(
            f"declarations ('{text[: d.end(1)].strip()}') are not supported: "
            "a binding here is one expression",
            text,
            0,
        )
    return _Parser(text).program()


# ---------------------------------------------------------------------------------------------
# Values as Groovy sees them


def to_text(value: Any) -> str:
    """What a GString prints for a value: ``null`` for None, ``[k:v]`` for maps, ``[a, b]`` lists."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "[" + ", ".join(f"{k}:{to_text(v)}" for k, v in value.items()) + "]" if value else "[:]"
    if isinstance(value, list):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    return str(value)


def truthy(value: Any) -> bool:
    """Groovy truth: null, false, 0, '' and empty collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float, str, list, dict)):
        return bool(value)
    return True


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "value"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return a == b


def _checked(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ExpressionError(f"a string grew beyond {MAX_TEXT} characters")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise ExpressionError("a number grew too large")
    if isinstance(value, list) and len(value) > 100_000:
        raise ExpressionError("a list grew beyond 100000 items")
    return value


# ---------------------------------------------------------------------------------------------
# Methods: the only callables. Each takes the receiver and the evaluated arguments.


def _int_arg(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ExpressionError(f"{what} expects an integer, got {type_name(v)}")
    return v


def _str_arg(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise ExpressionError(f"{what} expects a string, got {type_name(v)}")
    return v


def _substring(s: str, begin: Any, end: Any = None) -> str:
    b = _int_arg(begin, "substring")
    e = len(s) if end is None else _int_arg(end, "substring")
    if not 0 <= b <= e <= len(s):  # Java throws StringIndexOutOfBoundsException here
        raise ExpressionError(f"substring({b}, {e}) is out of range for a string of length {len(s)}")
    return s[b:e]


def _replace(s: str, old: Any, new: Any) -> str:
    old, new = _str_arg(old, "replace"), to_text(new)
    if old and len(new) > len(old) and s.count(old) * (len(new) - len(old)) + len(s) > MAX_TEXT:
        raise ExpressionError(f"replace() would build a string beyond {MAX_TEXT} characters")
    return s.replace(old, new)


def _index(seq: list, i: Any) -> Any:
    i = _int_arg(i, "get")
    return seq[i] if -len(seq) <= i < len(seq) else None


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "length": len,
    "size": len,
    "isEmpty": lambda s: not s,
    "trim": str.strip,
    "toLowerCase": str.lower,
    "toUpperCase": str.upper,
    "toString": lambda s: s,
    "substring": _substring,
    "contains": lambda s, x: _str_arg(x, "contains") in s,
    "startsWith": lambda s, x: s.startswith(_str_arg(x, "startsWith")),
    "endsWith": lambda s, x: s.endswith(_str_arg(x, "endsWith")),
    "indexOf": lambda s, x: s.find(_str_arg(x, "indexOf")),
    "equals": _equal,
    "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.casefold() == x.casefold(),
    "replace": _replace,
    # Java's split takes a regular expression; a literal separator is what templates use, and
    # no user-supplied regex ever runs here.
    "split": lambda s, sep: s.split(_str_arg(sep, "split")) if sep else list(s),
    "concat": lambda s, x: s + _str_arg(x, "concat"),
}
_LIST_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda v: not v,
    "get": _index,
    "contains": lambda v, x: any(_equal(i, x) for i in v),
    "join": lambda v, sep="": _str_arg(sep, "join").join(to_text(i) for i in v),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "toString": to_text,
    "equals": _equal,
}
_MAP_METHODS: dict[str, Callable[..., Any]] = {
    "size": len,
    "isEmpty": lambda v: not v,
    "get": lambda v, k: v.get(to_text(k)),
    "containsKey": lambda v, k: to_text(k) in v,
    "toString": to_text,
    "equals": _equal,
}
_SCALAR_METHODS: dict[str, Callable[..., Any]] = {
    "toString": to_text,
    "equals": _equal,
    "intValue": lambda v: int(v) if _is_number(v) else _int_arg(v, "intValue"),
}


def _add_exact(a: Any, b: Any) -> int:
    total = _int_arg(a, "Math.addExact") + _int_arg(b, "Math.addExact")
    if not -(2**63) <= total < 2**63:
        raise ExpressionError("Math.addExact: long overflow")
    return total


def _parse_int(s: Any) -> int:
    text = to_text(s).strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", text):
        raise ExpressionError(f"Integer.parseInt: '{short(text, 40)}' is not an integer")
    return int(text)


def _number_arg(v: Any, what: str) -> float | int:
    if not _is_number(v):
        raise ExpressionError(f"{what} expects a number, got {type_name(v)}")
    return v


_STATIC: dict[tuple[str, str], Callable[..., Any]] = {
    ("Math", "addExact"): _add_exact,
    ("Math", "max"): lambda a, b: max(_number_arg(a, "Math.max"), _number_arg(b, "Math.max")),
    ("Math", "min"): lambda a, b: min(_number_arg(a, "Math.min"), _number_arg(b, "Math.min")),
    ("Math", "abs"): lambda a: abs(_number_arg(a, "Math.abs")),
    ("Integer", "parseInt"): _parse_int,
    ("Integer", "valueOf"): _parse_int,
    ("Long", "parseLong"): _parse_int,
    ("String", "valueOf"): to_text,
}


def _methods_for(value: Any) -> dict[str, Callable[..., Any]]:
    if isinstance(value, str):
        return _STRING_METHODS
    if isinstance(value, list):
        return _LIST_METHODS
    if isinstance(value, dict):
        return _MAP_METHODS
    return _SCALAR_METHODS


# ---------------------------------------------------------------------------------------------
# Evaluation


class _Evaluator:
    def __init__(self, text: str, variables: Mapping[str, Any], notes: list[str] | None) -> None:
        self.text = text
        self.variables = variables
        self.notes = notes

    def fail(self, message: str, pos: int | None) -> ExpressionError:
        return ExpressionError(message, self.text, pos)

    def eval(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            name = node[1]
            if name not in self.variables:
                if name in STATIC_CLASSES:
                    raise self.fail(f"'{name}' can only be used to call one of its methods", node[2])
                known = ", ".join(sorted(self.variables)) or "none"
                raise self.fail(f"unknown variable '{name}' (bound here: {known})", node[2])
            return self.variables[name]
        if kind == "post":
            return self.postfix(node)
        if kind == "chain":
            return self.chain(node)
        if kind == "un":
            _, op, operand, pos = node
            value = self.eval(operand)
            if op == "!":
                return not truthy(value)
            if not _is_number(value):
                raise self.fail(f"unary '{op}' needs a number, got {type_name(value)}", pos)
            return -value if op == "-" else value
        if kind == "tern":
            return self.eval(node[2]) if truthy(self.eval(node[1])) else self.eval(node[3])
        if kind == "elvis":
            left = self.eval(node[1])
            return left if truthy(left) else self.eval(node[2])
        if kind == "list":
            return _checked([self.eval(item) for item in node[1]])
        if kind == "static":
            _, cls, name, args, pos = node
            fn = _STATIC.get((cls, name))
            if fn is None:
                allowed = ", ".join(f"{c}.{m}" for c, m in _STATIC if c == cls)
                raise self.fail(f"{cls}.{name}() is not available (available: {allowed})", pos)
            return self.invoke(fn, [self.eval(a) for a in args], f"{cls}.{name}", pos)
        raise self.fail(f"internal: unknown node {kind}", None)  # pragma: no cover

    def invoke(self, fn: Callable[..., Any], args: list[Any], what: str, pos: int | None) -> Any:
        try:
            return _checked(fn(*args))
        except TypeError:
            raise self.fail(f"{what}() does not take {len(args)} argument(s)", pos) from None
        except ExpressionError as err:
            raise self.fail(err.message, pos) from None

    def source(self, node: tuple) -> str:
        """Readable text of a receiver for error messages (variables and property paths)."""
        if node[0] == "var":
            return node[1]
        if node[0] == "post" and node[1][0] == "var":
            parts = [node[1][1]]
            for step in node[2]:
                if step[0] == "get":
                    parts.append(("?." if step[2] else ".") + step[1])
                elif step[0] == "call":
                    parts.append(("?." if step[3] else ".") + step[1] + "()")
                else:
                    parts.append("[...]")
            return "".join(parts)
        return "the value"

    def postfix(self, node: tuple) -> Any:
        _, base, steps = node
        value = self.eval(base)
        path = self.source(base)
        for step in steps:
            kind = step[0]
            if kind == "get":
                _, name, safe, pos = step
                if value is None:
                    if safe:
                        return None  # ?. short-circuits the rest of the chain, as in Groovy
                    raise self.fail(
                        f"cannot read '{name}' of null ({path} is null; use ?. to allow null)", pos
                    )
                value = self.property(value, name, path, pos)
                path += "." + name
            elif kind == "call":
                _, name, arg_nodes, safe, pos = step
                if value is None:
                    if safe:
                        return None
                    raise self.fail(f"cannot call {name}() on null ({path} is null)", pos)
                methods = _methods_for(value)
                fn = methods.get(name)
                if fn is None:
                    raise self.fail(
                        f"method '{name}' is not available on a {type_name(value)} "
                        f"(available: {', '.join(sorted(methods))})",
                        pos,
                    )
                value = self.invoke(fn, [value, *(self.eval(a) for a in arg_nodes)], name, pos)
                path += f".{name}()"
            else:
                _, index_node, _safe, pos = step
                index = self.eval(index_node)
                if value is None:
                    raise self.fail(f"cannot index null ({path} is null)", pos)
                value = self.item(value, index, path, pos)
                path += "[...]"
        return value

    def property(self, value: Any, name: str, path: str, pos: int) -> Any:
        if isinstance(value, dict):
            if name not in value:
                if self.notes is not None:
                    self.notes.append(f"{path} has no '{name}' (null)")
                return None
            return value[name]
        if isinstance(value, list):  # Groovy's implicit spread: list.name = each item's name
            return [v.get(name) if isinstance(v, dict) else None for v in value]
        raise self.fail(f"cannot read property '{name}' of a {type_name(value)} ({path})", pos)

    def item(self, value: Any, index: Any, path: str, pos: int) -> Any:
        if isinstance(value, dict):
            return value.get(to_text(index))
        if isinstance(value, (list, str)):
            if isinstance(index, bool) or not isinstance(index, int):
                raise self.fail(f"{path} is a {type_name(value)}: its index must be an integer", pos)
            if -len(value) <= index < len(value):
                return value[index]
            if isinstance(value, str):
                raise self.fail(f"index {index} is out of range for {path} (length {len(value)})", pos)
            return None  # Groovy lists answer null beyond their end
        raise self.fail(f"cannot index a {type_name(value)} ({path})", pos)

    def chain(self, node: tuple) -> Any:
        _, first, rest = node
        value = self.eval(first)
        for op, pos, operand in rest:
            if op == "&&":
                if not truthy(value):
                    return False
                value = truthy(self.eval(operand))
                continue
            if op == "||":
                if truthy(value):
                    return True
                value = truthy(self.eval(operand))
                continue
            value = _checked(self.binary(op, value, self.eval(operand), pos))
        if rest and rest[0][0] in ("&&", "||"):
            return truthy(value)
        return value

    def binary(self, op: str, a: Any, b: Any, pos: int) -> Any:
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op in ("<", "<=", ">", ">="):
            if a is None or b is None:  # Groovy orders null before everything
                ka, kb = (a is not None), (b is not None)
            elif (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
                ka, kb = a, b
            else:
                raise self.fail(f"cannot compare a {type_name(a)} with a {type_name(b)} using '{op}'", pos)
            return {"<": ka < kb, "<=": ka <= kb, ">": ka > kb, ">=": ka >= kb}[op]
        if op == "+":
            if isinstance(a, str) or isinstance(b, str):
                if len(to_text(a)) + len(to_text(b)) > MAX_TEXT:
                    raise self.fail(f"a string grew beyond {MAX_TEXT} characters", pos)
                return to_text(a) + to_text(b)
            if isinstance(a, list) and isinstance(b, list):
                return a + b
        if not (_is_number(a) and _is_number(b)):
            raise self.fail(f"'{op}' needs numbers, got {type_name(a)} and {type_name(b)}", pos)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            if abs(a) > MAX_NUMBER // max(1, abs(b)):
                raise self.fail("a number grew too large", pos)
            return a * b
        if b == 0:
            raise self.fail("division by zero", pos)
        if op == "%":
            return a % b
        q = a / b
        return int(q) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else q


def evaluate(expression: str, variables: Mapping[str, Any], notes: list[str] | None = None) -> Any:
    """The value of one expression over ``variables``; ``notes`` collects nulls read from maps."""
    tree = parse(expression)
    try:
        return _Evaluator(expression, variables, notes).eval(tree)
    except ExpressionError:
        raise
    except (ArithmeticError, RecursionError, ValueError, TypeError) as err:
        # A safety net (float overflow and the like): still an error about the expression.
        raise ExpressionError(f"cannot evaluate: {type(err).__name__}: {err}", expression) from None


# ---------------------------------------------------------------------------------------------
# Templates: text with ${...} bindings


def find_bindings(text: str) -> list[tuple[int, int, str]]:
    """(start, end, expression) of each ``${...}``; braces and quotes inside are respected."""
    if len(text) > MAX_TEMPLATE:
        raise ExpressionError(f"value is {len(text)} characters long; at most {MAX_TEMPLATE}")
    found: list[tuple[int, int, str]] = []
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            return found
        j, depth, quote = start + 2, 1, ""
        while j < len(text):
            c = text[j]
            if quote:
                if c == "\\":
                    j += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        else:
            raise ExpressionError(
                f"unterminated ${{ at column {start + 1}: no matching '}}'", text[start:], 0
            )
        found.append((start, j + 1, text[start + 2 : j]))
        i = j + 1


def render(text: str, variables: Mapping[str, Any], notes: list[str] | None = None) -> str:
    """``text`` with every ``${...}`` replaced by its value as a GString prints it: no JSON
    escaping (Saviynt pastes values textually, reference §1.3), ``null`` for null."""
    bindings = find_bindings(text)
    if not bindings:
        return text
    out: list[str] = []
    last = 0
    for start, end, expression in bindings:
        out.append(text[last:start])
        try:
            out.append(to_text(evaluate(expression, variables, notes)))
        except ExpressionError as err:
            if not err.expression:
                err.expression = expression
            raise
        last = end
        if sum(map(len, out)) > MAX_TEXT:
            raise ExpressionError(f"the rendered value grew beyond {MAX_TEXT} characters", expression)
    out.append(text[last:])
    return "".join(out)


def to_json_text(value: Any) -> str:
    """Compact JSON for values stored as text (colsToPropsMap ``char`` of a map or list)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
