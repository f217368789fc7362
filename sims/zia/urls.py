"""ZIA's custom-URL syntax rules and how a URL entry matches a request.

Rules (ZIA docs, reference §7): no scheme, lowercase, ASCII, at most 1024 characters, host at most
255, each label at most 63, a leading dot is a wildcard for the domain and its subdomains, and a
bare top-level domain is refused. One invalid entry rejects the whole request.
"""

from __future__ import annotations

import ipaddress
import re

MAX_URL = 1024
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def url_problem(entry: object) -> str | None:
    """Why ``entry`` is not a valid custom URL, or None when it is."""
    if not isinstance(entry, str) or not entry:
        return "empty or not a string"
    if len(entry) > MAX_URL:
        return f"longer than {MAX_URL} characters"
    if not entry.isascii():
        return "not ASCII"
    if _SCHEME.match(entry):
        return "must not include a scheme"
    if entry != entry.lower():
        return "must be lowercase"
    if any(c.isspace() for c in entry):
        return "contains whitespace"
    host, _, _path = entry.partition("/")
    host, sep, port = host.partition(":")
    if sep and not (port.isdigit() and 0 < int(port) < 65536):
        return "bad port"
    wildcard = host.startswith(".")
    name = host[1:] if wildcard else host
    if len(name) > 255:
        return "host longer than 255 characters"
    if not wildcard:
        try:
            ipaddress.ip_address(name)
            return None
        except ValueError:
            pass
    labels = name.split(".")
    if len(labels) < 2:
        return "a top-level domain alone is not allowed"
    for label in labels:
        if not _LABEL.match(label) or label == "_":
            return f"bad label {label!r}"
    if "_" in labels[-1] or "_" in labels[-2]:
        return "'_' is not allowed in the top-level or second-level domain"
    if labels[-1].isdigit():
        return "bad top-level domain"
    return None


def normalise_request_url(url: str) -> tuple[str, str]:
    """Host and path of a URL as a request presents it (scheme, port and query dropped)."""
    url = _SCHEME.sub("", url.strip())
    host, _, path = url.partition("/")
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")
    path = path.split("?", 1)[0].split("#", 1)[0]
    return host, path


def entry_matches(entry: str, host: str, path: str) -> bool:
    """Whether a custom-URL entry covers the request's host and path."""
    ehost, _, epath = entry.partition("/")
    ehost = ehost.split(":", 1)[0]
    if ehost.startswith("."):
        base = ehost[1:]
        if host != base and not host.endswith(ehost):
            return False
    elif host != ehost:
        return False
    return not epath or path == epath or path.startswith(epath.rstrip("/") + "/") or path.startswith(epath)


def candidate_keys(host: str) -> list[str]:
    """Index keys under which entries that may match ``host`` are stored: the host and each parent
    as exact ('a.b.c') and wildcard ('.b.c') forms."""
    labels = host.split(".")
    keys = [host, "." + host]
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        keys.append("." + parent)
    return keys


def index_key(entry: str) -> str:
    """The host part (with its leading dot if any) that ``candidate_keys`` looks up."""
    return entry.partition("/")[0].split(":", 1)[0]
