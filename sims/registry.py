"""Which simulators exist, their default ports, and how to build them.

A sim registers here with its class path; ``sims up`` starts every registered sim (or the ones
``--only`` names). Sims are imported lazily so that ``--only idp`` does not pay for the others.
"""

from __future__ import annotations

import importlib

from sims.core.sim import Sim

CONTROL_PORT = 7400
SIMS: dict[str, tuple[str, int]] = {
    "idp": ("sims.idp.sim:IdpSim", 7401),
    "zia": ("sims.zia.sim:ZiaSim", 7402),
    "zpa": ("sims.zpa.sim:ZpaSim", 7403),
    "mimecast": ("sims.mimecast.sim:MimecastSim", 7404),
}


def sim_class(name: str) -> type[Sim]:
    path, _ = SIMS[name]
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def default_ports(base: int | None = None) -> dict[str, int]:
    """Ports per service: the fixed defaults, or consecutive ports from ``base`` in the same order."""
    if base is None:
        return {"control": CONTROL_PORT, **{name: port for name, (_, port) in SIMS.items()}}
    return {"control": base, **{name: base + port - CONTROL_PORT for name, (_, port) in SIMS.items()}}
