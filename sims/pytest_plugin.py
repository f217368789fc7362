"""pytest fixtures: a running world, reset between tests, with its control client and clock.

Installed as a pytest plugin (entry point ``pytest11``), so any project that installs ``sims``
gets these fixtures:

- ``sims_world`` (session): the world, served in-process on free ports with a frozen clock.
  Use ``--sims-world FILE`` or the ini option ``sims_world`` to load another world file.
- ``sims`` (function): the same world, reset before the test (state, clock, faults, journal).
  A test marked ``@pytest.mark.sims_world("path.yaml")`` gets its own world from that file instead.
- ``sims_control``, ``sims_clock``: shortcuts to ``sims.control`` and ``sims.control.clock``.
- ``sims_world_factory``: start extra worlds from files inside a test; stopped afterwards.

With ``--sims-docker`` (ini ``sims_docker = true``, env ``SIMS_DOCKER=1``) the worlds run from the
container image ``sims:latest`` instead, where a Docker engine is reachable; where none is, the plugin
says so once and runs them in-process, with the same fixtures.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sims.control import ControlClient
from sims.core.serve import WorldServer
from sims.launch import Settings, open_world


@dataclass
class RunningWorld:
    """A running world. ``urls`` maps ``control`` and each sim to its base URL. ``server`` is the
    in-process server (``None`` when the world runs in a container, see ``container``)."""

    server: WorldServer | None
    control: ControlClient
    urls: dict[str, str] = field(default_factory=dict)
    container: Any = None  # a docker.models.containers.Container with --sims-docker
    _stopped: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self.urls and self.server is not None:
            self.urls = dict(self.server.runtime.urls)

    def url(self, sim: str) -> str:
        return self.urls[sim]

    @property
    def info(self) -> dict:
        """The resolved world (what ``sims world --json`` prints)."""
        return self.control.world()

    def reset(self) -> None:
        self.control.reset()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.control.close()
        if self.server is not None:
            self.server.stop()
        if self.container is not None:
            _remove_container(self.container)


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


# -- the world from the container image (--sims-docker) -----------------------------------------
# UNTESTED HERE: no Docker engine runs on the development machines, so everything below that talks to
# an engine (image build, container run, port publishing) has been reviewed by reading only. What is
# tested (tests/core/test_plugin_docker.py) is the fallback: no engine -> a warning, then in-process.
IMAGE = "sims:latest"
ROOT = Path(__file__).resolve().parents[1]  # the repository root: the image's build context


_DOCKER = pytest.StashKey[Any]()  # the docker client, when worlds run from the image
_FALLBACK = pytest.StashKey[str]()  # why they run in-process although --sims-docker was asked for


class SimsDockerWarning(UserWarning):
    """--sims-docker was asked for but the world runs in-process."""


def _docker_requested(config: pytest.Config) -> bool:
    env = os.environ.get("SIMS_DOCKER", "").lower() in ("1", "true", "yes")
    return bool(config.getoption("--sims-docker") or config.getini("sims_docker") or env)


def _docker_client(timeout: float = 5.0) -> tuple[Any, str | None]:
    """(client, None) when an engine answers ping, else (None, why not)."""
    try:
        import docker
    except ImportError as err:
        return None, f"the docker package is not installed: {err}"
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as err:  # DockerException, connection errors: all mean "no engine here"
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        return None, reason
    return client, None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_image(client: Any) -> None:
    import docker.errors

    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        if not (ROOT / "compose" / "Dockerfile").is_file():
            raise RuntimeError(f"no image {IMAGE} and no compose/Dockerfile under {ROOT}") from None
        client.images.build(path=str(ROOT), dockerfile="compose/Dockerfile", tag=IMAGE, rm=True)


def _remove_container(container: Any) -> None:
    try:
        container.stop(timeout=10)
    finally:
        container.remove(force=True)


def start_world_in_docker(
    client: Any,
    world: str | Path | None = None,
    *,
    clock: str = "frozen",
    only: list[str] | None = None,
    timeout: float = 60.0,
) -> RunningWorld:
    """Run ``sims:latest`` with every service on a free host port. The container listens on the same
    port numbers it publishes, so the URLs it advertises (token issuers, JWKS URLs that one sim fetches
    from another inside the container) are the ones the host uses too."""
    _ensure_image(client)
    names = ["control", *_sim_names(only)]
    ports = {name: _free_port() for name in names}
    token = secrets.token_urlsafe(24)  # the container listens beyond loopback: a token is required
    environment = {
        "SIMS_ADVERTISE_HOST": "127.0.0.1",
        "SIMS_PORTS": ",".join(f"{n}={p}" for n, p in ports.items()),
        "SIMS_CLOCK": clock,
        "SIMS_CONTROL_TOKEN": token,
    }
    if only:
        environment["SIMS_ONLY"] = ",".join(only)
    volumes: dict[str, dict[str, str]] = {}
    if world:
        environment["SIMS_WORLD"] = "/world/world.yaml"
        volumes[str(Path(world).resolve())] = {"bind": "/world/world.yaml", "mode": "ro"}
    container = client.containers.run(
        IMAGE,
        detach=True,
        environment=environment,
        ports={f"{p}/tcp": ("127.0.0.1", p) for p in ports.values()},
        volumes=volumes,
        labels={"sims.pytest": "1"},
    )
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    try:
        _wait_healthy(urls["control"], timeout)
    except Exception:
        logs = container.logs(tail=50).decode("utf-8", "replace")
        _remove_container(container)
        raise RuntimeError(f"the {IMAGE} container did not become healthy in {timeout} s:\n{logs}") from None
    return RunningWorld(None, ControlClient(urls["control"], token=token), urls=urls, container=container)


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.2)


def _starter(config: pytest.Config) -> Callable[..., RunningWorld]:
    """How this run starts worlds: from the image (when asked and an engine answers) or in-process."""
    client = config.stash.get(_DOCKER, None)
    if client is None:
        return start_world
    return lambda world=None, **kw: start_world_in_docker(client, world, **kw)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sims")
    group.addoption("--sims-world", default=None, help="world file for the sims fixtures")
    group.addoption(
        "--sims-docker",
        action="store_true",
        default=False,
        help="run the sims worlds from the container image sims:latest where a Docker engine is "
        "reachable (in-process otherwise) [SIMS_DOCKER=1]",
    )
    parser.addini("sims_world", "world file for the sims fixtures (default: the embedded world)")
    parser.addini("sims_docker", "run the sims worlds from the container image (true/false)", type="bool")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sims_world(path): run this test against its own world from path")
    if not _docker_requested(config):
        return
    client, reason = _docker_client()
    if client is not None:
        config.stash[_DOCKER] = client
        return
    message = f"sims: no Docker engine reachable ({reason}); running the world in-process"
    config.stash[_FALLBACK] = message
    config.issue_config_time_warning(SimsDockerWarning(message), stacklevel=2)


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.stash.get(_DOCKER, None) is not None:
        return f"sims: worlds run from the container image {IMAGE}"
    return config.stash.get(_FALLBACK, None)


@pytest.fixture(scope="session")
def sims_world(request: pytest.FixtureRequest) -> Iterator[RunningWorld]:
    path = request.config.getoption("--sims-world") or request.config.getini("sims_world") or None
    if path and not Path(path).is_absolute():
        path = str(Path(request.config.rootpath) / path)
    world = _starter(request.config)(path)
    yield world
    world.stop()


@pytest.fixture
def sims(request: pytest.FixtureRequest) -> Iterator[RunningWorld]:
    marker = request.node.get_closest_marker("sims_world")
    if marker is not None:
        world = _starter(request.config)(marker.args[0])
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
def sims_world_factory(request: pytest.FixtureRequest) -> Iterator:
    started: list[RunningWorld] = []
    start = _starter(request.config)

    def factory(path: str | Path | None = None, **kwargs) -> RunningWorld:
        world = start(path, **kwargs)
        started.append(world)
        return world

    yield factory
    for world in started:
        world.stop()
