"""The container image and compose files, checked without a Docker engine.

The YAML parses and follows the compose specification's JSON schema (``compose_spec.json`` beside this
file, as shipped in the ``docker-compose`` 1.29.2 wheel on PyPI, Apache-2.0); every command is parsed by
the real ``sims`` parser; ports and healthchecks agree with ``sims.registry.default_ports()``; and the
exact command of each service (and the Dockerfile's CMD and HEALTHCHECK) runs here on free ports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from sims import registry
from sims.cli import ENV, _settings, build_parser
from sims.launch import resolve_ports, selected_sims

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
FILES = ["docker-compose.yml", "docker-compose.per-sim.yml"]
SCHEMA = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
DEFAULTS = registry.default_ports()
VAR = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's ``${VAR}`` / ``${VAR:-default}`` interpolation, applied to every string."""
    if isinstance(value, str):
        return VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m[1]) or (m[2] or ""), value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def load(name: str, env: dict[str, str] | None = None) -> dict:
    return interpolate(yaml.safe_load((COMPOSE / name).read_text()), env or {})


def services(name: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    return load(name, env)["services"]


def parse(argv: list[str]):
    assert argv[0] == "sims", argv
    return build_parser().parse_args(argv[1:])


def ports_of(args) -> dict[str, int]:
    settings = _settings(args)
    return resolve_ports(settings, selected_sims(settings.only))


def health_port(test: list[str]) -> int:
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)/health", " ".join(test))
    assert len(urls) == 1, test
    return int(urls[0])


def dockerfile() -> dict[str, str]:
    """Instruction -> its (continuation-joined) argument, for the last of each kind."""
    text = re.sub(r"\\\n\s*", " ", (COMPOSE / "Dockerfile").read_text())
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out[word.upper()] = rest.strip()
    return out


# -- static checks -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FILES)
def test_compose_file_follows_the_compose_specification(name: str) -> None:
    jsonschema.Draft201909Validator(SCHEMA).validate(load(name))
    for service in services(name).values():
        assert (ROOT / "compose" / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        world = service["environment"]["SIMS_WORLD"]
        mounts = [v.split(":") for v in service["volumes"]]
        host = next(h for h, c, *_ in mounts if c == world)  # the world file is mounted where it is read
        assert (COMPOSE / host).is_file()
        assert any(c == "/var/lib/sims" for _, c, *_ in mounts)  # the state directory


def test_whole_world_service_runs_sims_up_on_the_default_ports() -> None:
    (service,) = services("docker-compose.yml").values()
    args = parse(service["command"])
    assert args.command == "up" and args.host == "0.0.0.0" and args.advertise_host == "localhost"
    assert ports_of(args) == DEFAULTS
    published = {tuple(map(int, p.split(":"))) for p in service["ports"]}
    assert published == {(p, p) for p in DEFAULTS.values()}
    assert health_port(service["healthcheck"]["test"]) == DEFAULTS["control"]
    assert parse(services("docker-compose.yml", {"SIMS_ADVERTISE_HOST": "sims.test"})["sims"]["command"])


def test_per_sim_services_serve_one_sim_each_on_its_default_port() -> None:
    per_sim = services("docker-compose.per-sim.yml")
    assert set(per_sim) == set(registry.SIMS)
    published: set[tuple[int, int]] = set()
    for service in per_sim.values():
        published |= {tuple(map(int, p.split(":"))) for p in service.get("ports", [])}
    controls = set()
    for name, service in per_sim.items():
        args = parse(service["command"])
        assert args.command == "serve" and args.sim == name
        ports = ports_of(args)
        assert ports[name] == DEFAULTS[name]
        assert health_port(service["healthcheck"]["test"]) == ports["control"]
        assert {(ports[name], ports[name]), (ports["control"], ports["control"])} <= published
        controls.add(ports["control"])
        if name != "idp":  # every sim reaches the others at localhost: one network namespace
            assert service["network_mode"] == "service:idp" and "ports" not in service
    assert len(controls) == len(per_sim)  # one control plane each, no clash in the shared namespace
    assert not controls & set(DEFAULTS.values())


def test_dockerfile_runs_sims_up_for_containers_with_a_healthcheck() -> None:
    d = dockerfile()
    assert d["FROM"].startswith("python:3.11-slim")
    assert {int(p) for p in d["EXPOSE"].split()} == set(DEFAULTS.values())
    cmd = json.loads(d["CMD"])
    assert cmd[:2] == ["sh", "-c"]
    argv = shlex.split(interpolate(cmd[2], {}))
    assert argv[0] == "exec"  # sims is PID 1 and gets docker stop's SIGTERM
    args = parse(argv[1:])
    assert args.command == "up" and args.host == "0.0.0.0" and args.advertise_host == "localhost"
    assert parse(shlex.split(interpolate(cmd[2], {"SIMS_ADVERTISE_HOST": "h.test"}))[1:]).advertise_host == (
        "h.test"
    )
    check = d["HEALTHCHECK"]
    assert health_port([check]) == ports_of(args)["control"]
    assert "curl" not in check and "wget" not in check


def up_options() -> dict[str, argparse.Action]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["up"]._actions if a.option_strings and a.dest != "help"}


