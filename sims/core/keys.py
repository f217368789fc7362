"""RSA keys, self-signed certificates and JWKS, deterministic per world.

A world names its keys by seed, so the same world file yields the same key ids and certificates on
every machine (documented values, reproducible tests). ``cryptography`` cannot generate RSA keys
from a seed, so primes come from a seeded PRNG with Miller-Rabin and the key is assembled with
``cryptography``; generated keys are cached on disk because prime search takes ~0.4 s per key.
These keys are public by construction: they are for simulators, never for real secrets.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p**0.5) + 1))]


def _is_probable_prime(n: int, rng: random.Random, rounds: int = 24) -> bool:
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1  # top two bits set: n has full size
        if (candidate - 1) % _E and _is_probable_prime(candidate, rng):
            return candidate


def _generate(seed: str, bits: int) -> rsa.RSAPrivateKey:
    rng = random.Random(hashlib.sha256(f"sims-rsa:{bits}:{seed}".encode()).digest())
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
        if p != q:
            break
    d = pow(_E, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=d % (p - 1),
        dmq1=d % (q - 1),
        iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(_E, p * q),
    )
    return numbers.private_key()


def cache_dir() -> Path:
    base = os.environ.get("SIMS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sims"
    )
    return Path(base) / "keys"


@functools.lru_cache(maxsize=512)
def rsa_key(seed: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The RSA private key for ``seed``: the same on every machine, cached in memory and on disk."""
    name = hashlib.sha256(f"{bits}:{seed}".encode()).hexdigest()[:32] + ".pem"
    path = cache_dir() / name
    try:
        # The cache holds keys this module generated, so the ~60 ms RSA consistency check is skipped.
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size == bits:
            return key
    except (OSError, ValueError):
        pass
    key = _generate(seed, bits)
    pem = private_pem(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(path)  # atomic: concurrent processes never read half a key
    except OSError:
        pass  # a read-only home only costs the regeneration time
    return key


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _b64u_int(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), used as the key id."""
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    nums = pub.public_numbers()
    canonical = json.dumps(
        {"e": _b64u_int(nums.e), "kty": "RSA", "n": _b64u_int(nums.n)}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def public_jwk(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, kid: str | None = None, alg: str = "RS256") -> dict:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    nums = pub.public_numbers()
    return {
        "kty": "RSA",
        "alg": alg,
        "use": "sig",
        "kid": kid or thumbprint(pub),
        "e": _b64u_int(nums.e),
        "n": _b64u_int(nums.n),
    }


def self_signed_cert(
    key: rsa.RSAPrivateKey,
    common_name: str,
    *,
    not_before: datetime | None = None,
    days: int = 3650,
    organization: str = "sims",
    hash_alg: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """A self-signed certificate; deterministic for a given key, name and validity start."""
    start = (not_before or datetime(2025, 1, 1, tzinfo=UTC)).replace(microsecond=0)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    serial = (
        int.from_bytes(hashlib.sha256(f"{common_name}:{thumbprint(key)}".encode()).digest()[:16], "big") >> 1
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hash_alg or hashes.SHA256())  # PKCS#1 v1.5 is deterministic, so is the certificate
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
