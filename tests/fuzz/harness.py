"""Running schemathesis against a sim's published OpenAPI document, over real HTTP.

Each operation is one pytest test: hypothesis draws a bounded number of cases from the published
document (derandomized, so CI sees the same cases every run) and every response is checked for
server errors and for conformance to that same document: status code, content type, headers and
body schema. ``SIMS_FUZZ_EXAMPLES`` raises the number of examples for a deeper local run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from functools import cache

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks

from sims.core.control_plane import build_control_app
from sims.launch import Settings, plan

EXAMPLES = int(os.environ.get("SIMS_FUZZ_EXAMPLES", "25"))
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
]


def bounded(examples: int, **extra: int) -> settings:
    """Hypothesis settings for CI: a fixed number of examples, the same ones every run, no deadline
    (a slow machine is not a failure) and no example database (nothing carried between runs)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        **extra,
    )


@cache
def published(name: str) -> dict:
    """The document sim ``name`` (or ``control``) publishes at /openapi.json, for the default world."""
    runtime = plan(Settings(ports={"control": 0, name: 0} if name != "control" else {"control": 0}))
    app = build_control_app(runtime) if name == "control" else runtime.sims[name].build_app()

    async def fetch() -> dict:  # through the app itself: sims may wrap FastAPI in a raw-ASGI layer
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            response = await client.get("/openapi.json")
            response.raise_for_status()
            return response.json()

    return asyncio.run(fetch())


def operations(name: str) -> list:
    """pytest params, one per operation of the published document (id: ``METHOD /path``)."""
    schema = schemathesis.openapi.from_dict(published(name))
    ops = [result.ok() for result in schema.get_all_operations()]
    return [pytest.param(op, id=op.label) for op in ops]


def fuzz(
    operation,
    base_url: str,
    *,
    headers: Callable[[], dict[str, str]] | None = None,
    examples: int = EXAMPLES,
    excluded_checks: list | None = None,
) -> None:
    """Draw ``examples`` cases for ``operation`` and send each to ``base_url``; fail on any check.

    ``headers`` is called once per case so that credentials (a fresh session, a token) can be valid.
    """

    @given(case=operation.as_strategy())
    @bounded(examples)
    def run(case) -> None:
        extra = headers() if headers else None
        case.call_and_validate(
            base_url=base_url,
            headers=extra,
            checks=CHECKS,
            excluded_checks=excluded_checks or [],
            timeout=30,
        )

    run()


def links(name: str) -> int:
    """How many OpenAPI links the published document declares (stateful runs need some)."""
    count = 0
    for item in published(name).get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                for response in op.get("responses", {}).values():
                    count += len(response.get("links", {}))
    return count


def fuzz_stateful(
    name: str,
    base_url: str,
    *,
    headers: Callable[[], dict[str, str]] | None = None,
    scenarios: int = max(EXAMPLES // 2, 5),
    steps: int = 8,
    excluded_checks: list | None = None,
) -> None:
    """Sequences of calls that follow the document's links (create, then read/update/delete it)."""
    schema = schemathesis.openapi.from_dict(published(name))
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case) -> dict:
            return {"base_url": base_url, "headers": headers() if headers else None, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(
                response, checks=CHECKS, excluded_checks=excluded_checks or [], transport_kwargs=kwargs
            )

    Machine.run(settings=bounded(scenarios, stateful_step_count=steps))
