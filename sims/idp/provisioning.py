"""CyberArk-style outbound SCIM provisioning of a web app's users into a SCIM service provider.

The Provisioning tab of the guide: SCIM Service URL and Bearer Token, Verify (which also discovers
the target's schema), the deprovisioning option, role mappings (which roles' members sync and which
destination group each becomes), preview mode, Start Sync, a daily sync at a chosen hour, and a
sync report mailed to the admins. The requests follow CyberArk's documented SCIM API requirements:
look up by userName, POST to create, PUT with only the attributes the mapping sets, group membership
by PATCH, and DELETE or a PUT with active=false to deprovision. The mapping is data, not JavaScript:
attributes the target's schema discovers start disabled until given a source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import httpx
from pydantic import Field

from sims.core.worldfile import Strict

log = logging.getLogger("sims.idp.provisioning")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SOURCES = ("login", "email", "display_name", "first_name", "last_name", "department")


class MappingEntry(Strict):
    target: str = Field(description="SCIM attribute: userName, name.givenName, <schema URN>:<attribute>, ...")
    source: str | None = Field(default=None, description="user field or attributes.<name>; None: not synced")
    enabled: bool = True


DEFAULT_MAPPING = [
    MappingEntry(target="userName", source="login"),
    MappingEntry(target="displayName", source="display_name"),
    MappingEntry(target="name.givenName", source="first_name"),
    MappingEntry(target="name.familyName", source="last_name"),
    MappingEntry(target="emails", source="email"),
    MappingEntry(target="department", source="department"),  # ZIA reads it at the top level
    MappingEntry(target=f"{ENTERPRISE}:department", source="department"),
]


class RoleMapping(Strict):
    role: str
    group: str | None = Field(default=None, description="destination group; default: the role's name")


class ProvisioningConfig(Strict):
    enabled: bool = True
    scim_url: str = Field(description="SCIM Service URL (the SP's base URL, ending before /Users)")
    bearer_token: str = Field(min_length=1)
    mode: Literal["live", "preview"] = "live"
    deprovision: Literal["delete", "disable", "none"] = "delete"
    role_mappings: list[RoleMapping] = Field(default_factory=list)
    daily_sync_hour: int | None = Field(default=None, ge=0, le=23, description="UTC hour of the daily sync")
    mapping: list[MappingEntry] = Field(default_factory=lambda: [m.model_copy() for m in DEFAULT_MAPPING])
    report_emails: list[str] = Field(default_factory=list)
    sync_on_change: bool = Field(
        default=True, description="sync a user soon after their role or data changes"
    )


class ProvisioningError(Exception):
    """The SP refused or could not be reached; the message says which request and why."""


@dataclass
class Report:
    mode: str
    started: float
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            k: len(getattr(self, k))
            for k in ("created", "updated", "deleted", "disabled", "groups", "errors")
        }

    def text(self) -> str:
        head = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        return f"Outbound provisioning ({self.mode} mode): {head}\n" + "\n".join(self.lines)


def _source_value(user, source: str):
    if source.startswith("attributes."):
        return user.attributes.get(source.split(".", 1)[1])
    return getattr(user, source, None)


def build_user(user, mapping: list[MappingEntry], active: bool = True) -> dict:
    """The SCIM user body with exactly the attributes the enabled mapping entries set."""
    body: dict = {"schemas": [USER_SCHEMA]}
    for entry in mapping:
        if not entry.enabled or not entry.source:
            continue
        value = _source_value(user, entry.source)
        if value is None:
            continue
        target = entry.target
        if target.startswith("urn:"):
            schema, _, attr = target.rpartition(":")
            body.setdefault(schema, {})[attr] = value
            if schema not in body["schemas"]:
                body["schemas"].append(schema)
        elif target == "emails":
            body["emails"] = [{"value": value, "type": "work", "primary": True}]
        elif "." in target:
            parent, _, child = target.partition(".")
            body.setdefault(parent, {})[child] = value
        else:
            body[target] = value
    body["active"] = active
    return body


class ScimClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
            "User-Agent": "CyberArk Identity SCIM/sims",
        }

    async def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw) -> httpx.Response:
        try:
            r = await self.http.request(method, f"{self.base}{path}", headers=self.headers, **kw)
        except httpx.HTTPError as err:
            raise ProvisioningError(f"{method} {path}: {type(err).__name__}") from None
        if r.status_code not in ok:
            try:
                detail = r.json().get("detail") or r.text[:200]
            except ValueError:
                detail = r.text[:200]
            raise ProvisioningError(f"{method} {path}: {r.status_code} {detail}")
        return r

    async def find(self, kind: str, attribute: str, value: str) -> dict | None:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        r = await self.call("GET", f"/{kind}", params={"filter": f'{attribute} eq "{escaped}"'})
        resources = r.json().get("Resources") or []
        return resources[0] if resources else None


class Provisioner:
    """Provisioning of one web app (its settings live in ``config``; state in this object)."""

    def __init__(self, config: ProvisioningConfig) -> None:
        self.config = config
        self.verified = False
        self.discovered: list[str] = []
        self.provisioned: dict[str, str] = {}  # login -> SCIM id at the target
        self.group_ids: dict[str, str] = {}
        self.last_report: dict | None = None

    # -- Verify ----------------------------------------------------------------------------------
    async def verify(self, http: httpx.AsyncClient) -> dict:
        """The Verify button: a credential check, then schema discovery for the mapping."""
        client = ScimClient(http, self.config.scim_url, self.config.bearer_token)
        self.verified = False
        try:
            await client.call("GET", "/Users", params={"count": "1"})
            await client.call("GET", "/ServiceProviderConfig")
            schemas = (await client.call("GET", "/Schemas")).json()
        except ProvisioningError as err:
            return {"verified": False, "error": str(err)}
        found = []
        for schema in schemas.get("Resources", []) if isinstance(schemas, dict) else []:
            sid = schema.get("id", "")
            if sid == GROUP_SCHEMA:
                continue
            for attr in schema.get("attributes", []):
                name = attr.get("name")
                if not name or attr.get("mutability") == "readOnly":
                    continue
                found.append(name if sid == USER_SCHEMA else f"{sid}:{name}")
        self.discovered = found
        known = {m.target for m in self.config.mapping}
        for target in found:  # discovered attributes start disabled (commented out, in CyberArk's words)
            if target not in known:
                self.config.mapping.append(MappingEntry(target=target, source=None, enabled=False))
        self.verified = True
        return {"verified": True, "discovered": found}

    # -- Sync ------------------------------------------------------------------------------------
    def in_scope(self, directory) -> dict[str, str]:
        """login -> destination group, for members of mapped roles (the top-most mapping wins)."""
        out: dict[str, str] = {}
        for m in self.config.role_mappings:
            for login in directory.roles.get(m.role, []):
                if login in directory.users:
                    out.setdefault(login, m.group or m.role)
        return out

    async def sync(
        self, http: httpx.AsyncClient, directory, now: float, only: set[str] | None = None
    ) -> Report:
        cfg = self.config
        live = cfg.mode == "live"
        report = Report(cfg.mode, now)
        client = ScimClient(http, cfg.scim_url, cfg.bearer_token)
        scope = self.in_scope(directory)
        wanted_groups = {m.group or m.role for m in cfg.role_mappings}
        try:
            for name in sorted(wanted_groups):
                group = await client.find("Groups", "displayName", name)
                if group is None:
                    report.groups.append(name)
                    report.lines.append(f"Group created: {name}")
                    if live:
                        made = await client.call(
                            "POST",
                            "/Groups",
                            ok=(201,),
                            json={"schemas": [GROUP_SCHEMA], "displayName": name, "members": []},
                        )
                        group = made.json()
                if group is not None:
                    self.group_ids[name] = group["id"]
        except ProvisioningError as err:
            report.errors.append(str(err))
            report.lines.append(f"Error: {err}")
            return self._finish(report)
        members: dict[str, set[str]] = {g: set() for g in wanted_groups}
        for login in sorted(scope if only is None else set(scope) & only):
            try:
                scim_id = await self._upsert(client, directory.users[login], live, report)
            except ProvisioningError as err:
                report.errors.append(f"{login}: {err}")
                report.lines.append(f"Error: {login}: {err}")
                continue
            if scim_id:
                members[scope[login]].add(scim_id)
        if only is None:
            await self._deprovision(client, directory, scope, live, report)
        await self._memberships(client, members, scope, only, live, report)
        return self._finish(report)

    async def _upsert(self, client: ScimClient, user, live: bool, report: Report) -> str | None:
        found = await client.find("Users", "userName", user.login)
        body = build_user(user, self.config.mapping)
        if found is None:
            report.created.append(user.login)
            report.lines.append(f"User added: {user.login} => {user.login}")
            if not live:
                return None
            made = (await client.call("POST", "/Users", ok=(201,), json=body)).json()
            self.provisioned[user.login] = made["id"]
            return made["id"]
        report.updated.append(user.login)
        report.lines.append(f"User updated: {user.login} => {user.login}")
        if live:
            await client.call("PUT", f"/Users/{found['id']}", json={**body, "id": found["id"]})
        self.provisioned[user.login] = found["id"]
        return found["id"]

    async def _deprovision(
        self, client: ScimClient, directory, scope: dict, live: bool, report: Report
    ) -> None:
        option = self.config.deprovision
        for login, scim_id in sorted(self.provisioned.items()):
            if login in scope or option == "none":
                continue
            try:
                if option == "delete":
                    report.deleted.append(login)
                    report.lines.append(f"User deleted: {login}")
                    if live:
                        await client.call("DELETE", f"/Users/{scim_id}", ok=(204, 404))
                        del self.provisioned[login]
                else:
                    report.disabled.append(login)
                    report.lines.append(f"User disabled: {login}")
                    user = directory.users.get(login)
                    if live and user is not None:
                        body = build_user(user, self.config.mapping, active=False)
                        await client.call("PUT", f"/Users/{scim_id}", json={**body, "id": scim_id})
            except ProvisioningError as err:
                report.errors.append(f"{login}: {err}")
                report.lines.append(f"Error: {login}: {err}")

    async def _memberships(
        self, client, members: dict, scope: dict, only, live: bool, report: Report
    ) -> None:
        for name, wanted in sorted(members.items()):
            gid = self.group_ids.get(name)
            if gid is None:
                continue
            try:
                current_body = (await client.call("GET", f"/Groups/{gid}")).json()
                current = {m["value"] for m in current_body.get("members") or []}
                ours = set(self.provisioned.values()) if only is None else wanted
                add = sorted(wanted - current)
                remove = sorted((current & ours) - wanted) if only is None else []
                ops = []
                if add:
                    ops.append({"op": "add", "path": "members", "value": [{"value": v} for v in add]})
                ops += [{"op": "remove", "path": f'members[value eq "{v}"]'} for v in remove]
                if ops:
                    report.lines.append(f"Group {name}: +{len(add)} -{len(remove)} members")
                    if live:
                        await client.call(
                            "PATCH",
                            f"/Groups/{gid}",
                            ok=(200, 204),
                            json={"schemas": [PATCH_OP], "Operations": ops},
                        )
            except ProvisioningError as err:
                report.errors.append(f"group {name}: {err}")
                report.lines.append(f"Error: group {name}: {err}")

    def _finish(self, report: Report) -> Report:
        self.last_report = {
            "mode": report.mode,
            **report.counts(),
            "errors": report.errors,
            "lines": report.lines,
        }
        return report

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {
            "config": self.config.model_dump(),
            "verified": self.verified,
            "discovered": self.discovered,
            "provisioned": self.provisioned,
            "group_ids": self.group_ids,
            "last_report": self.last_report,
        }

    @classmethod
    def load(cls, state: dict) -> Provisioner:
        p = cls(ProvisioningConfig.model_validate(state["config"]))
        p.verified, p.discovered = bool(state["verified"]), list(state["discovered"])
        p.provisioned, p.group_ids = dict(state["provisioned"]), dict(state["group_ids"])
        p.last_report = state.get("last_report")
        return p
