"""Deterministic RSA keys, JWKs, self-signed certificates, and the rotating key ring."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from sims.core import keys
from sims.core.keyring import KeyRing, ManagedKey, describe_key
from sims.core.keys import (
    cert_pem,
    private_pem,
    public_jwk,
    public_pem,
    rsa_key,
    self_signed_cert,
    thumbprint,
)

RING_SEED = "tests-core-keyring"  # generations 0..2 are generated once, then come from the disk cache
FRESH_SEED = "tests-core-fresh-11"  # a seed whose 2048-bit prime search is quick (~0.3 s)
SMALL_SEED = "tests-core-small"  # 1024 bits: cache behaviour without the cost of 2048-bit generation


def b64u_decode_int(value: str) -> int:
    assert "=" not in value and "+" not in value and "/" not in value
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def same_key(a: rsa.RSAPrivateKey, b: rsa.RSAPrivateKey) -> bool:
    return a.private_numbers() == b.private_numbers()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty key cache directory and an empty in-memory cache; both restored afterwards."""

    def use(name: str):
        monkeypatch.setenv("SIMS_CACHE_DIR", str(tmp_path / name))
        rsa_key.cache_clear()
        return tmp_path / name / "keys"

    yield use
    rsa_key.cache_clear()


# -- rsa_key ---------------------------------------------------------------------------------------
def test_same_seed_gives_the_same_key_object_within_a_process():
    a = rsa_key("world-3173833:as-okta")
    b = rsa_key("world-3173833:as-okta")
    assert a is b
    assert thumbprint(a) == thumbprint(b)


def test_same_seed_gives_the_same_key_with_a_fresh_cache(fresh_cache):
    first_dir = fresh_cache("one")
    first = rsa_key(FRESH_SEED)
    files = list(first_dir.glob("*.pem"))
    assert len(files) == 1  # generated and written to the cache
    assert not list(first_dir.glob("*.tmp"))  # written atomically, no leftovers

    second_dir = fresh_cache("two")
    assert not second_dir.exists()
    second = rsa_key(FRESH_SEED)  # generated again from scratch
    assert first is not second
    assert same_key(first, second)
    assert thumbprint(first) == thumbprint(second)
    assert (second_dir / files[0].name).read_bytes() == files[0].read_bytes()


def test_key_comes_back_from_the_disk_cache(fresh_cache, monkeypatch):
    fresh_cache("disk")
    generated = rsa_key(SMALL_SEED, bits=1024)
    rsa_key.cache_clear()

    def no_generation(seed, bits):
        raise AssertionError("the cached key should have been loaded, not generated")

    monkeypatch.setattr(keys, "_generate", no_generation)
    assert same_key(rsa_key(SMALL_SEED, bits=1024), generated)


def test_corrupt_cache_file_is_regenerated(fresh_cache):
    cache = fresh_cache("corrupt")
    good = rsa_key(SMALL_SEED, bits=1024)
    (pem,) = cache.glob("*.pem")
    pem.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    rsa_key.cache_clear()
    again = rsa_key(SMALL_SEED, bits=1024)
    assert same_key(again, good)
    rewritten = serialization.load_pem_private_key(pem.read_bytes(), None)
    assert rewritten.private_numbers() == good.private_numbers()


