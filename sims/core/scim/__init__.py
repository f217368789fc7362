"""A SCIM 2.0 service provider engine (RFC 7643 / 7644) shared by the sims that serve SCIM.

A sim describes how its service speaks SCIM with a ``Dialect`` (base path, auth, page sizes, rules,
extension schemas, hooks), keeps one ``Directory`` per identity provider of a tenant, and mounts
``build_scim_router(dialect, resolver)`` in its FastAPI app; the resolver maps the base path's
parameters to a Directory.
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
