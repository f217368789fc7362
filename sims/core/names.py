"""Bulk person names, fast: faker's en_US name lists and weights, drawn with one seeded
``random.Random`` (a hundred thousand names in a fraction of a second, the same on every machine)."""

from __future__ import annotations

import itertools
import random
import string
from functools import cache

from faker.providers.person.en_US import Provider

_PASSWORD_CHARS = string.ascii_letters + string.digits + "!#$%&*+-=?@^_"


@cache
def _weighted(kind: str) -> tuple[list[str], list[float]]:
    table = getattr(Provider, kind)
    names = list(table)
    weights = [table[n] for n in names] if isinstance(table, dict) else [1.0] * len(names)
    return names, list(itertools.accumulate(weights))


def person_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` (first, last) pairs; duplicates are possible (callers make logins unique)."""
    firsts, fw = _weighted("first_names")
    lasts, lw = _weighted("last_names")
    first = rng.choices(firsts, cum_weights=fw, k=count)
    return list(zip(first, rng.choices(lasts, cum_weights=lw, k=count), strict=True))


def passwords(rng: random.Random, count: int, length: int = 14) -> list[str]:
    chars = "".join(rng.choices(_PASSWORD_CHARS, k=count * length))
    return [chars[i : i + length] for i in range(0, count * length, length)]


def unique_logins(names: list[tuple[str, str]], domain: str, taken=()) -> list[str]:
    """first.last@domain, with a number appended to the local part when it is already used."""
    seen: set[str] = set()
    out = []
    for i, (first, last) in enumerate(names):
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        login = f"{local}@{domain}"
        if login in seen or login in taken:
            n = i
            while (login := f"{local}{n}@{domain}") in seen or login in taken:
                n += 1
        seen.add(login)
        out.append(login)
    return out


def group_names(n: int) -> list[str]:
    """Names of ``n`` generated groups: "Group 0001", "Group 0002", ... (wider past 9999)."""
    width = max(4, len(str(n)))
    return [f"Group {i:0{width}d}" for i in range(1, n + 1)]
