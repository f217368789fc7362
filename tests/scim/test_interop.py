"""Real SCIM client libraries and compliance tools against the engine's test-dialect app.

- scim2-client drives it in-process (its ASGI engine): discovery, CRUD, PATCH, search, errors.
- scim2-tester (``check_server``) and scim-sanity (its CLI probe) need a live server: uvicorn on a
  free loopback port in a thread. Their counts are asserted exactly, as the README records them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sims.core.scim import ENTERPRISE_USER, Directory
from sims.core.scim.testing import TEST_TOKEN, FrozenClock, demo_dialect, standalone_app

BASE = "/scim/t1/v2"


# -- scim2-client, in process -------------------------------------------------------------------------------
def test_scim2_client_drives_the_engine():
    pytest.importorskip("scim2_client")
    from scim2_client.engines.asgi import ASGISCIMClient
    from scim2_models import Error, PatchOp, PatchOperation, SearchRequest

    dialect = demo_dialect()
    directory = Directory(dialect, FrozenClock(), name="t1")
    app = standalone_app(dialect, {"t1": directory})

    async def scenario() -> None:
        client = ASGISCIMClient(
            app, base_url=f"http://scim.test{BASE}", headers={"Authorization": f"Bearer {TEST_TOKEN}"}
        )
        await client.discover()
        user_model, group_model = client.get_resource_model("User"), client.get_resource_model("Group")
        assert user_model is not None and group_model is not None
        created = await client.create(
            user_model.model_validate(
                {
                    "userName": "bjensen@example.com",
                    "name": {"givenName": "Barbara", "familyName": "Jensen"},
                    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
                    ENTERPRISE_USER: {"department": "Tour Operations"},
                }
            )
        )
        assert created.id and created.meta.version == 'W/"1"'
        assert created.meta.location == f"http://scim.test{BASE}/Users/{created.id}"
        assert created[ENTERPRISE_USER].department == "Tour Operations"
        fetched = await client.query(user_model, created.id)
        assert fetched.user_name == "bjensen@example.com"
        found = await client.query(
            user_model, query_parameters={"filter": 'userName eq "BJENSEN@example.com"'}
        )
        assert found.total_results == 1 and found.resources[0].id == created.id
        dup = await client.create(user_model(user_name="BJensen@Example.com"), raise_scim_errors=False)
        assert isinstance(dup, Error) and (dup.status, dup.scim_type) == (409, "uniqueness")
        patched = await client.modify(
            user_model,
            created.id,
            PatchOp[user_model](operations=[PatchOperation(op="replace", path="displayName", value="Babs")]),
        )
        assert patched.display_name == "Babs" and patched.meta.version == 'W/"2"'
        # the client sends If-Match with the version it holds: the stale copy is refused
        stale = await client.replace(
            fetched.model_copy(update={"display_name": "X"}), raise_scim_errors=False
        )
        assert isinstance(stale, Error) and stale.status == 412
        replaced = await client.replace(patched.model_copy(update={"display_name": "B. Jensen"}))
        assert replaced.display_name == "B. Jensen" and replaced.meta.version == 'W/"3"'
        group = await client.create(
            group_model.model_validate({"displayName": "Tour Guides", "members": [{"value": created.id}]})
        )
        assert group.members[0].value == created.id
        searched = await client.search(SearchRequest(filter='displayName sw "B"'))
        assert searched.total_results == 1
        listed = await client.query(group_model)
        assert listed.total_results == 1
        await client.delete(group_model, group.id)
        await client.delete(user_model, created.id)
        gone = await client.query(user_model, created.id, raise_scim_errors=False)
        assert isinstance(gone, Error) and gone.status == 404

    asyncio.run(scenario())
    assert directory.users == {} and directory.groups == {}


# -- live server for the tools ----------------------------------------------------------------------
@contextlib.contextmanager
def live_app(**changes):
    import uvicorn

    dialect = demo_dialect(**changes)
    directory = Directory(dialect, time.time, name="t1")
    app = standalone_app(dialect, {"t1": directory})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    server.install_signal_handlers = lambda: None  # uvicorn < 0.29 spelling; harmless otherwise
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}{BASE}", directory
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.interop
def test_scim2_tester_every_check_succeeds():
    pytest.importorskip("scim2_tester")
    httpx2 = pytest.importorskip("httpx2")
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import check_server

    with (
        live_app() as (url, _),
        httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}) as http,
    ):
        results = check_server(SyncSCIMClient(http))
    counts = collections.Counter(r.status.name for r in results)
    failures = [f"{r.status.name} {r.title}: {r.reason}" for r in results if r.status.name != "SUCCESS"]
    print(f"\nscim2-tester: {dict(counts)}")
    assert failures == []
    assert counts == {"SUCCESS": 135}


@pytest.mark.interop
def test_scim_sanity_probe_passes():
    exe = shutil.which("scim-sanity") or str(Path(sys.executable).with_name("scim-sanity"))
    if not Path(exe).exists():
        pytest.skip("scim-sanity is not installed")
    # scim-sanity adds a member "fake-member-id" and expects 200: a dialect that ignores unknown ids
    with live_app(unknown_members="ignore") as (url, directory):
        out = subprocess.run(
            [exe, "probe", url, "--token", TEST_TOKEN, "--i-accept-side-effects", "--json-output"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    report = json.loads(out.stdout[out.stdout.index("{") :])
    summary = report["summary"]
    print(f"\nscim-sanity: {summary}")
    failed = [r for r in report["results"] if r["status"] not in ("pass", "skip", "PASS", "SKIP")]
    assert failed == [], failed
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (28, 0, 3)  # skips: Agent types
    assert directory.users == {} and directory.groups == {}  # it cleans up after itself
