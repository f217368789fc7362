"""IP destination groups ("IP & FQDN groups" in the guide's role description)."""

from __future__ import annotations

import copy
import ipaddress
import re

from sims.zia.errors import body_invalid, duplicate, invalid, not_found

TYPES = {"DSTN_IP", "DSTN_FQDN", "DSTN_DOMAIN", "DSTN_OTHER"}
MAX_ADDRESSES = 256  # UNVERIFIED per-group cap; ZIA documents limits per subscription
_FQDN = re.compile(
    r"^(?=.{1,255}$)(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE
)


def _address_problem(kind: str, address: str) -> str | None:
    if kind == "DSTN_IP":
        try:
            if "-" in address:
                lo, hi = (ipaddress.ip_address(p.strip()) for p in address.split("-", 1))
                return None if lo <= hi else "range end before start"
            ipaddress.ip_network(address, strict=False)
            return None
        except ValueError:
            return "not an IP address, CIDR block or range"
    if kind in ("DSTN_FQDN", "DSTN_DOMAIN"):
        return None if _FQDN.match(address) else "not a fully qualified domain name"
    return None


class IpGroupBook:
    def __init__(self, first_id: int = 10_596_668) -> None:
        self.groups: dict[int, dict] = {}
        self.next_id = first_id

    def clone(self) -> IpGroupBook:
        book = IpGroupBook(self.next_id)
        book.groups = copy.deepcopy(self.groups)
        return book

    def get(self, group_id: int) -> dict:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(f"IP destination group {group_id}")
        return group

    def _build(self, body: dict, group_id: int) -> dict:
        if not isinstance(body, dict):
            raise body_invalid()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name is required")
        if any(g["name"] == name and g["id"] != group_id for g in self.groups.values()):
            raise duplicate(f"An IP destination group named {name!r} already exists")
        kind = body.get("type") or "DSTN_IP"
        if kind not in TYPES:
            raise invalid(f"Invalid type: {kind}")
        addresses = body.get("addresses") or []
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise body_invalid()
        if len(addresses) > MAX_ADDRESSES:
            raise invalid(f"A group can have at most {MAX_ADDRESSES} addresses")
        for address in addresses:
            problem = _address_problem(kind, address)
            if problem:
                raise invalid(f"Invalid address {address!r}: {problem}")
        lists = {}
        for key in ("ipCategories", "countries"):
            value = body.get(key) or []
            if not isinstance(value, list):
                raise body_invalid()
            lists[key] = value
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise body_invalid()
        return {
            "id": group_id,
            "name": name,
            "type": kind,
            "addresses": list(dict.fromkeys(addresses)),
            "description": description,
            **lists,
        }

    def view(self, group: dict) -> dict:
        """GET adds fields the create response does not carry (recorded)."""
        return {
            **group,
            "creatorContext": "ZIA",
            "urlCategories": [],
            "ipAddresses": list(group["addresses"]),
        }

    def create(self, body: dict) -> dict:
        group = self._build(body, self.next_id)
        self.groups[group["id"]] = group
        self.next_id += 1
        return group

    def update(self, group_id: int, body: dict) -> dict:
        self.get(group_id)
        group = self._build(body, group_id)
        self.groups[group_id] = group
        return group

    def delete(self, group_id: int) -> None:
        self.get(group_id)
        del self.groups[group_id]

    def listing(self, exclude_type: str | None = None) -> list[dict]:
        return [g for g in self.groups.values() if g["type"] != exclude_type]
