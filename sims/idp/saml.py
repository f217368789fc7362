"""The identity provider's SAML 2.0 side: web apps, signed Responses and AuthnRequest checks.

A web app is what CyberArk Identity's Apps & Widgets > Web Apps holds: the Zscaler template asks
for the cloud name and org id (the guide's Settings page) and derives the service provider's entity
id and ACS URL from them; the Trust page gives the SAML portal URL (SP-initiated SSO), the IdP entity
id, the metadata and the signing certificate. Responses follow the interop contract that every tested
SP library accepts (reference §0): Response and Assertion both signed, exclusive C14N, the
signature after ``saml:Issuer``, bearer subject confirmation with Recipient and InResponseTo,
Conditions with an AudienceRestriction, an AuthnStatement and an AttributeStatement.
No HTTP here: callers pass raw query strings and form fields, and instants from the sim clock.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from sims import samlkit as sk
from sims.core.keys import rsa_key, self_signed_cert
from sims.idp.config import DirectoryConfig, WebAppConfig
from sims.idp.directory import User

if TYPE_CHECKING:
    from sims.world import World

A = sk.ASSERTION
P = sk.PROTOCOL
# The guide's Edit IdP page: "IdP SAML Certificate Expiration Date: December 31, 2038".
CERT_NOT_BEFORE = datetime(2019, 1, 1, tzinfo=UTC)
CERT_DAYS = 7304  # 2019-01-01 + 7304 days = 2038-12-31
ZSCALER_DEFAULT_ATTRIBUTES = {"displayName": "display_name", "memberOf": "roles", "department": "department"}
GENERIC_DEFAULT_ATTRIBUTES = {"displayName": "display_name", "email": "email", "memberOf": "roles"}
BROKEN_HOST = "sims.invalid"
REQUEST_MAX_AGE = 3600  # an AuthnRequest older than this (sim clock) is refused
REQUEST_MAX_AHEAD = 300


class SsoError(Exception):
    """A failed SSO step, shown on the IdP's error page; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@functools.lru_cache(maxsize=256)
