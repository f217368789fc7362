from __future__ import annotations

import pytest

from tests.mimecast.helpers import ACCOUNT, client, get_token


@pytest.fixture
def mc(sims) -> str:
    """The Mimecast sim's base URL."""
    return sims.url("mimecast")


@pytest.fixture
def account(sims) -> dict:
    acc = sims.info["sims"]["mimecast"]["accounts"][0]
    assert acc["account_code"] == ACCOUNT
    return acc


@pytest.fixture
def binding(account) -> dict:
    return account["hmac"]


@pytest.fixture
def now(sims) -> float:
    """The sim clock (frozen at the world's start by the fixture)."""
    return sims.control.clock.now()


@pytest.fixture
def token(mc) -> str:
    return get_token(mc)


@pytest.fixture
def api(mc, token):
    """An API 2.0 client: ``Authorization: Bearer`` on every call."""
    with client(
        base_url=mc,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
    ) as c:
        yield c
