"""A SCIM 2.0 service provider engine (RFC 7643 / 7644) shared by the sims that serve SCIM.

A sim describes how its service speaks SCIM with a ``Dialect`` (base path, auth, page sizes, rules,
extension schemas, hooks), keeps one ``Directory`` per identity provider of a tenant, and mounts
``build_scim_router(dialect, resolver)`` in its FastAPI app; the resolver maps the base path's
parameters to a Directory (None: 404, e.g. SCIM not enabled on that IdP). ZIA-like, for example::

    from sims.core.ratelimit import Limit
    from sims.core.scim import ENTERPRISE_USER, USER_SCHEMA, Attr, Dialect, Directory, ScimError
    from sims.core.scim import build_scim_router

    def refuse_admins(directory, kind, view):           # hooks see the resource as rendered
        if kind == "User" and directory.context.is_admin(view["userName"]):
            raise ScimError(409, "Admin user cannot be deleted")

    ZIA_SCIM = Dialect(
        name="zia",
        base_path="/{org_id}/{idp_id}/scim",
        authenticate=lambda d, header: header == f"Bearer {d.context.scim_token}",
        discovery_requires_auth=False,
        default_page_size=1000, max_page_size=1000, max_groups_per_user=128,
        allow_user_name=lambda d, name: name.rpartition("@")[2].lower() in d.context.domains,
        user_schema=USER_SCHEMA.with_attributes(Attr("department")),   # ZIA's top-level department
        mirrors=(("department", f"{ENTERPRISE_USER}:department"),),
        rate_limit=lambda d: (d.context.org_id, (Limit(5, 1),)) if d.context.rate_limited else None,
        patch_status={"User": 200, "Group": 204},
        on_create=mirror_into_people, on_update=mirror_into_people_too, on_delete=refuse_admins,
    )
    directory = Directory(ZIA_SCIM, clock.now, name="3173833/7", seed=world.seed, context=idp)
    app.include_router(build_scim_router(ZIA_SCIM, lambda p: sim.scim_directory(p["org_id"], p["idp_id"])))

The Directory is usable without HTTP too (``create``, ``replace``, ``patch``, ``delete``, ``query``,
``render``, ``export_state`` / ``import_state``), e.g. to seed users from a world file.
``sims.core.scim.testing`` has a standalone app and a demo dialect for tests and benchmarks.
"""

from sims.core.scim.dialect import Dialect
from sims.core.scim.errors import ScimError, error_body
from sims.core.scim.router import build_scim_router
from sims.core.scim.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    Attr,
    Extension,
    Schema,
)
from sims.core.scim.store import Directory, Record

__all__ = [
    "CORE_GROUP",
    "CORE_USER",
    "ENTERPRISE_USER",
    "ENTERPRISE_USER_SCHEMA",
    "GROUP_SCHEMA",
    "USER_SCHEMA",
    "Attr",
    "Dialect",
    "Directory",
    "Extension",
    "Record",
    "Schema",
    "ScimError",
    "build_scim_router",
    "error_body",
]
