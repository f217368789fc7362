"""Token endpoint throughput: ``sims up`` against oauth2-mock-server, both loaded with wrk.

    python -m bench.bench_token [--duration 10] [--connections 16] [--rounds 1] [--skip-baseline]

Starts ``sims up`` on free loopback ports, warms it with a short wrk run, then runs
``wrk -t1 -c16 -d10s --latency -s bench/post_token.lua`` against the Okta-style token endpoint and
reads the server's CPU time from /proc/<pid>/stat around the measured run. Unless --skip-baseline,
the npm package oauth2-mock-server@8 is installed into a cache directory outside the repository
(``$XDG_CACHE_HOME/sims-bench`` or ``~/.cache/sims-bench``), started with node, and given the same
load on its /token endpoint; with --rounds N the two are measured in turn N times and the median
round is reported. Figures are printed side by side with the target; never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a file: python bench/bench_token.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BUSY_CORES,
    FORM_HEADERS,
    HOST,
    OKTA_TOKEN_PATH,
    REPO,
    TOKEN_FORM,
    BackgroundMeter,
    Spawned,
    cpu_times,
    free_port,
    free_port_block,
    http_status,
    machine_note,
    mib,
    proc_status_kib,
    spawn,
    spawn_sims,
    verdict,
    wait_healthy,
    wait_until,
)

LUA_SCRIPT = Path(__file__).resolve().parent / "post_token.lua"
BASELINE_PACKAGE = "oauth2-mock-server@8"
BASELINE_ENTRY = Path("node_modules/oauth2-mock-server/dist/oauth2-mock-server.mjs")
TARGET_RATIO = 1.2  # sims >= 1.2x oauth2-mock-server's requests/s
REFERENCE_BASELINE_RPS = 630  # oauth2-mock-server, 16 connections, a 2-core machine like this one
NPM_TIMEOUT = 300.0

_RESULT = re.compile(r"^BENCH_RESULT (.*)$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


@dataclass
class ServerFigures:
    name: str
    wrk: WrkResult
    user_ms_per_request: float
    sys_ms_per_request: float
    rss_mib: float
    background_cores: float  # CPU other processes used during the run

    @property
    def cpu_ms_per_request(self) -> float:
        return self.user_ms_per_request + self.sys_ms_per_request


def find_wrk() -> str | None:
    return shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)


def run_wrk(wrk: str, url: str, duration: float, connections: int, threads: int = 1) -> WrkResult:
    """One wrk run with post_token.lua; its figures, parsed from the script's BENCH_RESULT line."""
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = _RESULT.search(out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    f = {k: float(v) for k, v in (kv.split("=", 1) for kv in match.group(1).split())}
    rps_line = _RPS.search(out.stdout)
    seconds = f["duration_us"] / 1e6
    return WrkResult(
        requests=int(f["requests"]),
        duration_s=seconds,
        rps=float(rps_line.group(1)) if rps_line else f["requests"] / seconds,
        non2xx=int(f["non2xx"]),
        socket_errors=int(f["connect"] + f["read"] + f["write"] + f["timeout"]),
        p50_ms=f["p50_us"] / 1000,
        p90_ms=f["p90_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        max_ms=f["max_us"] / 1000,
        mean_ms=f["mean_us"] / 1000,
    )


@dataclass
class Target:
    """A server under load: its process and the token URL wrk posts to."""

    name: str
    spawned: Spawned
    url: str


def measure(target: Target, wrk: str, args: argparse.Namespace) -> ServerFigures:
    """One measured wrk run, with the server's CPU time read around it."""
    pid = target.spawned.pid
    user_before, sys_before = cpu_times(pid)
    meter = BackgroundMeter()
    result = run_wrk(wrk, target.url, args.duration, args.connections, args.threads)
    user_after, sys_after = cpu_times(pid)
    cpu = user_after - user_before + sys_after - sys_before
    n = result.requests or 1
    figures = ServerFigures(
        target.name,
        result,
        user_ms_per_request=(user_after - user_before) * 1000 / n,
        sys_ms_per_request=(sys_after - sys_before) * 1000 / n,
        rss_mib=mib(proc_status_kib(pid)),
        background_cores=meter.cores(cpu),
    )
    disturbed = "  DISTURBED" if figures.background_cores > BUSY_CORES else ""
    print(
        f"[{target.name}] {result.rps:.1f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"non-2xx {result.non2xx}, socket errors {result.socket_errors}, "
        f"{figures.cpu_ms_per_request:.3f} CPU ms/request "
        f"({cpu:.2f} s CPU over {result.duration_s:.1f} s = {cpu / result.duration_s:.2f} cores); "
        f"other processes {figures.background_cores:.2f} cores{disturbed}",
        flush=True,
    )
    return figures


def check_token(port: int, path: str) -> None:
    """One request by hand before loading: a server that refuses the form would only show non-2xx."""
    r = httpx.post(f"http://{HOST}:{port}{path}", content=TOKEN_FORM, headers=FORM_HEADERS, timeout=10)
    if r.status_code != 200 or "access_token" not in r.json():
        raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:300]}")


