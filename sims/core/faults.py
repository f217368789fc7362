"""Fault injection: rules that answer instead of a sim, delay it, or drop the connection.

Rules match on sim, method, path pattern and tenant, and fire a bounded number of times or with a
probability (drawn from a seeded generator, so a seeded run fails the same way twice). They live in
the HTTP machinery around every sim, so no sim has per-fault code: a sim only supplies the body
its real service would send for a given status.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal["respond", "delay", "drop"]


class FaultSpec(BaseModel):
    """What a client asks for (control plane ``POST /faults``)."""

    model_config = ConfigDict(extra="forbid")

    sim: str | None = Field(default=None, description="sim name; any when unset")
    method: str | None = Field(default=None, description="HTTP method; any when unset")
    path: str = Field(default="*", description="glob (`/api/*`) or regular expression (`re:^/api/v1/.*`)")
    tenant: str | None = Field(default=None, description="tenant as the journal shows it; any when unset")
    action: Action = "respond"
    status: int = Field(default=503, ge=100, le=599)
    body: str | dict | list | None = Field(default=None, description="default: the sim's own error shape")
    headers: dict[str, str] = Field(default_factory=dict)
    delay_ms: int = Field(default=0, ge=0, le=120_000, description="for delay: added before the sim answers")
    count: int | None = Field(default=None, ge=1, description="fire this many times, then stop")
    probability: float = Field(default=1.0, gt=0.0, le=1.0)
    skip: int = Field(default=0, ge=0, description="let this many matching requests through first")
    name: str | None = None

    @field_validator("method")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else v

    @field_validator("path")
    @classmethod
    def _valid_pattern(cls, v: str) -> str:
        if v.startswith("re:"):
            try:
                re.compile(v[3:])
            except re.error as err:
                raise ValueError(f"bad regular expression: {err}") from None
        return v

    @model_validator(mode="after")
    def _delay_has_time(self) -> FaultSpec:
        if self.action == "delay" and self.delay_ms == 0:
            raise ValueError("a delay fault needs delay_ms > 0")
        return self


@dataclass
class FaultRule:
    id: str
    spec: FaultSpec
    seen: int = 0
    fired: int = 0
    _regex: re.Pattern | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        p = self.spec.path
        # like the journal's filter: a regular expression is searched (anchor it with ^ and $)
        self._regex = re.compile(p[3:]) if p.startswith("re:") else re.compile("^" + fnmatch.translate(p))

    @property
    def exhausted(self) -> bool:
        return self.spec.count is not None and self.fired >= self.spec.count

    def matches(self, sim: str, method: str, path: str, tenant: str | None) -> bool:
        s = self.spec
        return (
            (s.sim is None or s.sim == sim)
            and (s.method is None or s.method == method)
            and (s.tenant is None or s.tenant == tenant)
            and bool(self._regex.search(path))
        )

    def describe(self) -> dict:
        return {"id": self.id, **self.spec.model_dump(), "seen": self.seen, "fired": self.fired}


class FaultEngine:
    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self.rules: dict[str, FaultRule] = {}

    def add(self, spec: FaultSpec) -> FaultRule:
        rule = FaultRule(id=f"fault-{next(self._ids)}", spec=spec)
        self.rules[rule.id] = rule
        return rule

    def remove(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self.rules.clear()
        self._rng = random.Random(self._seed)

    def pick(self, sim: str, method: str, path: str, tenant: str | None) -> FaultRule | None:
        """The first live rule that fires for this request (rules are tried in creation order)."""
        if not self.rules:
            return None
        for rule in self.rules.values():
            if rule.exhausted or not rule.matches(sim, method, path, tenant):
                continue
            rule.seen += 1
            if rule.seen <= rule.spec.skip:
                continue
            if rule.spec.probability < 1.0 and self._rng.random() >= rule.spec.probability:
                continue
            rule.fired += 1
            return rule
        return None

    def export(self) -> list[dict]:
        return [r.spec.model_dump() for r in self.rules.values()]

    def load(self, specs: list[dict]) -> None:
        self.clear()
        for s in specs:
            self.add(FaultSpec.model_validate(s))
