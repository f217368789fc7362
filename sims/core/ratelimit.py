"""Fixed-window rate limits on the simulated clock (per second, minute, hour, ...)."""

from __future__ import annotations

import math
from dataclasses import dataclass

UNIT_NAMES = {1: "SECOND", 60: "MINUTE", 3600: "HOUR", 86400: "DAY"}


@dataclass(frozen=True)
class Limit:
    count: int
    window: int  # seconds

    def describe(self) -> str:
        return f"{self.count}/{UNIT_NAMES.get(self.window, f'{self.window}s')}"


@dataclass
class Verdict:
    allowed: bool
    limit: Limit  # the tightest limit (the one refused, or the one with least remaining)
    remaining: int
    reset: int  # whole seconds until that limit's window ends (at least 1)


class RateLimiter:
    """Counts requests per key in fixed windows aligned to the clock (e.g. each whole second)."""

    def __init__(self) -> None:
        self._counts: dict[tuple, tuple[int, int]] = {}  # (key, window) -> (window index, count)

    def hit(self, key: object, limits: tuple[Limit, ...], now: float) -> Verdict:
        """Count one request against every limit, unless one is already exhausted (then nothing counts)."""
        states = []
        for limit in limits:
            index = int(now // limit.window)
            seen_index, count = self._counts.get((key, limit), (index, 0))
            if seen_index != index:
                count = 0
            reset = max(1, math.ceil((index + 1) * limit.window - now))
            states.append((limit, index, count, reset))
        for limit, _, count, reset in states:
            if count >= limit.count:
                return Verdict(False, limit, 0, reset)
        for limit, index, count, _ in states:
            self._counts[(key, limit)] = (index, count + 1)
        limit, _, count, reset = min(states, key=lambda s: s[0].count - s[2] - 1)
        return Verdict(True, limit, limit.count - count - 1, reset)

    def clear(self) -> None:
        self._counts.clear()
