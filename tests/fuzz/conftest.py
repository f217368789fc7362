from __future__ import annotations

from collections.abc import Iterator

import pytest

from sims.pytest_plugin import RunningWorld, start_world


@pytest.fixture(scope="module")
def fuzz_world() -> Iterator[RunningWorld]:
    """One world per fuzzed document; reset before every operation so operations cannot interfere."""
    world = start_world(None)
    yield world
    world.stop()


@pytest.fixture(autouse=True)
def _fresh_state(fuzz_world: RunningWorld) -> None:
    fuzz_world.reset()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fuzz/" in item.nodeid:
            item.add_marker(pytest.mark.fuzz)
