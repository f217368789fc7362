"""Messages the sims "send" (notification e-mails, sync reports), kept for tests and the dashboard."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import asdict, dataclass, field

from sims.core.clock import SimClock, iso


@dataclass
class Message:
    id: int
    time: str
    sim: str
    to: list[str]
    subject: str
    body: str
    tenant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Mailbox:
    def __init__(self, clock: SimClock, capacity: int = 1000) -> None:
        self._clock = clock
        self._messages: deque[Message] = deque(maxlen=capacity)
        self._ids = itertools.count(1)

    def send(self, sim: str, to: list[str], subject: str, body: str, tenant: str | None = None) -> Message:
        msg = Message(next(self._ids), iso(self._clock.now()), sim, list(to), subject, body, tenant)
        self._messages.append(msg)
        return msg

    def list(self, sim: str | None = None, to: str | None = None) -> list[dict]:
        return [
            asdict(m) for m in self._messages if (sim is None or m.sim == sim) and (to is None or to in m.to)
        ]

    def clear(self) -> None:
        self._messages.clear()

    def export(self) -> list[dict]:
        return self.list()

    def load(self, messages: list[dict]) -> None:
        self.clear()
        for m in messages:
            self._messages.append(Message(**m))
        self._ids = itertools.count(max((m.id for m in self._messages), default=0) + 1)
