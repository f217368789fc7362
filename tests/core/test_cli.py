"""The ``sims`` command: ``sims up`` as a real process (signals, ports) and ``sims world``."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from sims import registry
from sims.cli import main

ROOT = Path(__file__).resolve().parents[2]
SIMS_SCRIPT = shutil.which("sims", path=str(Path(sys.executable).parent)) or shutil.which("sims")


def sims_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sims.cli", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SIMS_* setting (the key cache location is kept)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMS_") or k == "SIMS_CACHE_DIR"}
    env.update(extra)
    return env


def port_is_free(port: int) -> bool:
    """No one listens on ``port`` (connections lingering in TIME_WAIT do not count, as for sims)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_base_port() -> int:
    """A base port with enough free consecutive ports for the control plane and every sim."""
    needed = max(registry.default_ports(0).values()) + 1
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000)
        if all(port_is_free(base + i) for i in range(needed)):
            return base
    raise RuntimeError("no free consecutive ports found")


def listening_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sims up exited early with {proc.returncode}:\n{out}\n{err}")
        try:
            r = httpx.get(url + "/health", timeout=1)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"sims up did not become healthy within {timeout} s")


@pytest.fixture
def run_up():
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            sims_command("up", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env or clean_env(),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:  # never leave a server behind, even when a test fails
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def run_world(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        sims_command("world", *args),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env or clean_env(),
    )


# -- sims up ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_serves_until_signalled(run_up, sig):
    base = free_base_port()
    proc = run_up("--base-port", str(base))
    control = f"http://127.0.0.1:{base}"
    health = wait_healthy(proc, control)
    assert health["status"] == "ok"
    assert health["sims"]["idp"] == {"status": "serving", "url": f"http://127.0.0.1:{base + 1}"}
    # the idp answers on the next port
    jwks = httpx.get(f"http://127.0.0.1:{base + 1}/oauth2/okta/v1/keys", timeout=5)
    assert jwks.status_code == 200 and jwks.json()["keys"]

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "serving; Ctrl-C to stop" in out
    assert out.rstrip().endswith("stopped")
    assert "Traceback" not in err
    assert port_is_free(base)  # the ports are released


def test_up_json_prints_the_world_when_ready(run_up):
    base = free_base_port()
    proc = run_up("--json", env=clean_env(SIMS_BASE_PORT=str(base)))
    wait_healthy(proc, f"http://127.0.0.1:{base}")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    first, *rest = out.splitlines()
    world = json.loads(first)
    assert world["control"]["url"] == f"http://127.0.0.1:{base}"
    assert world["sims"]["idp"]["url"] == f"http://127.0.0.1:{base + 1}"
    assert rest == ["stopped"]


def test_up_with_an_unknown_sim_exits_2(run_up):
    proc = run_up("--only", "nope", "--base-port", str(free_base_port()))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith("sims: unknown sim 'nope' in --only (available: ")
    assert "idp" in err
    assert "Traceback" not in err
    assert out == ""


def test_up_on_a_busy_control_port_exits_2(run_up):
    with closing(listening_socket()) as busy:
        port = busy.getsockname()[1]
        proc = run_up("--base-port", str(port))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"sims: cannot listen on 127.0.0.1:{port} for control" in err
    assert "Traceback" not in err


def test_up_on_a_busy_sim_port_exits_2_and_releases_the_others(run_up):
    base = free_base_port()
    with closing(listening_socket()) as busy:
        port = busy.getsockname()[1]
        proc = run_up("--base-port", str(base), "--port", f"idp={port}")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} for idp" in err
    assert "Traceback" not in err
    assert port_is_free(base)  # the control port it had bound first was closed again


# -- sims world ------------------------------------------------------------------------------------
def test_world_json_by_default():
    if SIMS_SCRIPT:  # the installed console script, as users run it
        result = subprocess.run(
            [SIMS_SCRIPT, "world", "--json"], capture_output=True, text=True, timeout=30, env=clean_env()
        )
    else:
        result = run_world("--json")
    assert result.returncode == 0, result.stderr
    world = json.loads(result.stdout)
    assert world["world"] == "default"
    assert world["control"] == {"url": "http://127.0.0.1:7400", "token_required": False}
    idp = world["sims"]["idp"]
    assert idp["url"] == "http://127.0.0.1:7401"
    servers = {s["id"]: s for s in idp["authorization_servers"]}
    assert {"okta", "entra", "ping", "zidentity"} <= set(servers)
    for server in servers.values():
        assert server["token_endpoint"].startswith("http://127.0.0.1:7401/")
        assert server["jwks_uri"].startswith("http://127.0.0.1:7401/")
    assert servers["okta"]["token_endpoint"] == "http://127.0.0.1:7401/oauth2/okta/v1/token"
    assert servers["okta"]["jwks_uri"] == "http://127.0.0.1:7401/oauth2/okta/v1/keys"
    okta_clients = {c["client_id"]: c for c in servers["okta"]["clients"]}
    assert okta_clients["mimecast-threat-share"]["client_secret"] == "okta-mimecast-secret-3173833"


