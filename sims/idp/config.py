"""World-file schema of the identity provider: directory, OAuth 2.0 authorization servers, clients."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sims.core.names import group_names
from sims.core.worldfile import Strict
from sims.idp.provisioning import ProvisioningConfig

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
    groups: int = Field(
        default=0, ge=0, le=100_000, description='also spread them over this many roles "Group 0001", ...'
    )

    def group_names(self) -> list[str]:
        return group_names(self.groups)


BrokenMode = Literal[
    "unsigned",
    "wrong_key",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_recipient",
    "wrong_destination",
    "wrong_issuer",
    "tampered",
]
# Where a SAML attribute (or the NameID) takes its value from: a user field, or ``attributes.<name>``.
USER_FIELDS = ("login", "email", "display_name", "first_name", "last_name", "department", "roles")


def _check_source(source: str) -> str:
    if source in USER_FIELDS or (source.startswith("attributes.") and len(source) > len("attributes.")):
        return source
    raise ValueError(
        f"unknown attribute source {source!r} (use {', '.join(USER_FIELDS)} or attributes.<name>)"
    )


class ZscalerAppSettings(Strict):
    """The Zscaler app's Settings page (CyberArk guide, figure 3)."""

    cloud_name: str = Field(description="Your Zscaler Cloud Name, e.g. zscloud.net")
    org_id: int = Field(description="Your Zscaler Org ID (Company ID without the cloud)")
    org_specific_entity_id: bool = Field(
        default=False,
        description="ZIA's Org-Specific Entity ID: audience and ACS https://login.<cloud>/sfc_sso/<org>",
    )

    @field_validator("cloud_name")
    @classmethod
    def _domain(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+(\.[a-z0-9-]+)+", v):
            raise ValueError("a Zscaler cloud name is a domain such as zscloud.net")
        return v


class WebAppConfig(Strict):
    """A SAML web app of the directory (Apps & Widgets > Web Apps): the Zscaler template, whose
    service-provider URLs derive from the cloud name and org id, or a generic SAML app."""

    id: str = Field(description="local handle of the app (path-safe)")
    template: Literal["zscaler", "saml"] = "saml"
    name: str | None = None
    description: str | None = None
    category: str | None = None
    zscaler: ZscalerAppSettings | None = None
    sp_entity_id: str | None = Field(default=None, description="generic apps; overrides the Zscaler default")
    acs_url: str | None = Field(default=None, description="generic apps; overrides the Zscaler default")
    roles: list[str] = Field(
        default_factory=list, description="roles the app is assigned to (empty: everyone)"
    )
    nameid: str = Field(default="login", description="NameID source: login, email or attributes.<name>")
    nameid_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    attributes: dict[str, str] | None = Field(
        default=None, description="SAML attribute name -> source; default displayName, memberOf, department"
    )
    sign: Literal["both", "assertion", "response"] = "both"
    signature_algorithm: Literal["sha256", "sha1"] = "sha256"
    include_key_info: bool = True
    assertion_lifetime: int = Field(default=300, gt=0, le=86400, description="seconds after issue")
    not_before_skew: int = Field(default=60, ge=0, le=3600, description="NotBefore this far in the past")
    idp_initiated: bool = True
    default_relay_state: str | None = Field(default=None, max_length=80)
    require_signed_requests: bool = False
    sp_certificate: str | None = Field(
        default=None,
        description="SP request-signing certificate: PEM, or zia:<org id>[/<certificate name>] (ZIA sim)",
    )
    signing_key_seed: str | None = Field(default=None, description="default: the directory's signing key")
    broken: BrokenMode | None = Field(default=None, description="deliberately broken Responses (testing SPs)")
    provisioning: ProvisioningConfig | None = Field(default=None, description="the app's Provisioning tab")

    @field_validator("id")
    @classmethod
    def _path_safe(cls, v: str) -> str:
        if not _PATH_SAFE.match(v):
            raise ValueError("must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        return v

    @field_validator("nameid")
    @classmethod
    def _nameid_source(cls, v: str) -> str:
        if v not in ("login", "email") and not v.startswith("attributes."):
            raise ValueError("the NameID comes from login, email or attributes.<name>")
        return v

    @field_validator("attributes")
    @classmethod
    def _sources(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for name, source in (v or {}).items():
            if not name or len(name) > 256:
                raise ValueError("attribute names are 1-256 characters")
            _check_source(source)
        return v

    @model_validator(mode="after")
    def _template(self) -> WebAppConfig:
        if self.template == "zscaler" and self.zscaler is None:
            raise ValueError("the zscaler template needs zscaler: {cloud_name, org_id}")
        if self.template == "saml" and not (self.sp_entity_id and self.acs_url):
            raise ValueError("a generic SAML app needs sp_entity_id and acs_url")
        if self.require_signed_requests and not self.sp_certificate:
            raise ValueError("require_signed_requests needs the SP's certificate (sp_certificate)")
        return self


class DirectoryConfig(Strict):
    """A CyberArk-Identity-like tenant: users, roles and SAML web apps."""

    id: str
    name: str | None = None
    users: list[DirectoryUser] = Field(default_factory=list)
    roles: list[DirectoryRole] = Field(default_factory=list)
    generate: GenerateUsers | None = None
    web_apps: list[WebAppConfig] = Field(default_factory=list)
    session_lifetime: int = Field(default=8 * 3600, gt=0, description="seconds a portal sign-in lasts")
    signing_key_seed: str | None = Field(default=None, description="default: derived from the world seed")

    @field_validator("id")
    @classmethod
    def _path_safe(cls, v: str) -> str:
        if not _PATH_SAFE.match(v):
            raise ValueError("must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        if v in ("oauth2", "docs", "openapi.json", ".well-known"):
            raise ValueError(f"{v!r} is reserved by the idp's own paths")
        return v

    @model_validator(mode="after")
    def _members_exist(self) -> DirectoryConfig:
        logins = {u.login for u in self.users}
        if len(logins) != len(self.users):
            raise ValueError("duplicate user login")
        for role in self.roles:
            for m in role.members:
                if m not in logins:
                    raise ValueError(f"role {role.name!r} names unknown user {m!r}")
        ids = [a.id for a in self.web_apps]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate web app id")
        roles = {r.name for r in self.roles}
        if self.generate:
            roles |= set(self.generate.roles) | set(self.generate.group_names())
        for app in self.web_apps:
            for r in app.roles:
                if r not in roles:
                    raise ValueError(f"web app {app.id!r} is assigned to unknown role {r!r}")
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
        dirs = [d.id for d in self.directories]
        if len(set(dirs)) != len(dirs):
            raise ValueError("duplicate directory id")
        clash = set(dirs) & set(ids)
        if clash:
            raise ValueError(f"{sorted(clash)[0]!r} is both a directory and an authorization server id")
        return self
