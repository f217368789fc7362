"""The run report: every HTTP exchange of a run, which rule decided it, and what went wrong.

A user reads it to see why their JSON fails, so each failure carries one precise explanation and
each oddity of the documents is a ``Finding`` that says what the engine (and the product) did.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

SECRET_HEADERS = {"authorization", "cookie", "x-api-key", "apikey", "api-key", "proxy-authorization"}
BODY_LIMIT = 65_536


def redact(name: str, value: str) -> str:
    """Enough of a credential to see its shape (scheme, prefix, length), not to reuse it."""
    if name.lower() not in SECRET_HEADERS or not value:
        return value
    scheme, sep, rest = value.partition(" ")
    if not (sep and scheme.isalpha() and rest):
        scheme, rest = "", value
    shown = rest[: min(4, len(rest) // 3)]  # never more than a third of the secret
    return f"{scheme + ' ' if scheme else ''}{shown}…({len(rest)} chars)"


def clip(text: str | None, limit: int = BODY_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


@dataclass
class Finding:
    """Something about a document. ``kind``: ``repair`` (the engine fixed what the product's
    parser would refuse), ``oddity`` (tolerated, as the product tolerates it) or ``warning``."""

    kind: str
    document: str
    message: str
    where: str = ""

    def describe(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"[{self.kind}] {self.document}: {where}{self.message}"


@dataclass
class Exchange:
    operation: str
    document: str
    call: str
    purpose: str
    method: str
    url: str
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float | None = None
    error: str | None = None  # transport failure: no response
    outcome: str = ""  # success | failure | refresh
    rule: str = ""  # the rule that decided the outcome

    def line(self) -> str:
        answer = f"{self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{self.method} {self.url} -> {answer}"


@dataclass
class OperationResult:
    operation: str  # import, create-account, add-access, ...
    document: str  # ImportAccountEntJSON, ...
    source: str = ""
    ok: bool = True
    error: str | None = None
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def fail(self, message: str) -> OperationResult:
        self.ok = False
        self.error = message
        return self

    @property
    def repairs(self) -> int:
        return sum(1 for f in self.findings if f.kind == "repair")


@dataclass
class RunReport:
    operations: list[OperationResult] = field(default_factory=list)
    store: Any = None  # sims.saviynt.store.Store
    placeholders: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(op.ok for op in self.operations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "placeholders": {
                k: redact("authorization", v) if "token" in k else v for k, v in self.placeholders.items()
            },
            "operations": [asdict(op) for op in self.operations],
            "store": self.store.to_dict() if self.store is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Printing


def _body_preview(text: str | None, limit: int) -> str:
    if not text:
        return ""
    with contextlib.suppress(ValueError, TypeError):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f" … ({len(text)} chars)"


def print_report(report: RunReport, console: Any, *, verbose: bool = False) -> None:
    """The report for people: per operation its findings, each request and its verdict."""
    from rich.markup import escape

    kind_style = {"repair": "magenta", "oddity": "cyan", "warning": "yellow"}
    shown: dict[tuple[str, str], list[str]] = {}
    for op in report.operations:
        verdict = "[green]OK[/]" if op.ok else "[red bold]FAILED[/]"
        source = f"  ({escape(op.source)})" if op.source else ""
        console.rule(f"[bold]{op.operation}[/] {op.document}{source}  {verdict}", align="left")
        texts = [f.describe() for f in op.findings]
        if texts and shown.get((op.document, op.source)) == texts:  # the reimport of the same document
            console.print(f"  [dim]the same {len(texts)} finding(s) as above[/]")
        for f in op.findings if shown.get((op.document, op.source)) != texts else []:
            where = f"{escape(f.where)}: " if f.where else ""
            console.print(f"  [{kind_style.get(f.kind, 'white')}]{f.kind:7}[/] {where}{escape(f.message)}")
        for n, ex in enumerate(op.exchanges, 1):
            mark = {"success": "[green]✓[/]", "failure": "[red]✗[/]", "refresh": "[yellow]↻[/]"}.get(
                ex.outcome, "·"
            )
            status = (
                f"[bold]{ex.status}[/]"
                if ex.status is not None
                else f"[red]no answer[/] ({escape(ex.error or '')})"
            )
            took = f" {ex.elapsed_ms:.0f} ms" if ex.elapsed_ms is not None else ""
            console.print(
                f"  {n:>3} {mark} [dim]{escape(ex.call)} · {escape(ex.purpose)}[/]  "
                f"{escape(ex.method)} {escape(ex.url)} -> {status}{took}"
            )
            if ex.rule:
                console.print(f"        [dim]rule:[/] {escape(ex.rule)}")
            show_bodies = verbose or ex.outcome != "success" or ex.method not in ("GET",)
            limit = 20000 if verbose else 600
            if verbose:
                headers = ", ".join(f"{k}: {v}" for k, v in ex.request_headers.items())
                console.print(f"        [dim]headers:[/] {escape(headers)}")
            if show_bodies and ex.request_body:
                console.print(f"        [dim]sent:[/] {escape(_body_preview(ex.request_body, limit))}")
            if show_bodies and ex.response_body:
                console.print(f"        [dim]got:[/]  {escape(_body_preview(ex.response_body, limit))}")
        if op.summary:
            console.print(f"  [bold]result:[/] {escape(op.summary)}")
        if op.error:
            console.print(f"  [red bold]why it failed:[/] {escape(op.error)}")
        shown[(op.document, op.source)] = texts
        if op.repairs and op.operation != "reimport":
            console.print(
                f"  [magenta]{op.repairs} repair(s) were needed to read this document: the real product's "
                "JSON parser would refuse it as written; fix them before production.[/]"
            )
    total = len(report.operations)
    failed = sum(1 for op in report.operations if not op.ok)
    if failed:
        console.print(f"[red bold]run failed[/]: {failed} of {total} operation(s) failed")
    else:
        console.print(f"[green bold]run succeeded[/]: {total} operation(s)")
