"""World-file schema of ZPA tenants: API client credentials and SAML identity providers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sims.core.worldfile import Strict


class ZpaIdpConfig(Strict):
    """An IdP of the ZPA Admin Portal (Administration > IdP Configuration), as the management API
    shapes it (reference zscaler-clients.md §5)."""

    name: str = Field(min_length=1, max_length=255)
    enabled: bool = True
    login_url: str = Field(description="the IdP's SSO URL, or idp:<directory>/<web app> of the idp sim")
    certificate: str = Field(description="IdP signing certificate: PEM, or idp:<directory>/<web app>")
    idp_entity_id: str | None = Field(default=None, description="default: the web app's for idp: references")
    sso_type: list[Literal["USER", "ADMIN"]] = Field(default_factory=lambda: ["USER"])
    domain_list: list[str] = Field(default_factory=list)
    sign_saml_request: bool = True
    auto_provision: bool = False
    scim_enabled: bool = False
    enable_scim_based_policy: bool = False
    disable_saml_based_policy: bool = False
    reauth_on_user_update: bool = False
    redirect_binding: bool = False
    force_auth: bool = False
    login_hint: bool = True


class ZpaTenant(Strict):
    customer_id: str = Field(pattern=r"^[0-9]{6,20}$")
    name: str
    client_id: str
    client_secret: str
    token_lifetime: int = Field(default=3600, gt=0, le=86400)
    scim_inactive_deletes: bool = Field(
        default=True, description="ZPA removes a user set inactive; off only for compliance tools' runs"
    )
    identity_providers: list[ZpaIdpConfig] = Field(default_factory=list)


class ZpaConfig(Strict):
    tenants: list[ZpaTenant] = Field(default_factory=list)


def check_zpa_references(idp, zpa: ZpaConfig) -> None:
    """``idp:<directory>/<web app>`` references must name a web app; PEM certificates must parse."""
    from sims.samlkit import SamlXmlError, load_certificate

    apps = {f"{d.id}/{a.id}" for d in idp.directories for a in d.web_apps}
    for t in zpa.tenants:
        names = [i.name.lower() for i in t.identity_providers]
        if len(set(names)) != len(names):
            raise ValueError(f"ZPA customer {t.customer_id}: two identity providers share a name")
        for i in t.identity_providers:
            where = f"ZPA customer {t.customer_id} identity provider {i.name!r}"
            for field, value in (("login_url", i.login_url), ("certificate", i.certificate)):
                if value.startswith("idp:") and value[4:] not in apps:
                    raise ValueError(
                        f"{where}: {field} {value!r} names no web app (idp:<directory>/<web app>)"
                    )
            if not i.certificate.startswith("idp:"):
                try:
                    load_certificate(i.certificate)
                except SamlXmlError as err:
                    raise ValueError(f"{where}: certificate: {err.message}") from None
