"""ZIA's SCIM service: one directory per identity provider, in ZIA's dialect of the shared engine.

As the guide and ZIA's docs describe it: the base URL is ``/<org id>/<IdP id>/scim``; SCIM can be
enabled on an IdP once the IdP is saved; "Generate Token" gives the bearer token (an earlier one
stops working); a client's Verify fails unless SAML is the organization's authentication; the
discovery endpoints need no token; at most 1,000 entries a page and 128 groups a user; userName
must be in one of the organization's domains; deleting a user linked to an admin is refused with
409; ``department`` is served at the top level and in the enterprise extension. Users and groups
written by SCIM are the tenant's People, the same ones SAML auto-provisioning and the URL filtering
rules see.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sims.core.ratelimit import Limit
from sims.core.scim import Attr, Dialect, Directory, Extension, Schema, ScimError
from sims.core.scim.schema import ENTERPRISE_USER, USER_SCHEMA

SCIM_RATE = (Limit(5, 1),)  # "Zscaler SCIM servers have a rate limit of 5 requests per second"
DEPARTMENT = Attr("department", description="ZIA reads the department at the top level too")


@dataclass
class ScimIdp:
    """The SCIM side of one IdP: its token and directory."""

    idp_id: int
    token: str
    directory: Directory
    enabled: bool = True


def _authenticate(directory: Directory, header: str | None) -> bool:
    tenant, idp_id = directory.context
    scim = tenant.scim.get(idp_id)
    presented = (header or "")[7:].strip() if (header or "")[:7].lower() == "bearer " else ""
    if scim is None or not scim.enabled or not presented:
        return False
    if not hmac.compare_digest(presented.encode(), scim.token.encode()):
        return False
    if not tenant.saml.active.saml_on():  # the guide: SCIM works only with SAML as the authentication
        raise ScimError(403, "SAML must be enabled as the authentication method before SCIM provisioning")
    return True


def _allow_user_name(directory: Directory, user_name: str) -> bool:
    tenant, _ = directory.context
    domains = {d.lower() for d in tenant.config.domains}
    return not domains or user_name.rpartition("@")[2].lower() in domains


def _rate(directory: Directory):
    tenant, _ = directory.context
    return (("scim", tenant.key), SCIM_RATE) if tenant.settings.scim_rate_limit else None


# -- mirroring into the tenant's People --------------------------------------------------------------
def _department(user: dict) -> str | None:
    return user.get("department") or (user.get(ENTERPRISE_USER) or {}).get("department")


def _group_names(directory: Directory, user_id: str) -> list[str]:
    return [directory.groups[g].data.get("displayName", "") for g in directory.groups_of(user_id)]


def _on_create(directory: Directory, kind: str, data: dict) -> None:
    tenant, _ = directory.context
    if kind == "User":
        tenant.people.upsert(
            data["userName"],
            display_name=data.get("displayName"),
            department=_department(data) or "Service Admin",
            groups=[],
        )
    else:
        tenant.people.group_id(data.get("displayName", ""))
        _sync_members(directory, {}, data)


def _on_update(directory: Directory, kind: str, before: dict, after: dict) -> None:
    tenant, _ = directory.context
    if kind == "User":
        if before.get("userName", "").lower() != after.get("userName", "").lower():
            old = tenant.people.by_name(before.get("userName", ""))
            if old is not None:
                old.name = old.email = after["userName"]
        tenant.people.upsert(
            after["userName"], display_name=after.get("displayName"), department=_department(after)
        )
    else:
        if before.get("displayName") != after.get("displayName"):
            gid = tenant.people.group_id(before.get("displayName", ""))
            tenant.people.groups[gid] = after.get("displayName", "")
        _sync_members(directory, before, after)


def _sync_members(directory: Directory, before: dict, after: dict) -> None:
    """Users whose membership changed get their ZIA groups recomputed from the SCIM directory."""
    tenant, _ = directory.context
    changed = {m["value"] for m in before.get("members") or []} ^ {
        m["value"] for m in after.get("members") or []
    }
    group = after.get("displayName", "")
    joined = {m["value"] for m in after.get("members") or []}
    for member in changed:
        rec = directory.users.get(member)
        if rec is None:
            continue
        names = set(_group_names(directory, member)) - {before.get("displayName")}
        if member in joined:
            names.add(group)
        else:
            names.discard(group)
        tenant.people.upsert(rec.data["userName"], groups=sorted(names))


def _on_delete(directory: Directory, kind: str, data: dict) -> None:
    tenant, _ = directory.context
    if kind == "User":
        if data.get("userName", "").lower() in tenant.admins:
            raise ScimError(409, "Admin user cannot be deleted")  # "Do Nothing", ZIA's default
        user = tenant.people.by_name(data.get("userName", ""))
        if user is not None:
            del tenant.people.users[user.id]
    else:
        gid = next((k for k, v in tenant.people.groups.items() if v == data.get("displayName")), None)
        if gid is not None:
            for user in tenant.people.users.values():
                if gid in user.groups:
                    user.groups.remove(gid)


ZIA_DIALECT = Dialect(
    name="zia",
    base_path="/{org_id}/{idp_id}/scim",
    authenticate=_authenticate,
    discovery_requires_auth=False,  # /Schemas, /ServiceProviderConfig, /ResourceTypes need no auth
    rate_limit=_rate,
    default_page_size=1000,
    max_page_size=1000,
    user_schema=USER_SCHEMA.with_attributes(DEPARTMENT),
    mirrors=(("department", f"{ENTERPRISE_USER}:department"),),
    max_groups_per_user=128,
    # UNVERIFIED how ZIA answers a member id that names no user; ignoring it is what scim-sanity expects
    unknown_members="ignore",
    allow_user_name=_allow_user_name,
    on_create=_on_create,
    on_update=_on_update,
    on_delete=_on_delete,
    documentation_uri="https://help.zscaler.com/zia/scim-api-examples",
)


def custom_extensions(attributes: list) -> tuple[Extension, ...]:
    """The organization's custom SCIM attributes, grouped into extension schemas."""
    by_schema: dict[str, list[Attr]] = {}
    for a in attributes:
        by_schema.setdefault(a.schema_urn, []).append(Attr(a.name, type=a.type, description=a.description))
    return tuple(
        Extension(Schema(urn, "Custom attributes", tuple(attrs), "Custom user attributes"))
        for urn, attrs in by_schema.items()
    )


def new_directory(tenant, idp_id: int, clock) -> Directory:
    return Directory(
        ZIA_DIALECT,
        clock,
        name=f"zia:{tenant.key}:{idp_id}",
        seed=f"{tenant.seed}:{idp_id}",
        context=(tenant, idp_id),
        extra_user_extensions=custom_extensions(tenant.config.scim_custom_attributes),
    )