def test_every_up_setting_is_an_environment_variable_listed_in_both_tables() -> None:
    readmes = [(ROOT / "README.md").read_text(), (COMPOSE / "README.md").read_text()]
    for dest, action in up_options().items():
        assert dest in ENV, f"{action.option_strings[0]} has no environment variable"
        assert ENV[dest] in (action.help or ""), f"{action.option_strings[0]} does not name {ENV[dest]}"
        for text in readmes:
            row = next(
                (line for line in text.splitlines() if line.startswith(f"| `{action.option_strings[0]}")), ""
            )
            assert ENV[dest] in row, f"{action.option_strings[0]} / {ENV[dest]} missing from a README table"


def test_environment_variables_reach_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"SIMS_HOST": "0.0.0.0", "SIMS_ADVERTISE_HOST": "h", "SIMS_ONLY": "idp", "SIMS_CLOCK": "frozen"}
    env |= {"SIMS_CONTROL_TOKEN": "t", "SIMS_LOG_LEVEL": "info", "SIMS_JSON": "1", "SIMS_WORLD": "w.yaml"}
    env |= {"SIMS_BASE_PORT": "9000"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = build_parser().parse_args(["up"])
    assert (args.host, args.advertise_host, args.only, args.clock) == ("0.0.0.0", "h", "idp", "frozen")
    assert (args.control_token, args.log_level, args.json, args.world) == ("t", "info", True, "w.yaml")
    assert args.base_port == "9000"


# -- the exact commands, run here ----------------------------------------------------------------
def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_env(service_env: dict[str, str], volumes: list[str], ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMS_") or k == "SIMS_CACHE_DIR"}
    env |= {k: v for k, v in service_env.items() if v != ""}  # compose passes empty as empty: unset
    mounted = {c: h for h, c, *_ in (v.split(":") for v in volumes)}
    if env.get("SIMS_WORLD") in mounted:  # the file the container would see, from the host side
        env["SIMS_WORLD"] = str((COMPOSE / mounted[env["SIMS_WORLD"]]).resolve())
    env["SIMS_PORTS"] = ",".join(f"{k}={v}" for k, v in ports.items())
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `sims` of this venv
    return env


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no healthy control plane on {port}")


def run_healthcheck(test: list[str], port: int, env: dict[str, str]) -> None:
    argv = [a.replace(f":{health_port(test)}/", f":{port}/") for a in test[1:]]  # after "CMD"
    assert subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode == 0


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


def test_whole_world_service_command_runs_and_becomes_healthy() -> None:
    (service,) = services("docker-compose.yml").values()
    ports = dict(zip(DEFAULTS, free_ports(len(DEFAULTS)), strict=True))
    env = run_env(service["environment"], service["volumes"], ports)
    proc = start(service["command"], env)
    try:
        wait_healthy(proc, ports["control"])
        health = httpx.get(f"http://127.0.0.1:{ports['control']}/health").json()
        assert set(health["sims"]) == set(registry.SIMS)
        assert health["sims"]["zia"]["url"] == f"http://localhost:{ports['zia']}"  # advertised host
        run_healthcheck(service["healthcheck"]["test"], ports["control"], env)
    finally:
        stop([proc])
    assert proc.returncode == 0


def test_dockerfile_cmd_runs_and_its_healthcheck_passes() -> None:
    d = dockerfile()
    ports = dict(zip(DEFAULTS, free_ports(len(DEFAULTS)), strict=True))
    env = run_env({"SIMS_ONLY": "idp"}, [], ports)  # the image's CMD as is; one sim keeps it quick
    proc = start(json.loads(d["CMD"]), env)
    try:
        wait_healthy(proc, ports["control"])
        run_healthcheck(["CMD", *json.loads(d["HEALTHCHECK"].split(" CMD ", 1)[1])], ports["control"], env)
    finally:
        stop([proc])
    assert proc.returncode == 0  # exec: the shell is replaced, SIGTERM reaches sims itself


def test_per_sim_service_commands_run_together_and_become_healthy() -> None:
    per_sim = services("docker-compose.per-sim.yml")
    free = iter(free_ports(len(DEFAULTS) + len(per_sim)))
    ports = {name: next(free) for name in DEFAULTS}  # every sim's port, as the shared namespace has them
    procs, controls = [], {}
    try:
        for name, service in per_sim.items():
            controls[name] = next(free)
            argv = [re.sub(r"^control=\d+$", f"control={controls[name]}", a) for a in service["command"]]
            procs.append(start(argv, run_env(service["environment"], service["volumes"], ports)))
        for proc, (name, port) in zip(procs, controls.items(), strict=True):
            wait_healthy(proc, port)
            health = httpx.get(f"http://127.0.0.1:{port}/health").json()
            assert list(health["sims"]) == [name]
            assert health["sims"][name]["url"] == f"http://localhost:{ports[name]}"
    finally:
        stop(procs)
    assert [p.returncode for p in procs] == [0] * len(procs)
