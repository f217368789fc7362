"""``sims demo NAME``: narrated demos against a running world (issue 8).

Each demo finds the world through its control plane (``GET /world``), drives the guide's flow over the
public APIs (control plane, the sims' HTTP APIs, the Saviynt engine) and narrates every step with rich:
a heading, what is being done in plain words, and a small table of the result. The sim clock is
advanced through the control plane, never waited for; the only real pauses are short presentation
pauses between steps, skipped with ``--fast``. The world stays usable; ``POST /reset`` on the control
plane puts it back to its start.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sims.control import ControlClient, ControlError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saviynt"
SOC = "soc@safemarch.example"


class DemoError(RuntimeError):
    pass


class Narrator:
    """Headings, plain-words narration, tables and a spinner while the sim clock moves."""

    def __init__(self, console: Console, fast: bool, pause: float = 0.5) -> None:
        self.console = console
        self.fast = fast
        self.pause_seconds = pause
        self.number = 0

    def pause(self) -> None:
        if not self.fast:
            time.sleep(self.pause_seconds)  # presentation only: the sims run on their own clock

    def title(self, text: str, subtitle: str) -> None:
        self.console.rule(f"[bold magenta]{escape(text)}[/]")
        self.console.print(f"[dim]{escape(subtitle)}[/]")

    def step(self, heading: str) -> None:
        self.pause()
        self.number += 1
        self.console.print()
        self.console.rule(f"[bold cyan]Step {self.number}. {escape(heading)}[/]", align="left")

    def say(self, text: str) -> None:
        self.console.print(escape(text))

    def ok(self, text: str) -> None:
        self.console.print(f"[green]✓[/] {escape(text)}")

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        t = Table(*columns, title=escape(title), title_justify="left")
        for row in rows:
            t.add_row(*[escape("" if v is None else str(v)) for v in row])
        self.console.print(t)

    def advance(self, control: ControlClient, seconds: float, why: str) -> dict:
        """Advance the simulated clock (no real waiting), with a spinner while the sims catch up."""
        with self.console.status(f"advancing the sim clock {seconds:g} s: {escape(why)}", spinner="dots"):
            state = control.clock.advance(seconds)
        self.ok(f"sim clock advanced {seconds:g} s, now {state.get('now', '?')}")
        return state


class Demo:
    """What every demo shares: the control client, the resolved world and the narrator."""

    def __init__(self, control: ControlClient, world: dict, narrator: Narrator) -> None:
        self.c = control
        self.world = world
        self.n = narrator

    def url(self, sim: str) -> str:
        sims = self.world["sims"]
        if sim not in sims:
            raise DemoError(f"this demo needs the {sim} sim, and the world at {self.c.url} does not run it")
        return sims[sim]["url"].rstrip("/")

    @property
    def tenant(self) -> dict:
        return self.world["sims"]["zia"]["tenants"][0]

    def zia_admin(self) -> httpx.Client:
        """A ZIA API session as the tenant's first admin (obfuscated API key login)."""
        from sims.zia.auth import obfuscate

        admin = self.tenant["admins"][0]
        ts = int(time.time() * 1000)
        zia = self.url("zia")
        r = httpx.post(
            f"{zia}/api/v1/authenticatedSession",
            json={
                "apiKey": obfuscate(admin["api_key"], ts),
                "username": admin["username"],
                "password": admin["password"],
                "timestamp": ts,
            },
            timeout=30,
        )
        if r.status_code != 200:
            raise DemoError(f"ZIA admin login answered {r.status_code}: {r.text[:200]}")
        return httpx.Client(base_url=zia, cookies={"JSESSIONID": r.cookies["JSESSIONID"]}, timeout=30)

    def zia_users(self) -> dict[str, dict]:
        with self.zia_admin() as api:
            return {u.get("email"): u for u in api.get("/api/v1/users").json()}

    def last_journal_id(self) -> int:
        entries = self.c.journal.entries(limit=1)
        return entries[-1]["id"] if entries else 0


