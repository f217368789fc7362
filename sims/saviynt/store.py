"""An in-memory EIC-like store: accounts, entitlements per type, account-entitlement links, users.

What an import writes and provisioning updates, as Saviynt EIC keeps it for one endpoint. It is
plain data (``to_dict`` / ``from_dict``) so that the CLI can keep it in a file between runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sims.saviynt import expr

ACTIVE = "Active"
SUSPENDED = "Suspended from Import Service"  # accounts missing from a full import
INACTIVE = "Inactive"  # entitlements missing from a full import
REMOVED = "Removed"
DISABLED = "Disabled"
STATUS = "status"


@dataclass
class Store:
    account_key: str = "accountID"  # the import's accountParams keyField
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    entitlements: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # type -> id -> record
    links: set[tuple[str, str, str]] = field(default_factory=set)  # (account key, type, entitlementID)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_key": self.account_key,
            "accounts": self.accounts,
            "entitlements": self.entitlements,
            "links": [
                {"account": a, "entitlement_type": t, "entitlementID": e} for a, t, e in sorted(self.links)
            ],
            "users": self.users,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Store:
        return cls(
            account_key=data.get("account_key", "accountID"),
            accounts=dict(data.get("accounts", {})),
            entitlements={t: dict(v) for t, v in data.get("entitlements", {}).items()},
            links={
                (li["account"], li["entitlement_type"], li["entitlementID"]) for li in data.get("links", [])
            },
            users=dict(data.get("users", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> Store:
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: not an EIC store file ({type(err).__name__}: {err})") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    # -- lookups

    def key_of(self, record: dict[str, Any]) -> str | None:
        value = record.get(self.account_key)
        if value is None and self.account_key != "accountID":
            value = record.get("accountID")
        return None if value is None else expr.to_text(value)

    def find_account(self, query: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The account matching every given field (accountID, name, ...), or the store key."""
        if not query:
            return None
        for key, record in self.accounts.items():
            if all(
                expr.to_text(record.get(k)) == expr.to_text(v)
                or (k in ("key", self.account_key) and key == v)
                for k, v in query.items()
            ):
                return key, record
        return None

    def find_entitlement(self, query: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        wanted_type = query.get("entitlementtype") or query.get("entitlement_type")
        fields = {k: v for k, v in query.items() if k not in ("entitlementtype", "entitlement_type")}
        for ent_type, records in self.entitlements.items():
            if wanted_type and ent_type != wanted_type:
                continue
            for ent_id, record in records.items():
                if fields and all(expr.to_text(record.get(k)) == expr.to_text(v) for k, v in fields.items()):
                    return ent_type, ent_id, record
        return None

    def account_entitlements(self, account_key: str) -> list[dict[str, Any]]:
        out = []
        for a, t, e in sorted(self.links):
            if a == account_key:
                record = self.entitlements.get(t, {}).get(e, {"entitlementID": e})
                out.append({**record, "entitlementtype": t})
        return out

    def members(self, ent_type: str, ent_id: str) -> list[str]:
        return sorted(a for a, t, e in self.links if t == ent_type and e == ent_id)

    # -- writes

    def replace_links(self, ent_types: Iterable[str], links: Iterable[tuple[str, str, str]]) -> None:
        types = set(ent_types)
        self.links = {li for li in self.links if li[1] not in types} | set(links)

    def add_link(self, account_key: str, ent_type: str, ent_id: str) -> None:
        self.links.add((account_key, ent_type, ent_id))

    def remove_link(self, account_key: str, ent_type: str, ent_id: str) -> None:
        self.links.discard((account_key, ent_type, ent_id))

    def drop_account_links(self, account_key: str) -> None:
        self.links = {li for li in self.links if li[0] != account_key}

    # -- printing

    def print_tables(self, console: Any, *, limit: int = 200) -> None:
        from rich.table import Table

        extra_cols = sorted(
            {c for r in self.accounts.values() for c in r if c.startswith("customproperty")},
            key=lambda c: (len(c), c),
        )
        t = Table(title=f"EIC accounts ({len(self.accounts)}; key: {self.account_key})", title_justify="left")
        for c in ["accountID", "name", "displayName", STATUS, *extra_cols, "entitlements"]:
            t.add_column(c, overflow="fold")
        counts: dict[str, int] = {}
        for a, _t, _e in self.links:
            counts[a] = counts.get(a, 0) + 1
        for key, r in list(self.accounts.items())[:limit]:
            t.add_row(
                *[_cell(r.get(c)) for c in ["accountID", "name", "displayName", STATUS, *extra_cols]],
                str(counts.get(key, 0)),
            )
        console.print(t)
        for ent_type, records in self.entitlements.items():
            et = Table(title=f"EIC entitlements: {_cell(ent_type)} ({len(records)})", title_justify="left")
            for c in ["entitlementID", "entitlement_value", STATUS, "members"]:
                et.add_column(c, overflow="fold")
            for ent_id, r in list(records.items())[:limit]:
                et.add_row(
                    _cell(ent_id),
                    _cell(r.get("entitlement_value")),
                    _cell(r.get(STATUS)),
                    str(len(self.members(ent_type, ent_id))),
                )
            console.print(et)
        lt = Table(title=f"EIC account entitlements ({len(self.links)})", title_justify="left")
        for c in ["account", "entitlement type", "entitlement_value", "entitlementID"]:
            lt.add_column(c, overflow="fold")
        for a, ent_type, ent_id in sorted(self.links)[:limit]:
            value = self.entitlements.get(ent_type, {}).get(ent_id, {}).get("entitlement_value")
            lt.add_row(_cell(a), _cell(ent_type), _cell(value), _cell(ent_id))
        console.print(lt)
        if self.users:
            ut = Table(title=f"EIC users ({len(self.users)})", title_justify="left")
            for c in ["username", "email", "displayname", "source"]:
                ut.add_column(c)
            for name, u in list(self.users.items())[:limit]:
                ut.add_row(
                    _cell(name), _cell(u.get("email")), _cell(u.get("displayname")), _cell(u.get("source"))
                )
            console.print(ut)


def _cell(value: Any) -> str:
    from rich.markup import escape

    return "" if value is None else escape(expr.to_text(value))
