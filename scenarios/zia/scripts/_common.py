"""What every SDK script shares: reading the world, the guide's names, and reporting one JSON object.

The scripts run under an SDK's own virtual environment (``scenarios/sdk_envs.py``), never under the
simulator's, so this module uses the standard library only. A script is called as

    python <script>.py INFO.json       # do the guide's work against the sim, print one JSON object
    python <script>.py --check-imports # offline: import the SDK, build what can be built without a network

INFO.json holds ``{"world": <GET /world>, "urls": {"zia": ..., "idp": ...}}``. On failure a script prints
``<script>: error: ...`` (and the traceback) on stderr and exits 1; stdout then stays empty. Everything the
SDKs log or print goes to stderr, so stdout carries the JSON object alone.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPER_CATEGORY = "USER_DEFINED"
RULE_ORDER = 1
RULE_RANK = 7
PAGE_SIZE = 10  # small, so that listing the categories takes several pages


class ScriptError(RuntimeError):
    """A readable failure: what the SDK did not do or returned wrongly."""


@dataclass
class Guide:
    """The Mimecast guide's work, with names unique to one SDK mode (``tag``)."""

    tag: str
    category_name: str
    initial_urls: list[str]
    add_urls: list[str]
    remove_urls: list[str]
    rule_name: str

    @classmethod
    def for_tag(cls, tag: str) -> Guide:
        phish, malware, evil = (
            f"phish-{tag}.example.com",
            f"malware-{tag}.example.net",
            f"evil-{tag}.example.org",
        )
        return cls(tag, f"Mimecast {tag}", [phish, malware], [evil], [malware], f"Block Mimecast {tag}")

    @property
    def final_urls(self) -> list[str]:
        return sorted(u for u in [*self.initial_urls, *self.add_urls] if u not in self.remove_urls)


@dataclass
class Context:
    world: dict
    urls: dict[str, str]
    guide: Guide
    started: float = field(default_factory=time.monotonic)
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def tenant(self) -> dict:
        tenants = self.world.get("sims", {}).get("zia", {}).get("tenants") or []
        if not tenants:
            raise ScriptError("the world has no ZIA tenant (sims.zia.tenants is empty or missing)")
        return tenants[0]

    @property
    def admin(self) -> dict:
        admins = self.tenant.get("admins") or []
        if not admins:
            raise ScriptError("the ZIA tenant has no admin")
        return admins[0]

    @property
    def legacy_base(self) -> str:
        """``{zia}/api/v1``: what pyzscaler and ZiaTalker want."""
        return self.tenant["legacy_base_url"].rstrip("/")

    @property
    def legacy_origin(self) -> str:
        """``{zia}``: what the official SDK's ZIA_OVERRIDE_URL wants (it appends /api/v1 itself)."""
        return strip_suffix(self.legacy_base, "/api/v1")

    @property
    def oneapi_base(self) -> str:
        """``{zia}/zia/api/v1``: what a OneAPI client talks to."""
        return self.tenant["oneapi_base_url"].rstrip("/")

    @property
    def oneapi_origin(self) -> str:
        """``{zia}``: the gateway the official SDK prefixes with /zia/api/v1."""
        return strip_suffix(self.oneapi_base, "/zia/api/v1")

    @property
    def oneapi(self) -> dict:
        creds = self.tenant.get("oneapi")
        if not creds:
            raise ScriptError("the ZIA tenant has no OneAPI client (sims.zia.tenants[0].oneapi)")
        return creds

    @property
    def vanity_origin(self) -> str:
        """The ZIdentity origin: SDKs append /oauth2/v1/token to it."""
        return strip_suffix(self.oneapi["token_url"].rstrip("/"), "/oauth2/v1/token")

    @contextlib.contextmanager
    def step(self, name: str):
        t0 = time.monotonic()
        try:
            yield
        except ScriptError:
            raise
        except Exception as err:
            raise ScriptError(f"step {name!r} failed: {type(err).__name__}: {err}") from err
        finally:
            self.steps[name] = round(time.monotonic() - t0, 3)


def strip_suffix(url: str, suffix: str) -> str:
    if not url.endswith(suffix):
        raise ScriptError(f"{url!r} does not end with {suffix!r}")
    return url[: -len(suffix)]


def quota(raw: Any) -> dict[str, int]:
    """Normalise a urlQuota answer (camelCase dict, or pyzscaler's snake_case Box) to the wire names."""
    data = dict(raw or {})
    out = {}
    for wire, snake in (
        ("uniqueUrlsProvisioned", "unique_urls_provisioned"),
        ("remainingUrlsQuota", "remaining_urls_quota"),
    ):
        value = data.get(wire, data.get(snake))
        if not isinstance(value, int):
            raise ScriptError(f"urlQuota answer lacks an integer {wire}: {data!r}")
        out[wire] = value
    return out


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScriptError(message)


def check_sdk_error(what: str, err: Any) -> None:
    """The official SDK returns (result, response, error) instead of raising."""
    if err is not None:
        raise ScriptError(f"{what}: the SDK returned an error: {err}")


def main(tag: str, work: Callable[[Context], dict], check_imports: Callable[[], dict]) -> None:
    """Run ``work`` (or ``check_imports``) and print its result as the one JSON object on stdout."""
    name = Path(sys.argv[0]).stem
    args = sys.argv[1:]
    real_stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if args == ["--check-imports"]:
                result = {"script": name, "tag": tag, "check_imports": True, **check_imports()}
            elif len(args) == 1:
                doc = json.loads(Path(args[0]).read_text())
                ctx = Context(world=doc["world"], urls=doc.get("urls", {}), guide=Guide.for_tag(tag))
                result = {"script": name, "tag": tag, **work(ctx)}
                result["steps_s"] = ctx.steps
                result["elapsed_s"] = round(time.monotonic() - ctx.started, 3)
            else:
                print(f"usage: {name}.py INFO.json | --check-imports", file=sys.stderr)
                sys.exit(2)
    except SystemExit:
        raise
    except BaseException as err:  # every failure: the trace, then one readable line
        traceback.print_exc(file=sys.stderr)
        print(f"{name}: error: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
    real_stdout.write(json.dumps(result, default=str, sort_keys=True) + "\n")
    real_stdout.flush()


def versions(*dists: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    return out