# -- sims ------------------------------------------------------------------------------------------
def start_sims(stack: contextlib.ExitStack, args: argparse.Namespace) -> Target:
    base = free_port_block()
    spawned = spawn_sims(base, *(["--only", args.only] if args.only else []))
    stack.callback(spawned.stop)
    healthy = wait_healthy(base, spawned, timeout=120.0)  # the first launch may generate keys
    print(f"[sims] sims up --base-port {base} (pid {spawned.pid}) healthy after {healthy:.2f} s")
    check_token(base + 1, OKTA_TOKEN_PATH)
    return Target("sims", spawned, f"http://{HOST}:{base + 1}{OKTA_TOKEN_PATH}")


# -- oauth2-mock-server ----------------------------------------------------------------------------
def default_baseline_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "sims-bench" / "oauth2-mock-server-8"


def install_baseline(directory: Path) -> Path | None:
    """oauth2-mock-server@8 installed in ``directory`` (never inside the repo); its CLI entry point."""
    directory = directory.expanduser().resolve()
    if directory.is_relative_to(REPO):
        raise SystemExit(f"refusing to install npm packages inside the repository: {directory}")
    entry = directory / BASELINE_ENTRY
    if entry.exists():
        return entry
    npm = shutil.which("npm")
    if npm is None:
        print("[baseline] skipped: npm not found (install Node.js 20+ and npm to compare)")
        return None
    directory.mkdir(parents=True, exist_ok=True)
    print(f"[baseline] npm install {BASELINE_PACKAGE} into {directory} ...", flush=True)
    cmd = [npm, "install", "--prefix", str(directory), "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        out = subprocess.run(
            [*cmd, BASELINE_PACKAGE],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"[baseline] skipped: npm install took longer than {NPM_TIMEOUT:.0f} s")
        return None
    if out.returncode != 0 or not entry.exists():
        print(f"[baseline] skipped: npm install failed ({out.returncode}):\n{out.stderr[-2000:]}")
        return None
    return entry


def baseline_version(entry: Path) -> str:
    package = entry.parent.parent / "package.json"
    try:
        return json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def start_baseline(stack: contextlib.ExitStack, args: argparse.Namespace) -> Target | None:
    node = shutil.which("node")
    if node is None:
        print("[baseline] skipped: node not found (install Node.js 20+ to compare)")
        return None
    entry = install_baseline(Path(args.baseline_dir))
    if entry is None:
        return None
    port = free_port()
    spawned = spawn([node, str(entry), "-a", HOST, "-p", str(port)], cwd=entry.parent)
    stack.callback(spawned.stop)
    try:
        wait_until(
            lambda: http_status(port, "/.well-known/openid-configuration") == 200, 60.0, proc=spawned.proc
        )
    except (TimeoutError, RuntimeError) as err:
        print(f"[baseline] skipped: oauth2-mock-server did not start: {err}\n{spawned.output_tail()}")
        return None
    print(f"[baseline] oauth2-mock-server {baseline_version(entry)} on port {port} (pid {spawned.pid})")
    check_token(port, "/token")
    return Target("oauth2-mock-server", spawned, f"http://{HOST}:{port}/token")


def run_rounds(targets: list[Target], wrk: str, args: argparse.Namespace) -> dict[str, list[ServerFigures]]:
    """Warm each server up, then measure them in turn, ``--rounds`` times (interleaved, so that
    background load on the machine falls on both alike)."""
    for t in targets if args.warmup > 0 else []:
        print(f"[{t.name}] warm-up: {args.warmup:.0f} s at {args.connections} connections", flush=True)
        run_wrk(wrk, t.url, args.warmup, args.connections, args.threads)
    figures: dict[str, list[ServerFigures]] = {t.name: [] for t in targets}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: {args.duration:.0f} s each at {args.connections} connections")
        for t in targets:
            figures[t.name].append(measure(t, wrk, args))
    return figures


