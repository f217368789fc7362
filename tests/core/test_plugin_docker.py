"""``--sims-docker`` without a Docker engine: the plugin says so once and runs the world in-process.

(No engine runs on the development machines; the container path is reviewed by reading.)
"""

from __future__ import annotations

import pytest

from sims import pytest_plugin
from sims.core.keys import cache_dir

pytest_plugins = ["pytester"]
KEY_CACHE = str(cache_dir().parent)  # read at import, before pytester moves HOME

TEST_FILE = """
import httpx


def test_world_in_process(sims):
    assert sims.server is not None and sims.container is None  # in-process, not in a container
    keys = httpx.get(sims.url("idp") + "/oauth2/okta/v1/keys", timeout=5)
    assert keys.status_code == 200 and keys.json()["keys"]
    assert sims.control.health()["status"] == "ok"


def test_second_test_same_world(sims_world, sims):
    assert sims is sims_world
"""


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the docker SDK at a socket where nothing listens, whatever this machine has."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/sims-test-docker.sock")
    monkeypatch.delenv("SIMS_DOCKER", raising=False)
    # pytester moves HOME: keep the derived-key cache where it is, or each run regenerates the keys
    monkeypatch.setenv("SIMS_CACHE_DIR", KEY_CACHE)


@pytest.mark.parametrize(
    "how", ["option", "ini", "env"], ids=["--sims-docker", "ini sims_docker", "SIMS_DOCKER=1"]
)
def test_sims_docker_falls_back_in_process_with_a_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_engine: None, how: str
) -> None:
    pytester.makepyfile(test_world=TEST_FILE)
    args: list[str] = ["-p", "no:cacheprovider"]
    if how == "option":
        args.append("--sims-docker")
    elif how == "ini":
        pytester.makeini("[pytest]\nsims_docker = true\n")
    else:
        monkeypatch.setenv("SIMS_DOCKER", "1")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "sims: no Docker engine reachable (" in out
    assert "); running the world in-process" in out
    assert out.count("running the world in-process") <= 2  # said once (header, and the warnings summary)


def test_without_the_option_docker_is_never_asked(pytester: pytest.Pytester, no_engine: None) -> None:
    pytester.makepyfile(test_world=TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "Docker" not in result.stdout.str()


def test_unreachable_engine_reason(monkeypatch: pytest.MonkeyPatch, no_engine: None) -> None:
    client, reason = pytest_plugin._docker_client(timeout=1)
    assert client is None and reason
