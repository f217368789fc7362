"""A rotating set of signing keys: the newest signs, rotated-out keys stay published for a grace."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric import rsa

from sims.core.keys import public_jwk, rsa_key, thumbprint


@dataclass
class ManagedKey:
    seed: str
    created_at: float
    retire_at: float | None = None  # when it leaves the published set (None: stays)

    @cached_property
    def private(self) -> rsa.RSAPrivateKey:
        return rsa_key(self.seed)

    @cached_property
    def kid(self) -> str:
        return thumbprint(self.private)

    @cached_property
    def jwk(self) -> dict:
        return public_jwk(self.private, self.kid)

    def published(self, now: float) -> bool:
        return self.retire_at is None or now < self.retire_at

    def state(self) -> dict:
        return {"seed": self.seed, "created_at": self.created_at, "retire_at": self.retire_at}


class KeyRing:
    def __init__(self, seed_base: str, now: float) -> None:
        self.seed_base = seed_base
        self.generation = 0
        self.keys: list[ManagedKey] = [ManagedKey(self._seed(0), now)]

    def _seed(self, generation: int) -> str:
        return self.seed_base if generation == 0 else f"{self.seed_base}#{generation}"

    @property
    def signing(self) -> ManagedKey:
        return self.keys[-1]

    def published(self, now: float) -> list[ManagedKey]:
        return [k for k in self.keys if k.published(now)]

    def by_kid(self, kid: str, now: float) -> ManagedKey | None:
        return next((k for k in self.published(now) if k.kid == kid), None)

    def rotate(self, now: float, grace: float) -> ManagedKey:
        """Sign with a new key from now on; earlier keys stay published for ``grace`` seconds."""
        self.prune(now)
        for k in self.keys:
            if k.retire_at is None or k.retire_at > now + grace:
                k.retire_at = now + grace
        self.generation += 1
        new = ManagedKey(self._seed(self.generation), now)
        self.keys.append(new)
        return new

    def prune(self, now: float) -> int:
        """Forget keys that are no longer published (the signing key always stays)."""
        keep = [k for k in self.keys[:-1] if k.published(now)] + [self.keys[-1]]
        dropped = len(self.keys) - len(keep)
        self.keys = keep
        return dropped

    def export(self) -> dict:
        return {
            "seed_base": self.seed_base,
            "generation": self.generation,
            "keys": [k.state() for k in self.keys],
        }

    @classmethod
    def load(cls, state: dict) -> KeyRing:
        ring = cls.__new__(cls)
        ring.seed_base = state["seed_base"]
        ring.generation = int(state["generation"])
        ring.keys = [ManagedKey(**k) for k in state["keys"]]
        if not ring.keys:
            raise ValueError("a key ring needs at least one key")
        return ring


def describe_key(k: ManagedKey) -> dict:
    return {"kid": k.kid, **asdict(k)}
