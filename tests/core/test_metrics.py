"""``GET /metrics``: Prometheus text from the shared HTTP layer, one registry per runtime."""

from __future__ import annotations

import asyncio
import warnings

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sims.core.control_plane import build_control_app
from sims.core.faults import FaultSpec
from sims.core.metrics import collapse_ids
from sims.launch import Settings, plan

with warnings.catch_warnings():  # starlette announces that its httpx-based TestClient is deprecated
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

FORM = {
    "grant_type": "client_credentials",
    "client_id": "mimecast-threat-share",
    "client_secret": "okta-mimecast-secret-3173833",
}


def runtime(token: str | None = None):
    return plan(Settings(only=["idp"], clock="frozen", control_token=token))


def call(rt, *requests: tuple[str, str, dict]) -> list[int]:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=rt.app("idp"))
        async with httpx.AsyncClient(transport=transport, base_url="http://idp") as client:
            return [(await client.request(m, p, **kw)).status_code for m, p, kw in requests]

    return asyncio.run(go())


def scrape(rt, headers: dict | None = None) -> dict[str, list]:
    response = TestClient(build_control_app(rt)).get("/metrics", headers=headers or {})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = text_string_to_metric_families(response.text)
    return {f.name: f.samples for f in families}


def count(samples: list, **labels: str) -> float:
    return sum(s.value for s in samples if s.name.endswith("_total") and labels.items() <= s.labels.items())


def test_requests_by_sim_route_and_status_with_latency_histogram() -> None:
    rt = runtime()
    statuses = call(
        rt,
        ("POST", "/oauth2/okta/v1/token", {"data": FORM}),
        ("POST", "/oauth2/okta/v1/token", {"data": FORM}),
        ("POST", "/oauth2/okta/v1/token", {"data": {**FORM, "client_secret": "wrong"}}),
        ("GET", "/no/such/path/12345", {}),
    )
    assert statuses == [200, 200, 401, 404]
    metrics = scrape(rt)
    requests = metrics["sims_http_requests"]
    token_routes = {s.labels["route"] for s in requests if "token" in s.labels["route"]}
    assert len(token_routes) == 1  # one route label for the endpoint, whatever the server id
    route = token_routes.pop()
    assert count(requests, sim="idp", method="POST", route=route, status="200") == 2
    assert count(requests, sim="idp", route=route, status="401") == 1
    assert count(requests, sim="idp", route="/no/such/path/{id}", status="404") == 1
    hist = metrics["sims_http_request_duration_seconds"]
    total = [s for s in hist if s.name.endswith("_count") and s.labels["route"] == route]
    assert total and total[0].value == 3
    assert any(s.name.endswith("_bucket") and s.labels["le"] == "+Inf" for s in hist)


def test_faults_answered_before_routing_are_counted() -> None:
    rt = runtime()
    rt.faults.add(FaultSpec(sim="idp", path="/oauth2/okta/v1/keys", status=503))
    assert call(rt, ("GET", "/oauth2/okta/v1/keys", {})) == [503]
    assert count(scrape(rt)["sims_http_requests"], sim="idp", status="503") == 1


def test_each_runtime_has_its_own_registry() -> None:
    first, second = runtime(), runtime()
    call(first, ("POST", "/oauth2/okta/v1/token", {"data": FORM}))
    assert count(scrape(first)["sims_http_requests"], sim="idp") == 1
    assert count(scrape(second).get("sims_http_requests", []), sim="idp") == 0


def test_metrics_need_the_control_token_when_one_is_set() -> None:
    rt = runtime(token="t0ken")
    client = TestClient(build_control_app(rt))
    assert client.get("/metrics").status_code == 401
    scrape(rt, {"authorization": "Bearer t0ken"})


def test_ids_are_collapsed_in_unrouted_paths() -> None:
    assert collapse_ids("/api/v1/urlCategories/CUSTOM_01") == "/api/v1/urlCategories/{id}"
    assert collapse_ids("/x/6f1c7a0e-3b2d-4c5e-9a8f-0d1e2f3a4b5c/y/42") == "/x/{id}/y/{id}"


def test_threat_sharing_shares_and_errors_are_exposed(sims):
    config = {
        "name": "Metrics share",
        "zscaler_cloud": "zscloud.net",
        "token_endpoint": "idp:okta",
        "client_id": "mimecast-threat-share",
        "client_secret": "okta-mimecast-secret-3173833",
        "scope": "zscloud.net::3173833::Mimecast_Threat_Share",
        "sources": {"malicious_urls": True, "malicious_domains": False},
    }
    sims.control.post("/sims/mimecast/accounts/CUSA3173833/threat-sharing", config)
    sims.control.faults.add(sim="zia", method="GET", path="/api/v1/urlCategories", status=503, count=1)
    sims.control.clock.advance(60)  # one temporary error, then the retry after 30 s shares
    text = sims.control.http.get("/metrics").text
    labels = 'account="CUSA3173833",configuration="Metrics share"'
    shared = next(
        line for line in text.splitlines() if line.startswith(f"sims_threat_sharing_shared_total{{{labels}}}")
    )
    assert float(shared.rsplit(" ", 1)[1]) > 0
    assert f'sims_threat_sharing_errors_total{{{labels},kind="temporary"}} 1.0' in text
    assert f'sims_threat_sharing_errors_total{{{labels},kind="permanent"}} 0.0' in text
