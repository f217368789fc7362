"""A running world: the sims built from a world file plus the clock, journal, faults and mailbox."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from sims.core.clock import SimClock
from sims.core.durable import DurableAck
from sims.core.faults import FaultEngine
from sims.core.http import SimHTTP
from sims.core.journal import Journal
from sims.core.mailbox import Mailbox
from sims.core.metrics import Metrics
from sims.core.sim import Sim, SimContext

if TYPE_CHECKING:
    from sims.core.durable import Persister
    from sims.world import World

log = logging.getLogger("sims.runtime")
STATE_VERSION = 1


class StateError(ValueError):
    """An imported state that does not fit this world; nothing was changed."""


class Runtime:
    def __init__(
        self,
        world: World,
        sim_classes: dict[str, type[Sim]],
        urls: dict[str, str],
        *,
        clock_mode: Literal["real", "frozen"] | None = None,
        control_token: str | None = None,
        source: str = "(embedded default world)",
    ) -> None:
        self.world = world
        self.source = source
        self.urls = urls
        self.control_token = control_token
        self.clock_mode = clock_mode or world.clock.mode
        self.clock = SimClock()
        self._start_clock()
        limits = world.limits
        self.journal = Journal(limits.journal_entries, limits.journal_body_bytes)
        self.faults = FaultEngine(world.seed)
        self.mailbox = Mailbox(self.clock, limits.mailbox_messages)
        self.metrics = Metrics()  # per runtime: several worlds in one process never share metrics
        self.sims: dict[str, Sim] = {}
        for name, cls in sim_classes.items():
            sim = cls(SimContext(world, self.clock, self.mailbox, urls[name], urls))
            self.sims[name] = sim
        for sim in self.sims.values():
            sim.schedule_jobs()
            source = getattr(sim, "metrics", None)
            if callable(source):  # a sim's own figures (threat sharing) join /metrics
                self.metrics.add_source(source)
        self.serving: dict[str, bool] = dict.fromkeys(self.sims, False)
        self.persister: Persister | None = None  # set by `sims up --state DIR` (sims.core.durable)

    def _start_clock(self) -> None:
        start = self.world.clock.start
        if self.clock_mode == "frozen":
            self.clock.freeze(start.timestamp() if start else None)
        else:  # real mode follows the host's time from "now"; `start` applies to frozen worlds
            self.clock.follow_real_time()

    def app(self, name: str):
        """The ASGI app of sim ``name``, wrapped in the shared HTTP layer."""
        sim = self.sims[name]
        app = sim.build_app()
        if self.persister is not None:  # inside SimHTTP, which needs the server's own `send` (drops)
            app = DurableAck(app, self.persister)
        return SimHTTP(
            app,
            sim,
            clock=self.clock,
            journal=self.journal,
            faults=self.faults,
            max_body=self.world.limits.max_request_bytes,
            metrics=self.metrics,
        )

    # -- whole-world operations ------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the world as loaded: state, clock, faults, journal and mailbox."""
        self.clock.clear_jobs()
        self._start_clock()
        self.faults.clear()
        self.journal.clear()
        self.mailbox.clear()
        for sim in self.sims.values():
            sim.reset()
        for sim in self.sims.values():
            sim.schedule_jobs()

    def export_state(self) -> dict:
        return {
            "version": STATE_VERSION,
            "world": self.world.name,
            "clock": {"epoch": self.clock.now(), "frozen": self.clock.frozen},
            "faults": self.faults.export(),
            "mailbox": self.mailbox.export(),
            "sims": {name: sim.export_state() for name, sim in self.sims.items()},
        }

    def import_state(self, state: dict) -> None:
        """Replace the whole state; on any error the previous state is restored and StateError raised."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise StateError(f"state must be an object with version {STATE_VERSION}")
        shapes = {"sims": dict, "clock": dict, "faults": list, "mailbox": list}
        for key, kind in shapes.items():
            if key in state and not isinstance(state[key], kind):
                raise StateError(f"state.{key} must be a{'n object' if kind is dict else ' list'}")
        if "clock" not in state:
            raise StateError("state.clock is missing")
        unknown = set(state.get("sims", {})) - set(self.sims)
        if unknown:
            raise StateError(f"state has sims this world does not run: {sorted(unknown)}")
        before = self.export_state()
        try:
            self._apply(state)
        except Exception as err:
            self._apply(before)
            raise StateError(f"state does not fit this world: {type(err).__name__}: {err}") from None

    def _apply(self, state: dict) -> None:
        self.clock.clear_jobs()
        clock = state["clock"]
        if clock["frozen"]:
            self.clock.freeze(float(clock["epoch"]))
        else:
            self.clock.resume()
            self.clock.set(float(clock["epoch"]))
        self.faults.load(state.get("faults", []))
        self.mailbox.load(state.get("mailbox", []))
        for name, sim in self.sims.items():
            sim.reset()
            if name in state.get("sims", {}):
                sim.import_state(state["sims"][name])
        for sim in self.sims.values():
            sim.schedule_jobs()

    # -- discovery -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """The resolved world: every URL and credential a script needs (``sims world --json``)."""
        declared = {}
        for section in ("zia", "zpa", "mimecast"):
            if section not in self.sims:
                data = getattr(self.world, section).model_dump(mode="json")
                if any(data.values()):
                    declared[section] = {"running": False, **data}
        return {
            "world": self.world.name,
            "description": self.world.description,
            "source": self.source,
            "seed": self.world.seed,
            "clock": {k: v for k, v in self.clock.state().items() if k != "pending_jobs"},
            "control": {"url": self.urls["control"], "token_required": bool(self.control_token)},
            "sims": {
                name: {"url": self.urls[name], "title": sim.title, **sim.describe()}
                for name, sim in self.sims.items()
            },
            "declared": declared,
        }
