"""One run: a ConnectionJSON and the documents of the operations asked for, in lifecycle order,
against real HTTP servers, into an EIC store, with a report of everything that happened.

A failed operation stops the run (later operations usually depend on it) unless ``keep_going``.
Every failure ends as an ``OperationResult`` with an explanation, never as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from sims.saviynt.documents import (
    PROVISIONING,
    Connection,
    DocumentError,
    parse_connection,
    parse_import,
    parse_provisioning,
)
from sims.saviynt.importer import Importer
from sims.saviynt.provision import Inputs, Provisioner
from sims.saviynt.report import OperationResult, RunReport
from sims.saviynt.session import BindingError, CallFailed, Session
from sims.saviynt.store import Store

ORDER = ["import", *PROVISIONING, "reimport"]
INPUT_HINTS = {
    "user": ". No user was given: pass --user email=... username=...",
    "account": ". No account was given: pass --account name=...",
    "entitlementValue": ". No entitlement was given: pass --entitlement entitlement_value=...",
}


@dataclass
class Step:
    operation: str  # import | create-account | ... | reimport
    text: str
    source: str = "<string>"


def _document_name(operation: str) -> str:
    return "ImportAccountEntJSON" if operation in ("import", "reimport") else PROVISIONING[operation]


def run(
    connection_text: str,
    steps: list[Step],
    *,
    store: Store | None = None,
    inputs: Inputs | None = None,
    placeholders: Mapping[str, str] | None = None,
    strict: bool = False,
    keep_going: bool = False,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
    connection_source: str = "<string>",
) -> RunReport:
    """Run ``steps`` (sorted into lifecycle order) and return the report; ``store`` is updated."""
    store = store if store is not None else Store()
    inputs = inputs or Inputs()
    report = RunReport(store=store, placeholders=dict(placeholders or {}))
    conn_result = OperationResult("connection", "ConnectionJSON", connection_source)
    report.operations.append(conn_result)
    try:
        connection: Connection = parse_connection(connection_text, strict=strict, placeholders=placeholders)
    except DocumentError as err:
        conn_result.fail(str(err))
        return report
    except Exception as err:  # a bug of the engine: still a report
        conn_result.fail(f"ConnectionJSON: internal error of the engine ({type(err).__name__}: {err})")
        return report
    conn_result.findings = connection.findings
    conn_result.summary = "authentications: " + ", ".join(
        f"{a.name} ({a.auth_type})" for a in connection.auths.values()
    )
    session = Session(connection, client=client, timeout=timeout, strict=strict)
    last_account = None
    try:
        for step in sorted(steps, key=lambda s: ORDER.index(s.operation)):
            document = _document_name(step.operation)
            result = OperationResult(step.operation, document, step.source)
            report.operations.append(result)
            try:
                if step.operation in ("import", "reimport"):
                    doc = parse_import(step.text, strict=strict, placeholders=placeholders)
                    result.findings.extend(doc.findings)
                    variables = dict(inputs.variables)
                    Importer(doc, session, store, result, variables).run()
                    if step.operation == "reimport":
                        result.summary = "re-" + result.summary
                else:
                    pdoc = parse_provisioning(document, step.text, strict=strict, placeholders=placeholders)
                    result.findings.extend(pdoc.findings)
                    last_account = Provisioner(
                        pdoc, step.operation, session, store, result, inputs, last_account
                    ).run()
            except DocumentError as err:
                result.fail(str(err))
            except BindingError as err:
                hint = next((h for var, h in INPUT_HINTS.items() if f"({var} is null" in err.message), "")
                result.fail(err.describe() + hint + " (no request was sent for this call)")
            except CallFailed as err:
                prefix = "" if str(err).startswith(document) else f"{document}: "
                tail = " The EIC store is unchanged." if step.operation in ("import", "reimport") else ""
                result.fail(f"{prefix}{err}{tail}")
            except Exception as err:  # a bug of the engine: still a report, with what is known
                what = f"{type(err).__name__}: {err}"
                result.fail(f"{document}: internal error of the engine ({what}); please report it")
            if not result.ok and not keep_going:
                break
    finally:
        session.close()
    return report
