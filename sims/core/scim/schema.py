"""Attribute and schema definitions (RFC 7643 §2, §7, §8.7): what exists, its type, mutability and
whether it is returned. They drive validation, filters, PATCH paths, projections and /Schemas.

Names are matched case-insensitively everywhere (RFC 7643 §2.1); definitions keep the canonical case.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary")
MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
RETURNED = ("always", "never", "default", "request")


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute definition (RFC 7643 §7)."""

    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    sub_attributes: tuple[Attr, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""
    _subs: dict[str, Attr] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"attribute {self.name}: unknown type {self.type!r}")
        if self.mutability not in MUTABILITY or self.returned not in RETURNED:
            raise ValueError(f"attribute {self.name}: bad mutability or returned")
        object.__setattr__(self, "_subs", {a.name.lower(): a for a in self.sub_attributes})

    def sub(self, name: str) -> Attr | None:
        return self._subs.get(name.lower())

    @property
    def complex(self) -> bool:
        return self.type == "complex"

    def to_json(self) -> dict:
        out: dict = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
        }
        if self.type in ("string", "reference", "binary"):
            out["caseExact"] = self.case_exact
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        out["mutability"] = self.mutability
        out["returned"] = self.returned
        out["uniqueness"] = self.uniqueness
        if self.sub_attributes:
            out["subAttributes"] = [a.to_json() for a in self.sub_attributes]
        return out


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema: the core one of a resource type, or an extension (with its URN as ``id``)."""

    id: str
    name: str
    attributes: tuple[Attr, ...]
    description: str = ""
    _by_name: dict[str, Attr] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name.lower(): a for a in self.attributes})

    def attr(self, name: str) -> Attr | None:
        return self._by_name.get(name.lower())

    def with_attributes(self, *extra: Attr) -> Schema:
        """This schema with ``extra`` attributes added (or replacing those of the same name)."""
        names = {a.name.lower() for a in extra}
        kept = tuple(a for a in self.attributes if a.name.lower() not in names)
        return replace(self, attributes=kept + tuple(extra))

    def with_changes(self, name: str, **changes) -> Schema:
        """This schema with attribute ``name`` changed, e.g. ``with_changes("userName", mutability=...)``."""
        found = self.attr(name)
        if found is None:
            raise KeyError(name)
        return self.with_attributes(replace(found, **changes))

    def to_json(self) -> dict:
        return {
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description or self.name,
            "attributes": [a.to_json() for a in self.attributes],
        }


@dataclass(frozen=True, slots=True)
class Extension:
    schema: Schema
    required: bool = False


# -- the common attributes (RFC 7643 §3.1): in every resource, in no schema ------------------------
ID = Attr("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server")
EXTERNAL_ID = Attr(
    "externalId", case_exact=True, description="An identifier defined by the provisioning client"
)
META = Attr(
    "meta",
    "complex",
    mutability="readOnly",
    sub_attributes=(
        Attr("resourceType", case_exact=True, mutability="readOnly"),
        Attr("created", "dateTime", mutability="readOnly"),
        Attr("lastModified", "dateTime", mutability="readOnly"),
        Attr("location", "reference", case_exact=True, mutability="readOnly", reference_types=("uri",)),
        Attr("version", case_exact=True, mutability="readOnly"),
    ),
)
SCHEMAS = Attr("schemas", "reference", multi_valued=True, mutability="readOnly", returned="always")
COMMON = {"id": ID, "externalid": EXTERNAL_ID, "meta": META, "schemas": SCHEMAS}


def _multi(name: str, types: tuple[str, ...], value_type: str = "string", **kw) -> Attr:
    """The usual multi-valued shape: value, display, type, primary (RFC 7643 §2.4)."""
    return Attr(
        name,
        "complex",
        multi_valued=True,
        sub_attributes=(
            Attr("value", value_type, **kw),
            Attr("display"),
            Attr("type", canonical_values=types),
            Attr("primary", "boolean"),
        ),
    )


USER_SCHEMA = Schema(
    CORE_USER,
    "User",
    (
        Attr("userName", required=True, uniqueness="server", description="Unique identifier for the User"),
        Attr(
            "name",
            "complex",
            sub_attributes=tuple(
                Attr(n)
                for n in (
                    "formatted",
                    "familyName",
                    "givenName",
                    "middleName",
                    "honorificPrefix",
                    "honorificSuffix",
                )
            ),
        ),
        Attr("displayName"),
        Attr("nickName"),
        Attr("profileUrl", "reference", reference_types=("external",)),
        Attr("title"),
        Attr("userType"),
        Attr("preferredLanguage"),
        Attr("locale"),
        Attr("timezone"),
        Attr("active", "boolean"),
        Attr("password", mutability="writeOnly", returned="never"),
        _multi("emails", ("work", "home", "other")),
        _multi("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        Attr(
            "photos",
            "complex",
            multi_valued=True,
            sub_attributes=(
                Attr("value", "reference", reference_types=("external",)),
                Attr("display"),
                Attr("type", canonical_values=("photo", "thumbnail")),
                Attr("primary", "boolean"),
            ),
        ),
        Attr(
            "addresses",
            "complex",
            multi_valued=True,
            sub_attributes=(
                *(
                    Attr(n)
                    for n in ("formatted", "streetAddress", "locality", "region", "postalCode", "country")
                ),
                Attr("type", canonical_values=("work", "home", "other")),
                Attr("primary", "boolean"),
            ),
        ),
        Attr(
            "groups",
            "complex",
            multi_valued=True,
            mutability="readOnly",
            sub_attributes=(
                Attr("value", mutability="readOnly"),
                Attr("$ref", "reference", mutability="readOnly", reference_types=("User", "Group")),
                Attr("display", mutability="readOnly"),
                Attr("type", mutability="readOnly", canonical_values=("direct", "indirect")),
            ),
        ),
        _multi("entitlements", ()),
        _multi("roles", ()),
        _multi("x509Certificates", (), "binary"),
    ),
    "User Account",
)

GROUP_SCHEMA = Schema(
    CORE_GROUP,
    "Group",
    (
        Attr("displayName", required=True, description="A human-readable name for the Group"),
        Attr(
            "members",
            "complex",
            multi_valued=True,
            sub_attributes=(
                Attr("value", mutability="immutable"),
                Attr("$ref", "reference", mutability="immutable", reference_types=("User", "Group")),
                Attr("display", mutability="readOnly"),
                Attr("type", mutability="immutable", canonical_values=("User", "Group")),
            ),
        ),
    ),
    "Group",
)

ENTERPRISE_USER_SCHEMA = Schema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    (
        Attr("employeeNumber"),
        Attr("costCenter"),
        Attr("organization"),
        Attr("division"),
        Attr("department"),
        Attr(
            "manager",
            "complex",
            sub_attributes=(
                Attr("value"),
                Attr("$ref", "reference", reference_types=("User",)),
                Attr("displayName", mutability="readOnly"),
            ),
        ),
    ),
    "Enterprise User",
)


class ResourceType:
    """A resource type of one directory: core schema, extensions, and name lookups."""

    __slots__ = ("_ext_by_urn", "description", "endpoint", "extensions", "kind", "name", "schema")

    def __init__(
        self, name: str, endpoint: str, schema: Schema, extensions: tuple[Extension, ...] = (), description=""
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.schema = schema
        self.extensions = extensions
        self.description = description or name
        self.kind = name  # "User" or "Group": the engine's behaviour switch
        self._ext_by_urn = {e.schema.id.lower(): e for e in extensions}

    def extension(self, urn: str) -> Extension | None:
        return self._ext_by_urn.get(urn.lower())

    def core_attr(self, name: str) -> Attr | None:
        lowered = name.lower()
        return COMMON.get(lowered) or self.schema.attr(lowered)

    def resolve(self, uri: str | None, name: str) -> tuple[str | None, Attr] | None:
        """(container, definition) of an attribute: container None for core, else the extension URN."""
        if uri is None or uri.lower() == self.schema.id.lower():
            found = self.core_attr(name)
            return (None, found) if found else None
        ext = self.extension(uri)
        if ext is None:
            return None
        found = ext.schema.attr(name)
        return (ext.schema.id, found) if found else None

    @property
    def schemas(self) -> list[Schema]:
        return [self.schema, *(e.schema for e in self.extensions)]

    def to_json(self, location: str) -> dict:
        out = {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [{"schema": e.schema.id, "required": e.required} for e in self.extensions],
            "meta": {"resourceType": "ResourceType", "location": location},
        }
        return out
