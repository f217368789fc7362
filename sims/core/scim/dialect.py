"""A dialect: how one service (ZIA, ZPA, a test server) speaks SCIM. Plain data plus callbacks; the
engine reads it, the router reads it, neither has service-specific code."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sims.core.ratelimit import Limit
from sims.core.scim.schema import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    Extension,
    ResourceType,
    Schema,
)

if TYPE_CHECKING:
    from sims.core.scim.store import Directory

# (directory, "User" | "Group", the resource as rendered) -> None; raising ScimError refuses the change
CreateHook = Callable[["Directory", str, dict], None]
UpdateHook = Callable[["Directory", str, dict, dict], None]  # (..., before, after)
DeleteHook = Callable[["Directory", str, dict], None]

DEFAULT_AUTH_SCHEMES = (
    {
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication with a bearer token in the Authorization header",
        "primary": True,
    },
)


@dataclass(frozen=True, kw_only=True)
class Dialect:
    name: str = "scim"
    # Where the endpoints live, with the path parameters that pick a directory, e.g. ZIA's
    # "/{org_id}/{idp_id}/scim" or ZPA's "/scim/{userdb}/{idp_id}/v2". They reach ``store_resolver``.
    base_path: str = "/scim/v2"

    # -- HTTP --------------------------------------------------------------------------------------
    media_type: str = "application/scim+json"  # what responses carry (application/json on request)
    accept_content_types: tuple[str, ...] = (
        "application/scim+json",
        "application/json",
        "application/json-patch+json",  # ZIA's own curl examples send this
    )
    max_payload_bytes: int = 1_048_576
    # (directory, Authorization header or None) -> allowed. None: no authentication. It may raise
    # ScimError itself (e.g. 403 with a service's own wording).
    authenticate: Callable[[Directory, str | None], bool] | None = None
    discovery_requires_auth: bool = True  # ZIA: /Schemas, /ServiceProviderConfig, /ResourceTypes are open
    # directory -> (key, limits) counted on the directory's clock, or None for no limit now (a setting)
    rate_limit: Callable[[Directory], tuple[Hashable, tuple[Limit, ...]] | None] | None = None
    # the SCIM base URL a client should see in meta.location and $ref, from the request's; None: as requested
    public_base_url: Callable[[Directory, str], str] | None = None
    patch_status: dict[str, int] = field(default_factory=lambda: {"User": 200, "Group": 200})  # or 204
    documentation_uri: str | None = None
    auth_schemes: tuple[dict, ...] = DEFAULT_AUTH_SCHEMES

    # -- listing -----------------------------------------------------------------------------------
    default_page_size: int = 100
    max_page_size: int = 1000
    list_group_members: bool = True  # ZPA: GET /Groups lists no members (unless asked by attributes=)
    sort: bool = True
    bulk_max_operations: int = 1000  # 0: no /Bulk
    bulk_max_payload_bytes: int = 1_048_576

    # -- schema ------------------------------------------------------------------------------------
    user_schema: Schema = USER_SCHEMA
    group_schema: Schema = GROUP_SCHEMA
    user_extensions: tuple[Extension, ...] = (Extension(ENTERPRISE_USER_SCHEMA),)
    group_extensions: tuple[Extension, ...] = ()
    # strict: unknown attributes and schemas in bodies are 400; otherwise they are ignored
    strict: bool = False
    # pairs of attribute paths kept equal (ZIA: "department" and the enterprise one): a write to either
    # sets both
    mirrors: tuple[tuple[str, str], ...] = ()
    # an unknown top-level key moved to an attribute path when the body does not set that (ZPA sends
    # "costCenter" at the top level for the enterprise extension's)
    input_aliases: dict[str, str] = field(default_factory=dict)

    # -- rules -------------------------------------------------------------------------------------
    unique_group_names: bool = True  # displayName of Groups, case-insensitively (Entra requires it)
    max_groups_per_user: int | None = None  # ZIA: 128
    allow_user_name: Callable[[Directory, str], bool] | None = None  # ZIA: the tenant's domains only
    inactive_means_delete: bool = False  # ZPA: active=false deletes the user
    # a member id that names no resource: "reject" (400 invalidValue) or "ignore" (dropped silently, as
    # scim-sanity's fake member expects)
    unknown_members: Literal["reject", "ignore"] = "reject"
    nested_groups: bool = False  # may a group be a member of a group
    # PATCH replace (or add) of emails[type eq "work"].value when no value matches: create it (Entra's
    # usage) rather than 400 noTarget (RFC 7644 §3.5.2.3)
    patch_creates_missing: bool = True
    # resource ids: from a per-directory counter (deterministic, as sims are); None: seeded UUIDs
    id_factory: Callable[[Directory, int], str] | None = None

    # -- hooks: after every check passed, before the change is stored; raising ScimError refuses it ---
    on_create: CreateHook | None = None
    on_update: UpdateHook | None = None
    on_delete: DeleteHook | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.default_page_size <= self.max_page_size:
            raise ValueError("default_page_size must be between 1 and max_page_size")
        if not self.base_path.startswith("/") or not self.base_path.strip("/"):
            raise ValueError("base_path must be an absolute path below the root, e.g. /scim/v2")
        if self.unknown_members not in ("reject", "ignore"):
            raise ValueError("unknown_members is 'reject' or 'ignore'")

    def resource_types(self, extra_user_extensions: tuple[Extension, ...] = ()) -> dict[str, ResourceType]:
        return {
            "User": ResourceType(
                "User",
                "/Users",
                self.user_schema,
                self.user_extensions + extra_user_extensions,
                "User Account",
            ),
            "Group": ResourceType("Group", "/Groups", self.group_schema, self.group_extensions, "Group"),
        }