def test_unwritable_cache_still_yields_the_key(fresh_cache, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache dir cannot be created below a regular file")
    monkeypatch.setenv("SIMS_CACHE_DIR", str(blocker))
    rsa_key.cache_clear()
    key = rsa_key(SMALL_SEED, bits=1024)
    assert key.key_size == 1024
    rsa_key.cache_clear()
    assert same_key(rsa_key(SMALL_SEED, bits=1024), key)


def test_different_seeds_give_different_keys():
    a, b = rsa_key("world-3173833:as-okta"), rsa_key("world-3173833:as-entra")
    assert a.public_key().public_numbers().n != b.public_key().public_numbers().n
    assert thumbprint(a) != thumbprint(b)


def test_same_seed_different_size_differs():
    small = rsa_key(SMALL_SEED, bits=1024)
    assert small.key_size == 1024
    assert small.public_key().public_numbers().n != rsa_key(SMALL_SEED).public_key().public_numbers().n


def test_key_shape():
    key = rsa_key("world-3173833:as-okta")
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    nums = key.private_numbers()
    assert nums.public_numbers.e == 65537
    assert nums.p != nums.q
    assert nums.p * nums.q == nums.public_numbers.n
    assert nums.public_numbers.n.bit_length() == 2048
    # the key works: sign and verify
    sig = key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(sig, b"hello", padding.PKCS1v15(), hashes.SHA256())


def test_pem_round_trips():
    key = rsa_key("world-3173833:as-okta")
    loaded = serialization.load_pem_private_key(private_pem(key), password=None)
    assert loaded.private_numbers() == key.private_numbers()
    assert private_pem(key).startswith(b"-----BEGIN PRIVATE KEY-----")
    pub = serialization.load_pem_public_key(public_pem(key))
    assert pub.public_numbers() == key.public_key().public_numbers()
    assert public_pem(key.public_key()) == public_pem(key)


# -- JWK and thumbprint ----------------------------------------------------------------------------
def rfc7638(jwk: dict) -> str:
    """RFC 7638 section 3: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_thumbprint_matches_the_rfc_7638_example():
    # RFC 7638 section 3.1, the example RSA key and its thumbprint
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
        "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8K"
        "JZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xB"
        "niIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    pub = rsa.RSAPublicNumbers(65537, b64u_decode_int(n)).public_key()
    assert thumbprint(pub) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    jwk = public_jwk(pub)
    assert jwk["n"] == n
    assert jwk["e"] == "AQAB"
    assert jwk["kid"] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_public_jwk_shape_and_thumbprint():
    key = rsa_key("world-3173833:as-okta")
    jwk = public_jwk(key)
    assert set(jwk) == {"kty", "alg", "use", "kid", "e", "n"}
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")
    nums = key.public_key().public_numbers()
    assert b64u_decode_int(jwk["n"]) == nums.n
    assert b64u_decode_int(jwk["e"]) == nums.e
    assert jwk["kid"] == thumbprint(key) == thumbprint(key.public_key()) == rfc7638(jwk)
    assert len(jwk["kid"]) == 43  # base64url of 32 bytes, unpadded
    # the same JWK from the public half
    assert public_jwk(key.public_key()) == jwk


def test_thumbprint_agrees_with_authlib():
    with warnings.catch_warnings(record=True):  # authlib.jose warns (with its own "always" filter)
        authlib_jwk = pytest.importorskip("authlib.jose").JsonWebKey
    jwk = public_jwk(rsa_key("world-3173833:as-entra"))
    imported = authlib_jwk.import_key({k: jwk[k] for k in ("kty", "e", "n")})
    assert imported.thumbprint() == jwk["kid"]


def test_public_jwk_explicit_kid_and_alg():
    key = rsa_key("world-3173833:as-okta")
    jwk = public_jwk(key, kid="my-kid", alg="PS256")
    assert jwk["kid"] == "my-kid"
    assert jwk["alg"] == "PS256"


def test_public_jwk_verifies_tokens_signed_by_the_key():
    key = rsa_key("world-3173833:as-okta")
    jwk = public_jwk(key)
    token = jwt.encode({"sub": "x"}, key, algorithm="RS256", headers={"kid": jwk["kid"]})
    pyjwk = jwt.PyJWK(jwk)
    assert pyjwk.key_id == jwk["kid"]
    assert jwt.decode(token, pyjwk, algorithms=["RS256"]) == {"sub": "x"}
    assert pyjwk.key.public_numbers() == key.public_key().public_numbers()
    # and PyJWT's own JWK export of the key carries the same n and e
    exported = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    assert (exported["n"], exported["e"]) == (jwk["n"], jwk["e"])
    assert rfc7638(exported) == jwk["kid"]


# -- self-signed certificates ----------------------------------------------------------------------
def test_self_signed_cert_is_deterministic():
    key = rsa_key("world-3173833:as-okta")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    a = self_signed_cert(key, "sims.example", not_before=start)
    b = self_signed_cert(key, "sims.example", not_before=start)
    assert a.public_bytes(serialization.Encoding.DER) == b.public_bytes(serialization.Encoding.DER)
    assert cert_pem(a) == cert_pem(b)
    assert cert_pem(self_signed_cert(key, "sims.example")) == cert_pem(self_signed_cert(key, "sims.example"))
    # different inputs, different certificates
    other_name = self_signed_cert(key, "other.example", not_before=start)
    other_start = self_signed_cert(key, "sims.example", not_before=start + timedelta(days=1))
    other_key = self_signed_cert(rsa_key("world-3173833:as-entra"), "sims.example", not_before=start)
    ders = {c.public_bytes(serialization.Encoding.DER) for c in (a, other_name, other_start, other_key)}
    assert len(ders) == 4
    assert a.serial_number != other_name.serial_number != other_key.serial_number


def test_self_signed_cert_contents_and_signature():
    key = rsa_key("world-3173833:as-okta")
    cert = self_signed_cert(key, "sims.example", days=30, organization="Safemarch")
    cert.verify_directly_issued_by(cert)  # raises when the signature does not verify
    key.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
    )
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sims.example"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Safemarch"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.not_valid_before_utc == datetime(2025, 1, 1, tzinfo=UTC)
    assert cert.not_valid_after_utc == datetime(2025, 1, 31, tzinfo=UTC)
    assert 0 < cert.serial_number < 2**159
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    assert x509.load_pem_x509_certificate(cert_pem(cert)) == cert


def test_self_signed_cert_drops_microseconds_and_takes_a_hash():
    key = rsa_key("world-3173833:as-okta")
    start = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    cert = self_signed_cert(key, "sims.example", not_before=start, hash_alg=hashes.SHA384())
    assert cert.not_valid_before_utc == start.replace(microsecond=0)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    cert.verify_directly_issued_by(cert)
    same = self_signed_cert(
        key, "sims.example", not_before=start.replace(microsecond=0), hash_alg=hashes.SHA384()
    )
    assert cert_pem(same) == cert_pem(cert)


# -- KeyRing ---------------------------------------------------------------------------------------
T0 = 1_768_467_600.0


def test_new_ring_has_one_signing_key():
    ring = KeyRing(RING_SEED, T0)
    assert ring.generation == 0
    assert len(ring.keys) == 1
    key = ring.signing
    assert key.seed == RING_SEED
    assert key.created_at == T0
    assert key.retire_at is None
    assert ring.published(T0) == [key]
    assert ring.published(T0 + 10 * 365 * 86400) == [key]  # the signing key never retires by itself
    assert key.kid == thumbprint(rsa_key(RING_SEED))
    assert key.jwk == public_jwk(rsa_key(RING_SEED))
    assert ring.by_kid(key.kid, T0) is key
    assert ring.by_kid("no-such-kid", T0) is None


def test_rotate_publishes_the_old_key_for_the_grace_period():
    ring = KeyRing(RING_SEED, T0)
    old = ring.signing
    new = ring.rotate(T0 + 100, grace=3600)
    assert ring.generation == 1
    assert new is ring.signing
    assert new.seed == f"{RING_SEED}#1"
    assert new.created_at == T0 + 100
    assert new.retire_at is None
    assert old.retire_at == T0 + 100 + 3600
    assert new.kid != old.kid

    assert ring.published(T0 + 100) == [old, new]
    assert ring.published(T0 + 3699) == [old, new]
    assert ring.by_kid(old.kid, T0 + 3699) is old
    assert ring.published(T0 + 3700) == [new]  # retire_at is exclusive
    assert ring.by_kid(old.kid, T0 + 3700) is None
    assert ring.by_kid(new.kid, T0 + 3700) is new


def test_rotate_with_zero_grace_unpublishes_at_once():
    ring = KeyRing(RING_SEED, T0)
    old = ring.signing
    new = ring.rotate(T0, grace=0)
    assert ring.published(T0) == [new]
    assert old.retire_at == T0


def test_second_rotation_shortens_but_never_extends_earlier_graces():
    ring = KeyRing(RING_SEED, T0)
    k0 = ring.signing
    k1 = ring.rotate(T0, grace=1000)
    assert k0.retire_at == T0 + 1000
    # a longer grace for the second rotation does not extend k0's
    k2 = ring.rotate(T0 + 10, grace=5000)
    assert ring.generation == 2
    assert k2.seed == f"{RING_SEED}#2"
    assert k0.retire_at == T0 + 1000
    assert k1.retire_at == T0 + 10 + 5000
    assert ring.published(T0 + 999) == [k0, k1, k2]
    assert ring.published(T0 + 1000) == [k1, k2]
    # a shorter grace retires every earlier key sooner
    ring.rotate(T0 + 20, grace=5)
    assert k1.retire_at == T0 + 25
    assert k0.retire_at == T0 + 25


def test_prune_forgets_unpublished_keys_but_keeps_the_signing_key():
    ring = KeyRing(RING_SEED, T0)
    k0 = ring.signing
    k1 = ring.rotate(T0, grace=100)
    assert ring.prune(T0 + 50) == 0
    assert ring.keys == [k0, k1]
    assert ring.prune(T0 + 100) == 1
    assert ring.keys == [k1]
    assert ring.prune(T0 + 10**9) == 0
    assert ring.keys == [k1]


def test_rotate_prunes_first():
    ring = KeyRing(RING_SEED, T0)
    k0 = ring.signing
    k1 = ring.rotate(T0, grace=10)
    k2 = ring.rotate(T0 + 20, grace=10)  # k0 is long retired and dropped; k1 gets its grace
    assert k0 not in ring.keys
    assert ring.keys == [k1, k2]
    assert k1.retire_at == T0 + 30


def test_export_load_round_trip():
    ring = KeyRing(RING_SEED, T0)
    ring.rotate(T0 + 10, grace=600)
    ring.rotate(T0 + 20, grace=6000)
    state = ring.export()
    assert state == {
        "seed_base": RING_SEED,
        "generation": 2,
        "keys": [
            {"seed": RING_SEED, "created_at": T0, "retire_at": T0 + 610},
            {"seed": f"{RING_SEED}#1", "created_at": T0 + 10, "retire_at": T0 + 6020},
            {"seed": f"{RING_SEED}#2", "created_at": T0 + 20, "retire_at": None},
        ],
    }
    json.dumps(state)  # JSON-compatible
    loaded = KeyRing.load(json.loads(json.dumps(state)))
    assert loaded.export() == state
    assert [k.kid for k in loaded.keys] == [k.kid for k in ring.keys]
    assert loaded.signing.kid == ring.signing.kid
    assert [k.kid for k in loaded.published(T0 + 700)] == [k.kid for k in ring.published(T0 + 700)]
    # a loaded ring keeps rotating from where it was
    nxt = loaded.rotate(T0 + 30, grace=0)
    assert nxt.seed == f"{RING_SEED}#3"
    assert loaded.generation == 3


def test_load_rejects_bad_states():
    with pytest.raises(ValueError, match="at least one key"):
        KeyRing.load({"seed_base": RING_SEED, "generation": 0, "keys": []})
    with pytest.raises(KeyError):
        KeyRing.load({"generation": 0, "keys": []})
    with pytest.raises(TypeError):
        KeyRing.load({"seed_base": RING_SEED, "generation": 0, "keys": [{"seed": "x", "bogus": 1}]})


def test_managed_key_state_and_description():
    key = ManagedKey(RING_SEED, T0, T0 + 5)
    assert key.state() == {"seed": RING_SEED, "created_at": T0, "retire_at": T0 + 5}
    assert key.published(T0 + 4.999)
    assert not key.published(T0 + 5)
    assert describe_key(key) == {"kid": key.kid, "seed": RING_SEED, "created_at": T0, "retire_at": T0 + 5}