def world_json(capsys, *args: str) -> dict:
    assert main(["world", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def no_sims_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("SIMS_") and key != "SIMS_CACHE_DIR":
            monkeypatch.delenv(key)


def test_port_flag_changes_one_url(capsys, no_sims_env):
    world = world_json(capsys, "--port", "idp=9999")
    assert world["control"]["url"] == "http://127.0.0.1:7400"
    idp = world["sims"]["idp"]
    assert idp["url"] == "http://127.0.0.1:9999"
    okta = next(s for s in idp["authorization_servers"] if s["id"] == "okta")
    assert okta["token_endpoint"] == "http://127.0.0.1:9999/oauth2/okta/v1/token"
    assert okta["issuer"] == "http://127.0.0.1:9999/oauth2/okta"


def test_base_port_from_the_environment(capsys, no_sims_env, monkeypatch):
    monkeypatch.setenv("SIMS_BASE_PORT", "8800")
    world = world_json(capsys)
    assert world["control"]["url"] == "http://127.0.0.1:8800"
    assert world["sims"]["idp"]["url"] == "http://127.0.0.1:8801"
    # a flag wins over the environment
    world = world_json(capsys, "--base-port", "9100")
    assert world["control"]["url"] == "http://127.0.0.1:9100"
    assert world["sims"]["idp"]["url"] == "http://127.0.0.1:9101"


def test_ports_from_the_environment(capsys, no_sims_env, monkeypatch):
    monkeypatch.setenv("SIMS_PORTS", "idp=9001,control=9000")
    world = world_json(capsys)
    assert world["control"]["url"] == "http://127.0.0.1:9000"
    assert world["sims"]["idp"]["url"] == "http://127.0.0.1:9001"
    world = world_json(capsys, "--port", "idp=9555")  # flags are applied after the environment
    assert world["sims"]["idp"]["url"] == "http://127.0.0.1:9555"


def test_hosts_and_token_requirement(capsys, no_sims_env):
    world = world_json(capsys, "--host", "0.0.0.0")
    assert world["control"] == {"url": "http://127.0.0.1:7400", "token_required": True}
    world = world_json(capsys, "--advertise-host", "sims.internal")
    assert world["control"]["url"] == "http://sims.internal:7400"
    assert world["sims"]["idp"]["url"] == "http://sims.internal:7401"
    world = world_json(capsys, "--host", "::1")
    assert world["sims"]["idp"]["url"] == "http://[::1]:7401"
    assert world["control"]["token_required"] is False


def test_clock_and_world_flags(capsys, no_sims_env, tmp_path):
    world = world_json(capsys, "--clock", "frozen")
    assert world["clock"]["mode"] == "frozen"
    assert world["clock"]["now"] == "2026-01-15T09:00:00.000Z"
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nseed: 7\nclock: {mode: frozen, start: '2030-01-01T00:00:00Z'}\n")
    world = world_json(capsys, "--world", str(path), "--only", "idp")
    assert (world["world"], world["seed"], world["source"]) == ("tiny", 7, str(path))
    assert world["clock"]["now"] == "2030-01-01T00:00:00.000Z"
    assert list(world["sims"]) == ["idp"]
    assert world["sims"]["idp"]["authorization_servers"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "idp"], "--port expects NAME=PORT, got 'idp'"),
        (["--port", "idp=abc"], "--port expects NAME=PORT, got 'idp=abc'"),
        (["--port", "idp=70000"], "--port expects NAME=PORT, got 'idp=70000'"),
        (["--port", "nope=9000"], "unknown service 'nope' in --port"),
        (["--only", "idp,nope"], "unknown sim 'nope' in --only"),
    ],
)
def test_bad_flags_exit_2(capsys, no_sims_env, args, message):
    assert main(["world", "--json", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("sims: ")
    assert message in captured.err
    assert captured.out == ""


def test_bad_base_port_in_the_environment_exits_2(capsys, no_sims_env, monkeypatch):
    monkeypatch.setenv("SIMS_BASE_PORT", "lots")
    assert main(["world", "--json"]) == 2
    err = capsys.readouterr().err
    assert err == "sims: --base-port / SIMS_BASE_PORT expects a number, got 'lots'\n"


def test_world_table(no_sims_env):
    result = run_world(env=clean_env(COLUMNS="250"))  # wide enough that no URL is wrapped
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "world default" in out
    assert "http://127.0.0.1:7400" in out
    assert "http://127.0.0.1:7401/oauth2/okta/v1/token" in out
    assert "mimecast-threat-share" in out
    assert "sims world --json" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("sims ")
