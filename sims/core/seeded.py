"""Seeded random generators as state: a restored world must not replay values it already handed out.

Session ids, token values and JWT ids come from generators seeded by the world, so a run is
repeatable; restarting one from its seed after a restore (``--state``, ``PUT /state``) would hand
out again, to someone else, a session id or token that is still valid. Their position is exported
with the rest of the state instead.
"""

from __future__ import annotations

import random


def export_rng(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def load_rng(rng: random.Random, state: list | None) -> None:
    """Put ``rng`` where ``export_rng`` saw it (states from before this was exported: left as is)."""
    if state is None:
        return
    version, internal, gauss = state
    rng.setstate((version, tuple(int(x) for x in internal), gauss))
