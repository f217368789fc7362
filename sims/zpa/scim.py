"""ZPA's SCIM service and the admin API pieces that read it (scimgroup, scimattribute).

ZPA's dialect (reference scim.md §3.2): ``/scim/<userdb>/<IdP id>/v2/...`` with a bearer token per
IdP ("Generate New Token"), 10 entries a page by default and 100 at most, ``active`` as a boolean
or the string real clients send, ``active=false`` deletes the user ("disabled or deleted users are
removed quickly"), and group lists without members.
"""

from __future__ import annotations

import dataclasses
import hmac
import uuid
from dataclasses import dataclass

from sims.core.scim import Dialect, Directory
from sims.core.scim.schema import ENTERPRISE_USER

USERDB = "1"


@dataclass
class ZpaScim:
    idp_id: str
    token: str
    directory: Directory
    generation: int = 0


def _authenticate(directory: Directory, header: str | None) -> bool:
    customer, idp_id = directory.context
    scim = customer.scim.get(idp_id)
    presented = (header or "")[7:].strip() if (header or "")[:7].lower() == "bearer " else ""
    return bool(scim and presented and hmac.compare_digest(presented.encode(), scim.token.encode()))


ZPA_DIALECT = Dialect(
    name="zpa",
    base_path="/scim/{userdb}/{idp_id}/v2",
    authenticate=_authenticate,
    default_page_size=10,
    max_page_size=100,
    list_group_members=False,
    inactive_means_delete=True,
    unknown_members="ignore",  # UNVERIFIED, as for ZIA: a member id naming no user is dropped
    input_aliases={
        name.lower(): f"{ENTERPRISE_USER}:{name}" for name in ("costCenter", "division", "organization")
    },
    # ZPA's admin API shows SCIM groups with numeric ids
    id_factory=lambda directory, n: str(3_251_000 + n),
    documentation_uri="https://help.zscaler.com/zpa/about-scim-apis",
)


# For compliance tools that toggle ``active`` at random: the same dialect without delete-on-inactive.
ZPA_DIALECT_KEEP_INACTIVE = dataclasses.replace(ZPA_DIALECT, inactive_means_delete=False)


def new_directory(customer, idp_id: str, clock) -> Directory:
    dialect = ZPA_DIALECT if customer.config.scim_inactive_deletes else ZPA_DIALECT_KEEP_INACTIVE
    return Directory(
        dialect,
        clock,
        name=f"zpa:{customer.cid}:{idp_id}",
        seed=f"{customer.cid}:{idp_id}",
        context=(customer, idp_id),
    )


def scim_groups(customer, idp_id: str, page: int, size: int, search: str | None) -> dict:
    """``GET /userconfig/v1/customers/<cid>/scimgroup/idpId/<idp>``: numbers, as recorded."""
    scim = customer.scim.get(idp_id)
    groups = list(scim.directory.groups.values()) if scim else []
    if search:
        name = search.split("+EQ+", 1)[-1] if "+EQ+" in search else search
        groups = [g for g in groups if g.data.get("displayName", "").lower() == name.lower()]
    total = len(groups)
    chunk = groups[(page - 1) * size : page * size]
    return {
        "totalPages": max(1, -(-total // size)),
        "totalCount": total,
        "list": [group_view(g, idp_id) for g in chunk],
    }


def group_view(rec, idp_id: str) -> dict:
    return {
        "id": int(rec.id),
        "modifiedTime": int(rec.modified),
        "creationTime": int(rec.created),
        "name": rec.data.get("displayName"),
        "idpId": int(idp_id) if idp_id.isdigit() else idp_id,
        "idpGroupId": rec.data.get("externalId"),
        "internalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"zpa-scim-group:{idp_id}:{rec.id}")),
    }


ATTRIBUTES = [
    ("userName", "String", "urn:ietf:params:scim:schemas:core:2.0:User"),
    ("displayName", "String", "urn:ietf:params:scim:schemas:core:2.0:User"),
    ("userType", "String", "urn:ietf:params:scim:schemas:core:2.0:User"),
    ("nickName", "String", "urn:ietf:params:scim:schemas:core:2.0:User"),
    ("costCenter", "String", ENTERPRISE_USER),
    ("department", "String", ENTERPRISE_USER),
    ("division", "String", ENTERPRISE_USER),
    ("organization", "String", ENTERPRISE_USER),
]


def scim_attributes(customer, idp_id: str) -> dict:
    """``GET /mgmtconfig/v1/admin/customers/<cid>/idp/<idp>/scimattribute`` (strings, as mgmtconfig)."""
    items = [
        {
            "id": str(customer.id_base + 500 + i),
            "name": name,
            "dataType": kind,
            "idpId": idp_id,
            "schemaURI": schema,
            "multivalued": False,
            "required": name == "userName",
            "caseSensitive": False,
            "mutable": True,
            "returned": "DEFAULT",
            "uniqueness": name == "userName",
        }
        for i, (name, kind, schema) in enumerate(ATTRIBUTES)
    ]
    return {"totalPages": "1", "totalCount": str(len(items)), "list": items}


def attribute_values(customer, idp_id: str, attribute_id: str) -> list[str]:
    """Distinct values the SCIM users carry for one attribute (for policy criteria)."""
    scim = customer.scim.get(idp_id)
    index = int(attribute_id) - customer.id_base - 500 if attribute_id.isdigit() else -1
    if scim is None or not 0 <= index < len(ATTRIBUTES):
        return []
    name, _, schema = ATTRIBUTES[index]
    values = set()
    for rec in scim.directory.users.values():
        value = (rec.data.get(schema) or {}).get(name) if schema == ENTERPRISE_USER else rec.data.get(name)
        if value:
            values.add(str(value))
    return sorted(values)
