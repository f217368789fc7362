"""The control plane: health, reset, state export/import, clock, mailbox, token, OpenAPI."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
import warnings
from datetime import UTC, datetime

import httpx
import pytest

from sims import registry
from sims.control import ControlClient, ControlError
from sims.core.control_plane import build_control_app
from sims.core.runtime import Runtime
from sims.core.serve import bind
from sims.idp.sim import IdpSim
from sims.launch import Settings, control_token_for, is_loopback, open_world
from sims.world import load_world

with warnings.catch_warnings():  # starlette announces that its httpx-based TestClient is deprecated
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

START = "2026-01-15T09:00:00.000Z"
START_EPOCH = datetime(2026, 1, 15, 9, tzinfo=UTC).timestamp()
OKTA = "/authorization-servers/okta"
CLIENT_ID = "mimecast-threat-share"
SECRET = "okta-mimecast-secret-3173833"
FORM = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}


def okta(sims) -> dict:
    return sims.control.sim("idp", OKTA, method="GET")


def get_token(sims) -> httpx.Response:
    return httpx.post(sims.url("idp") + "/oauth2/okta/v1/token", data=FORM)


def mutate(sims) -> None:
    """Change every part of the state the control plane exports."""
    sims.control.sim("idp", f"{OKTA}/rotate-keys", {"grace_seconds": 600})
    sims.control.sim("idp", f"{OKTA}/clients/{CLIENT_ID}/rotate-secret", {"grace_seconds": 60})
    sims.control.clock.advance(90)
    assert httpx.post(sims.url("idp") + "/oauth2/okta/v1/keys").status_code == 405  # journal only
    sims.control.faults.add(sim="idp", path="/nothing/*", status=418)
    sims.server.runtime.mailbox.send("idp", ["ops@safemarch.example"], "rotated", "keys rotated")


# -- health ----------------------------------------------------------------------------------------
def test_health_reports_every_sim(sims):
    r = httpx.get(sims.url("control") + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["world"] == "default"
    assert set(body["sims"]) == set(sims.server.runtime.sims)
    assert "idp" in body["sims"]
    assert body["sims"]["idp"] == {"status": "serving", "url": sims.url("idp")}
    assert sims.control.health() == body


def test_health_is_503_until_the_sims_serve():
    runtime = Runtime(
        load_world(), {"idp": IdpSim}, {"control": "http://c", "idp": "http://i"}, clock_mode="frozen"
    )
    with TestClient(build_control_app(runtime)) as client:
        r = client.get("/health")
        assert r.status_code == 503
        assert r.json()["status"] == "starting"
        assert r.json()["sims"]["idp"] == {"status": "starting", "url": "http://i"}
        runtime.serving["idp"] = True
        assert client.get("/health").status_code == 200


def test_world_endpoint_describes_the_running_world(sims):
    world = sims.control.world()
    assert world["world"] == "default"
    assert world["control"] == {"url": sims.url("control"), "token_required": False}
    assert world["clock"]["now"] == START and world["clock"]["mode"] == "frozen"
    idp = world["sims"]["idp"]
    assert idp["url"] == sims.url("idp")
    servers = {s["id"]: s for s in idp["authorization_servers"]}
    assert servers["okta"]["token_endpoint"] == sims.url("idp") + "/oauth2/okta/v1/token"
    assert servers["okta"]["jwks_uri"] == sims.url("idp") + "/oauth2/okta/v1/keys"


# -- reset -----------------------------------------------------------------------------------------
def test_reset_restores_the_world_as_loaded(sims):
    original_kid = okta(sims)["signing_kid"]
    assert get_token(sims).status_code == 200
    mutate(sims)
    changed = okta(sims)
    assert changed["signing_kid"] != original_kid
    assert changed["tokens_issued"] == 1
    assert sims.control.clock.state()["now"] != START
    assert sims.control.faults.list() and sims.control.journal.entries() and sims.control.mailbox.messages()

    r = sims.control.post("/reset")
    assert r["status"] == "reset"
    assert r["clock"]["now"] == START

    after = okta(sims)
    assert after["signing_kid"] == original_kid
    assert len(after["keys"]) == 1
    assert after["tokens_issued"] == 0
    (client,) = [c for c in after["clients"] if c["client_id"] == CLIENT_ID]
    assert [s["value"] for s in client["secrets"]] == [SECRET]
    clock = sims.control.clock.state()
    assert (clock["now"], clock["epoch"], clock["mode"]) == (START, START_EPOCH, "frozen")
    assert sims.control.faults.list() == []
    assert sims.control.journal.entries() == []
    assert sims.control.mailbox.messages() == []
    # the original secret works again and the token is signed with the original key
    assert get_token(sims).status_code == 200


# -- state export / import -------------------------------------------------------------------------
def test_export_import_round_trip(sims):
    initial = sims.control.export_state()
    assert initial["version"] == 1
    assert initial["world"] == "default"
    assert initial["clock"] == {"epoch": START_EPOCH, "frozen": True}
    assert "idp" in initial["sims"]
    json.dumps(initial)

    assert get_token(sims).status_code == 200
    mutate(sims)
    changed = sims.control.export_state()
    assert changed != initial
    assert changed["clock"]["epoch"] == START_EPOCH + 90
    assert len(changed["faults"]) == 1 and len(changed["mailbox"]) == 1

    sims.control.import_state(initial)
    assert sims.control.export_state() == initial
    assert sims.control.clock.state()["now"] == START
    assert sims.control.faults.list() == []
    assert sims.control.mailbox.messages() == []

    sims.control.import_state(changed)
    assert sims.control.export_state() == changed
    assert okta(sims)["tokens_issued"] == 1
    assert [f["path"] for f in sims.control.faults.list()] == ["/nothing/*"]
    assert [m["subject"] for m in sims.control.mailbox.messages()] == ["rotated"]
    # the imported rotated secret is the one that works now (the old one's grace ran out)
    sims.control.clock.advance(60)
    assert get_token(sims).status_code == 401


def test_import_is_idempotent_and_keeps_the_journal(sims):
    assert get_token(sims).status_code == 200
    state = sims.control.export_state()
    sims.control.import_state(state)
    sims.control.import_state(state)
    assert sims.control.export_state() == state
    assert len(sims.control.journal.entries()) == 1  # the journal is not part of the state


def garbage_states(valid: dict) -> dict[str, object]:
    idp = valid["sims"]["idp"]
    okta_state = idp["authorization_servers"]["okta"]

    def with_idp(**servers) -> dict:
        return {
            **valid,
            "sims": {"idp": {**idp, "authorization_servers": {**idp["authorization_servers"], **servers}}},
        }

    return {
        "wrong-version": {**valid, "version": 2},
        "no-version": {k: v for k, v in valid.items() if k != "version"},
        "not-an-object": [valid],
        "a-string": "state",
        "unknown-sim": {**valid, "sims": {**valid["sims"], "nope": {}}},
        "no-clock": {k: v for k, v in valid.items() if k != "clock"},
        "bad-clock": {**valid, "clock": {"epoch": "yesterday", "frozen": True}},
        "bad-fault": {**valid, "faults": [{"path": "re:("}]},
        "bad-mailbox": {**valid, "mailbox": [{"subject": "no id"}]},
        "key-ring-without-keys": with_idp(
            okta={**okta_state, "keys": {"seed_base": "x", "generation": 0, "keys": []}}
        ),
        "key-ring-malformed": with_idp(okta={**okta_state, "keys": {}}),
        "unknown-server": with_idp(nope=okta_state),
        "unknown-client": with_idp(okta={**okta_state, "clients": {"ghost": {"secrets": []}}}),
        "bad-secret": with_idp(okta={**okta_state, "clients": {CLIENT_ID: {"secrets": [{"v": 1}]}}}),
    }


GARBAGE = list(garbage_states({"sims": {"idp": {"authorization_servers": {"okta": {}}}}}))


@pytest.mark.parametrize("case", GARBAGE)
def test_import_of_garbage_is_refused_and_changes_nothing(sims, case):
    mutate(sims)
    before = sims.control.export_state()
    bad = garbage_states(before)[case]
    r = sims.control.http.put("/state", json=bad)
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    assert sims.control.export_state() == before


def test_import_of_non_json_is_refused(sims):
    before = sims.control.export_state()
    r = sims.control.http.put("/state", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "body is not JSON"}
    assert sims.control.export_state() == before


@pytest.mark.parametrize("value", [None, 5])
def test_import_with_non_mapping_sims_is_refused(sims, value):
    before = sims.control.export_state()
    with httpx.Client(base_url=sims.url("control")) as client:  # the 500 closes the connection
        r = client.put("/state", json={**before, "sims": value})
    assert r.status_code == 400
    assert sims.control.export_state() == before


# -- clock -----------------------------------------------------------------------------------------
def test_clock_endpoints(sims):
    clock = sims.control.clock
    runs: list[float] = []
    sims.server.runtime.clock.every(60, "test-job", lambda: runs.append(sims.server.runtime.clock.now()))

    state = clock.state()
    assert (state["now"], state["mode"]) == (START, "frozen")
    assert {"name": "test-job", "due": "2026-01-15T09:01:00.000Z", "every": 60} in state["pending_jobs"]

    advanced = clock.advance(150)
    assert advanced["jobs_run"] == 2
    assert advanced["now"] == "2026-01-15T09:02:30.000Z"
    assert runs == [START_EPOCH + 60, START_EPOCH + 120]
    assert clock.now() == START_EPOCH + 150

    assert clock.advance(0)["jobs_run"] == 0

    back = clock.set(datetime(2026, 1, 1, tzinfo=UTC))  # backwards: no job runs
    assert back["now"] == "2026-01-01T00:00:00.000Z"
    assert len(runs) == 2
    forward = clock.set(datetime(2026, 1, 15, 9, 4, tzinfo=UTC))  # forward: due jobs run
    assert forward["now"] == "2026-01-15T09:04:00.000Z"
    assert runs[2:] == [START_EPOCH + 180, START_EPOCH + 240]

    frozen_at = clock.freeze(datetime(2027, 6, 1, 12, tzinfo=UTC))
    assert (frozen_at["now"], frozen_at["mode"]) == ("2027-06-01T12:00:00.000Z", "frozen")
    assert len(runs) == 4  # freezing at an instant runs nothing

    resumed = clock.resume()
    assert resumed["mode"] == "real"
    assert resumed["epoch"] == pytest.approx(datetime(2027, 6, 1, 12, tzinfo=UTC).timestamp(), abs=1)
    refrozen = clock.freeze()
    assert refrozen["mode"] == "frozen"
    assert refrozen["epoch"] >= resumed["epoch"]
    assert clock.state()["epoch"] == refrozen["epoch"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/clock/advance", {"seconds": -1}),
        ("/clock/advance", {}),
        ("/clock/advance", {"seconds": "soon"}),
        ("/clock/advance", {"seconds": 1, "extra": True}),
        ("/clock/set", {}),
        ("/clock/set", {"at": "not a date"}),
        ("/clock/freeze", {"at": "not a date"}),
    ],
)
def test_bad_clock_requests_are_400(sims, path, body):
    r = sims.control.http.post(path, json=body)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid request"
    assert sims.control.clock.state()["now"] == START


def test_negative_advance_names_the_field(sims):
    with pytest.raises(ControlError) as err:
        sims.control.clock.advance(-5)
    assert err.value.status == 400
    assert err.value.body["details"][0]["field"] == "seconds"


# -- mailbox ---------------------------------------------------------------------------------------
def test_mailbox_list_filter_and_clear(sims):
    box = sims.server.runtime.mailbox
    box.send("idp", ["alice@safemarch.example"], "Secret expiring", "in 7 days", tenant="okta")
    sims.control.clock.advance(60)
    box.send("idp", ["bob@safemarch.example", "alice@safemarch.example"], "Key rotated", "new kid")
    box.send("zia", ["bob@safemarch.example"], "Sync report", "ok")

    messages = sims.control.mailbox.messages()
    assert [m["subject"] for m in messages] == ["Secret expiring", "Key rotated", "Sync report"]
    first = messages[0]
    assert first == {
        "id": first["id"],
        "time": START,  # the simulated clock at send time
        "sim": "idp",
        "to": ["alice@safemarch.example"],
        "subject": "Secret expiring",
        "body": "in 7 days",
        "tenant": "okta",
        "headers": {},
    }
    assert messages[1]["time"] == "2026-01-15T09:01:00.000Z"
    assert [m["id"] for m in messages] == sorted({m["id"] for m in messages})

    assert [m["subject"] for m in sims.control.mailbox.messages(sim="idp")] == [
        "Secret expiring",
        "Key rotated",
    ]
    assert [m["subject"] for m in sims.control.mailbox.messages(to="bob@safemarch.example")] == [
        "Key rotated",
        "Sync report",
    ]
    assert sims.control.mailbox.messages(sim="zia", to="alice@safemarch.example") == []

    sims.control.mailbox.clear()
    assert sims.control.mailbox.messages() == []


def test_mailbox_survives_export_and_import(sims):
    box = sims.server.runtime.mailbox
    box.send("idp", ["a@example.com"], "one", "1")
    box.send("idp", ["a@example.com"], "two", "2")
    state = sims.control.export_state()
    sims.control.reset()
    assert sims.control.mailbox.messages() == []
    sims.control.import_state(state)
    assert [m["subject"] for m in sims.control.mailbox.messages()] == ["one", "two"]
    last_id = sims.control.mailbox.messages()[-1]["id"]
    assert box.send("idp", ["a@example.com"], "three", "3").id == last_id + 1


# -- per-sim administration ------------------------------------------------------------------------
def test_sim_admin_routes_and_errors(sims):
    servers = sims.control.sim("idp", "/authorization-servers", method="GET")
    assert {"okta", "entra", "ping", "zidentity"} <= {s["id"] for s in servers}
    r = sims.control.http.get("/sims/idp/authorization-servers/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "no authorization server 'nope'"}
    r = sims.control.http.post("/sims/idp/authorization-servers/okta/rotate-keys", json={"grace_seconds": -1})
    assert r.status_code == 400


# -- the control-plane token -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded_app():
    runtime = Runtime(
        load_world(),
        {"idp": IdpSim},
        {"control": "http://127.0.0.1:1", "idp": "http://127.0.0.1:2"},
        clock_mode="frozen",
        control_token="t",
    )
    runtime.serving["idp"] = True
    with TestClient(build_control_app(runtime)) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/world"),
        ("GET", "/state"),
        ("POST", "/reset"),
        ("GET", "/clock"),
        ("POST", "/clock/resume"),
        ("GET", "/faults"),
        ("DELETE", "/faults"),
        ("GET", "/journal"),
        ("GET", "/mailbox"),
        ("GET", "/sims/idp/authorization-servers"),
        ("POST", "/sims/idp/authorization-servers/okta/rotate-keys"),
    ],
)
def test_token_guards_every_operation(guarded_app, method, path):
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic t"},
        {"Authorization": "t"},
    ):
        r = guarded_app.request(method, path, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json() == {"error": "control plane token required"}
        assert r.headers["www-authenticate"] == "Bearer"


def test_token_grants_access(guarded_app):
    assert guarded_app.get("/world", headers={"Authorization": "Bearer t"}).status_code == 200
    assert guarded_app.get("/clock", headers={"Authorization": "bearer t"}).status_code == 200
    r = guarded_app.get("/world", headers={"Authorization": "Bearer t"})
    assert r.json()["control"]["token_required"] is True
    r = guarded_app.get("/sims/idp/authorization-servers/okta", headers={"Authorization": "Bearer t"})
    assert r.status_code == 200 and r.json()["id"] == "okta"


def test_health_needs_no_token(guarded_app):
    r = guarded_app.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_token_on_a_served_world():
    server = open_world(
        Settings(control_token="t", ports={"control": 0, "idp": 0}, only=["idp"], clock="frozen")
    )
    server.start_in_thread()
    try:
        url = server.runtime.urls["control"]
        assert httpx.get(url + "/health").status_code == 200
        assert httpx.get(url + "/world").status_code == 401
        assert httpx.get(url + "/world", headers={"Authorization": "Bearer t"}).status_code == 200
        with pytest.raises(ControlError) as err, ControlClient(url) as anonymous:
            anonymous.clock.state()
        assert err.value.status == 401
        with ControlClient(url, token="t") as client:
            assert client.world()["control"]["token_required"] is True
            assert client.clock.state()["now"] == START
    finally:
        server.stop()


def test_control_token_for():
    generated = control_token_for(Settings(host="0.0.0.0"))
    assert generated and len(generated) >= 24
    assert control_token_for(Settings(host="0.0.0.0")) != generated  # fresh each time
    assert control_token_for(Settings(host="192.0.2.10"))
    assert control_token_for(Settings(host="::"))
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "::1"):
        assert is_loopback(host)
        assert control_token_for(Settings(host=host)) is None
    assert control_token_for(Settings(host="0.0.0.0", control_token="mine")) == "mine"
    assert control_token_for(Settings(control_token="mine")) == "mine"
    assert not is_loopback("example.com")


# -- OpenAPI ---------------------------------------------------------------------------------------
def test_openapi_lists_the_main_paths(sims):
    r = httpx.get(sims.url("control") + "/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "sims control plane"
    paths = doc["paths"]
    for path in (
        "/health",
        "/world",
        "/reset",
        "/state",
        "/clock",
        "/clock/freeze",
        "/clock/resume",
        "/clock/advance",
        "/clock/set",
        "/faults",
        "/faults/{fault_id}",
        "/journal",
        "/journal/{entry_id}",
        "/mailbox",
        "/sims/idp/authorization-servers",
        "/sims/idp/authorization-servers/{as_id}/rotate-keys",
    ):
        assert path in paths, path
    assert {"get", "put"} <= set(paths["/state"])
    assert {"get", "post", "delete"} <= set(paths["/faults"])
    assert set(paths["/journal"]) == {"get", "delete"}
    assert "FaultSpec" in json.dumps(doc["components"])


# -- serving ---------------------------------------------------------------------------------------
def test_registry_ports_are_consecutive():
    ports = registry.default_ports()
    assert ports["control"] == 7400 and ports["idp"] == 7401
    based = registry.default_ports(9000)
    assert based["control"] == 9000 and based["idp"] == 9001
    assert len(set(based.values())) == len(based)


def test_in_process_world_answers_without_nagle_delay(sims):
    """Kept-alive requests to an in-process world come back in about a millisecond, not ~40 ms."""
    with httpx.Client(base_url=sims.url("control")) as client:
        client.get("/clock")
        times = []
        for _ in range(7):
            started = time.perf_counter()
            client.get("/clock")
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.02


def test_bound_sockets_accept_connections_with_tcp_nodelay_on_the_default_loop():
    async def accepted_nodelay() -> int:
        result: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            result.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = bind("127.0.0.1", 0)
        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            value = await asyncio.wait_for(result, 5)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0
