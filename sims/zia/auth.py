"""Authentication: the legacy obfuscated-API-key session, and bearer JWTs verified against a JWKS.

JWT verification follows ZIA's documented order: decode the header and claims, verify the
signature with the key from the configured JWKS (fetched over HTTP, cached on the sim clock,
refetched on an unknown key id), check expiry and not-before, then the scope
``<cloud>::<org id>::<API role>`` (in ``scope``, ``scp`` or ``roles``), then each optional check
that is configured (audience, issuer, client id in ``client_id``, ``cid`` or ``appid``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import jwt

from sims.zia.errors import ZiaError, unauthenticated
from sims.zia.tenant import AuthServer, Principal, Tenant

SCOPE = re.compile(r"^(?P<cloud>[^:\s]+)::(?P<org>\d+)::(?P<role>.+)$")
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
CLIENT_ID_CLAIMS = ("client_id", "cid", "appid", "azp")
TOKEN_CACHE_SIZE = 10_000

Fetch = Callable[[str, bool], Awaitable[dict]]


def obfuscate(api_key: str, timestamp: int | str) -> str:
    """The obfuscation all three SDKs apply to the 12-character API key (reference §2)."""
    n = str(timestamp)[-6:]
    r = str(int(n) >> 1).zfill(6)
    return "".join(api_key[int(c)] for c in n) + "".join(api_key[int(c) + 2] for c in r)


def login(tenants: dict[str, Tenant], body: object, now: float) -> tuple[Tenant, Principal]:
    """POST /authenticatedSession: find the admin, check password and obfuscated key."""
    if not isinstance(body, dict):
        raise ZiaError(400, None, "Request body is invalid.")
    username, password = body.get("username"), body.get("password")
    api_key, timestamp = body.get("apiKey"), body.get("timestamp")
    if not all(isinstance(v, str) and v for v in (username, password, api_key)) or timestamp is None:
        raise ZiaError(400, "INVALID_INPUT_ARGUMENT", "username, password, apiKey and timestamp are required")
    ts = str(timestamp)
    if not ts.isdigit() or len(ts) < 6:
        raise ZiaError(400, "INVALID_INPUT_ARGUMENT", "timestamp must be epoch milliseconds")
    tenant = next((t for t in tenants.values() if username.lower() in t.admins), None)
    admin = tenant.admins[username.lower()] if tenant else None
    # UNVERIFIED: the real failure bodies are not recorded; ZIA's docs name these codes.
    if admin is None or admin.password != password:
        raise ZiaError(401, "INVALID_USERNAME_OR_PASSWORD", "Invalid username or password")
    if obfuscate(admin.api_key, ts) != api_key:
        raise ZiaError(401, "INVALID_API_KEY", "Invalid API key or timestamp")
    skew = tenant.settings.login_max_skew
    if skew is not None and abs(int(ts) / 1000 - now) > skew:
        raise ZiaError(401, "INVALID_API_KEY", "The timestamp does not reflect the current time")
    session = tenant.new_session(admin.username)
    return tenant, tenant.admin_principal(session)


def _scopes(claims: dict) -> list[str]:
    values: list[str] = []
    for name in ("scope", "scp", "roles"):
        value = claims.get(name)
        if isinstance(value, str):
            values += value.split()
        elif isinstance(value, list):
            values += [v for v in value if isinstance(v, str)]
    return values


class BearerVerifier:
    def __init__(
        self, tenants: dict[str, Tenant], oneapi_issuers: dict[str, tuple[str, str]], fetch: Fetch
    ) -> None:
        self.tenants = tenants
        self.by_cloud_org = {(t.config.cloud, t.config.org_id): t for t in tenants.values()}
        self.oneapi_issuers = oneapi_issuers  # issuer -> (jwks url, audience)
        self.oneapi_keys: dict[str, AuthServer] = {}
        self.fetch = fetch

    async def verify(self, token: str, now: float) -> tuple[Tenant, Principal]:
        for tenant in self.tenants.values():  # before any parsing: the hot path of a busy client
            hit = tenant.token_cache.get(token)
            if hit is not None:
                cached = self._from_cache(tenant, hit, now)
                if cached is not None:
                    return cached
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise unauthenticated("Invalid JWT: not a well-formed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise unauthenticated(f"Invalid JWT: algorithm {alg!r} is not accepted")
        triple = next((m for m in map(SCOPE.match, _scopes(claims)) if m), None)
        if triple:
            return await self._verify_scoped(token, header, claims, triple, now)
        issuer = claims.get("iss")
        if isinstance(issuer, str) and issuer in self.oneapi_issuers:
            return await self._verify_oneapi(token, header, claims, issuer, now)
        raise unauthenticated("Invalid JWT: no <cloud>::<org id>::<API role> scope and not a ZIdentity token")

    def _from_cache(self, tenant: Tenant, hit: tuple, now: float) -> tuple[Tenant, Principal] | None:
        """A token verified before skips the signature check while its key is still cached as
        published and fresh; otherwise None sends it through full verification again."""
        principal, exp, server, oneapi, kid = hit
        if now >= exp + tenant.settings.jwt_leeway:
            raise unauthenticated("Invalid JWT: the token has expired")
        if not oneapi and (not server.config.enabled or server not in tenant.auth_servers):
            return None
        fresh = server.fetched_at is not None and now - server.fetched_at < tenant.settings.jwks_cache_seconds
        if not fresh or kid not in server.keys:
            return None
        return tenant, principal

    async def _keys(
        self, server: AuthServer, kid: str | None, now: float, cache_seconds: int, min_gap: int
    ) -> dict:
        stale = server.fetched_at is None or now - server.fetched_at >= cache_seconds
        unknown = kid not in server.keys and (server.fetched_at is None or now - server.fetched_at >= min_gap)
        if stale or unknown:
            try:
                document = await self.fetch(server.jwks_url, server.config.validate_jwks_certificate)
                keys = {k["kid"]: k for k in document["keys"] if isinstance(k, dict) and "kid" in k}
            except Exception as err:  # any fetch or parse failure leaves the old cache in place
                server.last_error = f"JWKS fetch from {server.jwks_url} failed: {type(err).__name__}"
                if not server.keys:
                    raise unauthenticated(f"Invalid JWT: {server.last_error}") from None
            else:
                server.keys, server.fetched_at, server.last_success, server.last_error = keys, now, now, None
        return server.keys

    def _check_signature_and_time(
        self, token: str, header: dict, keys: dict, now: float, leeway: int
    ) -> dict:
        jwk = keys.get(header.get("kid"))
        if jwk is None:
            raise unauthenticated("Invalid JWT: unknown key id (not in the authorization server's JWKS)")
        try:
            key = jwt.PyJWK(jwk, algorithm=header["alg"])
            claims = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError as err:
            raise unauthenticated(
                f"Invalid JWT: signature verification failed ({type(err).__name__})"
            ) from None
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float):
            raise unauthenticated("Invalid JWT: no expiry")
        if now >= exp + leeway:
            raise unauthenticated("Invalid JWT: the token has expired")
        if isinstance(nbf, int | float) and now + leeway < nbf:
            raise unauthenticated("Invalid JWT: the token is not valid yet")
        return claims

    async def _verify_scoped(self, token, header, claims, triple, now) -> tuple[Tenant, Principal]:
        tenant = self.by_cloud_org.get((triple["cloud"], int(triple["org"])))
        if tenant is None:
            raise unauthenticated("Invalid JWT: the scope names an unknown cloud or org")
        server = tenant.enabled_server()
        if server is None:
            raise unauthenticated("Invalid JWT: no authorization server is enabled for this organization")
        s = tenant.settings
        keys = await self._keys(
            server, header.get("kid"), now, s.jwks_cache_seconds, s.jwks_refetch_min_interval
        )
        claims = self._check_signature_and_time(token, header, keys, now, s.jwt_leeway)
        cfg = server.config
        if cfg.audience:
            aud = claims.get("aud")
            if cfg.audience not in (aud if isinstance(aud, list) else [aud]):
                raise unauthenticated("Invalid JWT: audience does not match")
        if server.issuer and claims.get("iss") != server.issuer:
            raise unauthenticated("Invalid JWT: issuer does not match")
        if cfg.client_id and cfg.client_id not in {claims.get(c) for c in CLIENT_ID_CLAIMS}:
            raise unauthenticated("Invalid JWT: client id does not match")
        role = tenant.role_named(triple["role"])
        if role is None or not role.api:
            raise unauthenticated(f"Invalid JWT: {triple['role']!r} is not an API role of this organization")
        principal = Principal("api", f"oauth-{role.name}$@{tenant.config.org_id}.{tenant.config.cloud}", role)
        self._remember(tenant, token, (principal, claims["exp"], server, False, header.get("kid")))
        return tenant, principal

    async def _verify_oneapi(self, token, header, claims, issuer, now) -> tuple[Tenant, Principal]:
        jwks_url, audience = self.oneapi_issuers[issuer]
        client = next((claims.get(c) for c in CLIENT_ID_CLAIMS if isinstance(claims.get(c), str)), None)
        tenant = next(
            (t for t in self.tenants.values() if t.config.oneapi and client in t.config.oneapi.clients), None
        )
        if tenant is None:
            raise unauthenticated("Invalid JWT: the OneAPI client is not registered with any organization")
        server = self.oneapi_keys.setdefault(issuer, AuthServer(_oneapi_ref(jwks_url), jwks_url, issuer))
        s = tenant.settings
        keys = await self._keys(
            server, header.get("kid"), now, s.jwks_cache_seconds, s.jwks_refetch_min_interval
        )
        claims = self._check_signature_and_time(token, header, keys, now, s.jwt_leeway)
        aud = claims.get("aud")
        if audience not in (aud if isinstance(aud, list) else [aud]):
            raise unauthenticated("Invalid JWT: audience does not match")
        role = tenant.role_named(tenant.config.oneapi.clients[client])
        principal = Principal("oneapi", client, role)
        self._remember(tenant, token, (principal, claims["exp"], server, True, header.get("kid")))
        return tenant, principal

    @staticmethod
    def _remember(tenant: Tenant, token: str, entry: tuple) -> None:
        if len(tenant.token_cache) >= TOKEN_CACHE_SIZE:
            tenant.token_cache.clear()
        tenant.token_cache[token] = entry


def _oneapi_ref(jwks_url: str):
    from sims.zia.config import AuthorizationServerRef

    return AuthorizationServerRef(name="ZIdentity", jwks_url=jwks_url)