def _user_row(u: dict) -> list[Any]:
    dept = (u.get("department") or {}).get("name")
    groups = ", ".join(g["name"] for g in u.get("groups") or [])
    return [u.get("email"), u.get("name"), dept, groups]


# ---------------------------------------------------------------------------------------------
# mimecast


def demo_mimecast(d: Demo) -> None:
    n, c = d.n, d.c
    d.url("mimecast")
    d.url("zia")
    account = d.world["sims"]["mimecast"]["accounts"][0]["account_code"]
    org = str(d.tenant["org_id"])
    cloud = d.tenant["cloud"]
    role = "Mimecast_Threat_Share"
    sharing = f"/sims/mimecast/accounts/{account}/threat-sharing"
    name = "Mimecast Threats"
    n.title(
        "Mimecast threat sharing into ZIA",
        "Zscaler Managed by Mimecast SASE Threat Sharing: Mimecast's malicious URLs become a ZIA URL "
        "category, and a URL filtering rule blocks them.",
    )

    n.step("The ZIA API role and the OAuth 2.0 authorization server")
    n.say(
        f"In ZIA we give the API role {role} full access to URL categories and nothing else, as the guide "
        "says, and check that ZIA trusts the Okta authorization server Mimecast gets its tokens from."
    )
    c.put(f"/sims/zia/tenants/{org}/api-roles/{role}", {"permissions": {"url_categories": "FULL"}})
    servers = c.get(f"/sims/zia/tenants/{org}/authorization-servers")
    n.table(
        "ZIA authorization servers",
        ["name", "enabled", "JWKS", "audience"],
        [[s["name"], s["enabled"], s.get("resolved_jwks_url"), s.get("audience")] for s in servers],
    )

    n.step("Configure the threat sharing integration in Mimecast")
    n.say(
        "In Mimecast's Integrations Hub we add the Zscaler integration: the ZIA cloud, the Okta token "
        "endpoint, the client id and secret, the scope naming our API role, and which threats to share."
    )
    existing = {s["name"] for s in c.get(sharing)} if _listable(c, sharing) else set()
    if name in existing:
        n.say(f"An integration named {name!r} already exists from an earlier run: we remove it first.")
        c.delete(f"{sharing}/{name}")
    c.post(
        sharing,
        {
            "name": name,
            "description": "Zscaler Managed by Mimecast SASE Threat Sharing",
            "zscaler_cloud": cloud,
            "token_endpoint": "idp:okta",
            "client_id": "mimecast-threat-share",
            "client_secret": "okta-mimecast-secret-3173833",
            "scope": f"{cloud}::{org}::{role}",
            "sources": {"malicious_domains": False, "malicious_urls": True, "extracted_domains": False},
            "notification_emails": [SOC],
        },
    )
    state = c.get(f"{sharing}/{name}")
    n.table("integration", ["name", "status", "shared"], [[name, state["status"], state.get("shared")]])

    n.step("Wait about 30 seconds (on the sim clock)")
    n.say(
        "The guide says to wait approximately 30 seconds. We do not wait: we move the simulated clock, "
        "and the integration fetches a token from Okta, creates its category in ZIA and fills it."
    )
    n.advance(c, 30, "the integration runs")
    state = c.get(f"{sharing}/{name}")
    n.table(
        "integration status",
        ["status", "shared", "last error", "emails sent"],
        [[state["status"], state.get("shared"), state.get("last_error"), state.get("emails_sent")]],
    )
    if state["status"] != "normal":
        raise DemoError(f"the integration is in {state['status']}: {state.get('last_error')}")

    n.step("The ZIA URL category fills up")
    config = c.get(f"/sims/zia/tenants/{org}/config", params={"view": "active"})
    category = next(
        (x for x in config["categories"] if x.get("customCategory") and x["configuredName"] == name), None
    )
    if category is None:
        raise DemoError(f"ZIA has no category {name!r} after the integration ran")
    urls = sorted(category["urls"])
    n.say(f"ZIA now has the custom category {name!r} ({category['id']}) with {len(urls)} URLs from Mimecast.")
    n.table(
        f"{name} ({category['id']}): first URLs of {category['customUrlsCount']}",
        ["#", "url"],
        [[i + 1, u] for i, u in enumerate(urls[:8])],
    )

    n.step("Create a URL filtering rule that blocks the category, then activate")
    n.say(
        "As the ZIA admin, through the ZIA API: a URL filtering rule with action BLOCK for the Mimecast "
        "category, then Activate, since ZIA enforces only activated changes."
    )
    rule_name = "Block Mimecast threats"
    with d.zia_admin() as api:
        rules = api.get("/api/v1/urlFilteringRules").json()
        body = {
            "name": rule_name,
            "order": 1,
            "rank": 7,
            "action": "BLOCK",
            "state": "ENABLED",
            "protocols": ["ANY_RULE"],
            "urlCategories": [category["id"]],
        }
        old = next((r for r in rules if r.get("name") == rule_name), None)
        if old:
            r = api.put(f"/api/v1/urlFilteringRules/{old['id']}", json={**old, **body})
        else:
            r = api.post("/api/v1/urlFilteringRules", json=body)
        if r.status_code >= 400:
            raise DemoError(f"ZIA refused the rule ({r.status_code}): {r.text[:300]}")
        rule = r.json()
        activated = api.post("/api/v1/status/activate").json()
    n.table(
        "URL filtering rule",
        ["id", "name", "action", "categories", "activation"],
        [
            [
                rule["id"],
                rule["name"],
                rule["action"],
                ", ".join(rule["urlCategories"]),
                activated.get("status"),
            ]
        ],
    )

    n.step("What the policy now does")
    n.say("We ask ZIA's policy decision what happens when a user opens a malicious URL, and a clean one.")
    user = "bob.sales@safemarch.example"
    decision_url = f"{d.url('zia')}/sim/v1/{org}/policy/decision"
    rows = []
    verdicts = {}
    for label, url in (
        ("malicious (from Mimecast)", f"https://{urls[0]}"),
        ("clean", "https://www.google.com/"),
    ):
        v = httpx.post(decision_url, json={"url": url, "user": user}, timeout=30).json()
        verdicts[label] = v["action"]
        rows.append([label, url, v["action"], (v.get("rule") or {}).get("name", "")])
    n.table(f"policy decisions for {user}", ["url kind", "url", "action", "rule"], rows)
    if list(verdicts.values()) != ["BLOCK", "ALLOW"]:
        raise DemoError(f"unexpected policy decisions: {verdicts}")
    n.ok("the malicious URL is blocked, the clean one allowed")


