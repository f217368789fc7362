"""OAuth 2.0 authorization servers (client credentials), shaped like the real providers.

Domain model only: the HTTP layer hands in the parsed form and the Authorization header and gets
back a token response or a ``TokenError``. Every instant comes from the simulated clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import random
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.utils import base64url_encode

from sims.core.clock import SimClock
from sims.core.keyring import KeyRing
from sims.core.keys import private_pem, public_pem, rsa_key
from sims.core.seeded import export_rng, load_rng
from sims.idp.config import AuthorizationServerConfig, OAuthClientConfig
from sims.idp.errors import TokenError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
ZSCALER_API_AUDIENCE = "https://api.zscaler.com"

# flavour -> (scope claim, scope as list?, client-id claim, default audience)
FLAVOURS: dict[str, tuple[str, bool, str, str | None]] = {
    "okta": ("scp", True, "cid", "api://default"),
    "entra": ("roles", True, "appid", None),  # default audience: api://<tenant id>
    "ping": ("scp", True, "client_id", None),  # ZIA's guide sets Scope Claim Name = scp
    "generic": ("scope", False, "client_id", None),  # RFC 9068
    "zidentity": ("scope", False, "client_id", ZSCALER_API_AUDIENCE),
}


@dataclass
class ClientSecret:
    value: str
    expires_at: float | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class OAuthClient:
    config: OAuthClientConfig
    secrets: list[ClientSecret] = field(default_factory=list)
    assertion_key_pem: bytes | None = None
    seen_assertions: dict[str, float] = field(default_factory=dict)  # jti -> exp, against replay

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @classmethod
    def from_config(cls, cfg: OAuthClientConfig) -> OAuthClient:
        secrets = []
        if cfg.client_secret:
            expires = cfg.secret_expires_at.timestamp() if cfg.secret_expires_at else None
            secrets.append(ClientSecret(cfg.client_secret, expires))
        pem = None
        if cfg.jwt_key is not None:
            pem = (
                public_pem(rsa_key(cfg.jwt_key.seed))
                if cfg.jwt_key.seed
                else cfg.jwt_key.public_key_pem.encode()
            )
        return cls(cfg, secrets, pem)

    def private_key_pem(self) -> str | None:
        """The assertion signing key, when the world generated it (so scripts can use it)."""
        if self.config.jwt_key and self.config.jwt_key.seed:
            return private_pem(rsa_key(self.config.jwt_key.seed)).decode()
        return None

    def check_secret(self, presented: str, now: float) -> str | None:
        """None when ``presented`` is a live secret, else the failure reason."""
        reason = "bad_secret"
        for s in self.secrets:
            if hmac.compare_digest(s.value.encode(), presented.encode()):
                if s.live(now):
                    return None
                reason = "expired_secret"
        return reason

    def rotate_secret(self, new_value: str, now: float, grace: float) -> None:
        for s in self.secrets:
            if s.expires_at is None or s.expires_at > now + grace:
                s.expires_at = now + grace
        self.secrets.append(ClientSecret(new_value))

    def export(self) -> dict:
        return {
            "secrets": [{"value": s.value, "expires_at": s.expires_at} for s in self.secrets],
            "seen_assertions": dict(self.seen_assertions),
        }


@dataclass
class PendingGrant:
    """A token whose JWS signing input is ready; ``signature`` is the only expensive step."""

    signing_input: bytes
    key: rsa.RSAPrivateKey
    expires_in: int
    scopes: list[str]
    client_id: str
    kid: str

    def signature(self) -> bytes:
        return self.key.sign(self.signing_input, padding.PKCS1v15(), hashes.SHA256())  # RS256

    def complete(self, signature: bytes) -> TokenGrant:
        token = (self.signing_input + b"." + base64url_encode(signature)).decode()
        return TokenGrant(token, self.expires_in, self.scopes, self.client_id, self.kid)

    def sign(self) -> TokenGrant:
        return self.complete(self.signature())


@dataclass
class TokenGrant:
    access_token: str
    expires_in: int
    scopes: list[str]
    client_id: str
    kid: str


class AuthorizationServer:
    def __init__(
        self, config: AuthorizationServerConfig, base_url: str, world_seed: int, clock: SimClock
    ) -> None:
        self.config = config
        self.clock = clock
        self.flavour = config.flavour
        scope_claim, scope_list, client_claim, default_aud = FLAVOURS[config.flavour]
        self.scope_claim = config.scope_claim or scope_claim
        self.scope_as_list = scope_list if config.scope_claim is None else config.scope_claim != "scope"
        self.client_id_claim = config.client_id_claim or client_claim
        self.tenant_id = config.tenant_id or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"sims:{world_seed}:{config.id}")
        )
        self.audience = config.audience or default_aud or f"api://{self.tenant_id}"
        self.paths = endpoint_paths(config.id, config.flavour)
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer_of(config, self.base_url)
        self.key_seed = config.key_seed or f"world-{world_seed}:as-{config.id}"
        self._rng = random.Random(f"{world_seed}:{config.id}")
        self.reset()

    # -- state -----------------------------------------------------------------------------------
    def reset(self) -> None:
        self.keys = KeyRing(self.key_seed, self.clock.now())
        _ = self.keys.signing.jwk  # load the key now, not on the first token request
        self.clients = {c.client_id: OAuthClient.from_config(c) for c in self.config.clients}
        self.issued = 0

    def export(self) -> dict:
        return {
            "keys": self.keys.export(),
            "clients": {cid: c.export() for cid, c in self.clients.items()},
            "issued": self.issued,
            "rng": export_rng(self._rng),  # jti and code values must not repeat after a restore
        }

    def load(self, state: dict) -> None:
        self.keys = KeyRing.load(state["keys"])
        for cid, cstate in state["clients"].items():
            client = self.clients.get(cid)
            if client is None:
                raise ValueError(f"state names client {cid!r}, which the world does not have")
            client.secrets = [ClientSecret(**s) for s in cstate["secrets"]]
            client.seen_assertions = {k: float(v) for k, v in cstate.get("seen_assertions", {}).items()}
        self.issued = int(state.get("issued", 0))
        load_rng(self._rng, state.get("rng"))

    # -- URLs ------------------------------------------------------------------------------------
    def url(self, kind: str) -> str:
        return self.base_url + self.paths[kind]

    def jwks(self) -> dict:
        return {"keys": [k.jwk for k in self.keys.published(self.clock.now())]}

    def discovery(self) -> dict:
        methods = sorted({m for c in self.config.clients for m in c.auth_methods}) or ["client_secret_basic"]
        doc = {
            "issuer": self.issuer,
            "token_endpoint": self.url("token"),
            "jwks_uri": self.url("jwks"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
            "scopes_supported": sorted({s for c in self.config.clients for s in c.scopes}),
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
        }
        if self.flavour == "entra":
            doc["tenant_region_scope"] = "NA"
        return doc

    # -- the token endpoint ----------------------------------------------------------------------
    def token(self, params: dict[str, str], authorization: str | None) -> dict:
        """Handle a token request; ``params`` is the form (no duplicates), ``authorization`` the header."""
        return self.token_response(self.prepare(params, authorization).sign())

    def prepare(self, params: dict[str, str], authorization: str | None) -> PendingGrant:
        """Every check of a token request, and the token to sign (signing is left to the caller,
        so that the HTTP layer can sign on a worker thread: cryptography releases the GIL)."""
        grant_type = params.get("grant_type")
        if not grant_type:
            raise TokenError("missing_grant_type")
        if grant_type != "client_credentials":
            raise TokenError("unsupported_grant", grant_type=grant_type)
        client = self._authenticate(params, authorization)
        if grant_type not in client.config.grant_types:
            raise TokenError("unauthorized_grant", client_id=client.client_id)
        scopes = self._granted_scopes(client, params.get("scope"))
        if self.flavour == "zidentity" and params.get("audience") not in (None, self.audience):
            # UNVERIFIED: ZIdentity's answer to a wrong audience is undocumented; RFC 8707: invalid_target.
            raise TokenError("bad_audience_param", audience=params["audience"])
        return self.unsigned(client, scopes)

    def _authenticate(self, params: dict[str, str], authorization: str | None) -> OAuthClient:
        basic = _parse_basic(authorization) if authorization else None
        if authorization and basic is None and authorization.split(" ", 1)[0].lower() == "basic":
            raise TokenError("bad_basic")
        has_secret = "client_secret" in params
        has_assertion = "client_assertion" in params or "client_assertion_type" in params
        if sum((basic is not None, has_secret, has_assertion)) > 1:
            raise TokenError("multiple_auth")
        now = self.clock.now()
        if has_assertion:
            return self._authenticate_assertion(params, now)
        if basic is not None:
            if "client_id" in params and params["client_id"] not in {c for c, _ in basic_candidates(*basic)}:
                raise TokenError("client_id_mismatch")
            return self._check_secret(basic_candidates(*basic), "client_secret_basic", now)
        client_id = params.get("client_id")
        if not client_id:
            raise TokenError("no_client_auth")
        if not has_secret:
            if client_id not in self.clients:
                raise TokenError("unknown_client", client_id=client_id)
            raise TokenError("no_client_auth", client_id=client_id)
        return self._check_secret([(client_id, params["client_secret"])], "client_secret_post", now)

    def _check_secret(self, candidates: list[tuple[str, str]], method: str, now: float) -> OAuthClient:
        """The client whose live secret one of the candidate credential readings presents."""
        basic = method == "client_secret_basic"
        failure: TokenError | None = None
        for client_id, secret in candidates:
            client = self.clients.get(client_id)
            if client is None:
                failure = failure or TokenError("unknown_client", client_id=client_id, basic=basic)
                continue
            if method not in client.config.auth_methods:
                raise TokenError("auth_method_not_allowed", client_id=client_id, method=method, basic=basic)
            reason = client.check_secret(secret, now)
            if reason is None:
                return client
            if failure is None or failure.reason == "unknown_client":
                failure = TokenError(reason, client_id=client_id, basic=basic)
        assert failure is not None
        raise failure

    def _authenticate_assertion(self, params: dict[str, str], now: float) -> OAuthClient:
        if params.get("client_assertion_type") != JWT_BEARER:
            raise TokenError("bad_assertion", detail=f"client_assertion_type must be {JWT_BEARER}")
        assertion = params.get("client_assertion", "")
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError("bad_assertion", detail="client_assertion is not a JWT") from None
        client_id = claims.get("iss") if isinstance(claims.get("iss"), str) else None
        client = self.clients.get(client_id or params.get("client_id", ""))
        if client is None:
            raise TokenError("unknown_client", client_id=client_id or params.get("client_id", ""))
        if "private_key_jwt" not in client.config.auth_methods or client.assertion_key_pem is None:
            raise TokenError("auth_method_not_allowed", client_id=client.client_id, method="private_key_jwt")
        try:
            claims = jwt.decode(
                assertion,
                load_pem_public_key(client.assertion_key_pem),
                algorithms=ASSERTION_ALGS,
                # time and audience are checked below against the simulated clock
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.PyJWTError as err:
            raise TokenError("bad_assertion", detail=f"signature: {err}") from None
        problems = []
        if claims.get("sub") != client.client_id or claims.get("iss") != client.client_id:
            problems.append("iss and sub must both be the client_id")
        if "client_id" in params and params["client_id"] != client.client_id:
            problems.append("client_id does not match the assertion")
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        accepted = {self.url("token"), self.issuer, self.audience}
        if self.flavour == "zidentity":
            accepted.add(ZSCALER_API_AUDIENCE)
        if not accepted.intersection(a for a in auds if isinstance(a, str)):
            problems.append("aud must be the token endpoint or the issuer")
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            problems.append("exp is required")
        elif exp <= now:
            problems.append("the assertion has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + 60:
            problems.append("the assertion is not valid yet")
        jti = claims.get("jti")
        if problems:
            raise TokenError("bad_assertion", detail="; ".join(problems), client_id=client.client_id)
        if isinstance(jti, str):
            client.seen_assertions = {j: e for j, e in client.seen_assertions.items() if e > now}
            if jti in client.seen_assertions:
                raise TokenError("assertion_replay", client_id=client.client_id)
            client.seen_assertions[jti] = float(exp)
        return client

    def _granted_scopes(self, client: OAuthClient, requested: str | None) -> list[str]:
        allowed = client.config.scopes
        if self.flavour == "entra":
            # Entra: app-only tokens ask for "<resource>/.default" and carry every granted app role.
            wanted = (requested or "").split()
            if wanted != [f"{self.audience}/.default"]:
                raise TokenError("entra_scope", scope=requested or "")
            if not allowed:
                raise TokenError("scope_not_allowed", client_id=client.client_id, scope=requested)
            return list(allowed)
        if requested is None or not requested.strip():
            if client.config.default_scopes is not None:
                defaults = client.config.default_scopes
            else:
                defaults = [] if self.flavour == "okta" else allowed
            if not defaults:
                raise TokenError("no_scope", client_id=client.client_id)
            return list(defaults)
        wanted = list(dict.fromkeys(requested.split()))
        refused = [s for s in wanted if s not in allowed]
        if refused:
            raise TokenError("scope_not_allowed", client_id=client.client_id, scope=" ".join(refused))
        return wanted

    def issue(self, client: OAuthClient, scopes: list[str]) -> TokenGrant:
        return self.unsigned(client, scopes).sign()

    def unsigned(self, client: OAuthClient, scopes: list[str]) -> PendingGrant:
        now = int(self.clock.now())
        lifetime = client.config.token_lifetime or self.config.token_lifetime
        claims = self._claims(client, scopes, now, lifetime)
        key = self.keys.signing
        header = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt" if self.flavour == "generic" else "JWT"}
        signing_input = b".".join(
            base64url_encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        self.issued += 1
        return PendingGrant(signing_input, key.private, lifetime, scopes, client.client_id, key.kid)

    def _claims(self, client: OAuthClient, scopes: list[str], now: int, lifetime: int) -> dict:
        jti = f"{self._rng.getrandbits(128):032x}"
        cid = client.client_id
        scope_value: list[str] | str = scopes if self.scope_as_list else " ".join(scopes)
        claims: dict = {"iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + lifetime}
        if self.flavour == "okta":
            claims.update(ver=1, jti=f"AT.{jti}", sub=cid)
        elif self.flavour == "entra":
            oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sims:sp:{self.tenant_id}:{cid}"))
            claims.update(
                nbf=now,
                appidacr="1",
                idp=self.issuer,
                idtyp="app",
                oid=oid,
                sub=oid,
                tid=self.tenant_id,
                uti=base64.urlsafe_b64encode(jti.encode()[:16]).decode().rstrip("="),
                ver="1.0",
            )
        else:
            claims.update(sub=cid, jti=jti, nbf=now)
        claims[self.client_id_claim] = cid
        claims[self.scope_claim] = scope_value
        return claims

    def token_response(self, grant: TokenGrant) -> dict:
        body: dict = {
            "token_type": "Bearer",
            "expires_in": grant.expires_in,
            "access_token": grant.access_token,
        }
        if self.flavour == "entra":
            body["expires_in"] = body["ext_expires_in"] = grant.expires_in - 1  # Entra reports 3599
        elif self.flavour in ("okta", "generic"):
            body["scope"] = " ".join(grant.scopes)
        return body

    # -- administration (control plane) ----------------------------------------------------------
    def rotate_keys(self, grace: float | None = None) -> dict:
        grace = self.config.key_grace if grace is None else grace
        key = self.keys.rotate(self.clock.now(), grace)
        return {"kid": key.kid, "published": [k.kid for k in self.keys.published(self.clock.now())]}

    def new_secret_value(self, client_id: str) -> str:
        return f"{client_id}-{self._rng.getrandbits(96):024x}"


def _parse_basic(header: str) -> tuple[str, str] | None:
    """Client id and secret from ``Basic ...``; both raw and form-urlencoded credentials are
    accepted, since authlib sends them raw despite RFC 6749 §2.3.1 (reference §2.2)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        return None
    return client_id, secret


