"""``sims connector run``: run Saviynt REST connector JSON against a world (or any server).

    sims connector run --world-url http://127.0.0.1:7400 \\
        --connection fixtures/saviynt/zia/ConnectionJSON.json \\
        --import fixtures/saviynt/zia/ImportAccountEntJSON.json \\
        --create fixtures/saviynt/zia/CreateAccountJSON.json \\
        --user email=dana@safemarch.example username=dana \\
        --add-access fixtures/saviynt/zia/AddAccessJSON.json --entitlement "entitlement_value=Zscaler Users"

Operations run in lifecycle order whatever the order of the flags: import, create, update,
enable, disable, add access, remove access, remove account, reimport. Exit status 0 when every
operation succeeded, 1 when one failed (the report says why), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

OPERATION_FLAGS = [
    ("import", "--import", "ImportAccountEntJSON: import accounts, entitlements and their links"),
    ("create-account", "--create", "CreateAccountJSON"),
    ("update-account", "--update", "UpdateAccountJSON"),
    ("enable-account", "--enable", "EnableAccountJSON"),
    ("disable-account", "--disable", "DisableAccountJSON"),
    ("add-access", "--add-access", "AddAccessJSON"),
    ("remove-access", "--remove-access", "RemoveAccessJSON"),
    ("remove-account", "--remove-account", "RemoveAccountJSON"),
]


class UsageError(ValueError):
    pass


def add_parser(sub: Any) -> None:
    """Register ``connector`` (with ``run``) on the ``sims`` subparsers."""
    connector = sub.add_parser("connector", help="run Saviynt REST connector JSON against a world")
    csub = connector.add_subparsers(dest="connector_command", required=True)
    p = csub.add_parser(
        "run",
        help="run a ConnectionJSON with import / provisioning documents",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--connection",
        required=True,
        metavar="FILE",
        help="ConnectionJSON (a file, '-' for stdin, or the JSON text)",
    )
    for operation, flag, what in OPERATION_FLAGS:
        p.add_argument(flag, dest=operation.replace("-", "_"), metavar="FILE", help=what)
    p.add_argument("--reimport", action="store_true", help="run the import document again at the end")
    p.add_argument(
        "--user",
        action="extend",
        nargs="+",
        default=[],
        metavar="JSON|K=V",
        help="the EIC user (binds ${user.*}); repeatable",
    )
    p.add_argument(
        "--account",
        action="extend",
        nargs="+",
        default=[],
        metavar="JSON|K=V",
        help="the account (looked up in the store by any field given)",
    )
    p.add_argument(
        "--entitlement",
        action="extend",
        nargs="+",
        default=[],
        metavar="JSON|K=V",
        help="the entitlement value (looked up in the store)",
    )
    p.add_argument(
        "--account-name", help="accountName of a new account (default: the user's username, else email)"
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another binding variable (password, requestid, approvers...; VALUE may be JSON)",
    )
    p.add_argument(
        "--action",
        help="the action to run of an UpdateAccountJSON / DisableAccountJSON written with 'actions'",
    )
    p.add_argument(
        "--world-url",
        default=os.environ.get("SIMS_WORLD_URL"),
        help="control plane of a running world: fills {{zia_scim_base}}, {{zia_scim_token}}, "
        "{{zpa_...}} [SIMS_WORLD_URL]",
    )
    p.add_argument(
        "--control-token",
        default=os.environ.get("SIMS_CONTROL_TOKEN"),
        help="control plane token [SIMS_CONTROL_TOKEN]",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a {{placeholder}} value (wins over the world's)",
    )
    p.add_argument(
        "--store", metavar="FILE", help="keep the EIC store in FILE: loaded before, saved after the run"
    )
    p.add_argument(
        "--strict", action="store_true", help="read documents as a strict JSON parser would: no repairs"
    )
    p.add_argument("--keep-going", action="store_true", help="run the next operations after a failure")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer (default 30)")
    p.add_argument("--json", action="store_true", help="print the run report and the store as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="show every header and body")
    p.add_argument("--no-tables", action="store_true", help="do not print the store tables")
    p.set_defaults(func=cmd_run)


def _text(arg: str, what: str) -> tuple[str, str]:
    """(text, source) of a document argument: '-' is stdin, '{...' is the JSON itself."""
    if arg == "-":
        return sys.stdin.read(), "<stdin>"
    if arg.lstrip().startswith("{"):
        return arg, "<argument>"
    path = Path(arg)
    if not path.is_file():
        raise UsageError(f"{what}: no such file {arg!r}")
    try:
        return path.read_text(encoding="utf-8-sig"), arg
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{what}: cannot read {arg!r}: {err}") from None


def parse_fields(items: list[str], what: str) -> dict[str, Any] | None:
    """Merge JSON objects and key=value pairs (a value that parses as JSON is taken as JSON)."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                value = json.loads(item)
            except ValueError as err:
                raise UsageError(f"{what}: not a JSON object: {err}") from None
            if not isinstance(value, dict):
                raise UsageError(f"{what}: expected a JSON object")
            out.update(value)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what}: expected KEY=VALUE or a JSON object, got {item!r}")
        out[key.strip()] = value
    return out


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what}: expected NAME=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sims.saviynt import engine
    from sims.saviynt.provision import Inputs, parse_inputs_value
    from sims.saviynt.report import print_report
    from sims.saviynt.store import Store
    from sims.saviynt.world import WorldLookupError, fetch_world, placeholders_from_world

    try:
        connection_text, connection_source = _text(args.connection, "--connection")
        steps = []
        import_text = None
        for operation, flag, _what in OPERATION_FLAGS:
            arg = getattr(args, operation.replace("-", "_"))
            if arg:
                text, source = _text(arg, flag)
                steps.append(engine.Step(operation, text, source))
                if operation == "import":
                    import_text = (text, source)
        if args.reimport:
            if import_text is None:
                raise UsageError("--reimport needs --import")
            steps.append(engine.Step("reimport", *import_text))
        if not steps:
            raise UsageError(
                "nothing to run: give --import and/or a provisioning document (--create, --add-access...)"
            )
        variables = {k: parse_inputs_value(v) for k, v in _pairs(args.var, "--var").items()}
        inputs = Inputs(
            user=parse_fields(args.user, "--user"),
            account=parse_fields(args.account, "--account"),
            entitlement=parse_fields(args.entitlement, "--entitlement"),
            account_name=args.account_name,
            variables=variables,
            action=args.action,
        )
        placeholders: dict[str, str] = {}
        if args.world_url:
            placeholders.update(placeholders_from_world(fetch_world(args.world_url, args.control_token)))
        placeholders.update(_pairs(args.set, "--set"))
        store = Store.load(args.store) if args.store else Store()
    except (UsageError, WorldLookupError, ValueError) as e:
        print(f"sims connector: {e}", file=sys.stderr)
        return 2
    report = engine.run(
        connection_text,
        steps,
        store=store,
        inputs=inputs,
        placeholders=placeholders,
        strict=args.strict,
        keep_going=args.keep_going,
        timeout=args.timeout,
        connection_source=connection_source,
    )
    if args.store:
        try:
            store.save(args.store)
        except OSError as e:
            print(f"sims connector: cannot save the store to {args.store}: {e}", file=sys.stderr)
            return 2
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        out = Console(highlight=False, width=max(120, Console().width))
        print_report(report, out, verbose=args.verbose)
        if not args.no_tables:
            store.print_tables(out)
    return 0 if report.ok else 1