def _listable(c: ControlClient, path: str) -> bool:
    try:
        return isinstance(c.get(path), list)
    except ControlError:
        return False


# ---------------------------------------------------------------------------------------------
# cyberark


def demo_cyberark(d: Demo) -> None:
    n, c = d.n, d.c
    d.url("idp")
    d.url("zia")
    org = str(d.tenant["org_id"])
    directory = d.world["sims"]["idp"]["directories"][0]["id"]
    idp_dir = f"/sims/idp/directories/{directory}"
    zia_ctl = f"/sims/zia/tenants/{org}"
    prov = f"{idp_dir}/apps/zscaler/provisioning"
    n.title(
        "CyberArk single sign-on and SCIM provisioning into ZIA",
        "First SAML: a directory user signs in to ZIA and is auto-provisioned. "
        "Then SCIM: CyberArk pushes a role's members into ZIA and keeps them in sync.",
    )

    n.step("Make sure SAML is ZIA's activated authentication")
    profile = c.get(f"{zia_ctl}/authentication-profile")
    if profile.get("active", {}).get("authentication_type") != "SAML":
        n.say("The tenant signs users in with a form today; we switch the authentication profile to SAML.")
        c.put(f"{zia_ctl}/authentication-profile", {"authentication_type": "SAML"})
        c.post(f"{zia_ctl}/activate")
    else:
        n.say("The tenant already uses SAML with the CyberArk identity provider.")
    idps = c.get(f"{zia_ctl}/idps")
    n.table(
        "ZIA identity providers",
        ["id", "name", "enabled", "auto-provisioning"],
        [[i.get("id"), i.get("name"), i.get("enabled"), i.get("auto_provisioning")] for i in idps],
    )

    n.step("Sign in to ZIA with SAML as a directory user")
    login = "bob.sales@safemarch.example"
    n.say(
        f"CyberArk issues a signed SAML Response for {login}, and the browser posts it to ZIA's Assertion "
        "Consumer Service. ZIA checks the signature, audience and validity, and signs the user in."
    )
    minted = c.post(f"{idp_dir}/apps/zscaler/responses", {"user": login})
    form = {"SAMLResponse": minted["saml_response"]}
    if minted.get("relay_state"):
        form["RelayState"] = minted["relay_state"]
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        r = browser.post(minted["acs_url"], data=form)
    n.table(
        "the browser's POST to the ACS",
        ["ACS", "answer", "landed on"],
        [[minted["acs_url"], r.status_code, str(r.url)]],
    )
    if r.status_code != 200 or 'id="display-name"' not in r.text:
        raise DemoError(f"ZIA did not sign the user in ({r.status_code}): {r.text[:300]}")
    n.ok("signed in at ZIA")

    n.step("The user was provisioned by SAML")
    user = d.zia_users().get(login)
    if user is None:
        raise DemoError(f"{login} is not among ZIA's users after the SAML sign-in")
    n.say("With SAML auto-provisioning on, ZIA created the user from the assertion's attributes.")
    n.table("ZIA user (GET /api/v1/users)", ["email", "name", "department", "groups"], [_user_row(user)])

    n.step("Enable SCIM on the ZIA identity provider and generate a token")
    idp_id = idps[0]["id"] if idps else 1
    c.put(f"{zia_ctl}/idps/{idp_id}/scim", {"enabled": True})
    scim = c.post(f"{zia_ctl}/idps/{idp_id}/scim/token")
    n.say("Edit IdP > Enable SCIM Provisioning, then Generate Token: ZIA shows the SCIM base URL and token.")
    n.table("ZIA SCIM", ["base URL", "bearer token"], [[scim["base_url"], scim["bearer_token"][:12] + "…"]])

    n.step("Configure provisioning in CyberArk, then Verify")
    role = "Zscaler Demo"
    members = [
        "alice.admin@safemarch.example",
        "bob.sales@safemarch.example",
        "carol.eng@safemarch.example",
    ]
    n.say(
        f"On the Zscaler app's Provisioning tab: the SCIM Service URL and bearer token, and the role "
        f"{role!r} (three members) mapped to ZIA. Verify checks the credentials and reads ZIA's schemas."
    )
    c.put(f"{idp_dir}/roles/{role}", {"members": members})
    c.put(
        prov,
        {
            "scim_url": scim["base_url"],
            "bearer_token": scim["bearer_token"],
            "role_mappings": [{"role": role}],
            "report_emails": ["idadmin@safemarch.example"],
        },
    )
    verified = c.post(f"{prov}/verify")
    n.table(
        "Verify",
        ["verified", "attributes discovered"],
        [[verified.get("verified"), len(verified.get("discovered") or [])]],
    )

    n.step("Start Sync")
    n.say(
        "Start Sync: CyberArk looks each member up in ZIA by userName, creates or updates them, "
        "and adds them to the role's group."
    )
    report = c.post(f"{prov}/sync")
    n.table(
        "sync report",
        ["mode", "created", "updated", "deleted", "errors"],
        [[report.get("mode"), report.get("created"), report.get("updated"), report.get("deleted"),
          len(report.get("errors") or [])]],
    )  # fmt: skip
    users = d.zia_users()
    n.table(
        "ZIA users of the role",
        ["email", "name", "department", "groups"],
        [_user_row(users[m]) for m in members if m in users],
    )

    n.step("Change a department in CyberArk")
    n.say(
        f"An HR change: {login} moves to Field Sales. A few seconds later CyberArk sends ZIA a PUT "
        "with only the mapped attributes; the request journal shows it."
    )
    mark = d.last_journal_id()
    c.http.patch(f"{idp_dir}/users/{login}", json={"department": "Field Sales"}).raise_for_status()
    n.advance(c, 10, "CyberArk syncs the change")
    puts = c.journal.entries(sim="zia", method="PUT", since_id=mark, detail=True)
    n.table(
        "journal: PUTs to ZIA",
        ["id", "method", "path", "status", "body"],
        [
            [
                e["id"],
                e["method"],
                e.get("path"),
                e.get("status"),
                _short((e.get("request") or {}).get("body")),
            ]
            for e in puts
        ],
    )
    dept = (d.zia_users().get(login, {}).get("department") or {}).get("name")
    n.table("ZIA user after the sync", ["email", "department"], [[login, dept]])
    if not puts or dept != "Field Sales":
        raise DemoError(f"the department change did not reach ZIA (department {dept!r}, {len(puts)} PUTs)")
    n.ok("the PUT reached ZIA: department is Field Sales")


