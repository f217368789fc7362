"""What every simulator provides to the shared machinery.

A sim is a domain model (which knows nothing of HTTP) plus a thin FastAPI app over it. The
runtime builds each registered sim with a ``SimContext``, wraps its app in the shared HTTP layer
(journal, faults, size limits, error shapes), serves it on its own port, and asks it to reset,
export and import its state.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from fastapi import APIRouter, FastAPI

from sims.core.clock import SimClock
from sims.core.mailbox import Mailbox

if TYPE_CHECKING:
    from sims.world import World


@dataclass
class SimContext:
    world: World
    clock: SimClock
    mailbox: Mailbox
    base_url: str
    urls: dict[str, str]  # every service's base URL (a sim may call or trust another)


class Sim(ABC):
    name: ClassVar[str]
    default_port: ClassVar[int]
    title: ClassVar[str] = ""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    @property
    def clock(self) -> SimClock:
        return self.ctx.clock

    @property
    def base_url(self) -> str:
        return self.ctx.base_url

    # -- state -----------------------------------------------------------------------------------
    @abstractmethod
    def reset(self) -> None:
        """Rebuild the whole state from the world as loaded."""

    @abstractmethod
    def export_state(self) -> dict:
        """The whole mutable state as JSON-compatible data; ``import_state`` must round-trip it."""

    @abstractmethod
    def import_state(self, state: dict) -> None: ...

    def schedule_jobs(self) -> None:  # noqa: B027 - optional hook, most sims have no jobs
        """Put this sim's recurring jobs on the clock (called after every reset and import)."""

    # -- HTTP ------------------------------------------------------------------------------------
    @abstractmethod
    def build_app(self) -> FastAPI:
        """The real-service API of this sim; the runtime adds the shared HTTP layer around it."""

    def control_router(self) -> APIRouter | None:
        """Admin operations on this sim, mounted by the control plane under ``/sims/<name>``."""
        return None

    def tenant_of(self, path: str, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The tenant a request addresses, cheaply and without raising (journal and fault matching)."""
        return None

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        """The body (and content type) the real service sends with ``status``."""
        return json.dumps({"error": message}).encode(), "application/json"

    # -- discovery -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """What ``sims world --json`` prints for this sim: URLs, credentials, tenants."""
        return {}
