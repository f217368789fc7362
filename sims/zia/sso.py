"""ZIA as a SAML 2.0 service provider: identity providers, the authentication profile, SP-initiated
logins, the assertion consumer service and SAML auto-provisioning. No HTTP here.

The ACS verifies a Response XSW-safely: each signature must sit directly in the element it signs,
reference that element's ID, use exclusive C14N, and verify with the uploaded certificate (KeyInfo is
ignored); everything read afterwards (issuer, destination, subject, conditions, attributes) comes
only from the subtrees signxml rebuilt from the signed bytes. The document itself must have one
assertion, unique IDs, no DOCTYPE, no comments inside the assertion and at most 20 certificates.
Failures carry the error codes ZIA documents (reference §4.3); where ZIA documents none for a check,
the nearest documented code is used and the table says so.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from sims import samlkit as sk
from sims.core.clock import SimClock, iso
from sims.core.keys import rsa_key, self_signed_cert
from sims.zia.config import (
    AuthenticationProfile,
    IdentityProviderConfig,
    SpCertificateConfig,
    check_identity_providers,
)

if TYPE_CHECKING:
    from sims.world import World
    from sims.zia.tenant import Tenant

A = sk.ASSERTION
P = sk.PROTOCOL
MAX_OUTSTANDING = 10_000
MAX_USED_IDS = 100_000
MAX_USER_SESSIONS = 10_000
LOGIN_NAME_MAX = 127  # 0xA02B "login name too big" (the exact limit is UNVERIFIED)
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")

# reason -> (ZIA error code, what the error page says, documented for this very check?)
CODES: dict[str, tuple[str, str, bool]] = {
    "saml_disabled": ("0xB0010", "SAML authentication is disabled for this organization", True),
    "unknown_org": ("0xB00A5", "Invalid IdP ID in the endpoint", True),
    "idp_initiated_disabled": ("0xB001", "IdP-initiated SAML login is disabled", True),
    "bad_signature": ("0xB003", "SAML response signature verification failed", True),
    "unsigned": ("0xB003", "SAML response signature verification failed: the response is not signed", True),
    "bad_reference": ("0xB003", "SAML response signature verification failed", True),
    "algorithm": ("0xB003", "SAML response signature verification failed: check the hash algorithm", True),
    "wrong_audience": ("0xB003", "SAML response verification failed: check the Org-ID (audience)", True),
    "wrong_issuer": ("0xB003", "SAML response verification failed: unexpected issuer", False),
    "wrong_recipient": ("0xB003", "SAML response verification failed: wrong recipient", False),
    "wrong_destination": ("0xB003", "SAML response verification failed: wrong destination", False),
    "status": ("0xB003", "The identity provider did not report success", False),
    "expired": ("0xB004", "The SAML response was delivered after the permissible skew", True),
    "not_yet_valid": ("0xB004", "The SAML response is not valid yet (outside the permissible skew)", True),
    "c14n": ("0xE5505", "SAML standard needs XML exc-c14n transform", True),
    "too_many_certificates": ("0xE5504", "More than 20 public certificates in the SAML response", True),
    "tampered": ("0xE5509", "The SAML response has been tampered with", True),
    "replayed": ("0xE5509", "The SAML assertion has already been used", False),
    "malformed": ("0xE5509", "The SAML response cannot be parsed", False),
    "doctype": ("0xE5509", "The SAML response contains a DOCTYPE (entities are refused)", False),
    "too_large": ("0xE5509", "The SAML response is too large", False),
    "bad_encoding": ("0xE5509", "The SAML response is not valid base64", False),
    "not_response": ("0xE5509", "The message is not a SAML Response", False),
    "structure": (
        "0xE5509",
        "The SAML response is not shaped as expected (wrapped or duplicated elements)",
        False,
    ),
    "bad_time": ("0xE5509", "The SAML response has a malformed timestamp", False),
    "missing_response": ("0xE5509", "No SAMLResponse was posted", False),
    "relay_state_missing": ("0xE5501", "The RelayState is missing", True),
    "relay_state_invalid": ("0xE550B", "The RelayState is invalid", True),
    "request_too_old": ("0xE550C", "The SAML request is too old (or unknown)", True),
    "login_name_missing": ("0xB0090", "The login-name attribute was not found in the SAML response", True),
    "login_name_invalid": ("0xA021", "Invalid login name: not an email address", True),
    "login_name_too_long": ("0xA02B", "The login name is too big", True),
    "domain_not_registered": ("0xA020", "The user's domain is not registered for this organization", True),
    "user_not_found": ("0xB0040", "User not found and SAML auto-provisioning is disabled", True),
}


class SamlFailure(Exception):
    def __init__(self, reason: str, detail: str = "", status: int = 400) -> None:
        code, text, _ = CODES[reason]
        super().__init__(f"{code} {text}")
        self.reason, self.code, self.text, self.detail, self.status = reason, code, text, detail, status

    def journal(self) -> str:
        return f"saml {self.code} {self.reason}: {self.detail or self.text}"[:500]


def _fail(err: sk.SamlXmlError) -> SamlFailure:
    reason = err.reason if err.reason in CODES else "malformed"
    return SamlFailure(reason, err.message)


# -- SP certificates -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _sp_material(
    seed: str, name: str, not_before: str, days: int
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa_key(seed)
    start = datetime.fromisoformat(not_before).replace(tzinfo=UTC)
    return key, self_signed_cert(key, name, not_before=start, days=days, organization="sims ZIA SP")


def sp_material(
    world_seed: int, org_id: int, c: SpCertificateConfig
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    seed = c.key_seed or f"{world_seed}:zia:{org_id}:sp:{c.name}"
    return _sp_material(seed, c.name, c.not_before.isoformat(), c.days)


def latest_certificate(certs: list[SpCertificateConfig]) -> SpCertificateConfig:
    return max(certs, key=lambda c: c.not_before)


def sp_certificate_for(world: World, org: str, name: str | None = None) -> x509.Certificate:
    """The request-signing certificate of a ZIA tenant of this world (``zia:<org>[/<name>]``): the one
    named, else the one its first request-signing IdP uses, else the latest."""
    tenant = next((t for t in world.zia.tenants if str(t.org_id) == org), None)
    if tenant is None:
        raise ValueError(f"zia:{org} names no ZIA organization of this world")
    if not tenant.sp_certificates:
        raise ValueError(f"ZIA organization {org} has no SP certificate")
    if name is None:
        signing = next((i for i in tenant.identity_providers if i.sign_saml_request), None)
        name = signing.request_signing_certificate if signing else None
    chosen = next((c for c in tenant.sp_certificates if c.name == name), None) if name else None
    if name and chosen is None:
        raise ValueError(f"ZIA organization {org} has no SP certificate {name!r}")
    return sp_material(world.seed, tenant.org_id, chosen or latest_certificate(tenant.sp_certificates))[1]


# -- runtime records -------------------------------------------------------------------------------
@dataclass
class IdentityProvider:
    id: int
    config: IdentityProviderConfig
    sso_url: str
    certificate: x509.Certificate
    issuer: str | None


@dataclass
class SamlConfig:
    """What the portal edits and Activate publishes: the IdPs and the authentication profile."""

    idps: dict[int, IdentityProvider] = field(default_factory=dict)
    profile: AuthenticationProfile = field(default_factory=AuthenticationProfile)

    def clone(self) -> SamlConfig:
        return SamlConfig(dict(self.idps), self.profile.model_copy())

    def enabled(self) -> list[IdentityProvider]:
        return [i for i in self.idps.values() if i.config.enabled]

    def saml_on(self) -> bool:
        return self.profile.authentication_type == "SAML" and bool(self.enabled())


@dataclass
class Outstanding:
    id: str
    idp_id: int
    relay_state: str
    return_to: str
    created: float


@dataclass
class UserSession:
    id: str
    user_id: int
    login: str
    idp_id: int
    created: float
    expires: float
    in_response_to: str | None = None


@dataclass
class Accepted:
    session: UserSession
    return_to: str
    idp: IdentityProvider
    provisioned: str  # "created" | "updated" | "existing"


class SamlSP:
    """The SAML service provider of one ZIA tenant."""

    def __init__(
        self, tenant: Tenant, world: World, urls: dict[str, str], base_url: str, clock: SimClock
    ) -> None:
        self.tenant = tenant
        self.world = world
        self.urls = urls
        self.base_url = base_url
        self.clock = clock
        self.org = tenant.config.org_id
        self.cloud = tenant.config.cloud
        self.reset()

    # -- identity ---------------------------------------------------------------------------------
    def acs_url(self, org_specific: bool = False) -> str:
        return f"{self.base_url}/sfc_sso/{self.org}" if org_specific else f"{self.base_url}/sfc_sso"

    def entity_id(self, idp: IdentityProvider | IdentityProviderConfig) -> str:
        cfg = idp.config if isinstance(idp, IdentityProvider) else idp
        return f"{self.base_url}/sfc_sso/{self.org}" if cfg.org_specific_entity_id else self.cloud

    def acs_urls(self) -> set[str]:
        """Every URL this tenant's ACS answers to: the sim's, and login.<cloud>'s as the real one."""
        out = set()
        for base in (self.base_url, f"https://login.{self.cloud}", f"https://login.{self.cloud}:443"):
            out |= {f"{base}/sfc_sso", f"{base}/sfc_sso/{self.org}"}
        return out

    def audiences(self, idp: IdentityProvider) -> set[str]:
        if not idp.config.org_specific_entity_id:
            return {self.cloud}
        return {
            f"{base}/sfc_sso/{self.org}"
            for base in (self.base_url, f"https://login.{self.cloud}", f"https://login.{self.cloud}:443")
        }

    def sp_certificate(
        self, idp: IdentityProvider | None = None
    ) -> tuple[SpCertificateConfig, rsa.RSAPrivateKey, x509.Certificate]:
        certs = self.tenant.config.sp_certificates
        name = idp.config.request_signing_certificate if idp else None
        chosen = next((c for c in certs if c.name == name), None) or latest_certificate(certs)
        key, cert = sp_material(self.world.seed, self.org, chosen)
        return chosen, key, cert

    def sp_metadata(self, idp: IdentityProvider) -> bytes:
        _, _, cert = self.sp_certificate(idp)
        return sk.sp_metadata(
            self.entity_id(idp),
            self.acs_url(idp.config.org_specific_entity_id),
            cert,
            authn_requests_signed=idp.config.sign_saml_request,
        )

    # -- configuration (the Admin Portal) --------------------------------------------------------
    def reset(self) -> None:
        cfg = self.tenant.config
        self.next_id = 1
        self.pending = SamlConfig(profile=cfg.authentication_profile.model_copy())
        for idp_cfg in cfg.identity_providers:
            self._put(self.pending, idp_cfg)
        self.active = self.pending.clone()
        self.outstanding: OrderedDict[str, Outstanding] = OrderedDict()
        self.used: OrderedDict[str, float] = OrderedDict()  # assertion id -> forget after
        self.sessions: OrderedDict[str, UserSession] = OrderedDict()

    def _resolve(self, cfg: IdentityProviderConfig) -> tuple[str, x509.Certificate, str | None]:
        """``idp:<directory>/<web app>`` references to the idp sim's app; URLs and PEM pass through."""
        issuer = cfg.issuer
        app = None
        for ref in (cfg.saml_portal_url, cfg.certificate):
            if ref.startswith("idp:"):
                app = self._web_app(ref)
        sso = app.sso_url if cfg.saml_portal_url.startswith("idp:") else cfg.saml_portal_url
        if cfg.certificate.startswith("idp:"):
            cert = app.cert
        else:
            try:
                cert = sk.load_certificate(cfg.certificate)
            except sk.SamlXmlError as err:
                raise ValueError(f"IdP SAML certificate: {err.message}") from None
        if issuer is None and app is not None:
            issuer = app.entity_id
        if not sso.startswith(("https://", "http://")):
            raise ValueError("the SAML Portal URL must be an http(s) URL")
        return sso, cert, issuer

    def _web_app(self, ref: str):
        from sims.idp.saml import WebApp

        directory_id, _, app_id = ref[4:].partition("/")
        directory = next((d for d in self.world.idp.directories if d.id == directory_id), None)
        app_cfg = next((a for a in directory.web_apps if a.id == app_id), None) if directory else None
        if app_cfg is None:
            raise ValueError(f"{ref!r} names no web app of the idp sim (idp:<directory>/<web app>)")
        return WebApp(app_cfg, directory, self.world, self.urls)

    def _put(
        self, config: SamlConfig, cfg: IdentityProviderConfig, idp_id: int | None = None
    ) -> IdentityProvider:
        sso, cert, issuer = self._resolve(cfg)
        if idp_id is None:
            idp_id = self.next_id
            self.next_id += 1
        idp = IdentityProvider(idp_id, cfg, sso, cert, issuer)
        config.idps[idp_id] = idp
        return idp

    def _check(self, idps: list[IdentityProviderConfig], profile: AuthenticationProfile) -> None:
        check_identity_providers(idps, profile, self.tenant.config.sp_certificates)

    def add_idp(self, cfg: IdentityProviderConfig) -> IdentityProvider:
        self._check([i.config for i in self.pending.idps.values()] + [cfg], self.pending.profile)
        idp = self._put(self.pending, cfg)
        self.tenant.changed()
        return idp

    def update_idp(self, idp_id: int, cfg: IdentityProviderConfig) -> IdentityProvider:
        others = [i.config for k, i in self.pending.idps.items() if k != idp_id]
        self._check([*others, cfg], self.pending.profile)
        idp = self._put(self.pending, cfg, idp_id)
        self.tenant.changed()
        return idp

    def delete_idp(self, idp_id: int) -> None:
        others = [i.config for k, i in self.pending.idps.items() if k != idp_id]
        self._check(others, self.pending.profile)
        del self.pending.idps[idp_id]
        self.tenant.changed()

    def set_profile(self, profile: AuthenticationProfile) -> None:
        self._check([i.config for i in self.pending.idps.values()], profile)
        self.pending.profile = profile
        self.tenant.changed()

    def activate(self) -> None:
        self.active = self.pending.clone()

    def idp_view(self, idp: IdentityProvider, active: bool) -> dict:
        now = self.clock.now()
        c = idp.config
        expires = idp.certificate.not_valid_after_utc.timestamp()
        sp_cfg, _, sp_cert = self.sp_certificate(idp)
        sp_expires = sp_cert.not_valid_after_utc.timestamp()
        return {
            "id": idp.id,
            **c.model_dump(mode="json"),
            "resolved_saml_portal_url": idp.sso_url,
            "entity_id": self.entity_id(idp),
            "acs_url": self.acs_url(c.org_specific_entity_id),
            "expected_issuer": idp.issuer,
            "idp_certificate": {
                "subject": idp.certificate.subject.rfc4514_string(),
                "expires": iso(expires),
                "expiration_date": datetime.fromtimestamp(expires, UTC)
                .strftime("%B %d, %Y")
                .replace(" 0", " "),
                "expiring_soon": expires - now < 30 * 86400,  # the portal's caution icon
                "expired": expires <= now,
            },
            "request_signing_certificate_in_use": sp_cfg.name,
            "sp_certificate": {
                "name": sp_cfg.name,
                "expires": iso(sp_expires),
                "expiration_date": datetime.fromtimestamp(sp_expires, UTC)
                .strftime("%B %d, %Y")
                .replace(" 0", " "),
                "expired": sp_expires <= now,
            },
            "active": active,
        }

    def listing(self) -> list[dict]:
        return [
            self.idp_view(i, i.id in self.active.idps and self.active.idps[i.id] is i)
            for i in self.pending.idps.values()
        ]

    def profile_view(self) -> dict:
        return {
            **self.pending.profile.model_dump(),
            "saml_available": bool(self.pending.enabled()),
            "active": self.active.profile.model_dump(),
        }

    # -- SP-initiated login ----------------------------------------------------------------------
    def choose_idp(self, login_name: str | None) -> IdentityProvider:
        if not self.active.saml_on():
            raise SamlFailure(
                "saml_disabled", "the authentication profile is not SAML, or no IdP is enabled", 403
            )
        enabled = self.active.enabled()
        domain = login_name.rsplit("@", 1)[-1].lower() if login_name and "@" in login_name else None
        if domain:
            for idp in enabled:
                if domain in (d.lower() for d in idp.config.authentication_domains):
                    return idp
        default = next((i for i in enabled if i.config.default_idp), None)
        return default or enabled[0]

    def start(self, login_name: str | None, return_to: str) -> str:
        """The IdP URL to send the browser to, with a (signed, when configured) AuthnRequest."""
        idp = self.choose_idp(login_name)
        now = self.clock.now()
        request_id = "_zs" + secrets.token_hex(20)
        relay = secrets.token_urlsafe(24)
        req = etree.Element(
            f"{{{P}}}AuthnRequest",
            nsmap={"samlp": P, "saml": A},
            ID=request_id,
            Version="2.0",
            IssueInstant=sk.xs_datetime(now),
            Destination=idp.sso_url,
            AssertionConsumerServiceURL=self.acs_url(idp.config.org_specific_entity_id),
            ProtocolBinding=sk.BINDING_POST,
        )
        etree.SubElement(req, f"{{{A}}}Issuer").text = self.entity_id(idp)
        etree.SubElement(req, f"{{{P}}}NameIDPolicy", Format=sk.NAMEID_UNSPECIFIED, AllowCreate="true")
        key = self.sp_certificate(idp)[1] if idp.config.sign_saml_request else None
        alg = "sha1" if idp.config.signature_algorithm == "SHA-1" else "sha256"
        query = sk.redirect_query(etree.tostring(req), relay_state=relay, key=key, alg=alg)
        self.outstanding[request_id] = Outstanding(request_id, idp.id, relay, return_to, now)
        while len(self.outstanding) > MAX_OUTSTANDING:
            self.outstanding.popitem(last=False)
        return idp.sso_url + ("&" if "?" in idp.sso_url else "?") + query

    # -- the assertion consumer service ----------------------------------------------------------
    def candidates(self, root: etree._Element) -> list[IdentityProvider]:
        """The enabled IdPs that may have sent ``root`` (by its InResponseTo or its Issuer)."""
        irt = root.get("InResponseTo")
        if irt and irt in self.outstanding:
            idp = self.active.idps.get(self.outstanding[irt].idp_id)
            return [idp] if idp and idp.config.enabled else []
        issuer_el = root.find("saml:Issuer", sk.NS)
        if issuer_el is None:
            issuer_el = root.find("saml:Assertion/saml:Issuer", sk.NS)
        issuer = (issuer_el.text or "").strip() if issuer_el is not None else None
        enabled = self.active.enabled()
        exact = [i for i in enabled if i.issuer and i.issuer == issuer]
        return exact or [i for i in enabled if not i.issuer] or enabled

    def consume(self, root: etree._Element, relay_state: str | None) -> Accepted:
        if not self.active.saml_on():
            raise SamlFailure(
                "saml_disabled", "the authentication profile is not SAML, or no IdP is enabled", 403
            )
        candidates = self.candidates(root)
        if not candidates:
            raise SamlFailure(
                "request_too_old", "the request this answers was sent to an IdP that is now disabled"
            )
        first: SamlFailure | None = None
        for idp in candidates:
            try:
                return self._consume_with(idp, root, relay_state)
            except SamlFailure as err:
                if err.reason not in ("bad_signature", "wrong_issuer") or len(candidates) == 1:
                    raise
                first = first or err
        raise first  # type: ignore[misc]

    def _consume_with(self, idp: IdentityProvider, root: etree._Element, relay_state: str | None) -> Accepted:
        now = self.clock.now()
        skew = self.tenant.settings.saml_clock_skew
        try:
            envelope, assertion = verified_parts(root, idp.certificate)
            issuer = sk.text_of(envelope.find("saml:Issuer", sk.NS))
            a_issuer = sk.text_of(assertion.find("saml:Issuer", sk.NS))
            status = envelope.find("samlp:Status/samlp:StatusCode", sk.NS)
            subject = assertion.find("saml:Subject", sk.NS)
            nameid = sk.text_of(subject.find("saml:NameID", sk.NS)) if subject is not None else None
            conditions = assertion.find("saml:Conditions", sk.NS)
            not_before = sk.parse_xs_datetime(conditions.get("NotBefore")) if conditions is not None else None
            not_after = (
                sk.parse_xs_datetime(conditions.get("NotOnOrAfter")) if conditions is not None else None
            )
            audiences = [
                sk.text_of(a)
                for a in assertion.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", sk.NS)
            ]
            confirmations = assertion.findall(
                "saml:Subject/saml:SubjectConfirmation[@Method='"
                + sk.CM_BEARER
                + "']/saml:SubjectConfirmationData",
                sk.NS,
            )
            attributes = read_attributes(assertion)
        except sk.SamlXmlError as err:
            raise _fail(err) from None

        if status is None or status.get("Value") != sk.STATUS_SUCCESS:
            raise SamlFailure("status", f"status {status.get('Value') if status is not None else None!r}")
        if a_issuer is None or (issuer is not None and issuer != a_issuer):
            raise SamlFailure("wrong_issuer", "the Response and Assertion issuers differ or are missing")
        if idp.issuer and a_issuer != idp.issuer:
            raise SamlFailure("wrong_issuer", f"issuer {a_issuer!r} is not {idp.issuer!r}")
        acs = self.acs_urls()
        destination = envelope.get("Destination")
        if destination is not None and destination not in acs:
            raise SamlFailure("wrong_destination", f"Destination {destination!r} is not this ACS")
        if not audiences:
            raise SamlFailure("wrong_audience", "the assertion has no AudienceRestriction")
        if not set(audiences) & self.audiences(idp):
            raise SamlFailure(
                "wrong_audience", f"audience {audiences[0]!r} is not {sorted(self.audiences(idp))[0]!r}"
            )
        if not_before is not None and now + skew < not_before:
            raise SamlFailure("not_yet_valid", f"NotBefore {iso(not_before)} is after {iso(now)} (+{skew} s)")
        if not_after is not None and now - skew >= not_after:
            raise SamlFailure("expired", f"NotOnOrAfter {iso(not_after)} is before {iso(now)} (-{skew} s)")
        irt = envelope.get("InResponseTo")
        if not confirmations:
            raise SamlFailure("wrong_recipient", "no bearer SubjectConfirmation")
        data = confirmations[0]
        if data.get("Recipient") not in acs:
            raise SamlFailure("wrong_recipient", f"Recipient {data.get('Recipient')!r} is not this ACS")
        try:
            confirm_until = sk.parse_xs_datetime(data.get("NotOnOrAfter"))
        except sk.SamlXmlError as err:
            raise _fail(err) from None
        if confirm_until is not None and now - skew >= confirm_until:
            raise SamlFailure(
                "expired", f"SubjectConfirmationData NotOnOrAfter {iso(confirm_until)} has passed"
            )
        if data.get("InResponseTo") != irt and data.get("InResponseTo") is not None:
            raise SamlFailure("request_too_old", "the assertion answers another request than the Response")

        # SP-initiated (InResponseTo) or IdP-initiated (unsolicited)
        request: Outstanding | None = None
        if irt:
            request = self.outstanding.get(irt)
            if request is None:
                raise SamlFailure(
                    "request_too_old", f"no outstanding request {irt!r} (unknown, used or forgotten)"
                )
            if now - request.created > self.tenant.settings.saml_request_lifetime:
                self.outstanding.pop(irt, None)
                raise SamlFailure(
                    "request_too_old", f"the request {irt!r} was sent at {iso(request.created)}"
                )
            if not relay_state:
                raise SamlFailure("relay_state_missing", "an SP-initiated Response must carry the RelayState")
            if not secrets.compare_digest(relay_state.encode(), request.relay_state.encode()):
                raise SamlFailure("relay_state_invalid", "the RelayState does not belong to this request")
        elif not idp.config.allow_idp_initiated:
            raise SamlFailure("idp_initiated_disabled", "the Response answers no request of this SP", 403)

        # one-time assertion ids
        assertion_id = assertion.get("ID")
        self._forget_used(now)
        if assertion_id in self.used:
            raise SamlFailure("replayed", f"assertion {assertion_id} was already consumed")

        # the user
        if idp.config.login_name_attribute == "NameID":
            login = nameid
        else:
            values = attributes.get(idp.config.login_name_attribute) or []
            login = values[0] if values else None
        if not login:
            raise SamlFailure(
                "login_name_missing", f"no {idp.config.login_name_attribute!r} in the assertion", 403
            )
        if len(login) > LOGIN_NAME_MAX:
            raise SamlFailure("login_name_too_long", f"{len(login)} characters", 403)
        if not _EMAIL.match(login):
            raise SamlFailure("login_name_invalid", f"{login[:80]!r}", 403)
        domain = login.rsplit("@", 1)[1].lower()
        registered = {d.lower() for d in self.tenant.config.domains} | {
            d.lower() for d in idp.config.authentication_domains
        }
        if domain not in registered:
            raise SamlFailure("domain_not_registered", f"domain {domain!r}", 403)
        people = self.tenant.people
        user = people.by_name(login)
        provisioned = "existing"
        if idp.config.auto_provisioning:
            c = idp.config
            display = (attributes.get(c.display_name_attribute) or [None])[0]
            groups = attributes.get(c.group_attribute)
            department = (attributes.get(c.department_attribute) or [None])[0]
            provisioned = "updated" if user else "created"
            user = people.upsert(login, display_name=display, groups=groups, department=department)
        elif user is None:
            raise SamlFailure("user_not_found", f"{login!r} is not a user of this organization", 403)

        # accepted: consume the request and the assertion id, open the user's session
        if request is not None:
            self.outstanding.pop(request.id, None)
        until = max(not_after or now, confirm_until or now) + skew
        self.used[assertion_id] = until
        while len(self.used) > MAX_USED_IDS:
            self.used.popitem(last=False)
        session = UserSession(
            secrets.token_urlsafe(24), user.id, user.name, idp.id, now, now + self._session_lifetime(), irt
        )
        self.sessions[session.id] = session
        while len(self.sessions) > MAX_USER_SESSIONS:
            self.sessions.popitem(last=False)
        return Accepted(session, request.return_to if request else self.portal_path(), idp, provisioned)

    def _forget_used(self, now: float) -> None:
        while self.used:
            first_id, until = next(iter(self.used.items()))
            if until > now:
                break
            self.used.pop(first_id)

    def _session_lifetime(self) -> float:
        p = self.active.profile
        return {
            "Session Cookie": 8 * 3600,
            "Permanent Cookie": 365 * 86400,
            "Custom": p.custom_frequency_days * 86400,
        }.get(p.authentication_frequency, 86400)

    def portal_path(self) -> str:
        return f"/sim/v1/{self.org}/portal"

    def user_session(self, sid: str | None) -> UserSession | None:
        session = self.sessions.get(sid or "")
        if session is None:
            return None
        if self.clock.now() >= session.expires or session.user_id not in self.tenant.people.users:
            self.sessions.pop(session.id, None)
            return None
        return session

    def end_session(self, sid: str | None) -> None:
        self.sessions.pop(sid or "", None)

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        def dump(c: SamlConfig) -> dict:
            return {
                "idps": {str(k): i.config.model_dump(mode="json") for k, i in c.idps.items()},
                "profile": c.profile.model_dump(),
            }

        return {
            "next_id": self.next_id,
            "pending": dump(self.pending),
            "active": dump(self.active),
            "outstanding": [asdict(o) for o in self.outstanding.values()],
            "used": dict(self.used),
            "sessions": [asdict(s) for s in self.sessions.values()],
        }

    def load(self, state: dict) -> None:
        def build(raw: dict) -> SamlConfig:
            config = SamlConfig(profile=AuthenticationProfile.model_validate(raw["profile"]))
            for k, v in raw["idps"].items():
                self._put(config, IdentityProviderConfig.model_validate(v), int(k))
            return config

        self.pending = build(state["pending"])
        self.active = build(state["active"])
        self.next_id = int(state["next_id"])
        self.outstanding = OrderedDict((o["id"], Outstanding(**o)) for o in state["outstanding"])
        self.used = OrderedDict((k, float(v)) for k, v in state["used"].items())
        self.sessions = OrderedDict((s["id"], UserSession(**s)) for s in state["sessions"])


