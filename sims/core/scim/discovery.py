"""Discovery documents (RFC 7644 §4, RFC 7643 §5-7), generated from the dialect and the directory's
resource types: what a client (Entra's schema discovery, CyberArk's "Verify", scim2-tester) reads to
learn which attributes exist and what the server supports."""

from __future__ import annotations

from sims.core.scim.dialect import Dialect
from sims.core.scim.errors import not_found
from sims.core.scim.schema import LIST_RESPONSE, SPC_SCHEMA, ResourceType, Schema


def service_provider_config(dialect: Dialect, base: str) -> dict:
    out: dict = {"schemas": [SPC_SCHEMA]}
    if dialect.documentation_uri:
        out["documentationUri"] = dialect.documentation_uri
    out.update(
        {
            "patch": {"supported": True},
            "bulk": {
                "supported": dialect.bulk_max_operations > 0,
                "maxOperations": dialect.bulk_max_operations,
                "maxPayloadSize": dialect.bulk_max_payload_bytes,
            },
            "filter": {"supported": True, "maxResults": dialect.max_page_size},
            "changePassword": {"supported": False},
            "sort": {"supported": dialect.sort},
            "etag": {"supported": True},
            "authenticationSchemes": [dict(s) for s in dialect.auth_schemes],
            "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
        }
    )
    return out


def all_schemas(types: dict[str, ResourceType]) -> list[Schema]:
    seen: dict[str, Schema] = {}
    for rt in types.values():
        for schema in rt.schemas:
            seen.setdefault(schema.id, schema)
    return list(seen.values())


def schema_doc(schema: Schema, base: str) -> dict:
    out = schema.to_json()
    out["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{schema.id}"}
    return out


def schemas(types: dict[str, ResourceType], base: str) -> dict:
    return list_response([schema_doc(s, base) for s in all_schemas(types)])


def schema(types: dict[str, ResourceType], schema_id: str, base: str) -> dict:
    for s in all_schemas(types):
        if s.id.lower() == schema_id.lower():
            return schema_doc(s, base)
    raise not_found(f"schema {schema_id} not found")


def resource_types(types: dict[str, ResourceType], base: str) -> dict:
    return list_response([rt.to_json(f"{base}/ResourceTypes/{rt.name}") for rt in types.values()])


def resource_type(types: dict[str, ResourceType], name: str, base: str) -> dict:
    for rt in types.values():
        if rt.name.lower() == name.lower():
            return rt.to_json(f"{base}/ResourceTypes/{rt.name}")
    raise not_found(f"resource type {name} not found")


def list_response(resources: list, total: int | None = None, start_index: int = 1) -> dict:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": resources,
    }
