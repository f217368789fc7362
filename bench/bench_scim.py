"""SCIM engine throughput: ``POST /Users`` and ``GET /Users?filter=userName eq "..."`` with 100,000 users
stored, loaded with wrk; memory per stored user.

    python -m bench.bench_scim [--users 100000] [--duration 10] [--connections 16] [--bare] [--gc-tuned]
                               [--baseline-server scim2-server] [--skip-baseline]

Starts a standalone app (the engine's test dialect: bearer token, base path ``/scim/t1/v2``) in a
child process served by uvicorn on loopback like ``sims up`` serves a sim (httptools, uvloop, and the
shared HTTP layer with journal and faults unless ``--bare``), preloads ``--users`` users through the
engine, then runs ``wrk -t1 -c16 --latency`` with generated Lua scripts: the filtered GET first (random
stored userNames), then POST (a new userName per request). Memory per user is measured in this
process with tracemalloc (what the store allocates for ``--users`` users), and as the server's RSS
growth while it preloads. ``--gc-tuned`` applies ``tune_gc()`` (a GC policy for the runtime, see there)
after the preload. If ``scim2-server`` is on PATH (or ``--baseline-server``), it gets the same
loads after 1,000 users are seeded over HTTP (it takes ~300 creates/s). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a file: python bench/bench_scim.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BUSY_CORES,
    HOST,
    BackgroundMeter,
    Spawned,
    cpu_times,
    free_port,
    http_status,
    machine_note,
    mib,
    proc_status_kib,
    spawn,
    verdict,
    wait_until,
)

TOKEN = "scim-test-token"
BASE = "/scim/t1/v2"
REFERENCE_RPS = 300  # scim2-server 0.8.3 at 16 connections on the 2-core project machine (reference §2)
TARGET_RATIO = 3.0
TARGET_P99_MS = 20.0
REFERENCE_BYTES_PER_USER = 5_500  # scim2-server's RSS growth per stored user (5-6 KB)
_RESULT = re.compile(r"^BENCH_RESULT (.*)$", re.MULTILINE)

LUA_COMMON = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d"
      .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

LUA_GET = (
    r"""
-- GET <base>/Users?filter=userName eq "user<n>@example.com" for random stored n
local base, users = "/v2", 1000
function init(args)
  base = args[1]; users = tonumber(args[2]); math.randomseed(os.time() + tonumber(args[3] or "0"))
  wrk.headers["Authorization"] = args[4]
  wrk.headers["Accept"] = "application/scim+json"
end
function request()
  local n = math.random(0, users - 1)
  return wrk.format("GET", base .. "/Users?filter=userName%20eq%20%22user" .. n .. "%40example.com%22")
end
"""
    + LUA_COMMON
)

LUA_POST = (
    r"""
-- POST <base>/Users with a new userName per request (name, displayName, one work email, active)
local base, tag, counter = "/v2", "", 0
function init(args)
  base = args[1]; math.randomseed(os.time() + tonumber(args[3] or "0")); tag = tostring(math.random(1, 1e9))
  wrk.headers["Authorization"] = args[4]
  wrk.headers["Content-Type"] = "application/scim+json"
end
function request()
  counter = counter + 1
  local name = "bench-" .. tag .. "-" .. counter
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name
    .. '@example.com","name":{"givenName":"Bench","familyName":"User ' .. counter .. '"},'
    .. '"displayName":"Bench User ' .. counter .. '","emails":[{"value":"' .. name
    .. '@example.com","type":"work","primary":true}],"active":true}'
  return wrk.format("POST", base .. "/Users", nil, body)
end
"""
    + LUA_COMMON
)


def user_body(n: int) -> dict:
    """What the preloaded users look like (the same shape the POST load sends, and the reference's)."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"user{n}@example.com",
        "externalId": f"ext-{n}",
        "name": {"givenName": "Given", "familyName": f"Family {n}"},
        "displayName": f"Given Family {n}",
        "emails": [{"value": f"user{n}@example.com", "type": "work", "primary": True}],
        "active": True,
    }


# -- the server (child process) ----------------------------------------------------------------------
def tune_gc() -> None:
    """A GC policy a runtime can apply once its world is loaded. Without it, CPython's full collections
    walk every tracked container (3 per stored user, plus the journal's churn): 100-200 ms pauses at
    100,000 users, a few times per 10 s of POST load, which is the whole POST p99 (measured: p99 9.6 ms
    with collection off). Freezing moves what is loaded out of those walks; a gen-2 threshold of 100
    (CPython's default is 10) makes the remaining full collections ten times rarer."""
    gc.freeze()
    gc.set_threshold(700, 10, 100)


