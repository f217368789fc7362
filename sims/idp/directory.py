"""The identity provider's user directory (a CyberArk-Identity-like tenant): users and roles
(its SAML web apps and sign-ins are in ``sso.py``)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from sims.core import progress
from sims.core.names import passwords, person_names, unique_logins
from sims.idp.config import DirectoryConfig, DirectoryUser

DEPARTMENTS = ["Sales", "Engineering", "Finance", "Marketing", "IT", "Legal", "Support", "Operations"]


@dataclass
class User:
    login: str
    email: str
    display_name: str
    first_name: str
    last_name: str
    department: str | None
    password: str
    attributes: dict[str, str] = field(default_factory=dict)


class Directory:
    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config
        self.reset()

    @property
    def id(self) -> str:
        return self.config.id

    def reset(self) -> None:
        self.users: dict[str, User] = {}
        self.roles: dict[str, list[str]] = {r.name: list(r.members) for r in self.config.roles}
        for u in self.config.users:
            self.add_user(u)
        if self.config.generate:
            self._generate()

    def add_user(self, u: DirectoryUser) -> User:
        first = u.first_name or u.login.split("@")[0].split(".")[0].title()
        last = u.last_name or ""
        user = User(
            login=u.login,
            email=u.email or u.login,
            display_name=u.display_name or f"{first} {last}".strip(),
            first_name=first,
            last_name=last,
            department=u.department,
            password=u.password,
            attributes=dict(u.attributes),
        )
        self.users[u.login] = user
        return user

    def _generate(self) -> None:
        """Bulk users drawn with a fixed seed (faker's name lists, one ``random.Random``): the same
        names, departments, passwords and roles on every machine, fast enough for 100,000 users."""
        gen = self.config.generate
        rng = random.Random(f"idp-directory:{gen.seed}")
        groups = gen.group_names()
        for role in [*gen.roles, *groups]:
            self.roles.setdefault(role, [])
        task = progress.current().task(f"idp {self.id}: users", gen.count)
        chunk = 10_000
        for start in range(0, gen.count, chunk):
            n = min(chunk, gen.count - start)
            names = person_names(rng, n)
            logins = unique_logins(names, gen.domain, taken=self.users)
            depts = rng.choices(DEPARTMENTS, k=n)
            secrets = passwords(rng, n)
            for i, ((first, last), login) in enumerate(zip(names, logins, strict=True)):
                made = start + i
                self.users[login] = User(login, login, f"{first} {last}", first, last, depts[i], secrets[i])
                if gen.roles:
                    self.roles[gen.roles[made % len(gen.roles)]].append(login)
                if groups:
                    self.roles[groups[made % len(groups)]].append(login)
            task.advance(n)
        task.close()

    def authenticate(self, login: str, password: str) -> User | None:
        user = self.users.get(login)
        return user if user is not None and user.password == password else None

    def export(self) -> dict:
        return {"users": [asdict(u) for u in self.users.values()], "roles": self.roles}

    def load(self, state: dict) -> None:
        self.users = {u["login"]: User(**u) for u in state["users"]}
        self.roles = {k: list(v) for k, v in state["roles"].items()}
