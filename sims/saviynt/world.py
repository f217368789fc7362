"""Placeholder values from a running world: the SCIM base URLs and bearer tokens of ZIA and ZPA.

The fixtures write ``{{zia_scim_base}}`` where the guide has ``https://<domain name>/8651360/48097/scim``
(``{{zpa_scim_base}}`` for ``https://<domain name>/scim/1/72058300560048147/v2``), and
``{{zia_scim_token}}`` / ``{{zpa_scim_token}}`` where it has ``<access token>``. The token
placeholders stand for the whole ``accessToken`` value, which Saviynt's examples always write with
its type: ``Bearer <token>``.

The world (``GET /world`` on the control plane, ``sims world --json``) lists each SCIM endpoint
somewhere under ``sims.zia`` / ``sims.zpa``; this looks for a SCIM base URL and its token in the
same object rather than depending on one exact layout.
"""

from __future__ import annotations

from typing import Any

import httpx

_BASE_KEYS = {
    "scim_base_url", "scim_url", "scim_endpoint", "base_url", "url", "endpoint",
    "scimserviceproviderendpoint", "service_provider_endpoint", "scim_service_provider_endpoint",
}  # fmt: skip
_TOKEN_KEYS = {"scim_token", "scim_bearer_token", "bearer_token", "token", "access_token"}


class WorldLookupError(RuntimeError):
    pass


def fetch_world(url: str, token: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(url.rstrip("/") + "/world", headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        raise WorldLookupError(f"cannot reach the world's control plane at {url}: {err}") from None
    if r.status_code != 200:
        raise WorldLookupError(f"GET {url.rstrip('/')}/world answered {r.status_code}: {r.text[:200]}")
    try:
        return r.json()
    except ValueError:
        raise WorldLookupError(f"GET {url.rstrip('/')}/world did not answer JSON") from None


def _candidates(node: Any, in_scim: bool, out: list[tuple[str, str]], depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(node, dict):
        here = in_scim or any("scim" in str(k).lower() for k in node)
        base = token = None
        for k, v in node.items():
            key = str(k).lower()
            scimish = here or "scim" in key
            if isinstance(v, str) and scimish and key in _BASE_KEYS and v.startswith(("http://", "https://")):
                if "scim" in key or "scim" in v.lower() or in_scim:
                    base = base or v
            elif isinstance(v, str) and scimish and key in _TOKEN_KEYS and v:
                token = token or v
        if base and token:
            out.append((base, token))
        for k, v in node.items():
            _candidates(v, in_scim or "scim" in str(k).lower(), out, depth + 1)
    elif isinstance(node, list):
        for v in node:
            _candidates(v, in_scim, out, depth + 1)


def scim_endpoints(world: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{"zia": (base URL, token), "zpa": ...} for the sims whose SCIM the world describes."""
    found = {}
    for sim in ("zia", "zpa"):
        out: list[tuple[str, str]] = []
        _candidates(world.get("sims", {}).get(sim, {}), False, out)
        if out:
            found[sim] = out[0]
    return found


def placeholders_from_world(world: dict[str, Any]) -> dict[str, str]:
    values = {}
    for sim, (base, token) in scim_endpoints(world).items():
        values[f"{sim}_scim_base"] = base.rstrip("/")
        values[f"{sim}_scim_token"] = token if token.lower().startswith("bearer ") else f"Bearer {token}"
    return values
