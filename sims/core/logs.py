"""Logging for ``sims up``: readable lines (``text``, the default) or one JSON object per line (``json``).

A JSON line has ``time`` (the simulated clock, once a world is running; the wall clock before),
``wall_time``, ``level``, ``logger``, ``message``, any ``extra={...}`` fields of the call, and
``exc_info`` when an exception was logged.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from sims.core.clock import iso

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every attribute a plain LogRecord has: whatever else a record carries came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record. ``clock`` returns the simulated time (epoch seconds), if any."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        wall = iso(record.created)
        sim_time = wall
        if self.clock is not None:
            try:
                sim_time = iso(self.clock())
            except Exception:  # a log line must never fail on the clock
                sim_time = wall
        out: dict = {
            "time": sim_time,
            "wall_time": wall,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def configure(level: str, fmt: str = "text", stream=None) -> logging.Handler:
    """Replace the root logger's handlers with one on ``stream`` (stderr) in the given format."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def use_clock(handler: logging.Handler, clock: Callable[[], float]) -> None:
    """Stamp JSON lines with the simulated time from now on (a no-op for text)."""
    if isinstance(handler.formatter, JsonFormatter):
        handler.formatter.clock = clock
