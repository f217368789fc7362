"""ZIA benchmarks: bearer-authenticated GET /urlCategories/urlQuota throughput, and ADD_TO_LIST of
1,000 URLs into categories of growing size (server time from the request journal).

Targets: urlQuota >= 1,500 req/s on one worker; ADD_TO_LIST of 1,000 URLs into a category already
holding 24,000 under 20 ms server time, the cost growing with the URLs added, not the category size.

    python -m bench.bench_zia [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time

import httpx

from bench.common import (
    HOST,
    REPO,
    free_port_block,
    machine_note,
    mib,
    proc_status_kib,
    spawn_sims,
    verdict,
    wait_healthy,
)

LUA = REPO / "bench" / "get_bearer.lua"
QUOTA_TARGET_RPS = 1500
ADD_TARGET_MS = 20.0
MIMECAST_SCOPE = "zscloud.net::3173833::Mimecast_Threat_Share"


def run_wrk_get(url: str, token: str, duration: int, connections: int) -> dict:
    from bench.bench_token import _RESULT, find_wrk

    wrk = find_wrk()
    if wrk is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    import subprocess

    cmd = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(LUA), url, "--", token]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = _RESULT.search(out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    f = {k: float(v) for k, v in (kv.split("=", 1) for kv in match.group(1).split())}
    seconds = f["duration_us"] / 1e6
    return {
        "rps": f["requests"] / seconds,
        "p50_ms": f["p50_us"] / 1000,
        "p99_ms": f["p99_us"] / 1000,
        "non2xx": int(f["non2xx"]),
    }


def quota_benchmark(control: str, zia: str, args: argparse.Namespace) -> None:
    token = httpx.post(
        f"{control}/sims/idp/authorization-servers/okta/tokens",
        json={"client_id": "mimecast-threat-share", "scopes": [MIMECAST_SCOPE]},
    ).json()["access_token"]
    url = f"{zia}/zia/api/v1/urlCategories/urlQuota"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    run_wrk_get(url, token, 2, args.connections)  # warm-up
    result = run_wrk_get(url, token, args.duration, args.connections)
    print(f"bearer GET /zia/api/v1/urlCategories/urlQuota, wrk -t1 -c{args.connections} -d{args.duration}s:")
    print(
        f"  {result['rps']:.0f} req/s   p50 {result['p50_ms']:.2f} ms   p99 {result['p99_ms']:.2f} ms"
        f"   non-2xx {result['non2xx']}"
    )
    print(f"  target >= {QUOTA_TARGET_RPS} req/s: {verdict(result['rps'] >= QUOTA_TARGET_RPS)}")


def server_ms(control: str, after_id: int) -> float:
    entries = httpx.get(
        f"{control}/journal", params={"sim": "zia", "method": "PUT", "since_id": after_id}
    ).json()
    return entries["entries"][-1]["latency_ms"]


def add_benchmark(control: str, zia: str, args: argparse.Namespace) -> None:
    token = httpx.post(
        f"{control}/sims/idp/authorization-servers/okta/tokens",
        json={"client_id": "mimecast-threat-share", "scopes": [MIMECAST_SCOPE]},
    ).json()["access_token"]
    client = httpx.Client(
        base_url=f"{zia}/zia/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    print("ADD_TO_LIST of 1,000 new URLs (server time from the journal, median of 5):")
    rows = []
    for size in (0, 6_000, 12_000, 24_000):
        httpx.post(f"{control}/reset")
        cat = client.post(
            "/urlCategories",
            json={
                "configuredName": f"Bench {size}",
                "superCategory": "USER_DEFINED",
                "urls": [f"seed{i}.bench.example.com" for i in range(size)],
            },
        ).json()
        times = []
        for round_ in range(5):
            last = httpx.get(f"{control}/journal", params={"limit": 1}).json()["entries"]
            mark = last[-1]["id"] if last else 0
            urls = [f"add{round_}-{i}.bench.example.org" for i in range(1000)]
            r = client.put(
                f"/urlCategories/{cat['id']}",
                params={"action": "ADD_TO_LIST"},
                json={"configuredName": cat["configuredName"], "urls": urls},
            )
            assert r.status_code == 200, r.text
            times.append(server_ms(control, mark))
            client.put(
                f"/urlCategories/{cat['id']}",
                params={"action": "REMOVE_FROM_LIST"},
                json={"configuredName": cat["configuredName"], "urls": urls},
            )
        rows.append((size, statistics.median(times)))
        print(f"  category of {size:>6,} URLs: {statistics.median(times):6.2f} ms (min {min(times):.2f})")
    at_24k = rows[-1][1]
    print(
        f"  target < {ADD_TARGET_MS:.0f} ms at 24,000: {verdict(at_24k < ADD_TARGET_MS)};"
        f" growth 0 -> 24,000: {at_24k - rows[0][1]:+.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_zia", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    print(machine_note())
    base = free_port_block()
    control, zia = f"http://{HOST}:{base}", f"http://{HOST}:{base + 2}"
    with contextlib.ExitStack() as stack:
        spawned = spawn_sims(base)
        stack.callback(spawned.stop)
        wait_healthy(base, spawned)
        quota_benchmark(control, zia, args)
        add_benchmark(control, zia, args)
        time.sleep(0.1)
        print(f"server resident memory after the runs: {mib(proc_status_kib(spawned.pid)):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
