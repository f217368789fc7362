"""World files: the default world loads, bad files fail with a message naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sims.core.worldfile import WorldError, parse_world
from sims.world import DEFAULT_WORLD, World, load_world

ROOT = Path(__file__).resolve().parents[2]

# Just enough idp for a world that runs: one Okta-style server with one client.
MINIMAL_IDP = """\
idp:
  authorization_servers:
    - id: okta
      flavour: okta
      clients:
        - client_id: mimecast-threat-share
          client_secret: okta-mimecast-secret-3173833
          scopes: [a]
"""


def write(tmp_path: Path, text: str, name: str = "world.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(WorldError) as info:
        load_world(path)
    message = str(info.value)
    assert "Traceback" not in message
    return message


# -- the default world -----------------------------------------------------------------------------
def test_default_world_loads():
    world = load_world()
    assert isinstance(world, World)
    assert world.name == "default"
    assert world.seed == 3173833
    assert world.clock.mode == "real"
    assert world.clock.start == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    servers = {s.id: s for s in world.idp.authorization_servers}
    assert {"okta", "entra", "ping", "zidentity"} <= set(servers)
    assert servers["okta"].flavour == "okta"
    okta_clients = {c.client_id: c for c in servers["okta"].clients}
    assert okta_clients["mimecast-threat-share"].client_secret == "okta-mimecast-secret-3173833"
    assert [d.id for d in world.idp.directories] == ["aan4174"]
    assert world.zia.tenants[0].org_id == 3173833
    assert world.zpa.tenants[0].customer_id == "72058300560048147"
    assert world.mimecast.accounts[0].account_code == "CUSA3173833"


def test_embedded_default_world_is_the_fixture_file():
    assert DEFAULT_WORLD.is_file()
    fixture = ROOT / "fixtures" / "default.yaml"
    assert load_world(fixture).model_dump() == load_world().model_dump()
    assert load_world(str(fixture)).model_dump() == load_world(None).model_dump()


def test_minimal_world_uses_defaults(tmp_path):
    world = load_world(write(tmp_path, "name: tiny\n"))
    assert world.name == "tiny"
    assert world.seed == 0
    assert world.clock.mode == "real" and world.clock.start is None
    assert world.limits.journal_entries == 10_000
    assert world.limits.max_request_bytes == 10 * 1_048_576
    assert world.idp.authorization_servers == []


def test_small_world_with_limits(tmp_path):
    text = "name: small\nlimits: {journal_entries: 10, max_request_bytes: 2048}\n" + MINIMAL_IDP
    world = load_world(write(tmp_path, text))
    assert world.limits.journal_entries == 10
    assert world.limits.max_request_bytes == 2048
    assert world.idp.authorization_servers[0].clients[0].client_id == "mimecast-threat-share"


# -- invalid world files ---------------------------------------------------------------------------
def test_unknown_key_names_the_file_and_the_dotted_path(tmp_path):
    path = write(
        tmp_path,
        """\
idp:
  authorization_servers:
    - id: okta
      flavor: okta
""",
    )
    message = load_error(path)
    assert message.startswith(f"invalid world file {path}:")
    assert "idp.authorization_servers[0].flavor: Extra inputs are not permitted" in message


def test_bad_api_key_names_the_nested_list_path(tmp_path):
    path = write(
        tmp_path,
        """\
zia:
  tenants:
    - cloud: zscloud.net
      org_id: 1
      name: x
      admins:
        - username: a@1.zscloud.net
          password: p
          api_key: short
