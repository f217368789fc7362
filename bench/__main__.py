"""``python -m bench``: the startup benchmark, then the token benchmark (flags go to the token one).

python -m bench [--runs 5] [--only idp] [--duration 10] [--connections 16] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import sys

from bench import bench_startup, bench_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        epilog="Every other flag goes to the token benchmark: --duration, --connections, --threads, "
        "--warmup, --skip-baseline, --baseline-dir (see python -m bench.bench_token --help).",
    )
    parser.add_argument("--runs", type=int, default=5, help="startup: timed launches (default 5)")
    parser.add_argument("--only", help="both: passed to sims up --only (default: every registered sim)")
    args, token_args = parser.parse_known_args(argv)
    only = ["--only", args.only] if args.only else []
    bench_token.build_parser().parse_args([*only, *token_args])  # a bad flag fails before any run
    print("== startup ==", flush=True)
    startup = bench_startup.main(["--runs", str(args.runs), *only])
    print("\n== token endpoint ==", flush=True)
    token = bench_token.main([*only, *token_args])
    return startup or token


if __name__ == "__main__":
    sys.exit(main())
