"""Provisioning: the ``call`` arrays of CreateAccountJSON, AddAccessJSON, RemoveAccessJSON,
RemoveAccountJSON, UpdateAccountJSON, EnableAccountJSON and DisableAccountJSON (reference §1.5).

Calls run in order and the first failure stops the task. Each call's parsed response is visible
to the later ones as ``response.<name>.message`` (and ``response.<name><n>`` for the n-th call of a
name). Access calls are those named after the entitlement type of the task. On success the store
changes as EIC's would: the new account (``accountIdPath``, ``responseColsToPropsMap``), a link
added or removed, an account removed, disabled or enabled.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from sims.saviynt import expr, lenient
from sims.saviynt.documents import ProvCall, ProvisioningDoc
from sims.saviynt.paths import convert, get_path
from sims.saviynt.report import Finding, OperationResult
from sims.saviynt.session import CallFailed, HeaderMap, Request, Session, bind, json_body
from sims.saviynt.store import ACTIVE, DISABLED, REMOVED, STATUS, Store

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
# Binding variables the guide lists for the provisioning documents, bound to null unless given.
GUIDE_VARIABLES = (
    "ServiceAccountOwnerMap", "endpoints", "userManager", "approvers", "arsTasks", "task",
    "managerAccount", "password", "requestid", "userAccount", "requestAccessAttributes", "reqAttrs",
    "businessJustification",
)  # fmt: skip


@dataclass
class Inputs:
    """What a provisioning task knows: the EIC user, the account, the entitlement value, and any
    other binding variable (password, requestid, approvers...)."""

    user: dict[str, Any] | None = None
    account: dict[str, Any] | None = None
    entitlement: dict[str, Any] | None = None
    account_name: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    action: str | None = None


class Provisioner:
    def __init__(
        self,
        doc: ProvisioningDoc,
        operation: str,
        session: Session,
        store: Store,
        op: OperationResult,
        inputs: Inputs,
        last_account: dict[str, Any] | None,
    ) -> None:
        self.doc = doc
        self.operation = operation
        self.session = session
        self.store = store
        self.op = op
        self.inputs = inputs
        self.last_account = last_account
        self._seen: set[str] = set()
        self._body_findings: list[Finding] = []  # findings of the body being built (once per call)

    def warn(self, message: str, where: str = "") -> None:
        if (message + where) not in self._seen:
            self._seen.add(message + where)
            self.op.findings.append(Finding("warning", self.doc.kind, message, where))

    # -- what the task is about

    def account(self) -> tuple[str | None, dict[str, Any]]:
        """(store key or None, account record) the task works on."""
        given = self.inputs.account
        if given:
            found = self.store.find_account(given)
            if found:
                key, rec = found
                return key, {**rec, **given}
            hint = (
                " (the EIC store has no accounts: run the import first, or pass accountID)"
                if not self.store.accounts
                else ""
            )
            self.warn(f"no account in the EIC store matches {given}; using the fields given{hint}")
            return None, dict(given)
        if self.last_account is not None:
            return self.store.key_of(self.last_account), dict(self.last_account)
        raise CallFailed(
            f"{self.doc.kind} needs an account: pass --account name=... (or accountID=...), "
            "or create one earlier in the run"
        )

    def entitlement(self) -> tuple[str | None, str | None, dict[str, Any]]:
        given = self.inputs.entitlement
        if not given:
            raise CallFailed(
                f"{self.doc.kind} needs an entitlement value: pass --entitlement entitlement_value=... "
                "(or entitlementID=...)"
            )
        found = self.store.find_entitlement(given)
        if found:
            ent_type, ent_id, rec = found
            return ent_type, ent_id, {**rec, **given, "entitlementtype": ent_type}
        ent_type = given.get("entitlementtype") or given.get("entitlement_type")
        self.warn(f"no entitlement in the EIC store matches {given}; using the fields given")
        ent_id = given.get("entitlementID")
        return ent_type, (expr.to_text(ent_id) if ent_id is not None else None), dict(given)

    def calls(self, ent_type: str | None) -> tuple[list[ProvCall], str | None]:
        calls = self.doc.calls
        if self.doc.actions:
            action = self.inputs.action
            if action is None and len(self.doc.actions) == 1:
                action = next(iter(self.doc.actions))
            if action not in self.doc.actions:
                raise CallFailed(
                    f"{self.doc.kind} has actions {', '.join(self.doc.actions)}: choose one with --action"
                )
            calls = self.doc.actions[action]
        if self.operation not in ("add-access", "remove-access"):
            return calls, ent_type
        names = list(dict.fromkeys(c.name for c in calls))
        if ent_type is None:
            if len(names) == 1:
                return calls, names[0]
            raise CallFailed(
                f"the entitlement's type is unknown and {self.doc.kind} has calls for {', '.join(names)}: "
                "pass --entitlement entitlementtype=..."
            )
        chosen = [c for c in calls if c.name == ent_type]
        if not chosen:
            raise CallFailed(
                f"{self.doc.kind} has no call named '{ent_type}', the entitlement type of this task "
                f"(its calls: {', '.join(names)}). Saviynt runs the calls named after the entitlement type."
            )
        return chosen, ent_type

    # -- running

    def variables(
        self, account: dict[str, Any] | None, entitlement: dict[str, Any] | None, key: str | None
    ) -> dict[str, Any]:
        user = self.inputs.user
        if user is None and account is not None and account.get("name") in self.store.users:
            user = self.store.users[account["name"]]
        v: dict[str, Any] = dict.fromkeys(GUIDE_VARIABLES)
        v.update(
            user=user,
            account=account,
            entitlementValue=entitlement,
            accountName=self.inputs.account_name or (account or {}).get("name"),
            account_entitlements=self.store.account_entitlements(key) if key else [],
            accounts=[account] if account else [],
        )
        v.update(self.inputs.variables)
        return v

    def body(
        self, call: ProvCall, variables: dict[str, Any], notes: list[str]
    ) -> tuple[str | None, str | None]:
        if not call.params:
            return None, call.content_type
        text = bind(
            call.params, variables, document=self.doc.kind, call=call.name, where="httpParams", notes=notes
        )
        ctype = (call.content_type or "").lower()
        if "x-www-form-urlencoded" in ctype or "multipart" in ctype:
            try:
                value, _ = lenient.read_json(text, lenient=not self.session.strict)
            except lenient.JsonReadError:
                value = None
            if isinstance(value, dict):
                return urllib.parse.urlencode(
                    {k: expr.to_text(x) for k, x in value.items()}, quote_via=urllib.parse.quote
                ), ("application/x-www-form-urlencoded")
            return text, call.content_type
        if "json" in ctype or (not ctype and text.lstrip()[:1] in "{["):
            return json_body(
                text,
                strict=self.session.strict,
                document=self.doc.kind,
                call=call.name,
                findings=self._body_findings,
            ), call.content_type
        return text, call.content_type

    def run(self) -> dict[str, Any] | None:
        """Run the task; the account record it leaves (for the next operation of the run)."""
        if self.operation == "create-account":
            user = self.inputs.user or {}
            name = self.inputs.account_name or user.get("username") or user.get("email")
            key, account = None, {"name": name}
        else:
            key, account = self.account()
        ent_type = ent_id = None
        entitlement = None
        if self.operation in ("add-access", "remove-access"):
            ent_type, ent_id, entitlement = self.entitlement()
        calls, ent_type = self.calls(ent_type)
        base = self.variables(account, entitlement, key)
        responses: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for n, call in enumerate(calls, 1):
            auth = self.session.resolve_auth(
                call.connection, None, document=self.doc.kind, where=call.where, op=self.op
            )
            notes: list[str] = []

            def build(token_vars: dict[str, Any], call=call, notes=notes) -> Request:
                variables = {**base, **token_vars, "response": responses}
                kind, name = self.doc.kind, call.name
                url = bind(call.url, variables, document=kind, call=name, where="url", notes=notes)
                method = (
                    bind(call.method, variables, document=kind, call=name, where="httpMethod", notes=notes)
                    .strip()
                    .upper()
                )
                if method not in METHODS:
                    raise CallFailed(f"{kind}, call '{name}': httpMethod is {method!r}, not an HTTP method")
                headers = {
                    k: bind(v, variables, document=kind, call=name, where=f"httpHeaders.{k}", notes=notes)
                    for k, v in call.headers.items()
                }
                self._body_findings = []
                body, ctype = self.body(call, variables, notes)
                if body is not None and ctype and not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = ctype
                return Request(method, url, headers, body)

            outcome = self.session.call(
                self.op, document=self.doc.kind, call=call.name, purpose=f"call {n} of {len(calls)}",
                auth=auth, build=build, success=call.success, unsuccess=call.unsuccess,
            )  # fmt: skip
            for f in self._body_findings:
                if f.message not in {x.message for x in self.op.findings}:
                    self.op.findings.append(f)
            for note in notes:
                self.warn(f"binding read null: {note}", f"call '{call.name}'")
            if outcome.response is not None:
                r = outcome.response
                entry = {
                    "message": r.json if r.is_json else r.text,
                    "statusCode": r.status,
                    "headers": HeaderMap(r.headers),
                }
                counts[call.name] = counts.get(call.name, 0) + 1
                responses[call.name] = entry
                responses[f"{call.name}{counts[call.name]}"] = entry
            if not outcome.ok:
                raise CallFailed(f"call '{call.name}' ({n} of {len(calls)}): {outcome.explanation}")
        return self.apply(key, account, ent_type, ent_id, responses)

    # -- effects on the store

    def response_columns(self, responses: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for col in self.doc.response_columns:
            found, value = get_path(responses, col.source)
            if not found:
                self.warn(f"responseColsToPropsMap.{col.column}: nothing at '{col.source}' in the responses")
                continue
            stored, problem = convert(value, col.type, self.doc.date_format)
            if problem:
                self.warn(f"responseColsToPropsMap.{col.column}: {problem}")
            out[col.column] = stored
        return out

    def apply(
        self,
        key: str | None,
        account: dict[str, Any],
        ent_type: str | None,
        ent_id: str | None,
        responses: dict[str, Any],
    ) -> dict[str, Any] | None:
        store = self.store
        op = self.operation
        if op == "create-account":
            rec = {**account, STATUS: ACTIVE}
            if self.doc.account_id_path:
                found, value = get_path(responses, self.doc.account_id_path)
                if found and value is not None:
                    rec["accountID"] = expr.to_text(value)
                else:
                    self.warn(
                        f"accountIdPath '{self.doc.account_id_path}' found nothing in the responses "
                        f"(calls: {', '.join(k for k in responses if not k[-1:].isdigit())}): "
                        "the account has no accountID"
                    )
            rec.update(self.response_columns(responses))
            new_key = store.key_of(rec) or expr.to_text(rec.get("name"))
            store.accounts[new_key] = rec
            self.op.summary = f"account {new_key!r} created (accountID {rec.get('accountID')})"
            return rec
        if key is None:
            self.op.summary = (
                f"{op} done on the target; the account is not in the EIC store, so the store is unchanged"
            )
            return account
        rec = store.accounts[key]
        if op == "update-account":
            rec.update(self.response_columns(responses))
            self.op.summary = f"account {key!r} updated"
        elif op == "enable-account":
            rec[STATUS] = ACTIVE
            self.op.summary = f"account {key!r} enabled"
        elif op == "disable-account":
            rec[STATUS] = DISABLED
            self.op.summary = f"account {key!r} disabled"
        elif op == "remove-account":
            rec[STATUS] = REMOVED
            store.drop_account_links(key)
            self.op.summary = f"account {key!r} removed"
        elif op in ("add-access", "remove-access"):
            assert ent_type is not None
            if ent_id is None:
                self.warn("the entitlement has no entitlementID: the store link is not recorded")
            elif op == "add-access":
                store.add_link(key, ent_type, ent_id)
                self.op.summary = f"{ent_type} {ent_id!r} added to account {key!r}"
            else:
                store.remove_link(key, ent_type, ent_id)
                self.op.summary = f"{ent_type} {ent_id!r} removed from account {key!r}"
        return rec


def parse_inputs_value(text: str) -> Any:
    """A --var value: JSON when it parses, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text