def signing_material(seed: str, common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa_key(seed)
    return key, self_signed_cert(
        key, common_name, not_before=CERT_NOT_BEFORE, days=CERT_DAYS, organization="sims CyberArk Identity"
    )


def app_key_for(world_seed: int, directory_id: str, app_id: str) -> str:
    """CyberArk names apps by an application key (a UUID); here it is derived, so it is stable."""
    digest = hashlib.sha256(f"{world_seed}:idp:{directory_id}:app:{app_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def zscaler_login_base(world: World, urls: dict[str, str], cloud: str) -> str:
    """Where ``https://login.<cloud>`` is served: the zia sim when this world has that cloud."""
    if "zia" in urls and any(t.cloud == cloud for t in world.zia.tenants):
        return urls["zia"]
    return f"https://login.{cloud}"


@dataclass
class AuthnRequest:
    id: str
    issuer: str
    acs_url: str
    destination: str | None
    force_authn: bool
    binding: str
    signed_with: str | None  # algorithm name when the request was signed


class WebApp:
    """One SAML web app of a directory, with everything derived from its settings."""

    def __init__(
        self, config: WebAppConfig, directory: DirectoryConfig, world: World, urls: dict[str, str]
    ) -> None:
        self.config = config
        self.directory_id = directory.id
        self.customer_id = directory.id.upper()
        self.key_id = app_key_for(world.seed, directory.id, config.id)
        base = f"{urls['idp']}/{directory.id}"
        self.sso_url = f"{base}/applogin/appKey/{self.key_id}/customerId/{self.customer_id}"
        self.entity_id = f"{base}/{self.key_id}"
        app_query = f"appkey={self.key_id}&customerid={self.customer_id}"
        self.metadata_url = f"{base}/saasManage/DownloadSAMLMetadataForApp?{app_query}"
        self.certificate_url = f"{base}/saasManage/DownloadSAMLCertificateForApp?{app_query}"
        self.launch_url = f"{base}/run?appkey={self.key_id}&customerid={self.customer_id}"
        seed = (
            config.signing_key_seed or directory.signing_key_seed or f"{world.seed}:idp:{directory.id}:saml"
        )
        self.key, self.cert = signing_material(
            seed, f"{self.customer_id} SHA256 Application Signing Certificate"
        )
        self.wrong_key, self.wrong_cert = signing_material(
            f"sims:wrong-key:{directory.id}", "Not the uploaded one"
        )
        if config.template == "zscaler":
            z = config.zscaler
            login = zscaler_login_base(world, urls, z.cloud_name)
            if z.org_specific_entity_id:
                default_entity = f"{login}/sfc_sso/{z.org_id}"
                default_acs = f"{login}/sfc_sso/{z.org_id}"
            else:
                default_entity, default_acs = z.cloud_name, f"{login}/sfc_sso"
            self.sp_entity_id = config.sp_entity_id or default_entity
            self.acs_url = config.acs_url or default_acs
            self.attributes = dict(config.attributes or ZSCALER_DEFAULT_ATTRIBUTES)
        else:
            self.sp_entity_id, self.acs_url = config.sp_entity_id, config.acs_url
            self.attributes = dict(config.attributes or GENERIC_DEFAULT_ATTRIBUTES)
        self.sp_cert = resolve_sp_certificate(config.sp_certificate, world) if config.sp_certificate else None
        self.broken: str | None = config.broken
        self.broken_left: int | None = None  # None: until cleared

    @property
    def name(self) -> str:
        return self.config.name or ("Zscaler" if self.config.template == "zscaler" else self.config.id)

    def certificate_pem(self) -> str:
        return sk.cert_to_pem(self.cert)

    def metadata(self, now: float) -> bytes:
        return sk.idp_metadata(
            self.entity_id, self.sso_url, self.cert, self.config.require_signed_requests, now + 7 * 86400
        )

    def allowed(self, user: User, roles: list[str]) -> bool:
        return not self.config.roles or any(r in roles for r in self.config.roles)

    def take_broken(self) -> str | None:
        mode = self.broken
        if mode is not None and self.broken_left is not None:
            self.broken_left -= 1
            if self.broken_left <= 0:
                self.broken, self.broken_left = None, None
        return mode

    def view(self) -> dict:
        c = self.config
        out = {
            "id": c.id,
            "app_key": self.key_id,
            "name": self.name,
            "template": c.template,
            "description": c.description,
            "category": c.category or ("Security" if c.template == "zscaler" else "Other"),
            "status": "Deployed",
            "roles": list(c.roles),
            # Trust page
            "saml_portal_url": self.sso_url,
            "idp_entity_id": self.entity_id,
            "metadata_url": self.metadata_url,
            "certificate_url": self.certificate_url,
            "signing_certificate": {
                "subject": self.cert.subject.rfc4514_string(),
                "expires": self.cert.not_valid_after_utc.strftime("%Y-%m-%d"),
                "pem": self.certificate_pem(),
            },
            "launch_url": self.launch_url,
            # service provider
            "sp_entity_id": self.sp_entity_id,
            "acs_url": self.acs_url,
            "require_signed_requests": c.require_signed_requests,
            "sp_certificate_subject": self.sp_cert.subject.rfc4514_string() if self.sp_cert else None,
            # SAML Response page
            "nameid": c.nameid,
            "attributes": dict(self.attributes),
            "sign": c.sign,
            "signature_algorithm": c.signature_algorithm,
            "assertion_lifetime": c.assertion_lifetime,
            "idp_initiated": c.idp_initiated,
            "broken": self.broken,
            "broken_left": self.broken_left,
        }
        if c.zscaler:
            out["zscaler"] = c.zscaler.model_dump()
        return out


def resolve_sp_certificate(ref: str, world: World) -> x509.Certificate:
    """``zia:<org>[/<name>]`` (the ZIA sim's request-signing certificate), or a PEM certificate."""
    if ref.startswith("zia:"):
        from sims.zia.sso import sp_certificate_for

        org, _, name = ref[4:].partition("/")
        return sp_certificate_for(world, org, name or None)
    try:
        return sk.load_certificate(ref)
    except sk.SamlXmlError as err:
        raise ValueError(f"sp_certificate: {err.message}") from None


# -- Responses -------------------------------------------------------------------------------------
def source_values(source: str, user: User, roles: list[str]) -> list[str]:
    if source == "roles":
        return list(roles)
    if source.startswith("attributes."):
        value = user.attributes.get(source[len("attributes.") :])
    else:
        value = getattr(user, source, None)
    return [str(value)] if value not in (None, "") else []


def _new_id() -> str:
    return "_" + secrets.token_hex(20)


def build_response(
    app: WebApp,
    user: User,
    roles: list[str],
    *,
    now: float,
    acs_url: str,
    in_response_to: str | None,
    broken: str | None = None,
) -> bytes:
    """A signed SAML Response for ``user`` (deliberately broken when ``broken`` names a mode)."""
    c = app.config
    issuer = f"https://wrong-issuer.{BROKEN_HOST}" if broken == "wrong_issuer" else app.entity_id
    destination = f"https://wrong-destination.{BROKEN_HOST}/acs" if broken == "wrong_destination" else acs_url
    recipient = f"https://wrong-recipient.{BROKEN_HOST}/acs" if broken == "wrong_recipient" else acs_url
    audience = f"https://wrong-audience.{BROKEN_HOST}" if broken == "wrong_audience" else app.sp_entity_id
    not_before, not_after = now - c.not_before_skew, now + c.assertion_lifetime
    if broken == "expired":
        not_before, not_after = now - c.assertion_lifetime - 420, now - 120
    elif broken == "not_yet_valid":
        not_before, not_after = now + 600, now + 600 + c.assertion_lifetime
    instant = sk.xs_datetime(now)
    response_id, assertion_id = _new_id(), _new_id()

    resp = etree.Element(
        f"{{{P}}}Response",
        nsmap={"samlp": P, "saml": A},
        ID=response_id,
        Version="2.0",
        IssueInstant=instant,
        Destination=destination,
    )
    if in_response_to:
        resp.set("InResponseTo", in_response_to)
    etree.SubElement(resp, f"{{{A}}}Issuer").text = issuer
    status = etree.SubElement(resp, f"{{{P}}}Status")
    etree.SubElement(status, f"{{{P}}}StatusCode", Value=sk.STATUS_SUCCESS)

    assertion = etree.SubElement(
        resp,
        f"{{{A}}}Assertion",
        nsmap={"xs": sk.XS, "xsi": sk.XSI},
        ID=assertion_id,
        Version="2.0",
        IssueInstant=instant,
    )
    etree.SubElement(assertion, f"{{{A}}}Issuer").text = issuer
    subject = etree.SubElement(assertion, f"{{{A}}}Subject")
    nameid_values = source_values(c.nameid, user, roles)
    nameid = etree.SubElement(subject, f"{{{A}}}NameID", Format=c.nameid_format)
    nameid.text = nameid_values[0] if nameid_values else user.login
    confirmation = etree.SubElement(subject, f"{{{A}}}SubjectConfirmation", Method=sk.CM_BEARER)
    data = etree.SubElement(
        confirmation,
        f"{{{A}}}SubjectConfirmationData",
        NotOnOrAfter=sk.xs_datetime(not_after),
        Recipient=recipient,
    )
    if in_response_to:
        data.set("InResponseTo", in_response_to)
    conditions = etree.SubElement(
        assertion,
        f"{{{A}}}Conditions",
        NotBefore=sk.xs_datetime(not_before),
        NotOnOrAfter=sk.xs_datetime(not_after),
    )
    restriction = etree.SubElement(conditions, f"{{{A}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{A}}}Audience").text = audience
    authn = etree.SubElement(
        assertion, f"{{{A}}}AuthnStatement", AuthnInstant=instant, SessionIndex=_new_id()
    )
    context = etree.SubElement(authn, f"{{{A}}}AuthnContext")
    etree.SubElement(context, f"{{{A}}}AuthnContextClassRef").text = sk.AC_PASSWORD_PROTECTED
    statement = etree.SubElement(assertion, f"{{{A}}}AttributeStatement")
    for name, source in app.attributes.items():
        values = source_values(source, user, roles)
        if not values:
            continue
        attribute = etree.SubElement(statement, f"{{{A}}}Attribute", Name=name, NameFormat=sk.ATTRNAME_BASIC)
        for v in values:
            value = etree.SubElement(attribute, f"{{{A}}}AttributeValue")
            value.set(f"{{{sk.XSI}}}type", "xs:string")
            value.text = v

    if broken == "unsigned":
        return sk.to_bytes(resp)
    key, cert = (app.wrong_key, app.wrong_cert) if broken == "wrong_key" else (app.key, app.cert)
    alg, key_info = c.signature_algorithm, c.include_key_info
    doc = resp
    if c.sign in ("both", "assertion"):
        doc = sk.sign_enveloped(doc, doc.find("saml:Assertion", sk.NS), key, cert, alg, key_info)
    if c.sign in ("both", "response"):
        doc = sk.sign_enveloped(doc, doc, key, cert, alg, key_info)
    out = sk.to_bytes(doc)
    if broken == "tampered":  # the NameID edited after signing: every signature must now fail
        original = f">{nameid.text}</saml:NameID>".encode()
        out = out.replace(original, f">mallory.{nameid.text}</saml:NameID>".encode(), 1)
    return out


def encode_response(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


# -- AuthnRequests ---------------------------------------------------------------------------------
def read_authn_request(
    app: WebApp, binding: str, *, now: float, raw_query: str = "", form: dict[str, str] | None = None
) -> tuple[AuthnRequest, str | None]:
    """Decode and check an AuthnRequest sent to the app's SAML portal URL; returns it and the
    RelayState. Redirect-binding signatures are checked over the raw query string."""
    signed_with = None
    try:
        if binding == sk.BINDING_REDIRECT:
            params = sk.raw_query_params(raw_query)
            if "SAMLRequest" not in params:
                raise SsoError("no_request", "The request carries no SAMLRequest")
            xml = sk.inflate(sk.b64decode_strict(unquote_plus(params["SAMLRequest"]), "SAMLRequest"))
            relay = unquote_plus(params["RelayState"]) if "RelayState" in params else None
            if "Signature" in params and app.sp_cert is not None:
                signed_with = sk.verify_redirect_signature(params, app.sp_cert)
            root = sk.safe_parse(xml)
        else:
            form = form or {}
            if "SAMLRequest" not in form:
                raise SsoError("no_request", "The request carries no SAMLRequest")
            raw = sk.b64decode_strict(form["SAMLRequest"], "SAMLRequest")
            xml = raw if raw.lstrip()[:1] == b"<" else sk.inflate(raw)  # node-saml deflates POST too
            relay = form.get("RelayState")
            root = sk.safe_parse(xml)
            if root.find("ds:Signature", sk.NS) is not None and app.sp_cert is not None:
                algorithm = root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", sk.NS)
                root = sk.verify_enveloped(root, app.sp_cert, allow_sha1=True)
                found = sk.BY_SIGNATURE_URI.get(
                    algorithm.get("Algorithm", "") if algorithm is not None else ""
                )
                signed_with = found.name if found else "other"
    except sk.SamlXmlError as err:
        raise SsoError(f"request_{err.reason}", f"The SAML request was rejected: {err.message}") from None
    if app.config.require_signed_requests and signed_with is None:
        raise SsoError(
            "unsigned_request", "The application requires signed SAML requests; this one is not signed"
        )
    if root.tag != f"{{{P}}}AuthnRequest":
        raise SsoError("not_authn_request", "The SAML message is not an AuthnRequest")
    try:
        issuer = sk.text_of(root.find("saml:Issuer", sk.NS))
        issued = sk.parse_xs_datetime(root.get("IssueInstant"))
    except sk.SamlXmlError as err:
        raise SsoError(f"request_{err.reason}", f"The SAML request was rejected: {err.message}") from None
    request_id = root.get("ID")
    if not request_id or root.get("Version") != "2.0" or issued is None:
        raise SsoError("bad_request", "The AuthnRequest lacks its ID, Version 2.0 or IssueInstant")
    if issuer != app.sp_entity_id:
        raise SsoError(
            "wrong_sp",
            f"The request's Issuer {issuer!r} is not the app's service provider {app.sp_entity_id!r}",
        )
    if now - issued > REQUEST_MAX_AGE or issued - now > REQUEST_MAX_AHEAD:
        raise SsoError("request_expired", "The AuthnRequest's IssueInstant is outside the accepted window")
    destination = root.get("Destination")
    if destination and destination.split("?", 1)[0] != app.sso_url:
        raise SsoError(
            "wrong_destination", f"The request's Destination {destination!r} is not this SAML portal URL"
        )
    acs = root.get("AssertionConsumerServiceURL") or app.acs_url
    if acs != app.acs_url:
        raise SsoError("acs_mismatch", f"The ACS URL {acs!r} is not the one configured for this application")
    if relay is not None and len(relay.encode()) > 80:
        raise SsoError("relay_state_too_long", "RelayState must not exceed 80 bytes (SAML bindings §3.4.3)")
    request = AuthnRequest(
        id=request_id,
        issuer=issuer,
        acs_url=acs,
        destination=destination,
        force_authn=root.get("ForceAuthn") in ("true", "1"),
        binding=binding,
        signed_with=signed_with,
    )
    return request, relay
