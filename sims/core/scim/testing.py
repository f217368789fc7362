"""A standalone SCIM app around one dialect: for the engine's tests, its benchmark and the compliance
tools. Sims mount ``build_scim_router`` in their own app instead."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from sims.core.scim.dialect import Dialect
from sims.core.scim.errors import ScimError
from sims.core.scim.router import build_scim_router
from sims.core.scim.store import Directory

TEST_TOKEN = "scim-test-token"


class FrozenClock:
    """A clock callable that moves only when told (tests advance it instead of sleeping)."""

    def __init__(self, at: float = 1_768_467_600.0) -> None:  # 2026-01-15T09:00:00Z
        self.at = at

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def demo_dialect(**changes) -> Dialect:
    """A dialect with bearer ``TEST_TOKEN`` under ``/scim/{tenant}/v2``; ``changes`` override fields."""
    settings: dict = {
        "name": "test",
        "base_path": "/scim/{tenant}/v2",
        "authenticate": lambda directory, header: header == f"Bearer {TEST_TOKEN}",
    }
    settings.update(changes)
    return Dialect(**settings)


def standalone_app(
    dialect: Dialect, directories: dict[str, Directory] | Callable[[dict[str, str]], Directory | None]
) -> FastAPI:
    """An app serving ``dialect``; ``directories`` maps the base path's single parameter to a
    Directory (or is the resolver itself). Errors outside the SCIM routes are SCIM errors too."""
    if callable(directories):
        resolver = directories
    else:

        def resolver(params: dict[str, str]) -> Directory | None:
            return directories.get(next(iter(params.values()), ""))

    app = FastAPI(title=f"SCIM ({dialect.name})")

    @app.exception_handler(HTTPException)
    async def _http(_, exc: HTTPException) -> Response:
        err = ScimError(exc.status_code, str(exc.detail))
        return Response(json.dumps(err.body()), exc.status_code, media_type=dialect.media_type)

    app.include_router(build_scim_router(dialect, resolver))
    return app
