"""pytest fixtures: a running world, reset between tests, with its control client and clock.

Installed as a pytest plugin (entry point ``pytest11``), so any project that installs ``sims``
gets these fixtures:

- ``sims_world`` (session): the world, served in-process on free ports with a frozen clock.
  Use ``--sims-world FILE`` or the ini option ``sims_world`` to load another world file.
- ``sims`` (function): the same world, reset before the test (state, clock, faults, journal).
  A test marked ``@pytest.mark.sims_world("path.yaml")`` gets its own world from that file instead.
- ``sims_control``, ``sims_clock``: shortcuts to ``sims.control`` and ``sims.control.clock``.
- ``sims_world_factory``: start extra worlds from files inside a test; stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sims.control import ControlClient
from sims.core.serve import WorldServer
from sims.launch import Settings, open_world


@dataclass
class RunningWorld:
    """A world served in-process. ``urls`` maps ``control`` and each sim to its base URL."""

    server: WorldServer
    control: ControlClient

    @property
    def urls(self) -> dict[str, str]:
        return self.server.runtime.urls

    def url(self, sim: str) -> str:
        return self.server.runtime.urls[sim]

    @property
    def info(self) -> dict:
        """The resolved world (what ``sims world --json`` prints)."""
        return self.control.world()

    def reset(self) -> None:
        self.control.reset()

    def stop(self) -> None:
        self.control.close()
        self.server.stop()


def start_world(
    world: str | Path | None = None, *, clock: str = "frozen", only: list[str] | None = None
) -> RunningWorld:
    """Serve a world in a background thread on free loopback ports."""
    settings = Settings(
        world=str(world) if world else None,
        ports={"control": 0, **dict.fromkeys(_sim_names(only), 0)},
        only=only,
        clock=clock,  # type: ignore[arg-type]
    )
    server = open_world(settings)
    server.start_in_thread()
    return RunningWorld(server, ControlClient(server.runtime.urls["control"]))


def _sim_names(only: list[str] | None) -> list[str]:
    from sims import registry

    return only or list(registry.SIMS)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sims")
    group.addoption("--sims-world", default=None, help="world file for the sims fixtures")
    parser.addini("sims_world", "world file for the sims fixtures (default: the embedded world)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sims_world(path): run this test against its own world from path")


@pytest.fixture(scope="session")
def sims_world(request: pytest.FixtureRequest) -> Iterator[RunningWorld]:
    path = request.config.getoption("--sims-world") or request.config.getini("sims_world") or None
    if path and not Path(path).is_absolute():
        path = str(Path(request.config.rootpath) / path)
    world = start_world(path)
    yield world
    world.stop()


@pytest.fixture
def sims(request: pytest.FixtureRequest) -> Iterator[RunningWorld]:
    marker = request.node.get_closest_marker("sims_world")
    if marker is not None:
        world = start_world(marker.args[0])
        yield world
        world.stop()
        return
    world = request.getfixturevalue("sims_world")
    world.reset()
    yield world


@pytest.fixture
def sims_control(sims: RunningWorld) -> ControlClient:
    return sims.control


@pytest.fixture
def sims_clock(sims: RunningWorld):
    return sims.control.clock


@pytest.fixture
def sims_world_factory() -> Iterator:
    started: list[RunningWorld] = []

    def factory(path: str | Path | None = None, **kwargs) -> RunningWorld:
        world = start_world(path, **kwargs)
        started.append(world)
        return world

    yield factory
    for world in started:
        world.stop()
