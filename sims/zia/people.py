"""ZIA's users, groups and departments: what URL filtering rules name and the policy decision uses.
SAML auto-provisioning writes here too (``upsert``); SCIM will."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from sims.core import progress
from sims.core.names import group_names, person_names, unique_logins
from sims.zia.config import GenerateZiaUsers, ZiaUser

DEPARTMENTS = ["Sales", "Engineering", "Finance", "Marketing", "IT", "Legal", "Support", "Operations"]


@dataclass
class User:
    id: int
    name: str
    email: str
    display_name: str
    department: int | None = None
    groups: list[int] = field(default_factory=list)


class People:
    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.groups: dict[int, str] = {}
        self.departments: dict[int, str] = {}
        self._next = {"user": 40_000_001, "group": 20_000_001, "department": 30_000_001}

    def _id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    def group_id(self, name: str) -> int:
        for gid, gname in self.groups.items():
            if gname == name:
                return gid
        gid = self._id("group")
        self.groups[gid] = name
        return gid

    def department_id(self, name: str) -> int:
        for did, dname in self.departments.items():
            if dname == name:
                return did
        did = self._id("department")
        self.departments[did] = name
        return did

    def add(self, cfg: ZiaUser) -> User:
        user = User(
            id=self._id("user"),
            name=cfg.name,
            email=cfg.name,
            display_name=cfg.display_name or cfg.name.split("@")[0],
            department=self.department_id(cfg.department) if cfg.department else None,
            groups=[self.group_id(g) for g in cfg.groups],
        )
        self.users[user.id] = user
        return user

    def generate(self, gen: GenerateZiaUsers) -> None:
        """Bulk users after the configured ones: seeded names, departments spread at random, user
        ``i`` in group ``i mod groups``; ids follow on from the configured users (deterministic)."""
        rng = random.Random(f"zia-people:{gen.seed}")
        gids = [self.group_id(g) for g in group_names(gen.groups)]
        dids = [self.department_id(d) for d in DEPARTMENTS]
        taken = {u.name for u in self.users.values()}
        task = progress.current().task(f"zia {gen.domain}: users", gen.count)
        chunk = 10_000
        for start in range(0, gen.count, chunk):
            n = min(chunk, gen.count - start)
            names = person_names(rng, n)
            logins = unique_logins(names, gen.domain, taken=taken)
            depts = rng.choices(dids, k=n)
            for i, ((first, last), login) in enumerate(zip(names, logins, strict=True)):
                made = start + i
                uid = self._id("user")
                groups = [gids[made % len(gids)]] if gids else []
                self.users[uid] = User(uid, login, login, f"{first} {last}", depts[i], groups)
                taken.add(login)
            task.advance(n)
        task.close()

    def upsert(
        self,
        name: str,
        *,
        display_name: str | None = None,
        groups: list[str] | None = None,
        department: str | None = None,
    ) -> User:
        """Create or update a user as SAML auto-provisioning does: what the assertion carries
        replaces what ZIA had; an attribute the assertion lacks leaves that field as it was."""
        user = self.by_name(name)
        if user is None:
            user = User(
                id=self._id("user"), name=name, email=name, display_name=display_name or name.split("@")[0]
            )
            self.users[user.id] = user
        elif display_name:
            user.display_name = display_name
        if groups is not None:
            user.groups = [self.group_id(g) for g in dict.fromkeys(groups)]
        if department:
            user.department = self.department_id(department)
        return user

    def by_name(self, name: str) -> User | None:
        lowered = name.lower()
        return next((u for u in self.users.values() if u.name.lower() == lowered), None)

    # -- API views -------------------------------------------------------------------------------
    def user_view(self, u: User) -> dict:
        dept = {"id": u.department, "name": self.departments[u.department]} if u.department else None
        return {
            "id": u.id,
            "name": u.display_name,
            "email": u.email,
            "department": dept,
            "groups": [{"id": g, "name": self.groups[g]} for g in u.groups],
            "adminUser": False,
        }

    def export(self) -> dict:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "groups": self.groups,
            "departments": self.departments,
            "next": self._next,
        }

    def load(self, state: dict) -> None:
        self.users = {u["id"]: User(**u) for u in state["users"]}
        self.groups = {int(k): v for k, v in state["groups"].items()}
        self.departments = {int(k): v for k, v in state["departments"].items()}
        self._next = dict(state["next"])