# -- reading a Response ----------------------------------------------------------------------------
def parse_response(saml_response: str | None) -> etree._Element:
    """The posted SAMLResponse (base64) as a safely parsed document, with the document-wide checks
    that need no key: one assertion, unique IDs, no comments in the assertion, <= 20 certificates."""
    if not saml_response:
        raise SamlFailure("missing_response", "the form has no SAMLResponse")
    try:
        if len(saml_response) > sk.MAX_XML_BYTES * 4 // 3 + 4:
            raise sk.SamlXmlError("too_large", f"the SAMLResponse is {len(saml_response)} characters")
        root = sk.safe_parse(sk.b64decode_strict(saml_response, "SAMLResponse"))
    except sk.SamlXmlError as err:
        raise _fail(err) from None
    if root.tag != f"{{{P}}}Response":
        raise SamlFailure("not_response", f"the document is {etree.QName(root).localname}")
    certs = root.findall(".//ds:X509Certificate", sk.NS)
    if len(certs) > sk.MAX_CERTIFICATES:
        raise SamlFailure("too_many_certificates", f"{len(certs)} certificates")
    ids = [el.get("ID") for el in root.iter() if isinstance(el.tag, str) and el.get("ID") is not None]
    if len(ids) != len(set(ids)):
        raise SamlFailure("structure", "two elements share an ID (signature wrapping)")
    assertions = list(root.iter(f"{{{A}}}Assertion"))
    if root.find(".//saml:EncryptedAssertion", sk.NS) is not None:
        raise SamlFailure("structure", "encrypted assertions are not supported by this SP")
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise SamlFailure("structure", f"{len(assertions)} assertions, or one not directly in the Response")
    for node in assertions[0].iter(etree.Comment, etree.ProcessingInstruction):
        raise SamlFailure(
            "tampered", f"the assertion contains a comment or processing instruction: {str(node)[:60]}"
        )
    return root