def basic_candidates(client_id: str, secret: str) -> list[tuple[str, str]]:
    """Both readings of Basic credentials: as sent, and form-urldecoded."""
    decoded = (
        unquote(client_id.replace("+", " ")),
        unquote_to_bytes(secret.replace("+", " ")).decode("utf-8", "replace"),
    )
    return [(client_id, secret)] if decoded == (client_id, secret) else [(client_id, secret), decoded]


def issuer_of(config: AuthorizationServerConfig, idp_base_url: str) -> str:
    return config.issuer or idp_base_url.rstrip("/") + endpoint_paths(config.id, config.flavour)["issuer"]


def public_urls(config: AuthorizationServerConfig, idp_base_url: str) -> dict[str, str]:
    """Issuer, token endpoint and JWKS URL of a server, for other sims that must trust it."""
    base = idp_base_url.rstrip("/")
    paths = endpoint_paths(config.id, config.flavour)
    return {"issuer": issuer_of(config, base), "token": base + paths["token"], "jwks": base + paths["jwks"]}


def endpoint_paths(as_id: str, flavour: str) -> dict[str, str]:
    """Paths (under the idp base URL) of an authorization server, shaped like the real provider's."""
    if flavour in ("okta", "generic"):
        p = f"/oauth2/{as_id}"
        return {
            "issuer": p,
            "token": f"{p}/v1/token",
            "jwks": f"{p}/v1/keys",
            "discovery": f"{p}/.well-known/openid-configuration",
        }
    if flavour == "entra":
        return {
            "issuer": f"/{as_id}/v2.0",
            "token": f"/{as_id}/oauth2/v2.0/token",
            "jwks": f"/{as_id}/discovery/v2.0/keys",
            "discovery": f"/{as_id}/v2.0/.well-known/openid-configuration",
        }
    if flavour == "ping":
        return {
            "issuer": f"/{as_id}",
            "token": f"/{as_id}/as/token.oauth2",
            "jwks": f"/{as_id}/pf/JWKS",
            "discovery": f"/{as_id}/.well-known/openid-configuration",
        }
    return {
        "issuer": f"/{as_id}",
        "token": f"/{as_id}/oauth2/v1/token",
        "jwks": f"/{as_id}/oauth2/v1/keys",
        "discovery": f"/{as_id}/.well-known/openid-configuration",
    }
