"""A small client for the control plane, used by scenarios, tests and scripts.

from sims.control import ControlClient
sims = ControlClient("http://127.0.0.1:7400")
sims.clock.advance(3600)
sims.faults.add(sim="idp", path="/oauth2/*/v1/token", status=503, count=1)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


class ControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control plane answered {status}: {body}")
        self.status = status
        self.body = body


class _Part:
    def __init__(self, client: ControlClient) -> None:
        self._c = client


class Clock(_Part):
    def now(self) -> float:
        return self._c.get("/clock")["epoch"]

    def state(self) -> dict:
        return self._c.get("/clock")

    def advance(self, seconds: float) -> dict:
        return self._c.post("/clock/advance", {"seconds": seconds})

    def freeze(self, at: datetime | None = None) -> dict:
        return self._c.post("/clock/freeze", {"at": at.isoformat()} if at else None)

    def resume(self) -> dict:
        return self._c.post("/clock/resume")

    def set(self, at: datetime) -> dict:
        return self._c.post("/clock/set", {"at": at.isoformat()})


class Faults(_Part):
    def add(self, **spec: Any) -> dict:
        """Add a rule; fields as the control plane's FaultSpec (sim, method, path, status, ...)."""
        return self._c.post("/faults", spec)

    def list(self) -> list[dict]:
        return self._c.get("/faults")

    def remove(self, fault_id: str) -> None:
        self._c.delete(f"/faults/{fault_id}")

    def clear(self) -> None:
        self._c.delete("/faults")


class JournalView(_Part):
    def entries(self, detail: bool = False, **filters: Any) -> list[dict]:
        params = {k: v for k, v in filters.items() if v is not None}
        if detail:
            params["detail"] = "true"
        return self._c.get("/journal", params=params)["entries"]

    def get(self, entry_id: int) -> dict:
        return self._c.get(f"/journal/{entry_id}")

    def clear(self) -> None:
        self._c.delete("/journal")


class MailboxView(_Part):
    def messages(self, sim: str | None = None, to: str | None = None) -> list[dict]:
        return self._c.get("/mailbox", params={k: v for k, v in {"sim": sim, "to": to}.items() if v})

    def clear(self) -> None:
        self._c.delete("/mailbox")


class ControlClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.clock = Clock(self)
        self.faults = Faults(self)
        self.journal = JournalView(self)
        self.mailbox = MailboxView(self)

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text
            raise ControlError(r.status_code, body)
        return r.json() if r.content else None

    def get(self, path: str, params: dict | None = None) -> Any:
        return self._check(self.http.get(path, params=params))

    def post(self, path: str, body: Any = None) -> Any:
        return self._check(self.http.post(path, json=body) if body is not None else self.http.post(path))

    def put(self, path: str, body: Any) -> Any:
        return self._check(self.http.put(path, json=body))

    def delete(self, path: str) -> Any:
        return self._check(self.http.delete(path))

    # -- whole world -----------------------------------------------------------------------------
    def health(self) -> dict:
        r = self.http.get("/health")
        return r.json()

    def world(self) -> dict:
        return self.get("/world")

    def reset(self) -> None:
        self.post("/reset")

    def export_state(self) -> dict:
        return self.get("/state")

    def import_state(self, state: dict) -> None:
        self.put("/state", state)

    def sim(self, name: str, path: str, body: Any = None, method: str = "POST") -> Any:
        """Call a sim's admin operation, e.g. ``sim("idp", "/authorization-servers/okta/rotate-keys")``."""
        full = f"/sims/{name}{path}"
        if method == "GET":
            return self.get(full)
        return self.post(full, body)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
