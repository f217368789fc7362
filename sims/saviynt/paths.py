"""Paths into responses and the ``colsToPropsMap`` column mappings (reference §1.4).

A path is dotted (``name.familyName``), may index lists (``emails[0].value``), and writes a dot
inside a key as ``~dot#`` (``odata~dot#error.code``). A mapping value is ``<path>~#~<type>`` with
types ``char``, ``int``, ``bool``, ``date``, ``epochdate``; ``#CONST#${...}`` computes the value
from an expression, and ``STORE#ACC#ENT#MAPPINGINFO`` marks the column that keeps the
account-to-entitlement mapping found in the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sims.saviynt import expr

MAPPING_INFO = "STORE#ACC#ENT#MAPPINGINFO"
TYPES = ("char", "int", "bool", "date", "epochdate")
_SEGMENT = re.compile(r"^([^\[\]]*)((?:\[-?\d+\])*)$")


class PathError(ValueError):
    pass


def split_path(path: str) -> list[str | int]:
    """``a.b[0].c~dot#d`` -> ["a", "b", 0, "c.d"]."""
    parts: list[str | int] = []
    if not path:
        return parts
    for raw in path.split("."):
        m = _SEGMENT.match(raw)
        if not m:
            raise PathError(f"bad path segment {raw!r} in {path!r}")
        name, indexes = m.groups()
        if name:
            parts.append(name.replace("~dot#", "."))
        parts.extend(int(i) for i in re.findall(r"-?\d+", indexes))
    return parts


def get_path(data: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of ``path`` in ``data``; a whole-key match wins (``@odata.nextLink``)."""
    if isinstance(data, dict) and path in data:
        return True, data[path]
    try:
        parts = split_path(path)
    except PathError:
        return False, None  # documents' paths are checked when parsed; this is for computed ones
    value = data
    for part in parts:
        if isinstance(part, int):
            if not isinstance(value, list) or not -len(value) <= part < len(value):
                return False, None
            value = value[part]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


@dataclass(frozen=True)
class ColumnMap:
    column: str  # the EIC column (accountID, name, customproperty1, ...)
    source: str  # path in the record, or the expression of #CONST#
    type: str
    computed: bool = False  # #CONST#${...}
    mapping_info: bool = False  # STORE#ACC#ENT#MAPPINGINFO


def parse_columns(mapping: Any, where: str, warn: Callable[[str], None]) -> list[ColumnMap]:
    """The column maps of a ``colsToPropsMap`` object; ``warn(message)`` reports oddities."""
    if not isinstance(mapping, dict):
        raise PathError(f"{where} must be an object of column: 'path~#~type', got {expr.type_name(mapping)}")
    out = []
    for column, spec in mapping.items():
        if not isinstance(spec, str):
            raise PathError(f"{where}.{column} must be a string 'path~#~type', got {expr.type_name(spec)}")
        source, sep, typ = spec.rpartition("~#~")
        if not sep:
            source, typ = spec, "char"
        typ = typ.strip().lower()
        if typ not in TYPES:
            warn(f"{where}.{column}: unknown type '~#~{typ}', read as char")
            typ = "char"
        computed = source.startswith("#CONST#")
        if computed:
            source = source[len("#CONST#") :]
            try:
                bindings = expr.find_bindings(source)
            except expr.ExpressionError as err:
                raise PathError(f"{where}.{column}: {err.describe()}") from None
            if len(bindings) == 1 and bindings[0][:2] == (0, len(source)):
                expr.parse(bindings[0][2])  # fail now, not per record
        elif source != MAPPING_INFO:
            try:
                split_path(source)
            except PathError as err:
                raise PathError(f"{where}.{column}: {err}") from None
        out.append(ColumnMap(column, source, typ, computed, source == MAPPING_INFO))
    return out


# Java SimpleDateFormat letters -> strptime (what dateFormat values in real JSONs use).
_JAVA_DATE = [
    ("yyyy", "%Y"), ("yy", "%y"), ("MMM", "%b"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"),
    ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("SSS", "%f"), ("XXX", "%z"), ("XX", "%z"),
    ("X", "%z"), ("Z", "%z"), ("a", "%p"), ("EEE", "%a"),
]  # fmt: skip


def java_to_strptime(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            literal = pattern[i + 1 : end] or "'"
            out.append(literal.replace("%", "%%"))
            i = end + 1
            continue
        for java, py in _JAVA_DATE:
            if pattern.startswith(java, i):
                out.append(py)
                i += len(java)
                break
        else:
            out.append("%%" if pattern[i] == "%" else pattern[i])
            i += 1
    return "".join(out)


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def convert(value: Any, typ: str, date_format: str | None) -> tuple[Any, str | None]:
    """(value as the column stores it, problem or None)."""
    if value is None:
        return None, None
    if typ == "char":
        if isinstance(value, (dict, list)):
            return expr.to_json_text(value), None
        return expr.to_text(value), None
    if typ == "int":
        if isinstance(value, bool):
            return int(value), None
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
            return int(value), None
        return None, f"{expr.to_text(value)[:40]!r} is not an integer"
    if typ == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return None, f"{expr.to_text(value)[:40]!r} is not a boolean"
    if typ == "epochdate":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, f"{expr.to_text(value)[:40]!r} is not an epoch time"
        if abs(number) > 1e11:  # milliseconds, as Java timestamps usually are
            number /= 1000
        try:
            return _iso(datetime.fromtimestamp(number, UTC)), None
        except (OverflowError, OSError, ValueError):
            return None, f"{number} is out of range for a date"
    # date
    text = expr.to_text(value)
    if date_format:
        try:
            return _iso(datetime.strptime(text, java_to_strptime(date_format))), None
        except ValueError:
            pass
    try:
        return _iso(datetime.fromisoformat(text.replace("Z", "+00:00"))), None
    except ValueError:
        how = f"dateFormat {date_format!r}" if date_format else "ISO 8601 (no dateFormat given)"
        return None, f"{text[:40]!r} does not parse as {how}"
