"""Scenario: the real ZIA SDKs do the Mimecast guide's work against the ZIA sim.

Each SDK mode the reference (shared/reference/zscaler-clients.md §1) shows runs as its own script, under
its own virtual environment (``scenarios/sdk_envs.py``: zscaler-sdk-python and pyzscaler cannot share
one), against the running world:

- zscaler-sdk-python, legacy session (``LegacyZIAClient``) and OneAPI Bearer (``ZscalerClient``)
- pyzscaler 1.6.0, legacy session
- zscaler-api-talkers ``ZiaTalker``, legacy session and OneAPI Bearer

Each script reads the quota, creates a custom category, adds and removes URLs, reads the quota again,
creates a blocking URL filtering rule and activates; the OneAPI ones also page through the category list.
The test then checks what the script saw against the sim's own view: the activated configuration on the
control plane, the policy decision for a stored and for a removed URL, and the request journal (every
call in the mode claimed, none refused).

Marked ``sdk`` (deselect with ``-m "not sdk"``): the first run builds the two venvs (~20 s with a warm
pip cache).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from scenarios import sdk_envs

SCRIPTS = Path(__file__).parent / "scripts"
SCRIPT_TIMEOUT = 300  # seconds

# script -> (SDK venv, mode)
CASES = {
    "official_legacy": ("official", "legacy"),
    "official_oneapi": ("official", "oneapi"),
    "pyzscaler_legacy": ("pyzscaler", "legacy"),
    "talkers_legacy": ("official", "legacy"),
    "talkers_oneapi": ("official", "oneapi"),
}
API_PREFIX = {"legacy": "/api/v1/", "oneapi": "/zia/api/v1/"}
DECISION_USER = "alice.admin@safemarch.example"

pytestmark = pytest.mark.sdk


def _load_common():
    """The scripts' own ``_common`` (stdlib only), so the test expects exactly the names they use."""
    spec = importlib.util.spec_from_file_location("zia_sdk_scripts_common", SCRIPTS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


common = _load_common()


# -- running a script -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sdk_python():
    """Build (once, cached across runs) and return the interpreter of an SDK venv."""
    built: dict[str, Path] = {}

    def python(env: str) -> Path:
        if env not in built:
            built[env] = sdk_envs.ensure(env).python
        return built[env]

    return python


def script_env(home: Path) -> dict[str, str]:
    """A clean environment: no ZIA_*/ZSCALER_* settings, no proxies, a HOME without ~/.zscaler/."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(
        HOME=str(home),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_script(python: Path, script: str, args: list[str], workdir: Path) -> dict:
    # cwd and HOME are the test's own directory: the official SDK reads ./zscaler.yaml and
    # ~/.zscaler/zscaler.yaml if they exist.
    proc = subprocess.run(
        [str(python), str(SCRIPTS / f"{script}.py"), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        cwd=workdir,
        env=script_env(workdir),
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{script} exited {proc.returncode}\n--- stderr (tail) ---\n"
            + "\n".join(proc.stderr.splitlines()[-40:]),
            pytrace=False,
        )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"{script} must print exactly one JSON line, got:\n{proc.stdout}"
    return json.loads(lines[0])


# -- the sim ---------------------------------------------------------------------------------------


@pytest.fixture
def zia_world(request):
    """The running world, or a skip while the ZIA sim does not exist yet."""
    from sims import registry

    if "zia" not in registry.SIMS:
        pytest.skip("the ZIA sim is not registered yet (sims/registry.py)")
    try:
        registry.sim_class("zia")
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("sims.zia"):
            raise
        pytest.skip(f"the ZIA sim is not built yet ({err})")
    world = request.getfixturevalue("sims")
    if "zia" not in world.info.get("sims", {}):
        pytest.skip("the world has no ZIA sim (sims.info['sims'] lacks 'zia')")
    return world


def decide(zia_url: str, org_id: int, url: str) -> dict:
    r = httpx.post(
        f"{zia_url}/sim/v1/{org_id}/policy/decision",
        json={"user": DECISION_USER, "url": url, "method": "GET", "protocol": "HTTPS_RULE"},
        timeout=30,
    )
    assert r.status_code == 200, f"policy decision for {url}: {r.status_code} {r.text}"
    return r.json()


def tenant_config(world, org_id: int, view: str) -> dict:
    return world.control.get(f"/sims/zia/tenants/{org_id}/config", params={"view": view})


def by_id(items: list[dict], wanted) -> dict | None:
    return next((i for i in items if i.get("id") == wanted), None)


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", list(CASES))
def test_sdk_script_offline_check(script, sdk_python, tmp_path):
    """Without the sim: the venv builds, the SDK imports, and the client objects build offline."""
    env, _ = CASES[script]
    result = run_script(sdk_python(env), script, ["--check-imports"], tmp_path)
    assert result["check_imports"] is True
    assert "missing" not in result["versions"].values()


@pytest.mark.parametrize("script", list(CASES))
def test_sdk_does_the_guides_work(script, sdk_python, zia_world, tmp_path):
    env, mode = CASES[script]
    python = sdk_python(env)  # build before the world is touched: the journal then holds the script only
    world = zia_world
    info = world.info
    tenant = info["sims"]["zia"]["tenants"][0]
    org_id = tenant["org_id"]
    zia_url = world.url("zia")
    info_file = tmp_path / "info.json"
    info_file.write_text(json.dumps({"world": info, "urls": world.urls}))
    world.control.journal.clear()

    result = run_script(python, script, [str(info_file)], tmp_path)
    journal = world.control.journal.entries(sim="zia", limit=10_000)

    guide = common.Guide.for_tag(result["tag"])
    final = guide.final_urls
    print(json.dumps({k: result[k] for k in ("script", "elapsed_s", "steps_s")}))

    # What the SDK saw.
    assert result["mode"] == mode
    cid = result["category"]["id"]
    assert isinstance(cid, str) and cid.startswith("CUSTOM_"), result["category"]
    assert result["category_created"]["configuredName"] == guide.category_name
    assert result["category_created"]["urls"] == sorted(guide.initial_urls)
    assert result["category_after_add"]["urls"] == sorted({*guide.initial_urls, *guide.add_urls})
    assert result["category_after_remove"]["urls"] == final
    assert result["category"]["urls"] == final
    q0, q1 = result["quota_before"], result["quota_after"]
    assert q0["remainingUrlsQuota"] - q1["remainingUrlsQuota"] == len(final), (q0, q1)
    assert q1["uniqueUrlsProvisioned"] - q0["uniqueUrlsProvisioned"] == len(final), (q0, q1)
    rule = result["rule"]
    assert isinstance(rule["id"], int)
    assert rule["name"] == guide.rule_name
    assert rule["order"] == common.RULE_ORDER
    assert rule["rank"] == common.RULE_RANK  # pyzscaler sends "7": ZIA answers with an integer
    assert rule["action"] == "BLOCK"
    assert rule["state"] == "ENABLED"
    assert rule["urlCategories"] == [cid]
    assert result["activate"] == "ACTIVE"
    assert result["status"] == "ACTIVE"

    # The activated configuration, as the control plane sees it.
    active = tenant_config(world, org_id, "active")
    category = by_id(active["categories"], cid)
    assert category is not None, f"{cid} is not in the activated configuration"
    assert category["configuredName"] == guide.category_name
    assert sorted(category["urls"]) == final
    assert category.get("customCategory") is True
    active_rule = by_id(active["rules"], rule["id"])
    assert active_rule is not None, f"rule {rule['id']} is not in the activated configuration"
    assert active_rule["action"] == "BLOCK" and active_rule["state"] == "ENABLED"
    assert active_rule["urlCategories"] == [cid]
    assert active["pending_changes"] is False

    # The policy decision: stored URLs are blocked by the new rule, the removed one is not.
    for url in final:
        decision = decide(zia_url, org_id, f"{url}/mimecast-check")
        assert decision["action"] == "BLOCK", (url, decision)
        assert decision["rule"] and decision["rule"]["id"] == rule["id"], (url, decision)
        assert cid in decision["categories"], (url, decision)
    for url in guide.remove_urls:
        decision = decide(zia_url, org_id, f"{url}/mimecast-check")
        assert not decision["rule"] or decision["rule"]["id"] != rule["id"], (url, decision)
        assert cid not in decision["categories"], (url, decision)

    # The journal: every call in the claimed mode, none refused, the activation explicit.
    api_calls = [e for e in journal if not e["path"].startswith("/sim/")]
    assert api_calls, "the script made no call to the ZIA sim"
    wrong_mode = sorted({e["path"] for e in api_calls if not e["path"].startswith(API_PREFIX[mode])})
    assert not wrong_mode, f"{mode} script called {wrong_mode}"
    refused = [(e["method"], e["path"], e["query"], e["status"]) for e in api_calls if e["status"] >= 400]
    assert not refused, f"the sim refused: {refused}"
    activations = [e for e in api_calls if e["method"] == "POST" and e["path"].endswith("/status/activate")]
    assert [e["status"] for e in activations] == [200]

    if mode == "oneapi":
        pages = result["pagination"]
        assert pages["requests"] >= 2, f"listing with pageSize={pages['page_size']} took one page: {pages}"
        assert pages["pages"][-1] < pages["page_size"], f"pagination ended on a full page: {pages}"
        assert len(pages["ids"]) == len(set(pages["ids"])), f"pages overlap: {pages['ids']}"
        assert sorted(pages["ids"]) == sorted(pages["unpaged_ids"]), "paging lost or added categories"
        custom = {c["id"] for c in active["categories"] if c.get("customCategory")}
        assert {i for i in pages["ids"] if i.startswith("CUSTOM_")} == custom
        listed = [e for e in api_calls if e["method"] == "GET" and e["path"].endswith("/urlCategories")]
        assert len(listed) == pages["requests"] + 1  # the pages, then the one unpaged GET
