"""The Saviynt guide's ZIA and ZPA documents, run by the connector engine against the fake ZIA and
ZPA SCIM of the world (issue 7's proof).

For each of ZIA and ZPA: full account import and access import of the seeded users and groups,
create an account, add access (PATCH add members), remove access (PATCH remove with the value
filter path), remove the account; after each step the fake's state, read back over SCIM, matches,
and the run report shows each request. The guide's RemoveAccessJSON bodies are broken as printed
(fixtures/saviynt/README.md): the scenario shows the failure and its explanation, then removes the
access with the corrected document. Then a wrong token, a wrong base URL, a success code the server
never returns and a malformed binding each give a failed run with an explanation.

The SCIM endpoints come from the resolved world (``sims.info``); until the world lists them, these
tests skip.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from sims.saviynt import engine
from sims.saviynt.provision import Inputs
from sims.saviynt.report import RunReport
from sims.saviynt.store import REMOVED, Store
from sims.saviynt.world import placeholders_from_world, scim_endpoints

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "saviynt"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SIMS = ["zia", "zpa"]


def guide(sim: str, name: str) -> str:
    return (FIXTURES / sim / f"{name}.txt").read_text()


def corrected(sim: str, name: str) -> str:
    return (FIXTURES / "corrected" / sim / f"{name}.json").read_text()


def endpoints_or_skip(info: dict[str, Any], sim: str) -> dict[str, str]:
    found = scim_endpoints(info)
    if sim not in found:
        pytest.skip(
            f"the world lists no SCIM base URL and token for {sim.upper()} yet "
            f"(sims.info['sims']['{sim}'] has no scim base URL): the fake SCIM endpoints of issue 6 "
            "are not wired in"
        )
    return placeholders_from_world(info)


class Scim:
    """Reads the fake's state back over SCIM, as the ground truth for each step."""

    def __init__(self, base: str, access_token: str) -> None:
        self.base = base
        self.headers = {"Authorization": access_token, "Accept": "application/scim+json"}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=10)

    def all(self, resource: str) -> list[dict]:
        out: list[dict] = []
        start = 1
        while True:
            r = self.get(f"/{resource}?startIndex={start}&count=100")
            assert r.status_code == 200, r.text
            page = r.json().get("Resources", [])
            out += page
            if not page or len(out) >= int(r.json().get("totalResults", 0)):
                return out
            start += len(page)

    def users(self) -> dict[str, str]:
        """{userName: id}."""
        return {u["userName"]: u["id"] for u in self.all("Users")}

    def members(self, group_id: str) -> set[str]:
        r = self.get(f"/Groups/{group_id}")
        assert r.status_code == 200, r.text
        return {m["value"] for m in r.json().get("members", [])}

    def post(self, path: str, body: dict) -> dict:
        r = httpx.post(
            self.base + path, headers={**self.headers, "Content-Type": "application/scim+json"}, json=body
        )
        assert r.status_code == 201, r.text
        return r.json()

    def ensure_seeded(self, domain: str = "safemarch.example") -> None:
        """The world is to seed a few users and groups; until it does, seed them over SCIM."""
        if len(self.all("Users")) >= 3 and self.all("Groups"):
            return
        ids = [
            self.post(
                "/Users",
                {"schemas": [USER], "userName": f"{n}@{domain}", "displayName": n.replace(".", " ").title()},
            )["id"]
            for n in ("seed.alice", "seed.bob", "seed.carol")
        ]
        for name, members in (("Seed Users", ids), ("Seed Admins", ids[:1])):
            self.post(
                "/Groups",
                {"schemas": [GROUP], "displayName": name, "members": [{"value": i} for i in members]},
            )

    def memberships(self) -> dict[str, set[str]]:
        """{group id: {user id}} from GET /Groups/{id} (ZPA's list carries no members)."""
        return {g["id"]: self.members(g["id"]) for g in self.all("Groups")}


def run(
    sim: str, placeholders: dict[str, str], steps: list[tuple[str, str]], store: Store, **inputs: Any
) -> RunReport:
    return engine.run(
        guide(sim, "ConnectionJSON"),
        [engine.Step(op, text, op) for op, text in steps],
        store=store,
        inputs=Inputs(**inputs),
        placeholders=placeholders,
    )


def operation(report: RunReport, name: str):
    return next(o for o in report.operations if o.operation == name)


