"""Big-world benchmark: how long ``fixtures/big.yaml`` takes to load and how much memory it holds.

    python -m bench.bench_bigworld [--runs 1] [--world fixtures/big.yaml] [--in-process]

By default each run spawns ``sims up --world <world> --base-port <free>`` and polls /health every
5 ms; once healthy it reads VmRSS and VmHWM (peak) from /proc/<pid>/status. ``--in-process`` instead
builds the runtime here with ``sims.launch.plan`` (generation only, no sockets) and reports the
seconds per generation task and this process's peak RSS. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/bench_bigworld.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, free_port_block, machine_note, mib, proc_status_kib, spawn_sims, wait_healthy

TARGET_HEALTHY_S = 60.0
TARGET_RSS_MIB = 500.0


class Timings:
    """A progress sink that records each generation task's total, count and seconds."""

    def __init__(self) -> None:
        self.rows: list[list] = []

    def task(self, name: str, total: int):
        row = [name, total, 0, time.perf_counter(), None]
        self.rows.append(row)

        class Task:
            def advance(self, n: int = 1) -> None:
                row[2] += n

            def close(self) -> None:
                row[4] = time.perf_counter() - row[3]

        return Task()


def in_process(world: str) -> None:
    from sims.launch import Settings, plan, planned_items

    started = time.perf_counter()
    timings = Timings()
    runtime = plan(Settings(world=world, progress=timings))
    took = time.perf_counter() - started
    print(f"planned items  {planned_items(runtime.world):>12,}")
    for name, total, done, _, seconds in timings.rows:
        print(f"  {name:<40} {done:>10,} (expected {total:,})  {seconds or 0:6.2f} s")
    print(f"runtime built  {took:8.2f} s   (target < {TARGET_HEALTHY_S:.0f} s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS       {mib(peak):8.1f} MiB (target < {TARGET_RSS_MIB:.0f} MiB)")


def spawned(world: str, runs: int) -> None:
    for i in range(runs):
        base = free_port_block()
        proc = spawn_sims(base, "--world", world)
        try:
            healthy = wait_healthy(base, proc, timeout=180.0)
            rss = proc_status_kib(proc.pid, "VmRSS")
            hwm = proc_status_kib(proc.pid, "VmHWM")
        finally:
            proc.stop()
        print(
            f"run {i + 1}: healthy after {healthy:6.2f} s (target < {TARGET_HEALTHY_S:.0f} s)  "
            f"VmRSS {mib(rss):7.1f} MiB  VmHWM {mib(hwm):7.1f} MiB (target < {TARGET_RSS_MIB:.0f} MiB)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default=str(REPO / "fixtures" / "big.yaml"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--in-process", action="store_true", help="build the runtime here, no server")
    args = parser.parse_args(argv)
    print(machine_note())
    print(f"world: {args.world}")
    if args.in_process:
        in_process(args.world)
    else:
        spawned(args.world, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