def verified_parts(root: etree._Element, cert: x509.Certificate) -> tuple[etree._Element, etree._Element]:
    """The Response envelope and the Assertion, each as covered by a verified signature: the
    Response signature (if any) covers the envelope and the assertion inside it; otherwise the
    assertion must carry its own. Only these returned subtrees may be read."""
    envelope = root
    response_signed = root.find("ds:Signature", sk.NS) is not None
    if response_signed:
        envelope = sk.verify_enveloped(root, cert, allow_sha1=True)
    inner = envelope.findall("saml:Assertion", sk.NS)
    if len(inner) != 1:
        raise sk.SamlXmlError("structure", "the signed Response does not hold exactly one assertion")
    assertion = inner[0]
    if assertion.find("ds:Signature", sk.NS) is not None:
        assertion = sk.verify_enveloped(assertion, cert, allow_sha1=True)
    elif not response_signed:
        raise sk.SamlXmlError("unsigned", "neither the Response nor the Assertion is signed")
    return envelope, assertion


def read_attributes(assertion: etree._Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", sk.NS):
        name = attribute.get("Name")
        if name:
            values = [sk.text_of(v) or "" for v in attribute.findall("saml:AttributeValue", sk.NS)]
            out.setdefault(name, []).extend(v for v in values if v)
    return out