def the_guide_flow(sim: str, placeholders: dict[str, str]) -> None:
    scim = Scim(placeholders[f"{sim}_scim_base"], placeholders[f"{sim}_scim_token"])
    store = Store()

    # Full account and access import.
    scim.ensure_seeded()
    seeded_users = scim.users()
    seeded_groups = {g["id"]: g for g in scim.all("Groups")}
    assert seeded_users and seeded_groups, "the world should seed SCIM users and groups"
    report = run(sim, placeholders, [("import", guide(sim, "ImportAccountEntJSON"))], store)
    imported = operation(report, "import")
    assert report.ok, report.to_json()
    assert [e.method for e in imported.exchanges if e.outcome == "success"][:2] == ["GET", "GET"]
    names = {r["name"]: r["accountID"] for r in store.accounts.values()}
    warnings = " ".join(f.message for f in imported.findings if f.kind == "warning")
    if len(names) < len(seeded_users):
        # The guide's import has no pagination: it sees the first page only, and says so.
        assert "the call has no pagination" in warnings
    assert names.items() <= seeded_users.items()
    assert set(store.entitlements["Entitlement"]) <= set(seeded_groups)
    truth = scim.memberships()
    group_list_has_members = any("members" in g for g in seeded_groups.values())
    expected_links = {
        (a, gid)
        for gid, ms in truth.items()
        for a, acct_id in names.items()
        if acct_id in ms and gid in seeded_groups
    }
    got_links = {(a, e) for a, _t, e in store.links}
    if group_list_has_members:
        assert got_links == expected_links
    else:
        assert not got_links and "has 'members'" in warnings

    # Create an account, in the domain of the seeded users.
    domain = next(iter(seeded_users)).split("@", 1)[1]
    user = {"email": f"saviynt.new@{domain}", "username": "saviynt.new"}
    report = run(sim, placeholders, [("create-account", guide(sim, "CreateAccountJSON"))], store, user=user)
    assert report.ok, report.to_json()
    created = operation(report, "create-account")
    assert [(e.method, e.status) for e in created.exchanges] == [("POST", 201)]
    new_id = scim.users().get(user["email"])
    assert new_id and store.accounts[user["email"]]["accountID"] == new_id

    # Add access: PATCH add members.
    group_id = next(iter(seeded_groups))
    entitlement = {"entitlementID": group_id}
    account = {"name": user["email"]}
    report = run(
        sim,
        placeholders,
        [("add-access", guide(sim, "AddAccessJSON"))],
        store,
        account=account,
        entitlement=entitlement,
    )
    assert report.ok, report.to_json()
    assert operation(report, "add-access").exchanges[0].method == "PATCH"
    assert new_id in scim.members(group_id)
    assert (user["email"], "Entitlement", group_id) in store.links

    # Remove access: the guide's document sends a broken body; the fake refuses it, untouched.
    report = run(
        sim,
        placeholders,
        [("remove-access", guide(sim, "RemoveAccessJSON"))],
        store,
        account=account,
        entitlement=entitlement,
    )
    failed = operation(report, "remove-access")
    assert not failed.ok and failed.exchanges[0].status == 400, report.to_json()
    assert "The server refused the request (400)" in failed.error
    assert new_id in scim.members(group_id)
    # The corrected document: PATCH remove with the value filter path.
    report = engine.run(
        guide(sim, "ConnectionJSON"),
        [engine.Step("remove-access", corrected(sim, "RemoveAccessJSON"))],
        store=store,
        inputs=Inputs(account=account, entitlement=entitlement),
        placeholders=placeholders,
    )
    assert report.ok, report.to_json()
    assert 'members[value eq \\"' in (operation(report, "remove-access").exchanges[0].request_body or "")
    assert new_id not in scim.members(group_id)
    assert (user["email"], "Entitlement", group_id) not in store.links

    # Remove the account.
    report = run(
        sim, placeholders, [("remove-account", guide(sim, "RemoveAccountJSON"))], store, account=account
    )
    assert report.ok, report.to_json()
    assert scim.get(f"/Users/{new_id}").status_code == 404
    assert store.accounts[user["email"]]["status"] == REMOVED


def the_failures(sim: str, placeholders: dict[str, str]) -> None:
    Scim(placeholders[f"{sim}_scim_base"], placeholders[f"{sim}_scim_token"]).ensure_seeded()
    imp = guide(sim, "ImportAccountEntJSON")
    report = run(sim, {**placeholders, f"{sim}_scim_token": "Bearer wrong-token"}, [("import", imp)], Store())
    assert "The server refused the credentials (401)" in operation(report, "import").error

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = placeholders[f"{sim}_scim_base"]
    nowhere = {**placeholders, f"{sim}_scim_base": f"http://127.0.0.1:{port}{httpx.URL(base).path}"}
    report = run(sim, nowhere, [("import", imp)], Store())
    assert f"could not connect to 127.0.0.1:{port}" in operation(report, "import").error

    domain = next(iter(Scim(base, placeholders[f"{sim}_scim_token"]).users())).split("@", 1)[1]
    never = guide(sim, "CreateAccountJSON").replace("201", "299")
    report = run(
        sim,
        placeholders,
        [("create-account", never)],
        Store(),
        user={"email": f"never@{domain}", "username": "never"},
    )
    assert (
        "201, a success status, but the call's rule says failure" in operation(report, "create-account").error
    )

    broken = guide(sim, "RemoveAccountJSON").replace("${account.", "${acount.")
    report = run(sim, placeholders, [("remove-account", broken)], Store(), account={"accountID": "x"})
    err = operation(report, "remove-account").error
    assert "unknown variable 'acount'" in err and "call 'Call11'" in err
    assert not operation(report, "remove-account").exchanges


@pytest.mark.parametrize("sim", SIMS)
def test_the_guide_documents_against_the_fake_scim(sims, sim):
    the_guide_flow(sim, endpoints_or_skip(sims.info, sim))


@pytest.mark.parametrize("sim", SIMS)
def test_failed_runs_explain_themselves(sims, sim):
    the_failures(sim, endpoints_or_skip(sims.info, sim))
