"""Mimecast benchmarks: paging through 1,000,000 URL-log events (is the cost per page independent of
the total?) and the threat sharing integration pushing 25,000 threats into ZIA.

    python -m bench.bench_mimecast [--events 1000000] [--threats 25000] [--page-size 500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import machine_note
from sims.pytest_plugin import start_world

WORLD = """
name: bench-mimecast
seed: 7
clock: {{mode: frozen, start: "2026-01-15T09:00:00Z"}}
idp:
  authorization_servers:
    - id: okta
      flavour: okta
      audience: api://zscaler
      clients:
        - {{client_id: share, client_secret: share-secret-0001, scopes: ["zscloud.net::1::Share"],
            default_scopes: ["zscloud.net::1::Share"]}}
zia:
  tenants:
    - cloud: zscloud.net
      org_id: 1
      name: Bench
      api_roles: [{{name: Share, permissions: {{url_categories: FULL}}}}]
      authorization_servers: [{{name: Okta, jwks_url: "idp:okta", audience: "api://zscaler"}}]
      settings: {{max_custom_urls: {quota}}}
mimecast:
  accounts:
    - account_code: BENCH1
      name: Bench
      client_id: bench-client
      client_secret: bench-secret
      domains: [bench.example]
      max_page_size: 1000
      generator:
        seed: 7
        clicks_per_hour: {rate}
        malicious_ratio: {ratio}
        impersonations_per_hour: 0
        history_hours: 24
"""


def world_file(directory: Path, events: int, ratio: float, quota: int = 25_000) -> Path:
    path = directory / f"bench-{events}-{ratio}.yaml"
    path.write_text(WORLD.format(rate=events / 24, ratio=ratio, quota=quota))
    return path


def token(mc: str) -> str:
    return httpx.post(
        f"{mc}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "bench-client",
            "client_secret": "bench-secret",
        },
    ).json()["access_token"]


def paging(directory: Path, events: int, page_size: int) -> None:
    started = time.perf_counter()
    w = start_world(world_file(directory, events, 0.1), only=["mimecast", "idp", "zia"])
    load_s = time.perf_counter() - started
    try:
        mc = w.url("mimecast")
        client = httpx.Client(headers={"Authorization": f"Bearer {token(mc)}"}, timeout=60)
        body = {
            "meta": {"pagination": {"pageSize": page_size}},
            "data": [{"from": "2026-01-14T09:00:00+0000"}],
        }
        times, total = [], 0
        t0 = time.perf_counter()
        while True:
            t = time.perf_counter()
            page = client.post(f"{mc}/api/ttp/url/get-logs", json=body).json()
            times.append(time.perf_counter() - t)
            total += len(page["data"][0]["clickLogs"])
            nxt = page["meta"]["pagination"].get("next")
            if not nxt:
                break
            body = {"meta": {"pagination": {"pageSize": page_size, "pageToken": nxt}}}
        wall = time.perf_counter() - t0
    finally:
        w.stop()
    tenth = max(1, len(times) // 10)
    print(
        f"  {events:>9,} events: world loaded in {load_s:.1f} s; {len(times):,} pages of {page_size}, "
        f"{total:,} records in {wall:.1f} s ({total / wall:,.0f} records/s)"
    )
    print(
        f"      ms per page: first 10% {statistics.median(times[:tenth]) * 1000:.1f}, "
        f"last 10% {statistics.median(times[-tenth:]) * 1000:.1f}, "
        f"median {statistics.median(times) * 1000:.1f}"
    )


def sharing(directory: Path, threats: int) -> None:
    w = start_world(
        world_file(directory, threats, 1.0, quota=threats + 1000), only=["mimecast", "idp", "zia"]
    )
    try:
        cfg = {
            "name": "Bench share",
            "zscaler_cloud": "zscloud.net",
            "token_endpoint": "idp:okta",
            "client_id": "share",
            "client_secret": "share-secret-0001",
            "scope": "zscloud.net::1::Share",
            "sources": {"malicious_urls": True, "malicious_domains": False},
        }
        w.control.post("/sims/mimecast/accounts/BENCH1/threat-sharing", cfg)
        started = time.perf_counter()
        w.control.clock.advance(30)
        wall = time.perf_counter() - started
        state = w.control.get("/sims/mimecast/accounts/BENCH1/threat-sharing/Bench share")
        quota = w.control.get("/sims/zia/tenants/1/config", params={"view": "active"})["quota"]
    finally:
        w.stop()
    print(
        f"  shared {state['shared']:,} threats ({state['status']}) in {wall:.1f} s wall "
        f"({state['shared'] / wall:,.0f} threats/s); ZIA holds {quota['uniqueUrlsProvisioned']:,} URLs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_mimecast", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--threats", type=int, default=25_000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args(argv)
    print(machine_note())
    with tempfile.TemporaryDirectory() as tmp:
        print("paging through URL logs (cost per page should not grow with the total):")
        for events in sorted({10_000, args.events}):
            paging(Path(tmp), events, args.page_size)
        print("threat sharing into ZIA:")
        sharing(Path(tmp), args.threats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