def serve(port: int, users: int, bare: bool, gc_tuned: bool) -> None:
    import uvicorn

    from sims.core.scim import Directory
    from sims.core.scim.testing import FrozenClock, demo_dialect, standalone_app
    from sims.core.serve import _http_impl, bind, run_loop

    dialect = demo_dialect()
    directory = Directory(dialect, FrozenClock(), name="t1")
    app = standalone_app(dialect, {"t1": directory})
    rss_before = proc_status_kib(os.getpid())
    started = time.perf_counter()
    for n in range(users):
        directory.create("User", user_body(n))
    preload_s = time.perf_counter() - started
    gc.collect()
    if gc_tuned:
        tune_gc()
    rss_after = proc_status_kib(os.getpid())
    if not bare:
        app = _wrap(app)
    print(
        json.dumps(
            {"preload_s": preload_s, "rss_before_kib": rss_before, "rss_after_kib": rss_after, "users": users}
        ),
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=_http_impl(),
        ws="none",
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    run_loop(server.serve(sockets=[bind(HOST, port)]))


def _wrap(app):
    """The shared HTTP layer every sim runs in (journal, faults, body limit), as ``sims up`` has it."""
    from sims.core.clock import SimClock
    from sims.core.faults import FaultEngine
    from sims.core.http import SimHTTP
    from sims.core.journal import Journal
    from sims.core.scim import error_body
    from sims.core.sim import Sim

    class BenchSim(Sim):
        name = "scim"
        default_port = 0

        def reset(self) -> None: ...

        def export_state(self) -> dict:
            return {}

        def import_state(self, state: dict) -> None: ...

        def build_app(self):
            return app

        def error_body(self, status: int, message: str) -> tuple[bytes, str]:
            return error_body(status, message), "application/scim+json"

    clock = SimClock()
    return SimHTTP(
        app, BenchSim(None), clock=clock, journal=Journal(), faults=FaultEngine(), max_body=10 * 1024 * 1024
    )


# -- memory per user (in this process) ------------------------------------------------------------------
def bytes_per_user(users: int) -> float:
    """Bytes per user traced by tracemalloc while ``users`` users are created."""
    from sims.core.scim import Directory
    from sims.core.scim.testing import FrozenClock, demo_dialect

    bodies = [user_body(n) for n in range(users)]
    directory = Directory(demo_dialect(), FrozenClock(), name="mem")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for body in bodies:
        directory.create("User", body)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / users


def in_process_costs(users: int) -> None:
    """What the engine itself costs (no HTTP) with ``users`` users: create, indexed and scanning queries."""
    from sims.core.scim import Directory
    from sims.core.scim.testing import FrozenClock, demo_dialect

    directory = Directory(demo_dialect(), FrozenClock(), name="time")
    started = time.perf_counter()
    for n in range(users):
        directory.create("User", user_body(n))
    per_create = (time.perf_counter() - started) / users

    def per_query(text: str, times: int) -> float:
        started = time.perf_counter()
        for i in range(times):
            directory.query("User", filter=text.format(n=i * 7919 % users))
        return (time.perf_counter() - started) / times * 1000

    gc.collect()
    started = time.perf_counter()
    gc.collect()
    full_gc = (time.perf_counter() - started) * 1000
    indexed = per_query('userName eq "user{n}@example.com"', 2000)
    scan = per_query('name.familyName eq "Family {n}"', 3)
    dates = per_query('meta.lastModified gt "2030-01-01T00:00:00Z"', 3)
    print(
        f"[in-process] {users} users: create {per_create * 1e6:.1f} µs; filter userName eq {indexed:.3f} ms "
        f"(index); name.familyName eq {scan:.0f} ms, meta.lastModified gt {dates:.0f} ms (full scans); "
        f"a full gc.collect() {full_gc:.0f} ms",
        flush=True,
    )


# -- load -----------------------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    rps: float
    requests: int
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms_per_request: float
    background_cores: float


def run_wrk(wrk: str, script: Path, url: str, args: list[str], duration: float, connections: int) -> dict:
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s"]
    cmd += ["-s", str(script), url, "--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = _RESULT.search(out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in match.group(1).split())}


def measure(name: str, pid: int, wrk: str, script: Path, url: str, lua_args: list[str], a) -> Run:
    if a.warmup > 0:
        run_wrk(wrk, script, url, lua_args, a.warmup, a.connections)
    u0, s0 = cpu_times(pid)
    meter = BackgroundMeter()
    f = run_wrk(wrk, script, url, lua_args, a.duration, a.connections)
    u1, s1 = cpu_times(pid)
    cpu = u1 - u0 + s1 - s0
    n = int(f["requests"]) or 1
    run = Run(
        name=name,
        rps=f["requests"] / (f["duration_us"] / 1e6),
        requests=int(f["requests"]),
        non2xx=int(f["non2xx"]),
        socket_errors=int(f["connect"] + f["read"] + f["write"] + f["timeout"]),
        p50_ms=f["p50_us"] / 1000,
        p90_ms=f["p90_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        max_ms=f["max_us"] / 1000,
        cpu_ms_per_request=cpu * 1000 / n,
        background_cores=meter.cores(cpu),
    )
    flag = "  DISTURBED" if run.background_cores > BUSY_CORES else ""
    print(
        f"[{name}] {run.rps:.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
        f"non-2xx {run.non2xx}, socket errors {run.socket_errors}, {run.cpu_ms_per_request:.3f} CPU ms"
        f"/request; other processes {run.background_cores:.2f} cores{flag}",
        flush=True,
    )
    return run


def start_engine(stack: contextlib.ExitStack, a) -> tuple[Spawned, int, dict]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bench_scim", "--serve", str(port), "--users", str(a.users)]
    if a.bare:
        cmd.append("--bare")
    if a.gc_tuned:
        cmd.append("--gc-tuned")
    spawned = spawn(cmd, cwd=Path(__file__).resolve().parent.parent)
    stack.callback(spawned.stop)
    path = f"{BASE}/ServiceProviderConfig"
    try:
        wait_until(lambda: http_status(port, path) is not None, 600.0, proc=spawned.proc, interval=0.05)
    except (TimeoutError, RuntimeError) as err:
        raise RuntimeError(f"the SCIM app did not start: {err}\n{spawned.output_tail()}") from None
    info = json.loads(next(line for line in spawned.output_tail(10**6).splitlines() if line.startswith("{")))
    return spawned, port, info


def start_baseline(stack: contextlib.ExitStack, command: str) -> tuple[Spawned, int] | None:
    exe = shutil.which(command)
    if exe is None:
        print(
            f"[baseline] skipped: {command} not found (pip install scim2-server in another venv to compare)"
        )
        return None
    port = free_port()
    spawned = spawn([exe, "--port", str(port), "--bearer-token", TOKEN])
    stack.callback(spawned.stop)
    try:
        wait_until(lambda: http_status(port, "/v2/ServiceProviderConfig") == 200, 60.0, proc=spawned.proc)
    except (TimeoutError, RuntimeError) as err:
        print(f"[baseline] skipped: scim2-server did not start: {err}")
        return None
    with httpx.Client(base_url=f"http://{HOST}:{port}/v2", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        started = time.perf_counter()
        for n in range(1000):
            c.post("/Users", json=user_body(n)).raise_for_status()
    print(
        f"[baseline] scim2-server on port {port}: 1,000 users seeded in {time.perf_counter() - started:.1f} s"
    )
    return spawned, port


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=100_000, help="users stored before the load (default 100000)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per load (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per load (default 2)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--bare", action="store_true", help="without the shared HTTP layer (journal, faults)")
    p.add_argument("--gc-tuned", action="store_true", help="the server applies tune_gc() after the preload")
    p.add_argument("--memory-users", type=int, default=20_000, help="users for the tracemalloc figure")
    p.add_argument("--baseline-server", default="scim2-server", help="scim2-server executable to compare")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.serve:
        serve(a.serve, a.users, a.bare, a.gc_tuned)
        return 0
    wrk = shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)
    if wrk is None:
        print("wrk not found: install it with `apt-get install wrk`", file=sys.stderr)
        return 2
    print(machine_note(), flush=True)
    per_user = bytes_per_user(a.memory_users)
    print(f"[memory] {per_user:.0f} bytes per stored user (tracemalloc, {a.memory_users} users)", flush=True)
    in_process_costs(a.users)
    runs: dict[str, list[Run]] = {}
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        get_lua, post_lua = Path(tmp, "get.lua"), Path(tmp, "post.lua")
        get_lua.write_text(LUA_GET)
        post_lua.write_text(LUA_POST)
        auth = f"Bearer {TOKEN}"
        try:
            spawned, port, info = start_engine(stack, a)
        except RuntimeError as err:
            print(f"[sims] {err}", file=sys.stderr)
            return 1
        growth = (info["rss_after_kib"] - info["rss_before_kib"]) * 1024 / max(1, info["users"])
        rss = f"{mib(info['rss_before_kib']):.0f} -> {mib(info['rss_after_kib']):.0f} MiB"
        print(
            f"[sims] pid {spawned.pid}, port {port}, {info['users']} users preloaded in "
            f"{info['preload_s']:.1f} s; RSS {rss} = {growth:.0f} bytes per user"
            f"{'' if a.bare else '; served with the journal and faults layer'}"
            f"{'; GC tuned after the preload' if a.gc_tuned else ''}",
            flush=True,
        )
        url = f"http://{HOST}:{port}"
        runs["sims"] = [
            measure("sims GET filter", spawned.pid, wrk, get_lua, url, [BASE, str(a.users), "1", auth], a),
            measure("sims POST /Users", spawned.pid, wrk, post_lua, url, [BASE, str(a.users), "2", auth], a),
        ]
        rss_end = mib(proc_status_kib(spawned.pid))
        if not a.skip_baseline:
            started = start_baseline(stack, a.baseline_server)
            if started is not None:
                bspawn, bport = started
                burl = f"http://{HOST}:{bport}"
                runs["scim2-server"] = [
                    measure(
                        "scim2-server GET filter",
                        bspawn.pid,
                        wrk,
                        get_lua,
                        burl,
                        ["/v2", "1000", "3", auth],
                        a,
                    ),
                    measure(
                        "scim2-server POST /Users",
                        bspawn.pid,
                        wrk,
                        post_lua,
                        burl,
                        ["/v2", "0", "4", auth],
                        a,
                    ),
                ]
    print()
    print(f"SCIM engine, wrk -t1 -c{a.connections} -d{a.duration:.0f}s --latency, {a.users} users stored")
    names = ["GET filter userName eq", "POST /Users"]
    cols = list(runs)
    print(f"  {'':<30}" + "".join(f"{c + ' ' + n.split()[0]:>24}" for c in cols for n in names))
    rows = [
        ("requests/s", lambda r: f"{r.rps:.0f}"),
        ("latency p50 (ms)", lambda r: f"{r.p50_ms:.2f}"),
        ("latency p90 (ms)", lambda r: f"{r.p90_ms:.2f}"),
        ("latency p99 (ms)", lambda r: f"{r.p99_ms:.2f}"),
        ("latency max (ms)", lambda r: f"{r.max_ms:.2f}"),
        ("non-2xx / socket errors", lambda r: f"{r.non2xx} / {r.socket_errors}"),
        ("server CPU ms/request", lambda r: f"{r.cpu_ms_per_request:.3f}"),
    ]
    for label, cell in rows:
        print(f"  {label:<30}" + "".join(f"{cell(r):>24}" for c in cols for r in runs[c]))
    print(f"  sims VmRSS after the loads: {rss_end:.0f} MiB")
    print()
    base = runs.get("scim2-server")
    for i, name in enumerate(names):
        mine = runs["sims"][i]
        ref = base[i].rps if base else REFERENCE_RPS
        where = "scim2-server here" if base else f"the reference {REFERENCE_RPS} req/s (another run)"
        ratio = mine.rps / ref if ref else 0.0
        print(
            f"target {name}: >= {TARGET_RATIO:.0f}x {where}: {ratio:.1f}x -> "
            f"{verdict(ratio >= TARGET_RATIO)}; p99 {mine.p99_ms:.1f} ms < {TARGET_P99_MS:.0f} ms -> "
            f"{verdict(mine.p99_ms < TARGET_P99_MS)}"
        )
    ok = max(per_user, growth) <= REFERENCE_BYTES_PER_USER
    print(
        f"target memory: <= {REFERENCE_BYTES_PER_USER} bytes per user: {per_user:.0f} traced, "
        f"{growth:.0f} RSS -> {verdict(ok)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