def _short(text: str | None, limit: int = 90) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------------
# saviynt


def demo_saviynt(d: Demo) -> None:
    from sims.saviynt import engine
    from sims.saviynt.provision import Inputs
    from sims.saviynt.report import print_report
    from sims.saviynt.store import Store
    from sims.saviynt.world import placeholders_from_world

    n = d.n
    n.title(
        "Saviynt's REST connector against ZIA SCIM",
        "The guide's ConnectionJSON, ImportAccountEntJSON and provisioning documents, run by the "
        "connector engine against the world's ZIA SCIM endpoint.",
    )
    placeholders = placeholders_from_world(d.world)
    if "zia_scim_base" not in placeholders:
        raise DemoError("the world lists no ZIA SCIM endpoint (is SCIM enabled on a ZIA identity provider?)")
    guide = FIXTURES / "zia"
    corrected = FIXTURES / "corrected" / "zia"
    for path in (guide, corrected):
        if not path.is_dir():
            raise DemoError(f"the Saviynt fixtures are not at {path} (run from a source checkout)")
    connection = (guide / "ConnectionJSON.txt").read_text()
    store = Store()

    def run(op: str, text: str, **inputs: Any):
        report = engine.run(
            connection,
            [engine.Step(op, text, op)],
            store=store,
            inputs=Inputs(**inputs),
            placeholders=placeholders,
        )
        print_report(report, n.console)
        return report

    n.step("Import accounts and access")
    n.say(
        f"Saviynt connects to ZIA SCIM at {placeholders['zia_scim_base']} with the guide's ConnectionJSON, "
        "and imports the accounts and groups with the guide's ImportAccountEntJSON."
    )
    report = run("import", (guide / "ImportAccountEntJSON.txt").read_text())
    if not report.ok:
        raise DemoError("the import failed: see the report above")
    n.say(f"The EIC store now holds {len(store.accounts)} accounts.")

    n.step("Create an account")
    email = "saviynt.demo@safemarch.example"
    n.say(f"A new hire in Saviynt: the guide's CreateAccountJSON POSTs {email} to ZIA.")
    user = {"email": email, "username": "saviynt.demo"}
    report = run("create-account", (guide / "CreateAccountJSON.txt").read_text(), user=user)
    if not report.ok:
        raise DemoError("create account failed: see the report above")
    account = {"name": email}

    groups = list(store.entitlements.get("Entitlement", {}))
    if groups:
        group_id = groups[0]
        entitlement = {"entitlementID": group_id}
        n.step("Add access")
        n.say(f"Saviynt grants the group {group_id}: AddAccessJSON PATCHes the group to add the member.")
        if not run("add-access", (guide / "AddAccessJSON.txt").read_text(), account=account,
                   entitlement=entitlement).ok:  # fmt: skip
            raise DemoError("add access failed: see the report above")
        n.step("Remove access (the corrected document)")
        n.say(
            "The guide's RemoveAccessJSON is damaged as printed (see fixtures/saviynt/README.md); "
            "the corrected copy PATCHes remove with a value filter path."
        )
        if not run("remove-access", (corrected / "RemoveAccessJSON.json").read_text(), account=account,
                   entitlement=entitlement).ok:  # fmt: skip
            raise DemoError("remove access failed: see the report above")
    else:
        n.say("ZIA has no groups yet, so there is no access to grant; we skip add and remove access.")

    n.step("Remove the account")
    n.say("The account is removed again with RemoveAccountJSON, so the world is as we found it.")
    if not run("remove-account", (guide / "RemoveAccountJSON.txt").read_text(), account=account).ok:
        raise DemoError("remove account failed: see the report above")

    n.step("The EIC store")
    store.print_tables(n.console)


