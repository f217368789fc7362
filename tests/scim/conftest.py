from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sims.core.scim import Directory
from sims.core.scim.testing import TEST_TOKEN, FrozenClock, demo_dialect, standalone_app

from .helpers import BASE


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def make_directory(clock):
    """factory(**dialect changes) -> Directory named t1 on the frozen clock."""

    def factory(**changes) -> Directory:
        return Directory(demo_dialect(**changes), clock, name="t1")

    return factory


@pytest.fixture
def directory(make_directory) -> Directory:
    return make_directory()


@pytest.fixture
def make_client(clock):
    """factory(**dialect changes) -> (TestClient on /scim/t1/v2 with the bearer token, Directory)."""
    made = []

    def factory(**changes):
        dialect = demo_dialect(**changes)
        directory = Directory(dialect, clock, name="t1")
        other = Directory(dialect, clock, name="t2")
        app = standalone_app(dialect, {"t1": directory, "t2": other})
        client = TestClient(
            app, base_url="http://scim.test", headers={"Authorization": f"Bearer {TEST_TOKEN}"}
        )
        client.__enter__()
        made.append(client)
        client.base = BASE
        client.other = other
        return client, directory

    yield factory
    for c in made:
        c.__exit__(None, None, None)


@pytest.fixture
def api(make_client):
    return make_client()