""",
    )
    message = load_error(path)
    assert str(path) in message
    assert "zia.tenants[0].admins[0].api_key:" in message
    assert "12 letters or digits" in message


def test_bad_yaml_gives_the_line_number(tmp_path):
    path = write(tmp_path, "name: x\nidp: [a, b\n  c: d\n")
    message = load_error(path)
    assert message.startswith(f"invalid world file {path}: not valid YAML at line 3")
    assert "column" in message


def test_tab_indentation_is_reported_as_yaml_error(tmp_path):
    path = write(tmp_path, "name: x\nidp:\n\tauthorization_servers: []\n")
    message = load_error(path)
    assert str(path) in message
    assert "not valid YAML at line 3" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    path = write(tmp_path, text)
    assert load_error(path) == f"invalid world file {path}: the top level must be a mapping"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    message = load_error(path)
    assert message == f"cannot read world file {path}: No such file or directory"


def test_directory_instead_of_file(tmp_path):
    message = load_error(tmp_path)
    assert message.startswith(f"cannot read world file {tmp_path}:")


def test_wrong_type_and_every_error_listed(tmp_path):
    path = write(
        tmp_path,
        """\
seed: not-a-number
limits:
  journal_entries: 5
clock:
  mode: sideways
""",
    )
    message = load_error(path)
    lines = message.splitlines()
    assert lines[0] == f"invalid world file {path}:"
    fields = sorted(line.strip().split(":", 1)[0] for line in lines[1:])
    assert fields == ["clock.mode", "limits.journal_entries", "seed"]
    assert "greater than or equal to 10" in message


def test_model_level_errors_name_the_enclosing_section(tmp_path):
    path = write(
        tmp_path,
        """\
idp:
  authorization_servers:
    - {id: okta, flavour: okta}
    - {id: okta, flavour: generic}
""",
    )
    assert "  idp: Value error, duplicate authorization server id 'okta'" in load_error(path)

    path = write(
        tmp_path,
        """\
idp:
  directories:
    - id: d1
      users: [{login: a@example.com}]
      roles: [{name: R, members: [ghost@example.com]}]
""",
    )
    message = load_error(path)
    assert "idp.directories[0]: Value error, role 'R' names unknown user 'ghost@example.com'" in message


def test_top_level_validator_error(tmp_path):
    path = write(
        tmp_path,
        """\
zpa:
  tenants:
    - {customer_id: "123456", name: a, client_id: a, client_secret: a}
    - {customer_id: "123456", name: b, client_id: b, client_secret: b}
""",
    )
    assert "(top level): Value error, two ZPA tenants share a customer id" in load_error(path)


def test_bad_authorization_server_id(tmp_path):
    path = write(tmp_path, "idp:\n  authorization_servers:\n    - {id: oauth2}\n")
    assert "idp.authorization_servers[0].id:" in load_error(path)
    assert "reserved" in load_error(path)


def test_parse_world_rejects_non_mappings_and_names_the_source():
    with pytest.raises(WorldError, match=r"^invalid world file <inline>: the top level must be a mapping$"):
        parse_world(["x"], World, "<inline>")
    with pytest.raises(WorldError, match=r"(?s)^invalid world file <inline>:\n  nmae: Extra inputs"):
        parse_world({"nmae": "typo"}, World, "<inline>")
    assert parse_world({"name": "ok"}, World, "<inline>").name == "ok"


# -- the command line ------------------------------------------------------------------------------
def run_sims(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sims.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "idp:\n  authorization_servers:\n    - {id: okta, flavor: okta}\n",
            "idp.authorization_servers[0].flavor",
        ),
        ("name: x\nidp: [a, b\n  c: d\n", "not valid YAML at line 3"),
        ("- a\n", "the top level must be a mapping"),
    ],
    ids=["unknown-key", "bad-yaml", "not-a-mapping"],
)
def test_sims_world_with_a_bad_file_exits_2_with_the_message(tmp_path, text, expected):
    path = write(tmp_path, text, "bad.yaml")
    result = run_sims("world", "--world", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"sims: invalid world file {path}")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_sims_world_with_a_missing_file_exits_2(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = run_sims("world", "--world", str(missing), "--json")
    assert result.returncode == 2
    assert f"sims: cannot read world file {missing}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