DEMOS: dict[str, tuple[str, Callable[[Demo], None]]] = {
    "mimecast": ("threat sharing into ZIA, a blocking rule, policy decisions", demo_mimecast),
    "cyberark": ("SAML sign-in with auto-provisioning, then SCIM provisioning", demo_cyberark),
    "saviynt": ("the guide's Saviynt REST connector documents against ZIA SCIM", demo_saviynt),
}


# ---------------------------------------------------------------------------------------------
# command line


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run a narrated demo against a running world",
        description="Narrated demos against a running world: "
        + "; ".join(f"{k}: {v[0]}" for k, v in DEMOS.items()),
    )
    p.add_argument("name", choices=list(DEMOS), help="which demo")
    p.add_argument(
        "--control-url",
        default=os.environ.get("SIMS_CONTROL_URL", "http://127.0.0.1:7400"),
        help="the world's control plane (default http://127.0.0.1:7400) [SIMS_CONTROL_URL]",
    )
    p.add_argument(
        "--control-token",
        default=os.environ.get("SIMS_CONTROL_TOKEN"),
        help="bearer token for the control plane [SIMS_CONTROL_TOKEN]",
    )
    p.add_argument("--fast", action="store_true", help="no presentation pauses between steps")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    console = Console(highlight=False, width=max(110, Console().width))
    return run_demo(args.name, args.control_url, args.control_token, fast=args.fast, console=console)


