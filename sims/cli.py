"""The ``sims`` command: ``sims up`` serves the world, ``serve SIM`` one sim, ``world`` prints it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from sims import __version__, registry
from sims.core import logs
from sims.core.serve import run_loop
from sims.core.worldfile import WorldError
from sims.launch import Settings, SettingsError, open_world, plan

# Every setting is also an environment variable; a flag wins over the environment.
ENV = {
    "world": "SIMS_WORLD",
    "host": "SIMS_HOST",
    "advertise_host": "SIMS_ADVERTISE_HOST",
    "base_port": "SIMS_BASE_PORT",
    "port": "SIMS_PORTS",
    "only": "SIMS_ONLY",
    "clock": "SIMS_CLOCK",
    "control_token": "SIMS_CONTROL_TOKEN",
    "state": "SIMS_STATE",
    "log_level": "SIMS_LOG_LEVEL",
    "log_format": "SIMS_LOG_FORMAT",
    "json": "SIMS_JSON",
}


def _world_flags(p: argparse.ArgumentParser, only: bool = True) -> None:
    env = os.environ.get
    p.add_argument(
        "--world",
        default=env(ENV["world"]),
        metavar="FILE",
        help="world file (default: the embedded default world) [SIMS_WORLD]",
    )
    p.add_argument(
        "--host",
        default=env(ENV["host"], "127.0.0.1"),
        help="address to listen on (default 127.0.0.1) [SIMS_HOST]",
    )
    p.add_argument(
        "--advertise-host",
        default=env(ENV["advertise_host"]),
        help="host name put in printed URLs (default: the listen address) [SIMS_ADVERTISE_HOST]",
    )
    p.add_argument(
        "--base-port",
        default=env(ENV["base_port"]),
        help="control plane port; sims take the next ports in order [SIMS_BASE_PORT]",
    )
    p.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="port of one service, e.g. --port idp=9001 (repeatable; 0 = any free port) "
        "[SIMS_PORTS=idp=9001,control=9000]",
    )
    if only:
        p.add_argument(
            "--only",
            default=env(ENV["only"]),
            metavar="SIMS",
            help=f"comma-separated sims to run (default: all of {','.join(registry.SIMS)}) [SIMS_ONLY]",
        )
    p.add_argument(
        "--clock",
        choices=["real", "frozen"],
        default=env(ENV["clock"]),
        help="clock mode (default: the world's, normally real) [SIMS_CLOCK]",
    )
    p.add_argument(
        "--control-token",
        default=env(ENV["control_token"]),
        help="bearer token for the control plane (required, and generated if absent, "
        "when listening beyond loopback) [SIMS_CONTROL_TOKEN]",
    )


def _settings(args: argparse.Namespace) -> Settings:
    ports: dict[str, int] = {}
    specs = [s for s in os.environ.get(ENV["port"], "").split(",") if s] + list(args.port)
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not value.strip().isdigit() or int(value) > 65535:
            raise SettingsError(f"--port expects NAME=PORT, got {spec!r}")
        ports[name.strip()] = int(value)
    only = getattr(args, "sim", None) or args.only  # `sims serve SIM` is `sims up --only SIM`
    base = args.base_port
    if base is not None:
        try:
            base = int(base)
        except ValueError:
            raise SettingsError(f"--base-port / SIMS_BASE_PORT expects a number, got {base!r}") from None
    return Settings(
        world=args.world,
        host=args.host,
        advertise_host=args.advertise_host,
        base_port=base,
        ports=ports,
        only=[s.strip() for s in only.split(",") if s.strip()] if only else None,
        clock=args.clock,
        control_token=args.control_token,
        state_dir=getattr(args, "state", None),
        log_level=getattr(args, "log_level", "warning"),
        progress="auto",  # bars on stderr while a big world generates its data
    )


def print_world(world: dict, stream=sys.stdout) -> None:
    """The resolved world as readable tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=max(100, Console(file=stream).width), highlight=False)
    clock = world["clock"]
    console.print(
        f"[bold]world[/] {world['world']}  ({world['source']})  clock {clock['mode']} at {clock['now']}"
    )
    table = Table("service", "url", "what", title="running", title_justify="left")
    control = world["control"]
    note = "control plane (token required)" if control["token_required"] else "control plane"
    table.add_row("control", control["url"], note + "  GET /health, /world, /journal; docs at /docs")
    for name, sim in world["sims"].items():
        table.add_row(name, sim["url"], sim.get("title", ""))
    console.print(table)
    idp = world["sims"].get("idp")
    if idp:
        creds = Table(
            "server",
            "flavour",
            "token endpoint",
            "client",
            "secret / auth",
            "scopes",
            title="OAuth 2.0 authorization servers (idp)",
            title_justify="left",
        )
        for s in idp["authorization_servers"]:
            for c in s["clients"] or [{}]:
                auth = c.get("client_secret") or ", ".join(c.get("auth_methods", []))
                creds.add_row(
                    s["id"],
                    s["flavour"],
                    s["token_endpoint"],
                    c.get("client_id", ""),
                    auth,
                    " ".join(c.get("scopes", [])),
                )
        console.print(creds)
    _print_saml(console, world)
    for section in world.get("declared", {}):
        console.print(f"[dim]{section}: declared in the world, no simulator running yet[/]")
    console.print("[dim]Everything above, as JSON: sims world --json (or GET /world on the control plane)[/]")


