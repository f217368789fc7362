"""``sims up --state DIR``: a real process killed with SIGKILL during bursts of writes, in a loop.

After every restart the world must hold every change that was acknowledged before the kill and none
that was never sent; the one request each writer had in flight when the process died may have
landed or not (its acknowledgement was lost with the process: no server can promise more).
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sims.core.durable import StateStore
from tests.core.test_cli import ROOT, clean_env, free_base_port, sims_command, wait_healthy
from tests.zia.conftest import login

pytestmark = [pytest.mark.durability, pytest.mark.slow]

ORG = "3173833"
SCIM_TOKEN = "zia-scim-token-3173833-CyberArk-0001"
DOMAIN = "safemarch.example"
KILLS = 6
ADMIN = {"username": f"admin@{ORG}.zscloud.net", "password": "Zia-Admin-Passw0rd!", "api_key": "Ab3De5Gh7Jk9"}


def start(state: Path, base: int) -> subprocess.Popen:
    args = ("--state", str(state), "--base-port", str(base), "--clock", "frozen")
    proc = subprocess.Popen(
        sims_command("up", *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    )
    wait_healthy(proc, f"http://127.0.0.1:{base}")
    return proc


@dataclass
class Writer:
    """Sends one kind of change, one at a time, and records what was acknowledged."""

    name: str
    acked: set[str] = field(default_factory=set)
    in_flight: str | None = None
    unsure: set[str] = field(default_factory=set)  # in flight at a kill: may have landed or not
    errors: list[str] = field(default_factory=list)

    def run(self, send, stop: threading.Event, round_: int) -> None:
        n = 0
        while not stop.is_set():
            key = f"dur-{self.name}-{round_}-{n}"
            n += 1
            self.in_flight = key
            try:
                ok = send(key)
            except httpx.TransportError:
                self.unsure.add(key)  # the process died under this request
                return
            if ok is not True:
                self.errors.append(f"{key}: {ok}")
                return
            self.acked.add(key)
            self.in_flight = None


def zia_scim_user(base: int):
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{base + 2}/{ORG}/1/scim",
        headers={"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"},
        timeout=10,
    )

    def send(key: str):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"{key}@{DOMAIN}"}
        r = client.post("/Users", json=body)
        return True if r.status_code == 201 else f"{r.status_code} {r.text}"

    return send


def idp_directory_user(base: int):
    client = httpx.Client(base_url=f"http://127.0.0.1:{base}/sims/idp/directories/aan4174", timeout=10)

    def send(key: str):
        r = client.post("/users", json={"login": f"{key}@{DOMAIN}", "email": f"{key}@{DOMAIN}"})
        return True if r.status_code == 201 else f"{r.status_code} {r.text}"

    return send


def zia_category_url(base: int, category: str):
    zia = f"http://127.0.0.1:{base + 2}"
    session = login(zia, ADMIN)
    assert session.status_code == 200, session.text
    client = httpx.Client(base_url=zia, cookies={"JSESSIONID": session.cookies["JSESSIONID"]}, timeout=10)

    def send(key: str):
        body = {"configuredName": "Durable", "urls": [f"{key.lower()}.{DOMAIN}"]}
        r = client.put(f"/api/v1/urlCategories/{category}", params={"action": "ADD_TO_LIST"}, json=body)
        return True if r.status_code == 200 else f"{r.status_code} {r.text}"

    return send


def read_back(base: int, category: str) -> dict[str, set[str]]:
    zia = f"http://127.0.0.1:{base + 2}"
    scim = httpx.get(
        f"{zia}/{ORG}/1/scim/Users",
        params={"count": 10_000},
        headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
        timeout=10,
    ).json()
    users = httpx.get(f"http://127.0.0.1:{base}/sims/idp/directories/aan4174/users", timeout=10).json()
    session = login(zia, ADMIN)
    cookies = {"JSESSIONID": session.cookies["JSESSIONID"]}
    urls = httpx.get(f"{zia}/api/v1/urlCategories/{category}", cookies=cookies, timeout=10).json()["urls"]
    strip = f"@{DOMAIN}"
    return {
        "s": {u["userName"].removesuffix(strip) for u in scim["Resources"]},
        "i": {u["login"].removesuffix(strip) for u in users if u["login"].startswith("dur-i-")},
        "z": {u.removesuffix(f".{DOMAIN}") for u in urls},
    }


def test_sigkill_during_writes_loses_no_acknowledged_change(tmp_path):
    state = tmp_path / "state"
    base = free_base_port()
    proc = start(state, base)
    zia = f"http://127.0.0.1:{base + 2}"
    r = login(zia, ADMIN)
    cookies = {"JSESSIONID": r.cookies["JSESSIONID"]}
    body = {"configuredName": "Durable", "superCategory": "USER_DEFINED", "urls": []}
    category = httpx.post(f"{zia}/api/v1/urlCategories", json=body, cookies=cookies).json()["id"]

    writers = {"s": Writer("s"), "i": Writer("i"), "z": Writer("z")}
    rng = random.Random(9)
    try:
        for round_ in range(KILLS):
            senders = {
                "s": zia_scim_user(base),
                "i": idp_directory_user(base),
                "z": zia_category_url(base, category),
            }
            stop = threading.Event()
            threads = [
                threading.Thread(target=writers[k].run, args=(senders[k], stop, round_), daemon=True)
                for k in writers
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 0.9))  # the burst: real time, the process does real work
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            stop.set()
            for t in threads:
                t.join(10)
            for w in writers.values():
                assert not w.errors, w.errors
                if w.in_flight:
                    w.unsure.add(w.in_flight)
                    w.in_flight = None
            assert sum(len(w.acked) for w in writers.values()) > 0

            proc = start(state, base)
            present = read_back(base, category)
            for key, w in writers.items():
                missing = w.acked - present[key]
                assert not missing, f"round {round_}: acknowledged {key} changes lost: {sorted(missing)[:5]}"
                extra = present[key] - w.acked - w.unsure
                assert not extra, f"round {round_}: {key} changes never acknowledged: {sorted(extra)[:5]}"
        total = {k: len(w.acked) for k, w in writers.items()}
        print(
            f"acknowledged over {KILLS} kills: {total}; in flight at a kill: "
            f"{sum(len(w.unsure) for w in writers.values())}"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_restart_resumes_clock_faults_and_mailbox(tmp_path):
    state = tmp_path / "state"
    base = free_base_port()
    control = f"http://127.0.0.1:{base}"
    proc = start(state, base)
    try:
        httpx.post(f"{control}/clock/advance", json={"seconds": 7200}).raise_for_status()
        rule = {"sim": "zia", "path": "/nothing/*", "status": 503, "name": "kept"}
        httpx.post(f"{control}/faults", json=rule).raise_for_status()
        before = httpx.get(f"{control}/state").json()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = start(state, base)
        after = httpx.get(f"{control}/state").json()
        assert after == before
        # faults still act in the HTTP layer around the durable one: a drop really drops
        rule = {"sim": "zia", "path": "/api/v1/status", "action": "drop", "count": 1}
        httpx.post(f"{control}/faults", json=rule).raise_for_status()
        with pytest.raises(httpx.TransportError):
            httpx.post(f"http://127.0.0.1:{base + 2}/api/v1/status")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def refused_up(*args: str) -> subprocess.CompletedProcess:
    """``sims up`` that must refuse to start (exit status 2, the reason on stderr)."""
    run = subprocess.run(
        sims_command("up", *args), capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=60
    )
    assert run.returncode == 2, run.stderr
    return run


def test_state_of_another_world_is_refused(tmp_path):
    state = tmp_path / "state"
    world = tmp_path / "other.yaml"
    world.write_text("name: other\nseed: 1\n")
    base = free_base_port()
    proc = start(state, base)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    run = refused_up("--state", str(state), "--world", str(world), "--base-port", str(base))
    assert "holds the state of world 'default' loaded from a different world file" in run.stderr
    assert StateStore(state).load().world == "default"  # and the saved state is untouched


def test_unusable_state_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    run = refused_up("--state", str(blocker / "state"), "--base-port", str(free_base_port()))
    assert run.stderr.startswith(f"sims: cannot use {blocker / 'state'} as the state directory")


def test_sessions_tokens_and_page_tokens_survive_a_restart(tmp_path):
    """A client holding credentials across a crash keeps working: they are state like any other."""
    state = tmp_path / "state"
    base = free_base_port()
    zia, zpa, mimecast = (f"http://127.0.0.1:{base + i}" for i in (2, 3, 4))
    proc = start(state, base)
    try:
        session = login(zia, ADMIN).cookies["JSESSIONID"]
        form = {"client_id": "zpa-api-client", "client_secret": "zpa-api-secret-72058300560048147"}
        zpa_token = httpx.post(f"{zpa}/signin", data=form).json()["access_token"]
        form = {
            "grant_type": "client_credentials",
            "client_id": "mimecast-api-client",
            "client_secret": "mimecast-api-secret-3173833",
        }
        mc_token = httpx.post(f"{mimecast}/oauth/token", data=form).json()["access_token"]
        mc = {"Authorization": f"Bearer {mc_token}"}
        query = {"meta": {"pagination": {"pageSize": 2}}, "data": [{"oldestFirst": True}]}
        page = httpx.post(f"{mimecast}/api/ttp/url/get-logs", json=query, headers=mc).json()
        next_token = page["meta"]["pagination"]["next"]

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = start(state, base)

        r = httpx.get(f"{zia}/api/v1/status", cookies={"JSESSIONID": session})
        assert r.status_code == 200, r.text
        r = httpx.get(
            f"{zpa}/mgmtconfig/v2/admin/customers/72058300560048147/idp",
            headers={"Authorization": f"Bearer {zpa_token}"},
        )
        assert r.status_code == 200, r.text
        follow = {"meta": {"pagination": {"pageSize": 2, "pageToken": next_token}}}
        r = httpx.post(f"{mimecast}/api/ttp/url/get-logs", json=follow, headers=mc)
        assert r.status_code == 200 and r.json()["fail"] == [], r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
