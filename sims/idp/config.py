"""World-file schema of the identity provider: directory, OAuth 2.0 authorization servers, clients."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sims.core.worldfile import Strict

Flavour = Literal["okta", "entra", "ping", "generic", "zidentity"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
_PATH_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ClientKeyConfig(Strict):
    """The key a private_key_jwt client signs its assertions with: a seed (the world then knows the
    private key and prints it) or a public key the user holds the private half of."""

    seed: str | None = None
    public_key_pem: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ClientKeyConfig:
        if (self.seed is None) == (self.public_key_pem is None):
            raise ValueError("give exactly one of seed or public_key_pem")
        return self


class OAuthClientConfig(Strict):
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str | None = Field(default=None, min_length=1)
    secret_expires_at: datetime | None = None
    auth_methods: list[AuthMethod] = ["client_secret_basic", "client_secret_post"]
    grant_types: list[Literal["client_credentials"]] = ["client_credentials"]
    scopes: list[str] = Field(default_factory=list, description="scopes (Entra: app roles) it may obtain")
    default_scopes: list[str] | None = Field(
        default=None, description="granted when a request names none; unset = all allowed (Okta: none)"
    )
    jwt_key: ClientKeyConfig | None = None
    token_lifetime: int | None = Field(default=None, gt=0, le=86400 * 7)
    name: str | None = None

    @model_validator(mode="after")
    def _credentials(self) -> OAuthClientConfig:
        secret_methods = {"client_secret_basic", "client_secret_post"} & set(self.auth_methods)
        if secret_methods and not self.client_secret:
            raise ValueError(f"auth method {sorted(secret_methods)[0]} needs a client_secret")
        if "private_key_jwt" in self.auth_methods and not self.jwt_key:
            raise ValueError("auth method private_key_jwt needs a jwt_key")
        if not self.auth_methods:
            raise ValueError("a client needs at least one auth method")
        if self.default_scopes and not set(self.default_scopes) <= set(self.scopes):
            raise ValueError("default_scopes must be a subset of scopes")
        return self


class AuthorizationServerConfig(Strict):
    id: str = Field(description="path segment under the idp's base URL")
    flavour: Flavour = "generic"
    name: str | None = None
    issuer: str | None = Field(default=None, description="default: derived from the idp base URL")
    audience: str | None = Field(default=None, description="default per flavour")
    token_lifetime: int = Field(default=3600, gt=0, le=86400 * 7)
    scope_claim: Literal["scope", "scp", "roles"] | None = None
    client_id_claim: Literal["client_id", "cid", "appid", "azp"] | None = None
    key_seed: str | None = Field(default=None, description="default: derived from the world seed and id")
    key_grace: int = Field(default=86400, ge=0, description="seconds a rotated-out key stays published")
    rotate_every: int | None = Field(default=None, gt=0, description="automatic key rotation period")
    root_alias: bool = Field(default=False, description="also serve /oauth2/v1/token at the root (ZIdentity)")
    tenant_id: str | None = Field(default=None, description="Entra directory id (tid); default derived")
    clients: list[OAuthClientConfig] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _path_safe(cls, v: str) -> str:
        if not _PATH_SAFE.match(v):
            raise ValueError("must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        if v in ("oauth2", "docs", "openapi.json"):
            raise ValueError(f"{v!r} is reserved by the idp's own paths")
        return v

    @model_validator(mode="after")
    def _unique_clients(self) -> AuthorizationServerConfig:
        seen: set[str] = set()
        for c in self.clients:
            if c.client_id in seen:
                raise ValueError(f"duplicate client_id {c.client_id!r}")
            seen.add(c.client_id)
        if self.root_alias and self.flavour != "zidentity":
            raise ValueError("root_alias is only for the zidentity flavour")
        return self


class DirectoryUser(Strict):
    login: str
    email: str | None = None
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    department: str | None = None
    password: str = "Passw0rd!"
    attributes: dict[str, str] = Field(default_factory=dict)


class DirectoryRole(Strict):
    name: str
    members: list[str] = Field(default_factory=list)


class GenerateUsers(Strict):
    count: int = Field(ge=0, le=1_000_000)
    seed: int = 0
    domain: str = "example.com"
    roles: list[str] = Field(default_factory=list, description="generated users are spread over these")


class DirectoryConfig(Strict):
    """A CyberArk-Identity-like tenant: users and roles (later: web apps, SAML, provisioning)."""

    id: str
    name: str | None = None
    users: list[DirectoryUser] = Field(default_factory=list)
    roles: list[DirectoryRole] = Field(default_factory=list)
    generate: GenerateUsers | None = None

    @model_validator(mode="after")
    def _members_exist(self) -> DirectoryConfig:
        logins = {u.login for u in self.users}
        if len(logins) != len(self.users):
            raise ValueError("duplicate user login")
        for role in self.roles:
            for m in role.members:
                if m not in logins:
                    raise ValueError(f"role {role.name!r} names unknown user {m!r}")
        return self


class IdpConfig(Strict):
    directories: list[DirectoryConfig] = Field(default_factory=list)
    authorization_servers: list[AuthorizationServerConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> IdpConfig:
        ids = [a.id for a in self.authorization_servers]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate authorization server id {sorted(dup)[0]!r}")
        if sum(a.root_alias for a in self.authorization_servers) > 1:
            raise ValueError("only one authorization server may have root_alias")
        return self
