"""Reading connector JSON as admins paste it, including what copying from a PDF does to it.

The Saviynt guide's documents do not survive copy and paste as valid JSON: code blocks are cut at
page breaks (a document closes, then its remaining members follow), strings are wrapped across
lines (``.../v2/`` + newline + ``Groups/...``), words are hyphenated (``Pa-`` + ``tchOp``), commas
trail, braces are missing or extra, a stray backslash keeps a string open. ``read_json`` parses
strict JSON first; failing that, and unless ``lenient`` is off, it reads on through each of these,
recording a ``Repair`` with its line and column for each, so that a user sees exactly what the
real product's parser would have refused. Anything it cannot read is a ``JsonReadError`` with the
position, never a traceback.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_DOCUMENT = 4 * 1024 * 1024
MAX_NESTING = 200
_FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*$", re.MULTILINE)
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201d": "\u201d"}  # smart quotes from word processors


@dataclass(frozen=True)
class Repair:
    line: int
    column: int
    message: str
    kind: str = "syntax"  # syntax: the product's parser would refuse it; duplicate: a repeated key

    def describe(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class JsonReadError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class _Unterminated(Exception):
    def __init__(self, start: int) -> None:
        self.start = start


def _snippet(text: str, limit: int = 40) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "..."


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.repairs: list[Repair] = []
        self.stack: list[str] = []  # expected closers of the open containers
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- positions and reporting

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def line_of(self, pos: int) -> int:
        return self.where(pos)[0]

    def repair(self, pos: int, message: str, kind: str = "syntax") -> None:
        line, col = self.where(pos)
        self.repairs.append(Repair(line, col, message, kind))

    def error(self, message: str, pos: int | None = None) -> JsonReadError:
        line, col = self.where(self.i if pos is None else min(pos, self.n))
        return JsonReadError(message, line, col)

    def ws(self) -> None:
        while self.i < self.n:
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c in "\u00a0\ufeff":
                self.repair(self.i, "non-breaking space outside a string read as a space")
                self.i += 1
            else:
                return

    # -- values

    def value(self, depth: int) -> Any:
        if depth > MAX_NESTING:
            raise self.error(f"nested more than {MAX_NESTING} levels deep")
        self.ws()
        if self.i >= self.n:
            raise self.error("the document ends where a value is expected")
        c = self.s[self.i]
        if c == "{":
            return self.container(depth, "}")
        if c == "[":
            return self.container(depth, "]")
        if c in _OPEN_QUOTES:
            return self.string()
        m = _NUMBER.match(self.s, self.i)
        if m and m.group():
            self.i = m.end()
            return float(m.group()) if (m.group(2) or m.group(3)) else int(m.group())
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.s.startswith(word, self.i):
                self.i += len(word)
                return val
        raise self.error(f"expected a value, found {_snippet(self.s[self.i :], 20)!r}")

    def container(self, depth: int, closer: str) -> Any:
        start = self.i
        self.i += 1
        self.stack.append(closer)
        is_object = closer == "}"
        result: Any = {} if is_object else []
        need_item = True  # after the opener or a comma
        after_comma = False
        comma_pos = start
        try:
            while True:
                self.ws()
                if self.i >= self.n:
                    self.repair(
                        self.n,
                        f"the document ends inside the {'object' if is_object else 'array'} opened at "
                        f"line {self.line_of(start)}: closed it (a '{closer}' is missing)",
                    )
                    return result
                c = self.s[self.i]
                if c == closer:
                    if after_comma:
                        self.repair(comma_pos, f"trailing comma before '{closer}' ignored")
                    self.i += 1
                    return result
                if c in "}]":
                    if c in self.stack[:-1]:
                        # The closer belongs to an enclosing container: this one lost its closer.
                        self.repair(
                            self.i,
                            f"'{c}' closes an enclosing container while the "
                            f"{'object' if is_object else 'array'} opened at line {self.line_of(start)} "
                            f"is still open: closed it first (a '{closer}' is missing)",
                        )
                        return result
                    self.repair(self.i, f"stray '{c}' ignored")
                    self.i += 1
                    continue
                if c == ",":
                    if need_item:
                        self.repair(self.i, "extra comma ignored")
                    comma_pos = self.i
                    self.i += 1
                    need_item = after_comma = True
                    continue
                item_pos = self.i
                try:
                    if is_object:
                        if c not in _OPEN_QUOTES:
                            raise self.error(
                                f"expected a quoted key or '}}', found {_snippet(self.s[self.i :], 20)!r}"
                            )
                        key = self.string()
                        self.ws()
                        if self.i >= self.n or self.s[self.i] != ":":
                            raise self.error(f"expected ':' after the key {key!r}")
                        self.i += 1
                        val = self.value(depth + 1)
                    else:
                        val = self.value(depth + 1)
                except _Unterminated as u:
                    self.repair(
                        u.start,
                        f"string starting here is never closed: dropped it and closed the "
                        f"{'object' if is_object else 'array'} opened at line {self.line_of(start)}",
                    )
                    self.i = self.n
                    return result
                if not need_item:
                    self.repair(item_pos, "missing ',' between items")
                if is_object:
                    if key in result:
                        self.repair(item_pos, f"duplicate key {key!r}: the later value is used", "duplicate")
                    result[key] = val
                else:
                    result.append(val)
                need_item = after_comma = False
        finally:
            self.stack.pop()

    def string(self) -> str:
        start = self.i
        opener = self.s[start]
        closer = _OPEN_QUOTES[opener]
        if opener != '"':
            self.repair(start, "typographic quote read as '\"'")
        self.i += 1
        buf: list[str] = []
        escaped_quote: tuple[int, int] | None = None  # (len(buf) before it, position after it)
        while True:
            if self.i >= self.n:
                raise _Unterminated(start)
            c = self.s[self.i]
            if c == closer or (closer != '"' and c == '"'):
                self.i += 1
                return "".join(buf)
            if c == "\\":
                self.escape(buf)
                if self.s[self.i - 1] == '"':
                    escaped_quote = (len(buf) - 1, self.i)
                continue
            if c in "\r\n":
                self.line_break(start, buf, escaped_quote)
                if self.i == -1:  # the string ended before the break (stray backslash)
                    assert escaped_quote is not None
                    del buf[escaped_quote[0] :]
                    self.i = escaped_quote[1]
                    return "".join(buf)
                continue
            if ord(c) < 0x20:
                self.repair(self.i, f"control character {c!r} inside a string kept")
            buf.append(c)
            self.i += 1

    def escape(self, buf: list[str]) -> None:
        e = self.s[self.i + 1 : self.i + 2]
        simple = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
        if e in simple:
            buf.append(simple[e])
            self.i += 2
        elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", self.s[self.i + 2 : self.i + 6]):
            buf.append(chr(int(self.s[self.i + 2 : self.i + 6], 16)))
            self.i += 6
        else:
            self.repair(self.i, f"invalid escape '\\{e}' read as {e!r}")
            buf.append(e)
            self.i += 2 if e else 1

    def line_break(self, start: int, buf: list[str], escaped_quote: tuple[int, int] | None) -> None:
        """A raw line break inside a string: the product's parser refuses it. Work out what the
        PDF did: a stray backslash before the closing quote, a hyphenated word, or a wrapped line."""
        brk = self.i
        j = brk
        while j < self.n and self.s[j] in "\r\n \t":
            j += 1
        following = self.s[j : j + 1]
        line_text = self.s[self.line_starts[self.line_of(brk) - 1] : brk]
        if (
            escaped_quote
            and re.fullmatch(r"[ \t]*,?[ \t]*", self.s[escaped_quote[1] : brk])
            and following in '"}]'
        ):
            self.repair(
                escaped_quote[1] - 2,
                "a stray backslash before the closing quote: '\\\"' at the end of the line read as the end "
                "of the string (else it would run on into the next line)",
            )
            self.i = -1
            return
        if buf and buf[-1] == "-" and len(buf) > 1 and buf[-2].isalnum() and following[:1].isalnum():
            word_end = re.match(r"[\w$.{}]*", self.s[j:]).group()  # type: ignore[union-attr]
            head = re.search(r"[\w$.{}]*-$", "".join(buf[-40:])).group()  # type: ignore[union-attr]
            self.repair(
                brk,
                f"word hyphenated across lines ({head!r} + {word_end!r}) joined as {head[:-1] + word_end!r}",
            )
            buf.pop()
        else:
            before = _snippet(line_text.strip()[-24:], 24)
            after = _snippet(self.s[j:].split("\n")[0], 24)
            self.repair(
                brk,
                f"line break inside the string starting at line {self.line_of(start)} removed "
                f"({before!r} + {after!r})",
            )
        self.i = j

    # -- the document

    def document(self) -> Any:
        self.ws()
        if self.i >= self.n:
            raise self.error("the document is empty")
        try:
            root = self.value(0)
        except _Unterminated as u:
            raise self.error("string is never closed", u.start) from None
        root_end = self.i
        continued: list[str] = []
        first_extra: int | None = None
        while True:
            self.ws()
            if self.i >= self.n:
                break
            if first_extra is None:
                first_extra = self.i
            c = self.s[self.i]
            if c in "}],":
                self.i += 1
                continue
            if isinstance(root, dict) and c in _OPEN_QUOTES:
                key_pos = self.i
                try:
                    key = self.string()
                except _Unterminated as u:
                    self.repair(u.start, "text after the document (an unclosed string) ignored")
                    break
                self.ws()
                if self.i < self.n and self.s[self.i] == ":":
                    self.i += 1
                    try:
                        root[key] = self.value(1)
                    except _Unterminated as u:
                        self.repair(u.start, "string starting here is never closed: dropped it")
                        break
                    continued.append(key)
                    continue
                self.repair(key_pos, f"text after the document ignored: {_snippet(self.s[key_pos:])!r}")
                break
            self.repair(self.i, f"text after the document ignored: {_snippet(self.s[self.i :])!r}")
            break
        if continued:
            assert first_extra is not None
            self.repair(
                first_extra,
                f"the document goes on after its closing brace (line {self.line_of(root_end - 1)}), as "
                f"when a page break splits it: {', '.join(repr(k) for k in continued)} read into the "
                "top-level object",
            )
        elif first_extra is not None and not any(r.line >= self.line_of(first_extra) for r in self.repairs):
            self.repair(first_extra, "stray closing brackets after the end of the document ignored")
        return root


def _as_error(message: str) -> str:
    """A repair's message as the refusal of a strict parser: what is wrong, not what was done."""
    message = re.sub(
        r":? (closed it first|closed it|dropped it and closed the \w+ opened at line \d+)", "", message
    )
    message = re.sub(r" (ignored|removed|read into the top-level object)(?= \(|$)", "", message)
    return re.sub(r" (read as|joined as) .*$", "", message)


def read_json(text: str, *, lenient: bool = True) -> tuple[Any, list[Repair]]:
    """Parse ``text``; with ``lenient``, read through damaged JSON and say what was repaired."""
    if len(text) > MAX_DOCUMENT:
        raise JsonReadError(f"the document is {len(text)} characters long; at most {MAX_DOCUMENT}", 1, 1)
    try:
        return json.loads(text), []
    except (json.JSONDecodeError, RecursionError):
        pass
    repairs: list[Repair] = []
    cleaned = text
    if _FENCE.search(text):
        # Keep the line count so that later positions still match the pasted text.
        cleaned = _FENCE.sub("", text)
        m = _FENCE.search(text)
        assert m
        repairs.append(Repair(text.count("\n", 0, m.start()) + 1, 1, "markdown code fences (```) removed"))
    reader = _Reader(cleaned)
    value = reader.document()
    repairs += sorted(reader.repairs, key=lambda r: (r.line, r.column))
    if not lenient:
        # A strict parser stops at the first damage: say where, and what the damage is.
        first = next((r for r in repairs if r.kind == "syntax"), None)
        if first is not None:
            raise JsonReadError(f"invalid JSON: {_as_error(first.message)}", first.line, first.column)
    return value, repairs