def median_run(runs: list[ServerFigures]) -> ServerFigures:
    """The round with the median requests/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda f: f.wrk.rps)
    return ordered[(len(ordered) - 1) // 2]


# -- report ----------------------------------------------------------------------------------------
def report(figures: dict[str, list[ServerFigures]], args: argparse.Namespace) -> None:
    sims_runs = figures["sims"]
    baseline_runs = figures.get("oauth2-mock-server")
    servers = [median_run(runs) for runs in figures.values()]
    sims, baseline = servers[0], (servers[1] if baseline_runs else None)
    rows = [
        ("requests/s", lambda s: f"{s.wrk.rps:.1f}"),
        ("requests", lambda s: f"{s.wrk.requests}"),
        ("latency p50 (ms)", lambda s: f"{s.wrk.p50_ms:.2f}"),
        ("latency p90 (ms)", lambda s: f"{s.wrk.p90_ms:.2f}"),
        ("latency p99 (ms)", lambda s: f"{s.wrk.p99_ms:.2f}"),
        ("latency max (ms)", lambda s: f"{s.wrk.max_ms:.2f}"),
        ("non-2xx responses", lambda s: f"{s.wrk.non2xx}"),
        ("socket errors", lambda s: f"{s.wrk.socket_errors}"),
        ("server CPU ms/request", lambda s: f"{s.cpu_ms_per_request:.3f}"),
        ("  of which user / sys", lambda s: f"{s.user_ms_per_request:.3f} / {s.sys_ms_per_request:.3f}"),
        ("server VmRSS after (MiB)", lambda s: f"{s.rss_mib:.1f}"),
        ("other processes (cores)", lambda s: f"{s.background_cores:.2f}"),
    ]
    print()
    which = f", the median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(
        f"token endpoint, wrk -t{args.threads} -c{args.connections} -d{args.duration:.0f}s --latency "
        f"(after a {args.warmup:.0f} s warm-up{which})"
    )
    print(f"  {'':<26}" + "".join(f"{s.name:>20}" for s in servers))
    for label, cell in rows:
        print(f"  {label:<26}" + "".join(f"{cell(s):>20}" for s in servers))
    print()
    print(f"target: sims >= {TARGET_RATIO}x oauth2-mock-server requests/s")
    if baseline and baseline.wrk.rps > 0:
        ratio = sims.wrk.rps / baseline.wrk.rps
        print(
            f"  ratio {ratio:.2f}x ({sims.wrk.rps:.1f} / {baseline.wrk.rps:.1f} req/s)"
            f"  -> {verdict(ratio >= TARGET_RATIO)}"
        )
        if args.rounds > 1 and baseline_runs:
            per_round = [a.wrk.rps / b.wrk.rps for a, b in zip(sims_runs, baseline_runs, strict=True)]
            print("  per round: " + ", ".join(f"{r:.2f}x" for r in per_round))
    else:
        ratio = sims.wrk.rps / REFERENCE_BASELINE_RPS
        print(
            f"  no baseline run; against the reference {REFERENCE_BASELINE_RPS} req/s: {ratio:.2f}x"
            f"  -> {verdict(ratio >= TARGET_RATIO)} (indicative only: the reference is another machine)"
        )
    disturbed = [f for runs in figures.values() for f in runs if f.background_cores > BUSY_CORES]
    if disturbed:
        print(
            f"  warning: {len(disturbed)} measured run(s) shared the machine with other busy processes "
            f"(> {BUSY_CORES} cores); rerun on an idle machine, or with --rounds 3"
        )
    bad = [f for f in sims_runs if f.wrk.non2xx or f.wrk.socket_errors]
    if bad:
        print(
            f"  warning: sims answered {sum(f.wrk.non2xx for f in bad)} non-2xx responses and had "
            f"{sum(f.wrk.socket_errors for f in bad)} socket errors"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measured runs per server, interleaved; the median is reported"
    )
    parser.add_argument("--only", help="passed to sims up --only (default: every registered sim)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run oauth2-mock-server")
    parser.add_argument(
        "--baseline-dir",
        default=str(default_baseline_dir()),
        help="where oauth2-mock-server@8 is installed, outside the repo (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads > args.connections:
        parser.error("--threads cannot exceed --connections")
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be at least 1, --warmup at least 0")
    wrk = find_wrk()
    if wrk is None:
        print("wrk not found: install it with `apt-get install wrk` (Debian package wrk)", file=sys.stderr)
        return 2

    print(machine_note(), flush=True)
    with contextlib.ExitStack() as stack:  # stops every server started, whatever happens
        try:
            targets = [start_sims(stack, args)]
        except (RuntimeError, httpx.HTTPError) as err:
            print(f"[sims] {err}", file=sys.stderr)
            return 1
        if not args.skip_baseline:
            try:
                baseline = start_baseline(stack, args)
            except (RuntimeError, httpx.HTTPError) as err:
                print(f"[baseline] failed, measuring sims alone: {err}", file=sys.stderr)
                baseline = None
            if baseline:
                targets.append(baseline)
        try:
            figures = run_rounds(targets, wrk, args)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"load test failed: {err}", file=sys.stderr)
            return 1
    report(figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