def _print_saml(console, world: dict) -> None:
    """Where to sign in with SAML: the IdP's apps and the service providers' login pages."""
    from rich.table import Table

    table = Table("where", "what", "url", title="SAML single sign-on", title_justify="left")
    for d in world["sims"].get("idp", {}).get("directories", []):
        if d.get("web_apps"):
            table.add_row(f"idp {d['id']}", "user portal (IdP-initiated)", d["user_portal_url"])
        for a in d.get("web_apps", []):
            table.add_row(
                f"idp {d['id']}/{a['id']}", f"SAML portal URL -> {a['acs_url']}", a["saml_portal_url"]
            )
    for t in world["sims"].get("zia", {}).get("tenants", []):
        saml = t.get("saml")
        if saml:
            table.add_row(
                f"zia {t['org_id']}", f"sign-in page ({saml['authentication_type']})", saml["login_url"]
            )
    if table.row_count:
        console.print(table)


def cmd_world(args: argparse.Namespace) -> int:
    runtime = plan(_settings(args))
    world = runtime.describe()
    if args.json:
        json.dump(world, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_world(world)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.log_format not in logs.FORMATS:
        raise SettingsError(f"--log-format / SIMS_LOG_FORMAT expects text or json, got {args.log_format!r}")
    handler = logs.configure(settings.log_level, args.log_format)
    server = open_world(settings)
    runtime = server.runtime
    logs.use_clock(handler, runtime.clock.now)
    runtime.journal.log_requests = logging.getLogger("sims.requests").isEnabledFor(logging.INFO)

    def ready() -> None:
        if args.json:
            print(json.dumps(runtime.describe()), flush=True)
        else:
            print_world(runtime.describe())
            if runtime.control_token:
                print(f"control plane token: {runtime.control_token}")
            print("serving; Ctrl-C to stop", flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.request_stop)
        await server.run(on_ready=ready)

    run_loop(main())
    print("stopped", flush=True)
    return 0


def _serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state",
        default=os.environ.get(ENV["state"]),
        metavar="DIR",
        help="keep the world's state in DIR (SQLite): a restart resumes where it stopped, and every "
        "acknowledged change survives a crash [SIMS_STATE]",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=os.environ.get(ENV["json"], "").lower() in ("1", "true", "yes"),
        help="print the resolved world as one JSON line when ready [SIMS_JSON=1]",
    )
    p.add_argument(
        "--log-level",
        default=os.environ.get(ENV["log_level"], "warning"),
        choices=["debug", "info", "warning", "error"],
        help="[SIMS_LOG_LEVEL]",
    )
    p.add_argument(
        "--log-format",
        default=os.environ.get(ENV["log_format"], "text"),
        choices=list(logs.FORMATS),
        help="text: readable lines; json: one JSON object per line, on stderr [SIMS_LOG_FORMAT]",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sims", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sims {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="serve every simulator and the control plane")
    _world_flags(up)
    _serve_flags(up)
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser(
        "serve",
        help="serve one simulator and a control plane of its own (sims up --only SIM; one container per sim)",
    )
    serve.add_argument("sim", choices=list(registry.SIMS), help="the sim to serve")
    _world_flags(serve, only=False)
    _serve_flags(serve)
    serve.set_defaults(func=cmd_up, only=None)

    world = sub.add_parser("world", help="print the resolved world: URLs, credentials, tenants")
    _world_flags(world)
    world.add_argument("--json", action="store_true", help="machine-readable output")
    world.set_defaults(func=cmd_world)

    from sims.saviynt.cli import add_parser as add_connector_parser

    add_connector_parser(sub)  # sims connector run: Saviynt REST connector JSON (sims/saviynt)

    from sims.demo import add_parser as add_demo_parser

    add_demo_parser(sub)  # sims demo NAME: narrated demos against a running world (sims/demo.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (WorldError, SettingsError) as err:
        print(f"sims: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
