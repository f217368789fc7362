"""Startup benchmark: seconds from spawning ``sims up`` until /health answers 200, and resident memory.

    python -m bench.bench_startup [--runs 5] [--warmup-requests 50]

One untimed launch comes first so that RSA key generation (cached on disk under $SIMS_CACHE_DIR or
~/.cache/sims) is not counted. Each timed run then spawns ``sims up --base-port <free>``, polls
/health every 5 ms with a bare socket, reads VmRSS from /proc/<pid>/status once healthy, sends a
few token requests and reads VmRSS again. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a file: python bench/bench_startup.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BUSY_CORES,
    FORM_HEADERS,
    HOST,
    OKTA_TOKEN_PATH,
    TOKEN_FORM,
    BackgroundMeter,
    cpu_times,
    free_port_block,
    machine_note,
    mib,
    proc_status_kib,
    spawn_sims,
    verdict,
    wait_healthy,
)

TARGET_HEALTHY_S = 1.0
TARGET_RSS_MIB = 120.0


@dataclass
class StartupRun:
    healthy_s: float
    rss_healthy_kib: int
    rss_warm_kib: int
    hwm_kib: int
    ok_requests: int
    cpu_to_healthy_s: float  # the server's user + sys CPU seconds until healthy
    background_cores: float  # CPU other processes used meanwhile


def token_requests(idp_port: int, count: int, timeout: float = 30.0) -> int:
    """Send ``count`` token requests over one keep-alive connection; how many answered 200."""
    ok = 0
    url = f"http://{HOST}:{idp_port}{OKTA_TOKEN_PATH}"
    with httpx.Client(timeout=timeout) as client:
        for _ in range(count):
            if client.post(url, content=TOKEN_FORM, headers=FORM_HEADERS).status_code == 200:
                ok += 1
    return ok


def launch_once(
    warmup_requests: int, env: dict[str, str] | None, timeout: float, extra: list[str]
) -> StartupRun:
    base = free_port_block()
    meter = BackgroundMeter()
    spawned = spawn_sims(base, *extra, env=env)
    try:
        healthy = wait_healthy(base, spawned, timeout)
        cpu = sum(cpu_times(spawned.pid))
        background = meter.cores(cpu)
        rss_healthy = proc_status_kib(spawned.pid)
        ok = token_requests(base + 1, warmup_requests) if warmup_requests else 0
        rss_warm = proc_status_kib(spawned.pid)
        hwm = proc_status_kib(spawned.pid, "VmHWM")
    finally:
        spawned.stop()
    return StartupRun(healthy, rss_healthy, rss_warm, hwm, ok, cpu, background)


def _row(name: str, values: list[float], unit: str, fmt: str = "{:.3f}") -> str:
    lo, med, hi = min(values), statistics.median(values), max(values)
    cells = " ".join(f"{fmt.format(v):>10}" for v in (lo, med, hi))
    return f"  {name:<28}{cells}  {unit}"


def report(runs: list[StartupRun], warmup_requests: int, only: str | None = None) -> None:
    healthy = [r.healthy_s for r in runs]
    rss_h = [mib(r.rss_healthy_kib) for r in runs]
    rss_w = [mib(r.rss_warm_kib) for r in runs]
    hwm = [mib(r.hwm_kib) for r in runs]
    print()
    print(f"sims up startup, {len(runs)} runs{' (--only ' + only + ')' if only else ''}")
    print(f"  {'':<28}{'min':>10} {'median':>10} {'max':>10}")
    print(_row("spawn -> /health 200", healthy, "s"))
    print(_row("  server CPU until healthy", [r.cpu_to_healthy_s for r in runs], "s"))
    print(_row("VmRSS when healthy", rss_h, "MiB", "{:.1f}"))
    print(_row(f"VmRSS after {warmup_requests} tokens", rss_w, "MiB", "{:.1f}"))
    print(_row("VmHWM (peak RSS)", hwm, "MiB", "{:.1f}"))
    med_healthy, max_rss = statistics.median(healthy), max(rss_w + rss_h)
    print()
    print("targets")
    print(
        f"  healthy < {TARGET_HEALTHY_S:.1f} s:   median {med_healthy:.3f} s, max {max(healthy):.3f} s"
        f"  -> {verdict(med_healthy < TARGET_HEALTHY_S)} (median), {verdict(max(healthy) < TARGET_HEALTHY_S)}"
        " (every run)"
    )
    print(
        f"  RSS < {TARGET_RSS_MIB:.0f} MiB:     max {max_rss:.1f} MiB  -> {verdict(max_rss < TARGET_RSS_MIB)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed launches (default 5)")
    parser.add_argument(
        "--warmup-requests", type=int, default=50, help="token requests before the second RSS reading"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for health per launch")
    parser.add_argument(
        "--cache-dir", help="SIMS_CACHE_DIR for every launch (default: the environment's, or ~/.cache/sims)"
    )
    parser.add_argument("--only", help="passed to sims up --only (default: every registered sim)")
    args = parser.parse_args(argv)
    extra = ["--only", args.only] if args.only else []
    env = None
    if args.cache_dir:
        env = {**os.environ, "SIMS_CACHE_DIR": args.cache_dir}

    print(machine_note(), flush=True)
    print("untimed warm-up launch (fills the key cache, warms the page cache) ...", end=" ", flush=True)
    try:
        first = launch_once(0, env, max(args.timeout, 120.0), extra)  # may generate RSA keys: ~0.4 s each
    except RuntimeError as err:
        print(f"\n{err}", file=sys.stderr)
        return 1
    print(f"healthy after {first.healthy_s:.3f} s")

    runs: list[StartupRun] = []
    for i in range(args.runs):
        try:
            run = launch_once(args.warmup_requests, env, args.timeout, extra)
        except RuntimeError as err:
            print(f"  run {i + 1}: {err}", file=sys.stderr)
            return 1
        runs.append(run)
        disturbed = "  DISTURBED" if run.background_cores > BUSY_CORES else ""
        print(
            f"  run {i + 1}: healthy {run.healthy_s:.3f} s (CPU {run.cpu_to_healthy_s:.2f} s, "
            f"other processes {run.background_cores:.2f} cores{disturbed}), "
            f"VmRSS {mib(run.rss_healthy_kib):.1f} MiB healthy, "
            f"{mib(run.rss_warm_kib):.1f} MiB after {run.ok_requests}/{args.warmup_requests} tokens (200)"
        )
    if runs:
        report(runs, args.warmup_requests, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
