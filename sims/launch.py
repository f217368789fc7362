"""From settings to a runtime: which sims, which ports and URLs, bound sockets."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sims import registry
from sims.core import progress as progress_mod
from sims.core.durable import StateDirError, open_state
from sims.core.progress import Progress
from sims.core.runtime import Runtime
from sims.core.serve import WorldServer, bind
from sims.world import DEFAULT_WORLD, World, load_world


class SettingsError(ValueError):
    """A bad flag or environment value; the message says which."""


@dataclass
class Settings:
    world: str | None = None
    host: str = "127.0.0.1"
    advertise_host: str | None = None
    base_port: int | None = None
    ports: dict[str, int] = field(default_factory=dict)  # 0 = any free port
    only: list[str] | None = None
    clock: Literal["real", "frozen"] | None = None
    control_token: str | None = None
    state_dir: str | None = None  # sims up --state: resume from and commit every change to this directory
    log_level: str = "warning"
    # bulk-generation progress: None = none, "auto" = bars on stderr when it is a terminal or the
    # world generates >= 10,000 items (the CLI), or any object with task(name, total)
    progress: Progress | Literal["auto"] | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def selected_sims(only: list[str] | None) -> list[str]:
    if not only:
        return list(registry.SIMS)
    unknown = [n for n in only if n not in registry.SIMS]
    if unknown:
        raise SettingsError(f"unknown sim {unknown[0]!r} in --only (available: {', '.join(registry.SIMS)})")
    return [n for n in registry.SIMS if n in only]


def resolve_ports(settings: Settings, names: list[str]) -> dict[str, int]:
    defaults = registry.default_ports(settings.base_port)
    for name in settings.ports:
        if name != "control" and name not in registry.SIMS:
            raise SettingsError(f"unknown service {name!r} in --port (use control or a sim name)")
    # every sim gets a URL, running here or not: a sim that runs elsewhere (one container per sim)
    # is still reachable at its port, and other sims may need to call or trust it
    return {n: settings.ports.get(n, defaults[n]) for n in defaults}


def urls_for(ports: dict[str, int], settings: Settings) -> dict[str, str]:
    host = settings.advertise_host or (
        "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return {n: f"http://{host}:{p}" for n, p in ports.items()}


def load(settings: Settings) -> tuple[World, str]:
    path = settings.world
    world = load_world(path)
    return world, str(Path(path)) if path else f"(embedded default world {DEFAULT_WORLD.name})"


def planned_items(world: World) -> int:
    """Roughly how many records the world generates at start: users and history events."""
    users = sum(d.generate.count for d in world.idp.directories if d.generate)
    users += sum(t.generate_users.count for t in world.zia.tenants if t.generate_users)
    events = 0.0
    for a in world.mimecast.accounts:
        g = a.generator
        if g.enabled:
            hours = min(g.history_hours, g.max_catch_up_hours)
            events += (g.clicks_per_hour + g.impersonations_per_hour) * hours
    return users + int(events)


def build_runtime(settings: Settings, world: World, **kwargs) -> Runtime:
    """The runtime, with the settings' progress reporting while the sims generate their data."""
    wanted = settings.progress
    if wanted == "auto":
        if not progress_mod.wanted(planned_items(world)):
            return Runtime(world, **kwargs)
        with progress_mod.RichProgress() as bars, progress_mod.using(bars):
            return Runtime(world, **kwargs)
    with progress_mod.using(wanted):
        return Runtime(world, **kwargs)


def control_token_for(settings: Settings) -> str | None:
    """A token is required whenever the control plane listens beyond loopback."""
    if settings.control_token:
        return settings.control_token
    return None if is_loopback(settings.host) else secrets.token_urlsafe(24)


def plan(settings: Settings) -> Runtime:
    """A runtime with the URLs it would have, without binding anything (``sims world``)."""
    world, source = load(settings)
    names = selected_sims(settings.only)
    ports = resolve_ports(settings, names)
    return build_runtime(
        settings,
        world,
        sim_classes={n: registry.sim_class(n) for n in names},
        urls=urls_for(ports, settings),
        clock_mode=settings.clock,
        control_token=control_token_for(settings),
        source=source,
    )


def open_world(settings: Settings) -> WorldServer:
    """Bind every port (0 = free port), build the runtime with the real URLs, ready to serve."""
    world, source = load(settings)
    names = selected_sims(settings.only)
    ports = resolve_ports(settings, names)
    sockets: dict[str, socket.socket] = {}
    try:
        for name in ["control", *names]:
            port = ports[name]
            try:
                sockets[name] = bind(settings.host, port)
            except OSError as err:
                raise SettingsError(
                    f"cannot listen on {settings.host}:{port} for {name}: {err.strerror}"
                ) from None
    except SettingsError:
        for s in sockets.values():
            s.close()
        raise
    bound = {**ports, **{name: s.getsockname()[1] for name, s in sockets.items()}}
    runtime = build_runtime(
        settings,
        world,
        sim_classes={n: registry.sim_class(n) for n in names},
        urls=urls_for(bound, settings),
        clock_mode=settings.clock,
        control_token=control_token_for(settings),
        source=source,
    )
    if settings.state_dir:
        try:
            runtime.persister = open_state(runtime, settings.state_dir)
        except StateDirError as err:
            for s in sockets.values():
                s.close()
            raise SettingsError(str(err)) from None
    return WorldServer(runtime, sockets, log_level=settings.log_level)
