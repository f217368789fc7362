"""One ZPA customer: API sign-in tokens, identity providers as the management API shapes them, and
ZPA's SAML service provider (IdP-initiated Responses to the IdP's ``spPostUrl``). No HTTP here.

The IdP object follows the recorded real list response (reference zscaler-clients.md §5): string
numbers in mgmtconfig, ``certificates`` with ``cName``/``serialNo``/``validFromInSec``/``validToInSec``,
``userMetadata`` with the SP's URLs. The SP URLs themselves are the sim's (the real ones are
UNVERIFIED).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt
from cryptography import x509

from sims import samlkit as sk
from sims.core.clock import SimClock
from sims.core.keys import rsa_key, self_signed_cert
from sims.zpa.config import ZpaIdpConfig, ZpaTenant

if TYPE_CHECKING:
    from sims.world import World

MAX_USED_IDS = 100_000
SKEW = 60


class ZpaError(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason

    def body(self) -> dict:
        return {"id": self.code, "reason": self.reason}  # ZPA's error body shape is UNVERIFIED


class SsoRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class Idp:
    id: str
    config: ZpaIdpConfig
    login_url: str
    certificate: x509.Certificate
    entity_id: str | None
    created: int
    modified: int


class Customer:
    def __init__(self, config: ZpaTenant, world: World, urls: dict[str, str], base_url: str, clock: SimClock):
        self.config = config
        self.world = world
        self.urls = urls
        self.base_url = base_url
        self.clock = clock
        self.cid = config.customer_id
        digest = hashlib.sha256(f"{world.seed}:zpa:{self.cid}".encode()).digest()
        self.token_secret = digest
        self.id_base = 216196257331280000 + int.from_bytes(digest[:2], "big")
        self.sp_key = rsa_key(f"{world.seed}:zpa:{self.cid}:sp")
        self.sp_cert = self_signed_cert(self.sp_key, f"ZPA SP {self.cid}", organization="sims ZPA SP")
        self.reset()

    def reset(self) -> None:
        self.idps: dict[str, Idp] = {}
        self.next = 1
        for cfg in self.config.identity_providers:
            self.put(cfg)
        self.used: OrderedDict[str, float] = OrderedDict()
        self.sessions: dict[str, dict] = {}
        self.scim: dict = {}
        for idp in self.idps.values():
            if idp.config.scim_enabled:
                self.enable_scim(idp.id)

    # -- SCIM (IdP Configuration > Enabled for SCIM Sync, Generate New Token) ----------------------
    def enable_scim(self, idp_id: str, generation: int = 0):
        from sims.zpa.scim import ZpaScim, new_directory

        digest = hashlib.sha256(self.token_secret + f":scim:{idp_id}:{generation}".encode()).hexdigest()
        current = self.scim.get(idp_id)
        if current is None:
            current = ZpaScim(idp_id, digest, new_directory(self, idp_id, self.clock.now))
            self.scim[idp_id] = current
        current.token = digest
        current.generation = generation
        return current

    # -- API sign-in -----------------------------------------------------------------------------
    def signin(self, client_id: str | None, client_secret: str | None) -> dict:
        ok = client_id == self.config.client_id and secrets.compare_digest(
            (client_secret or "").encode(), self.config.client_secret.encode()
        )
        if not ok:
            raise ZpaError(401, "authentication.failed", "Invalid client credentials")
        now = int(self.clock.now())
        lifetime = self.config.token_lifetime
        claims = {
            "iss": "sims-zpa",
            "sub": client_id,
            "customer_id": self.cid,
            "iat": now,
            "exp": now + lifetime,
        }
        token = jwt.encode(claims, self.token_secret, algorithm="HS256")
        return {"token_type": "Bearer", "access_token": token, "expires_in": str(lifetime)}

    def verify(self, token: str) -> bool:
        try:
            claims = jwt.decode(token, self.token_secret, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.PyJWTError:
            return False
        return claims.get("customer_id") == self.cid and self.clock.now() < claims.get("exp", 0)

    # -- identity providers ----------------------------------------------------------------------
    def _resolve(self, cfg: ZpaIdpConfig) -> tuple[str, x509.Certificate, str | None]:
        app = None
        for ref in (cfg.login_url, cfg.certificate):
            if ref.startswith("idp:"):
                app = self._web_app(ref)
        login = app.sso_url if cfg.login_url.startswith("idp:") else cfg.login_url
        try:
            cert = app.cert if cfg.certificate.startswith("idp:") else sk.load_certificate(cfg.certificate)
        except sk.SamlXmlError as err:
            raise ValueError(f"certificate: {err.message}") from None
        return login, cert, cfg.idp_entity_id or (app.entity_id if app else None)

    def _web_app(self, ref: str):
        from sims.idp.saml import WebApp

        directory_id, _, app_id = ref[4:].partition("/")
        directory = next((d for d in self.world.idp.directories if d.id == directory_id), None)
        app_cfg = next((a for a in directory.web_apps if a.id == app_id), None) if directory else None
        if app_cfg is None:
            raise ValueError(f"{ref!r} names no web app of the idp sim")
        return WebApp(app_cfg, directory, self.world, self.urls)

    def put(self, cfg: ZpaIdpConfig, idp_id: str | None = None) -> Idp:
        if any(i.config.name.lower() == cfg.name.lower() and i.id != idp_id for i in self.idps.values()):
            raise ValueError(f"an identity provider named {cfg.name!r} exists")
        login, cert, entity = self._resolve(cfg)
        now = int(self.clock.now())
        if idp_id is None:
            idp_id = str(self.id_base + self.next)
            self.next += 1
            created = now
        else:
            created = self.idps[idp_id].created
        idp = Idp(idp_id, cfg, login, cert, entity, created, now)
        self.idps[idp_id] = idp
        return idp

    def sp_urls(self, idp_id: str) -> dict:
        base = f"{self.base_url}/auth"
        return {
            "spEntityId": f"{base}/metadata/{self.cid}/{idp_id}",
            "spPostUrl": f"{base}/SSO/{self.cid}/{idp_id}",
            "certificateUrl": f"{base}/certificate/{self.cid}/{idp_id}",
            "spMetadataUrl": f"{base}/metadata/{self.cid}/{idp_id}",
            "spBaseUrl": base,
        }

    def sp_metadata(self, idp: Idp) -> bytes:
        urls = self.sp_urls(idp.id)
        return sk.sp_metadata(
            urls["spEntityId"], urls["spPostUrl"], self.sp_cert, idp.config.sign_saml_request
        )

    def view(self, idp: Idp) -> dict:
        c = idp.config
        cert = idp.certificate
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        flag = {True: "1", False: "0"}
        return {
            "id": idp.id,
            "modifiedTime": str(idp.modified),
            "creationTime": str(idp.created),
            "modifiedBy": str(self.id_base),
            "name": c.name,
            "certificates": [
                {
                    "cName": cn[0].value if cn else "",
                    "serialNo": str(cert.serial_number),
                    "certificate": sk.cert_to_pem(cert),
                    "validFromInSec": str(int(cert.not_valid_before_utc.timestamp())),
                    "validToInSec": str(int(cert.not_valid_after_utc.timestamp())),
                }
            ],
            "loginUrl": idp.login_url,
            "idpEntityId": idp.entity_id or "",
            "autoProvision": flag[c.auto_provision],
            "signSamlRequest": flag[c.sign_saml_request],
            "ssoType": list(c.sso_type),
            "domainList": list(c.domain_list),
            "useCustomSPMetadata": True,
            "scimEnabled": c.scim_enabled,
            "enableScimBasedPolicy": c.enable_scim_based_policy,
            "disableSamlBasedPolicy": c.disable_saml_based_policy,
            "reauthOnUserUpdate": c.reauth_on_user_update,
            "userSpSigningCertId": "0",
            "enableArbitraryAuthDomains": "1",
            "oneIdentityEnabled": False,
            "scimServiceProviderEndpoint": f"{self.base_url}/scim/1/{idp.id}/v2",
            "scimSharedSecretExists": False,
            "forceAuth": c.force_auth,
            "loginHint": c.login_hint,
            "enabled": c.enabled,
            "delta": hashlib.sha256(f"{idp.id}:{idp.modified}".encode()).hexdigest()[:20],
            "redirectBinding": c.redirect_binding,
            "userMetadata": self.sp_urls(idp.id),
        }

    def listing(self, page: int, size: int, search: str | None) -> dict:
        items = [i for i in self.idps.values() if not search or search.lower() in i.config.name.lower()]
        pages = max(1, -(-len(items) // size))
        chunk = items[(page - 1) * size : page * size]
        return {
            "totalPages": str(pages),
            "totalCount": str(len(items)),
            "list": [self.view(i) for i in chunk],
        }

    # -- the SAML service provider ---------------------------------------------------------------
    def consume(self, idp_id: str, saml_response: str | None) -> dict:
        """An IdP-initiated Response posted to an IdP's ``spPostUrl``: XSW-safe verification with the
        IdP's certificate, issuer, audience, recipient, destination, window, one-time ids."""
        from sims.zia.sso import SamlFailure, parse_response, read_attributes, verified_parts

        idp = self.idps.get(idp_id)
        if idp is None or not idp.config.enabled:
            raise SsoRefused("unknown_idp", f"no enabled identity provider {idp_id[:24]!r}")
        urls = self.sp_urls(idp.id)
        now = self.clock.now()
        try:
            root = parse_response(saml_response)
            envelope, assertion = verified_parts(root, idp.certificate)
            issuer = sk.text_of(assertion.find("saml:Issuer", sk.NS))
            nameid = sk.text_of(assertion.find("saml:Subject/saml:NameID", sk.NS))
            conditions = assertion.find("saml:Conditions", sk.NS)
            if conditions is None:
                raise SsoRefused("conditions", "the assertion has no Conditions")
            not_before = sk.parse_xs_datetime(conditions.get("NotBefore"))
            not_after = sk.parse_xs_datetime(conditions.get("NotOnOrAfter"))
            audiences = [
                sk.text_of(a) for a in conditions.findall("saml:AudienceRestriction/saml:Audience", sk.NS)
            ]
            data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", sk.NS)
            attributes = read_attributes(assertion)
        except SamlFailure as err:
            raise SsoRefused(err.reason, err.detail or err.text) from None
        except sk.SamlXmlError as err:
            raise SsoRefused(err.reason, err.message) from None
        if idp.entity_id and issuer != idp.entity_id:
            raise SsoRefused("wrong_issuer", f"issuer {issuer!r} is not {idp.entity_id!r}")
        if urls["spEntityId"] not in audiences:
            raise SsoRefused("wrong_audience", f"audience {audiences[:1]} is not {urls['spEntityId']!r}")
        if data is None or data.get("Recipient") != urls["spPostUrl"]:
            raise SsoRefused("wrong_recipient", "the Recipient is not this IdP's spPostUrl")
        destination = envelope.get("Destination")
        if destination is not None and destination != urls["spPostUrl"]:
            raise SsoRefused("wrong_destination", f"Destination {destination!r} is not the spPostUrl")
        if not_before is not None and now + SKEW < not_before:
            raise SsoRefused("not_yet_valid", "the assertion is not valid yet")
        if not_after is not None and now - SKEW >= not_after:
            raise SsoRefused("expired", "the assertion has expired")
        assertion_id = assertion.get("ID")
        while self.used and next(iter(self.used.values())) <= now:
            self.used.popitem(last=False)
        if assertion_id in self.used:
            raise SsoRefused("replayed", f"assertion {assertion_id} was already consumed")
        if not nameid:
            raise SsoRefused("no_nameid", "the assertion has no NameID")
        self.used[assertion_id] = (not_after or now) + SKEW
        while len(self.used) > MAX_USED_IDS:
            self.used.popitem(last=False)
        session = {
            "id": secrets.token_urlsafe(24),
            "user": nameid,
            "idp_id": idp.id,
            "attributes": attributes,
        }
        self.sessions[session["id"]] = session
        return session

    # -- state -----------------------------------------------------------------------------------
    def export(self) -> dict:
        return {
            "next": self.next,
            "idps": {
                k: {**i.config.model_dump(mode="json"), "_times": [i.created, i.modified]}
                for k, i in self.idps.items()
            },
            "used": dict(self.used),
            "sessions": dict(self.sessions),
            "scim": {
                k: {"generation": getattr(s, "generation", 0), "directory": s.directory.export_state()}
                for k, s in self.scim.items()
            },
        }

    def load(self, state: dict) -> None:
        self.idps = {}
        for k, raw in state["idps"].items():
            raw = dict(raw)
            created, modified = raw.pop("_times")
            login, cert, entity = self._resolve(cfg := ZpaIdpConfig.model_validate(raw))
            self.idps[k] = Idp(k, cfg, login, cert, entity, int(created), int(modified))
        self.next = int(state["next"])
        self.used = OrderedDict((k, float(v)) for k, v in state["used"].items())
        self.sessions = dict(state["sessions"])
        self.scim = {}
        for k, s in state.get("scim", {}).items():
            self.enable_scim(k, int(s["generation"])).directory.import_state(s["directory"])
