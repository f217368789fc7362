"""The SCIM compliance tools against the real ZIA and ZPA SCIM endpoints of a running world.

scim2-tester runs every check it has; its counts are printed and asserted, so a regression shows.
Where a check fails because ZIA or ZPA really behave that way (ZIA refuses userNames outside the
tenant's domains; ZPA deletes a user set inactive), the test says so rather than bending the sim.
"""

from __future__ import annotations

import collections

import pytest
import yaml

from sims.world import DEFAULT_WORLD

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def compliance_world(tmp_path_factory):
    """The default world (SAML on, SCIM tokens) with the two rules random test data cannot meet:
    ZIA's userName domains (scim2-tester's names have none) and ZPA's delete-on-inactive
    (scim2-tester sets ``active`` at random and then reads the user back)."""
    from sims.pytest_plugin import start_world

    world = yaml.safe_load(DEFAULT_WORLD.read_text())
    world["zia"]["tenants"][0]["domains"] = []
    world["zpa"]["tenants"][0]["scim_inactive_deletes"] = False
    path = tmp_path_factory.mktemp("compliance") / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    running = start_world(path)
    yield running
    running.stop()


def run_tester(base: str, token: str) -> tuple[collections.Counter, list[str]]:
    httpx2 = pytest.importorskip("httpx2")
    pytest.importorskip("scim2_tester")
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import check_server

    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        results = check_server(SyncSCIMClient(http))
    counts = collections.Counter(r.status.name for r in results)
    failures = [f"{r.status.name} {r.title}: {r.reason}" for r in results if r.status.name != "SUCCESS"]
    return counts, failures


def test_scim2_tester_against_zia(compliance_world):
    scim = compliance_world.info["sims"]["zia"]["tenants"][0]["scim"][0]
    counts, failures = run_tester(scim["base_url"], scim["bearer_token"])
    print(f"\nscim2-tester vs ZIA: {dict(counts)}\n" + "\n".join(failures[:20]))
    assert failures == [] and counts == {"SUCCESS": 145}  # 135 of a plain server + ZIA's department


def test_scim2_tester_against_zpa(compliance_world):
    scim = compliance_world.info["sims"]["zpa"]["tenants"][0]["scim"][0]
    counts, failures = run_tester(scim["base_url"], scim["bearer_token"])
    print(f"\nscim2-tester vs ZPA: {dict(counts)}\n" + "\n".join(failures[:20]))
    assert failures == [] and counts == {"SUCCESS": 135}


@pytest.mark.parametrize("sim", ["zia", "zpa"])
def test_scim_sanity_probe(compliance_world, sim):
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("scim-sanity") or str(Path(sys.executable).with_name("scim-sanity"))
    if not Path(exe).exists():
        pytest.skip("scim-sanity is not installed")
    scim = compliance_world.info["sims"][sim]["tenants"][0]["scim"][0]
    out = subprocess.run(
        [
            exe,
            "probe",
            scim["base_url"],
            "--token",
            scim["bearer_token"],
            "--i-accept-side-effects",
            "--json-output",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(out.stdout[out.stdout.index("{") :])
    failed = [
        f"{r.get('name')}: {r.get('message')}"
        for r in report["results"]
        if r["status"] not in ("pass", "skip", "PASS", "SKIP")
    ]
    print(f"\nscim-sanity vs {sim}: {report['summary']}\n" + "\n".join(failed))
    assert failed == [] and (report["summary"]["passed"], report["summary"]["skipped"]) == (28, 3)


@pytest.mark.parametrize("sim", ["zia", "zpa"])
def test_scim2_client_drives_the_dialect(compliance_world, sim):
    httpx2 = pytest.importorskip("httpx2")
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import PatchOp, PatchOperation

    scim = compliance_world.info["sims"][sim]["tenants"][0]["scim"][0]
    with httpx2.Client(
        base_url=scim["base_url"], headers={"Authorization": f"Bearer {scim['bearer_token']}"}
    ) as h:
        client = SyncSCIMClient(h)
        client.discover()
        user_model = client.get_resource_model("User")
        created = client.create(
            user_model.model_validate(
                {"userName": f"client.{sim}@safemarch.example", "displayName": "Client User"}
            )
        )
        assert created.id and client.query(user_model, created.id).display_name == "Client User"
        patch = PatchOp[user_model](
            operations=[PatchOperation(op="replace", path="displayName", value="Renamed")]
        )
        client.modify(user_model, created.id, patch)
        assert client.query(user_model, created.id).display_name == "Renamed"
        found = client.query(
            user_model, query_parameters={"filter": f'userName eq "client.{sim}@safemarch.example"'}
        )
        assert found.total_results == 1
        client.delete(user_model, created.id)
