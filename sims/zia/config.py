"""World-file schema of ZIA tenants: admins, roles, API roles, OAuth 2.0 servers, limits, users."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sims.core.worldfile import Strict
from sims.zia.permissions import AREAS, parse_levels

_NAME = re.compile(r"^[A-Za-z0-9]{1,64}$")


class ZiaAdmin(Strict):
    username: str
    password: str
    api_key: str = Field(description="the 12-character API key the legacy session obfuscates")
    role: str = "Super Admin"

    @field_validator("api_key")
    @classmethod
    def _twelve(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{12}", v):
            raise ValueError("a ZIA API key is 12 letters or digits")
        return v


class RoleConfig(Strict):
    """An admin role or an API role: a rank and one level per permission area."""

    name: str = Field(min_length=1, max_length=128)
    rank: int = Field(default=7, ge=0, le=7)
    permissions: dict[str, str] = Field(default_factory=dict, description="area: NONE | VIEW_ONLY | FULL")

    @field_validator("permissions")
    @classmethod
    def _levels(cls, v: dict[str, str]) -> dict[str, str]:
        parse_levels(v)
        return v


class AuthorizationServerRef(Strict):
    """The guide's "Add Authorization Server" form."""

    name: str
    description: str = Field(default="", max_length=256)
    enabled: bool = True
    jwks_url: str = Field(description="URL, or idp:<server id> for an authorization server of the idp sim")
    validate_jwks_certificate: bool = True
    audience: str | None = None
    issuer: str | None = Field(default=None, description="URL, or idp:<server id> for its issuer")
    client_id: str | None = None

    @field_validator("name")
    @classmethod
    def _alnum(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("the name can only contain letters and digits, without spaces, at most 64")
        return v


class OneApiConfig(Strict):
    """ZIdentity (OneAPI) clients that may call this tenant, and the role each acts with."""

    authorization_server: str = Field(description="id of the idp's zidentity authorization server")
    clients: dict[str, str] = Field(default_factory=dict, description="client id -> admin or API role name")


class ZiaUser(Strict):
    name: str = Field(description="login name, e.g. alice@safemarch.example")
    display_name: str | None = None
    department: str | None = None
    groups: list[str] = Field(default_factory=list)


class GenerateZiaUsers(Strict):
    """Bulk users for big worlds: seeded names, departments and groups ("Group 0001", ...)."""

    count: int = Field(ge=0, le=1_000_000)
    seed: int = 0
    domain: str = "example.com"
    groups: int = Field(default=0, ge=0, le=100_000, description="users are spread over this many groups")


class SpCertificateConfig(Strict):
    """A request-signing certificate of the SP (Sign SAML Request > Request Signing SAML Certificate)."""

    name: str = Field(min_length=1, max_length=64)
    not_before: date
    days: int = Field(default=1095, gt=0, le=36500)
    key_seed: str | None = Field(default=None, description="default: derived from the world seed")


# The guide's Edit IdP page shows saml_2022 (expired November 16, 2022); a newer one is the "latest".
DEFAULT_SP_CERTIFICATES = [
    {"name": "saml_2022", "not_before": "2020-11-16", "days": 730},
    {"name": "saml_2025", "not_before": "2025-01-01", "days": 1825},
]


class IdentityProviderConfig(Strict):
    """The guide's Add IdP / Edit IdP page (Administration > Authentication > Identity Providers)."""

    name: str = Field(min_length=1, max_length=255)
    enabled: bool = True
    saml_portal_url: str = Field(description="the IdP's SSO URL, or idp:<directory>/<web app> of the idp sim")
    login_name_attribute: str = Field(default="NameID", min_length=1, description="case-sensitive")
    org_specific_entity_id: bool = False
    certificate: str = Field(description="IdP SAML certificate: PEM, or idp:<directory>/<web app>")
    issuer: str | None = Field(
        default=None,
        description="expected Issuer (UNVERIFIED as a ZIA field); default: the web app's for idp: references",
    )
    vendor: str = "Others"
    default_idp: bool = False
    locations: list[str] = Field(default_factory=list)
    authentication_domains: list[str] = Field(default_factory=list)
    sign_saml_request: bool = False
    signature_algorithm: Literal["SHA-1", "SHA-2"] = "SHA-2"
    request_signing_certificate: str | None = Field(default=None, description="default: the latest")
    allow_idp_initiated: bool = Field(default=True, description="off: unsolicited Responses get 0xB001")
    auto_provisioning: bool = False
    display_name_attribute: str = "displayName"
    group_attribute: str = "memberOf"
    department_attribute: str = "department"


class AuthenticationProfile(Strict):
    """Administration > Authentication > Authentication Profile."""

    user_repository: Literal["Hosted DB", "Active Directory", "OpenLDAP"] = "Hosted DB"
    authentication_type: Literal["Form-Based", "SAML"] = "Form-Based"
    authentication_frequency: Literal["Permanent Cookie", "Session Cookie", "Daily Cookie", "Custom"] = (
        "Daily Cookie"
    )
    custom_frequency_days: int = Field(default=1, ge=1, le=180)
    kerberos: bool = False


class TimeWindow(Strict):
    name: str
    days: list[str] = Field(default_factory=lambda: ["EVERYDAY"])
    start: int = Field(default=0, ge=0, le=1440, description="minutes after midnight (UTC)")
    end: int = Field(default=1440, ge=0, le=1440)


class ZiaSettings(Strict):
    realistic_rate_limits: bool = Field(default=False, description="ZIA's per-endpoint limits (2/s, 1/s...)")
    scim_rate_limit: bool = Field(default=False, description="SCIM's 5 requests a second, with 429")
    session_idle_timeout: int = Field(
        default=300, gt=0, description="seconds; the official SDK assumes 5 min (UNVERIFIED)"
    )
    login_max_skew: int | None = Field(
        default=None, description="reject logins whose timestamp is this far from the sim clock (UNVERIFIED)"
    )
    jwks_cache_seconds: int = Field(default=300, ge=0, description="JWKS cache period (UNVERIFIED)")
    jwks_refetch_min_interval: int = Field(default=0, ge=0, description="on an unknown kid, refetch after")
    jwt_leeway: int = Field(default=0, ge=0, le=300)
    max_custom_urls: int = Field(default=25_000, ge=0)
    max_custom_categories: int = Field(default=64, ge=0)
    max_keywords_per_category: int = Field(default=30, ge=0)
    max_keywords: int = Field(default=1000, ge=0)
    admin_rank_enabled: bool = True
    saml_clock_skew: int = Field(default=60, ge=0, le=3600, description="seconds allowed around SAML windows")
    saml_request_lifetime: int = Field(
        default=600, gt=0, description="SP-initiated logins older fail 0xE550C"
    )


class ScimAttribute(Strict):
    """A custom SCIM user attribute of the organization (discovered by provisioning clients)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
    schema_urn: str = Field(default="urn:ietf:params:scim:schemas:extension:zscaler:2.0:User")
    type: Literal["string", "integer", "boolean", "decimal"] = "string"
    description: str = ""


class ScimIdpConfig(Strict):
    """SCIM provisioning enabled on one (saved) IdP, with its bearer token."""

    idp: str = Field(description="the IdP's name")
    token: str = Field(min_length=16, description="the bearer token Generate Token gave")


class ZiaTenantConfig(Strict):
    cloud: str = Field(description="cloud domain, e.g. zscloud.net")
    org_id: int
    name: str
    domains: list[str] = Field(default_factory=list)
    admins: list[ZiaAdmin] = Field(default_factory=list)
    admin_roles: list[RoleConfig] = Field(
        default_factory=list, description="besides the built-in Super Admin"
    )
    api_roles: list[RoleConfig] = Field(default_factory=list)
    authorization_servers: list[AuthorizationServerRef] = Field(default_factory=list)
    oneapi: OneApiConfig | None = None
    users: list[ZiaUser] = Field(default_factory=list)
    generate_users: GenerateZiaUsers | None = None
    time_windows: list[TimeWindow] = Field(default_factory=list)
    settings: ZiaSettings = Field(default_factory=ZiaSettings)
    identity_providers: list[IdentityProviderConfig] = Field(default_factory=list)
    scim: list[ScimIdpConfig] = Field(default_factory=list, description="IdPs with SCIM provisioning enabled")
    scim_custom_attributes: list[ScimAttribute] = Field(default_factory=list)
    authentication_profile: AuthenticationProfile = Field(default_factory=AuthenticationProfile)
    sp_certificates: list[SpCertificateConfig] = Field(
        default_factory=lambda: [SpCertificateConfig.model_validate(c) for c in DEFAULT_SP_CERTIFICATES]
    )

    @model_validator(mode="after")
    def _consistent(self) -> ZiaTenantConfig:
        if len(self.api_roles) > 16:
            raise ValueError("ZIA allows at most 16 API roles")
        if len(self.authorization_servers) > 2:
            raise ValueError("ZIA allows at most two authorization servers per tenant")
        if sum(a.enabled for a in self.authorization_servers) > 1:
            raise ValueError("only one authorization server may be enabled at a time")
        roles = {"Super Admin"} | {r.name for r in self.admin_roles}
        for admin in self.admins:
            if admin.role not in roles:
                raise ValueError(f"admin {admin.username!r} has unknown role {admin.role!r}")
        idp_names = {i.name for i in self.identity_providers}
        for entry in self.scim:
            if entry.idp not in idp_names:
                raise ValueError(f"scim names IdP {entry.idp!r}, which this tenant does not have")
        check_identity_providers(self.identity_providers, self.authentication_profile, self.sp_certificates)
        if self.oneapi:
            known = roles | {r.name for r in self.api_roles}
            for client, role in self.oneapi.clients.items():
                if role not in known:
                    raise ValueError(f"OneAPI client {client!r} has unknown role {role!r}")
        return self


def check_identity_providers(
    idps: list[IdentityProviderConfig], profile: AuthenticationProfile, certs: list[SpCertificateConfig]
) -> None:
    """The portal's rules: at most 64 IdPs, unique names, one default, SAML only once an IdP exists."""
    if len(idps) > 64:
        raise ValueError("ZIA allows at most 64 identity providers")
    names = [i.name.lower() for i in idps]
    if len(set(names)) != len(names):
        raise ValueError("two identity providers share a name")
    if sum(i.default_idp for i in idps) > 1:
        raise ValueError("only one identity provider can be the default IdP")
    cert_names = {c.name for c in certs}
    for i in idps:
        if i.request_signing_certificate and i.request_signing_certificate not in cert_names:
            raise ValueError(f"IdP {i.name!r}: no SP certificate named {i.request_signing_certificate!r}")
        if i.sign_saml_request and not certs:
            raise ValueError(f"IdP {i.name!r} signs SAML requests but the tenant has no SP certificate")
    if profile.authentication_type == "SAML" and not any(i.enabled for i in idps):
        raise ValueError("SAML can be selected only once an identity provider is configured and enabled")


def check_saml_references(idp, zia: ZiaConfig) -> None:
    """Cross-sim references of a world: ``idp:<directory>/<web app>`` in ZIA's identity providers,
    ``zia:<org>[/<certificate>]`` in the idp's web apps, and PEM certificates that must parse."""
    from sims.samlkit import SamlXmlError, load_certificate

    apps = {f"{d.id}/{a.id}" for d in idp.directories for a in d.web_apps}
    certs = {str(t.org_id): {c.name for c in t.sp_certificates} for t in zia.tenants}

    def pem(value: str, where: str) -> None:
        try:
            load_certificate(value)
        except SamlXmlError as err:
            raise ValueError(f"{where}: {err.message}") from None

    for t in zia.tenants:
        for i in t.identity_providers:
            where = f"ZIA org {t.org_id} identity provider {i.name!r}"
            for field, value in (("saml_portal_url", i.saml_portal_url), ("certificate", i.certificate)):
                if value.startswith("idp:") and value[4:] not in apps:
                    raise ValueError(
                        f"{where}: {field} {value!r} names no web app (idp:<directory>/<web app>)"
                    )
            if not i.certificate.startswith("idp:"):
                pem(i.certificate, f"{where}: certificate")
    for d in idp.directories:
        for a in d.web_apps:
            ref = a.sp_certificate
            if not ref:
                continue
            where = f"idp directory {d.id!r} web app {a.id!r}: sp_certificate"
            if ref.startswith("zia:"):
                org, _, name = ref[4:].partition("/")
                if org not in certs or (name and name not in certs[org]):
                    raise ValueError(f"{where} {ref!r} names no ZIA organization or certificate")
            else:
                pem(ref, where)


class ZiaConfig(Strict):
    tenants: list[ZiaTenantConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ZiaConfig:
        keys = [(t.cloud, t.org_id) for t in self.tenants]
        if len(set(keys)) != len(keys):
            raise ValueError("two ZIA tenants share a cloud and org id")
        orgs = [t.org_id for t in self.tenants]
        if len(set(orgs)) != len(orgs):
            raise ValueError("two ZIA tenants share an org id")
        users = [a.username.lower() for t in self.tenants for a in t.admins]
        if len(set(users)) != len(users):
            raise ValueError("an admin username is used twice (logins find the tenant by username)")
        return self


__all__ = ["AREAS", "ZiaConfig", "ZiaTenantConfig"]
