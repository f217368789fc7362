"""SAML benchmarks: signed Responses per second at the IdP, verified Responses per second at ZIA's ACS.

Reference (signxml on the 2-core project machine, one thread, per CPU-second): about 197/s building
and signing a Response with both signatures, about 900/s verifying one signature. The ceiling is the
crypto (RSA-2048 and exclusive C14N), so these aim to reach those figures.

Measured in-process on the default world, one thread, with the sim clock frozen:

- IdP: ``build_response`` for alice with both signatures (what every login costs), and assertion only
- ACS verify: safe parse + document checks + XSW-safe verification (both signatures; one signature)
- ACS full: the above plus every SAML check, one-time id, auto-provisioning and the session
- ACS over HTTP: ``POST /sfc_sso`` of pre-minted Responses to a served world, one client

    python -m bench.bench_saml [--seconds 3] [--skip-http]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REFERENCE = {"sign both": 197, "verify one": 900}


def measure(
    name: str, seconds: float, op: Callable[[int], object], prepare: Callable[[int], None] | None = None
) -> dict:
    """Run ``op(i)`` for about ``seconds``; wall and CPU rates."""
    n = 0
    if prepare:
        prepare(0)
    op(0)  # warm-up (caches, first-use imports)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        n += 1
        op(n)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"name": name, "n": n, "per_s": n / wall, "per_cpu_s": n / cpu if cpu else float("nan")}


def runtime():
    from sims.launch import Settings, plan

    return plan(Settings(clock="frozen"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_saml", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    parser.add_argument("--skip-http", action="store_true", help="skip the ACS-over-HTTP figure")
    args = parser.parse_args(argv)

    from sims.idp.saml import build_response
    from sims.zia.sso import parse_response, verified_parts

    rt = runtime()
    portal = rt.sims["idp"].portals["aan4174"]
    app = portal.apps["zscaler"]
    alice = portal.directory.users["alice.admin@safemarch.example"]
    roles = portal.roles_of(alice.login)
    tenant = rt.sims["zia"].tenants["3173833"]
    cert = tenant.saml.active.idps[1].certificate
    now = rt.clock.now()

    def sign(_: int) -> bytes:
        return build_response(app, alice, roles, now=now, acs_url=app.acs_url, in_response_to=None)

    results = [measure("IdP: sign Response + Assertion (both)", args.seconds, sign)]
    app.config = app.config.model_copy(update={"sign": "assertion"})
    results.append(measure("IdP: sign Assertion only", args.seconds, sign))
    one = base64.b64encode(sign(0)).decode()
    app.config = app.config.model_copy(update={"sign": "both"})
    both = base64.b64encode(sign(0)).decode()

    results.append(
        measure(
            "ACS: verify (both signatures)",
            args.seconds,
            lambda _: verified_parts(parse_response(both), cert),
        )
    )
    results.append(
        measure(
            "ACS: verify (one signature)", args.seconds, lambda _: verified_parts(parse_response(one), cert)
        )
    )

    # full ACS: every Response is new (one-time assertion ids), so sign a pool first
    pool = [base64.b64encode(sign(i)).decode() for i in range(int(200 * args.seconds) + 50)]

    def consume(i: int) -> object:
        return tenant.saml.consume(parse_response(pool[i % len(pool)]), None)

    def fresh(_: int) -> None:
        tenant.saml.used.clear()
        tenant.saml.sessions.clear()

    def consume_fresh(i: int) -> object:
        if i % len(pool) == 0:
            fresh(i)
        return consume(i)

    results.append(measure("ACS: full consume (both signatures)", args.seconds, consume_fresh, fresh))

    if not args.skip_http:
        results.append(http_acs(args.seconds))

    print(f"{'what':44} {'ops':>7} {'per s':>9} {'per CPU-s':>10}")
    for r in results:
        print(f"{r['name']:44} {r['n']:7d} {r['per_s']:9.0f} {r['per_cpu_s']:10.0f}")
    print(
        f"\nreference (signxml, one thread, per CPU-s): sign both ~{REFERENCE['sign both']}/s, "
        f"verify one ~{REFERENCE['verify one']}/s"
    )
    sign_rate = results[0]["per_cpu_s"]
    verify_rate = results[3]["per_cpu_s"]
    print(
        f"sign both: {sign_rate / REFERENCE['sign both']:.2f}x reference; "
        f"verify one: {verify_rate / REFERENCE['verify one']:.2f}x"
    )
    return 0


def http_acs(seconds: float) -> dict:
    """POST /sfc_sso over loopback: pre-minted Responses from the control plane, one client."""
    import httpx

    from sims.pytest_plugin import start_world

    world = start_world()
    try:
        count = int(250 * seconds) + 50
        minted = [
            world.control.post(
                "/sims/idp/directories/aan4174/apps/zscaler/responses",
                {"user": "alice.admin@safemarch.example"},
            )["saml_response"]
            for _ in range(count)
        ]
        acs = f"{world.url('zia')}/sfc_sso"
        with httpx.Client(timeout=30) as client:
            client.post(acs, data={"SAMLResponse": minted[0]})  # warm-up
            n = 0
            wall0 = time.perf_counter()
            while time.perf_counter() - wall0 < seconds and n + 1 < len(minted):
                n += 1
                r = client.post(acs, data={"SAMLResponse": minted[n]})
                if r.status_code != 303:
                    raise RuntimeError(f"the ACS refused a Response: {r.status_code} {r.text[:200]}")
            wall = time.perf_counter() - wall0
        return {
            "name": "ACS over HTTP: POST /sfc_sso (one client)",
            "n": n,
            "per_s": n / wall,
            "per_cpu_s": float("nan"),
        }
    finally:
        world.stop()


if __name__ == "__main__":
    sys.exit(main())
