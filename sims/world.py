"""The world: every tenant, credential and setting the simulators start from.

A world is a YAML file validated against ``World``. The embedded default world is
``fixtures/default.yaml`` (shipped inside the package as ``sims/default_world.yaml``).
Sections for services whose simulators do not exist yet still declare their tenants, so that
credentials shared between services (an OAuth scope naming a ZIA org, say) live in one place.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sims.core.worldfile import Strict, load_world_file
from sims.idp.config import IdpConfig
from sims.mimecast.config import MimecastConfig
from sims.zia.config import ZiaConfig, check_saml_references
from sims.zpa.config import ZpaConfig, check_zpa_references

DEFAULT_WORLD = Path(__file__).with_name("default_world.yaml")


class ClockConfig(Strict):
    mode: Literal["real", "frozen"] = "real"
    start: datetime | None = Field(default=None, description="initial instant (default: now)")


class LimitsConfig(Strict):
    journal_entries: int = Field(default=10_000, ge=10, le=1_000_000)
    journal_body_bytes: int = Field(default=4096, ge=0, le=1_048_576)
    mailbox_messages: int = Field(default=1_000, ge=10, le=1_000_000)
    max_request_bytes: int = Field(default=10 * 1_048_576, ge=1024)


class World(Strict):
    name: str = "world"
    description: str | None = None
    seed: int = Field(default=0, description="seeds every generated key and every generated record")
    clock: ClockConfig = Field(default_factory=ClockConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    idp: IdpConfig = Field(default_factory=IdpConfig)
    zia: ZiaConfig = Field(default_factory=ZiaConfig)
    zpa: ZpaConfig = Field(default_factory=ZpaConfig)
    mimecast: MimecastConfig = Field(default_factory=MimecastConfig)

    @model_validator(mode="after")
    def _saml_references(self) -> World:
        check_saml_references(self.idp, self.zia)
        check_zpa_references(self.idp, self.zpa)
        return self

    @model_validator(mode="after")
    def _unique_tenants(self) -> World:
        ids = [t.customer_id for t in self.zpa.tenants]
        if len(set(ids)) != len(ids):
            raise ValueError("two ZPA tenants share a customer id")
        return self


def load_world(path: str | Path | None = None) -> World:
    """Load and validate a world file (the embedded default world when ``path`` is None)."""
    return load_world_file(path or DEFAULT_WORLD, World)