def run_demo(
    name: str,
    control_url: str,
    token: str | None = None,
    *,
    fast: bool = False,
    console: Console | None = None,
) -> int:
    console = console or Console(highlight=False)
    control = ControlClient(control_url, token)
    try:
        try:
            world = control.world()
        except httpx.HTTPError as err:
            console.print(
                f"[red]sims demo: cannot reach the control plane at {escape(control_url)}: {err}[/]"
            )
            console.print("Start a world first: sims up")
            return 2
        except ControlError as err:
            console.print(f"[red]sims demo: GET {escape(control_url)}/world answered {err.status}[/]")
            return 2
        narrator = Narrator(console, fast)
        try:
            DEMOS[name][1](Demo(control, world, narrator))
        except (DemoError, ControlError, httpx.HTTPError) as err:
            console.print()
            console.print(f"[red bold]demo {escape(name)} stopped:[/] {escape(str(err))}")
            _reset_hint(console, control_url)
            return 1
        console.print()
        console.rule(f"[bold green]demo {escape(name)} complete[/]")
        _reset_hint(console, control_url)
        return 0
    finally:
        control.close()


def _reset_hint(console: Console, control_url: str) -> None:
    console.print(
        "The world is still running with the demo's changes. To start over, reset it: "
        f"curl -X POST {escape(control_url.rstrip('/'))}/reset"
    )
