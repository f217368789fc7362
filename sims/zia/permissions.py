"""ZIA admin and API role permissions, exactly as the guide's "Add API Role" page lists them.

Each area is None / View Only / Full. Every endpoint names the area it needs (see ``AREA_OF``);
View Only may read, Full may also write.
"""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    NONE = 0
    VIEW_ONLY = 1
    FULL = 2


# area key -> label on the Add API Role page (grouped as the page groups them)
AREAS: dict[str, str] = {
    "policy_reporting": "Policy Reporting",
    "security": "Policy & Components > Security",
    "access_control_policy": "Policy & Components > Access Control > Policy Control",
    "access_control_components": "Policy & Components > Access Control > Policy Components",
    "data_protection_policy": "Policy & Components > Data Protection > Policy Control",
    "data_protection_components": "Policy & Components > Data Protection > Policy Components",
    "decryption_policy": "Policy & Components > Decryption > Policy Control",
    "decryption_components": "Policy & Components > Decryption > Policy Components",
    "url_categories": "Policy & Components > URL Categories",
    "shared_policy_components": "Policy & Components > Shared Policy Components",
    "integrations": "Cloud Configuration & Integration > Integrations",
    "cloud_configuration": "Cloud Configuration & Integration > Cloud Configuration",
    "traffic_forwarding": "Traffic Forwarding > Traffic Forwarding",
    "traffic_forwarding_methods": "Traffic Forwarding > Traffic Forwarding Methods",
    "administrative_controls": "Administrative Controls > Administrative Controls",
    "backup_controls": "Administrative Controls > Backup Controls",
    "reporting_data": "Reporting Data",
    "administrative_access": "Administrative Access",
}

FULL_ACCESS: dict[str, Level] = dict.fromkeys(AREAS, Level.FULL)


def parse_levels(raw: dict[str, str]) -> dict[str, Level]:
    """World-file form (``url_categories: FULL``) to levels; areas not named are NONE."""
    levels = dict.fromkeys(AREAS, Level.NONE)
    for area, value in raw.items():
        if area not in AREAS:
            raise ValueError(f"unknown permission area {area!r} (known: {', '.join(AREAS)})")
        try:
            levels[area] = Level[value.upper()]
        except KeyError:
            raise ValueError(f"permission {area}: {value!r} is not NONE, VIEW_ONLY or FULL") from None
    return levels


def allows(levels: dict[str, Level], areas: tuple[str, ...], write: bool) -> bool:
    """True when any of ``areas`` grants the access (an endpoint may be reachable from several)."""
    need = Level.FULL if write else Level.VIEW_ONLY
    return any(levels.get(a, Level.NONE) >= need for a in areas)
