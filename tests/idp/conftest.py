from __future__ import annotations

import pytest

OKTA_CLIENT = ("mimecast-threat-share", "okta-mimecast-secret-3173833")
ZIA_SCOPE = "zscloud.net::3173833::Mimecast_Threat_Share"


@pytest.fixture
def idp(sims) -> str:
    return sims.url("idp")


@pytest.fixture
def servers(sims) -> dict[str, dict]:
    return {s["id"]: s for s in sims.info["sims"]["idp"]["authorization_servers"]}
