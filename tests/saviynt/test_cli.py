"""``sims connector run``: the command as users type it, against the test SCIM server."""

from __future__ import annotations

import json

import pytest

from sims.cli import main
from tests.saviynt.conftest import FIXTURES

ZIA = FIXTURES / "zia"


def sets(placeholders: dict[str, str]) -> list[str]:
    out = []
    for k, v in placeholders.items():
        out += ["--set", f"{k}={v}"]
    return out


def test_import_with_placeholders_from_the_world(scim, capsys):
    code = main(
        [
            "connector", "run", "--world-url", scim.url,
            "--connection", str(ZIA / "ConnectionJSON.txt"),
            "--import", str(ZIA / "ImportAccountEntJSON.txt"),
            "--json",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] and report["placeholders"]["zia_scim_base"] == scim.base(scim.zia)
    assert report["placeholders"]["zpa_scim_base"] == scim.base(scim.zpa)
    assert [o["operation"] for o in report["operations"]] == ["connection", "import"]
    assert len(report["store"]["accounts"]) == 12 and len(report["store"]["links"]) == 5


def test_a_lifecycle_across_runs_with_a_store_file(scim, placeholders, tmp_path, capsys):
    store = tmp_path / "eic.json"
    base = [
        "connector",
        "run",
        "--connection",
        str(ZIA / "ConnectionJSON.txt"),
        "--store",
        str(store),
        *sets(placeholders),
    ]
    assert main([*base, "--import", str(ZIA / "ImportAccountEntJSON.txt")]) == 0
    capsys.readouterr()
    code = main(
        [
            *base,
            "--add-access", str(ZIA / "AddAccessJSON.txt"),
            "--create", str(ZIA / "CreateAccountJSON.txt"),
            "--user", "email=erin@safemarch.example", "username=erin",
            "--entitlement", "entitlement_value=Zscaler Admins",
            "--reimport", "--import", str(ZIA / "ImportAccountEntJSON.txt"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    # Operations run in lifecycle order whatever the order of the flags.
    order = [
        line.split()[0]
        for line in out.splitlines()
        if line.startswith(("import ", "create-account ", "add-access ", "reimport "))
    ]
    assert order == ["import", "create-account", "add-access", "reimport"]
    assert "EIC accounts (13; key: name)" in out and "EIC account entitlements (6)" in out
    assert "erin@safemarch.example" in scim.zia.members_by_name()["Zscaler Admins"]
    saved = json.loads(store.read_text())
    assert saved["accounts"]["erin@safemarch.example"]["status"] == "Active"
    assert {
        "account": "erin@safemarch.example",
        "entitlement_type": "Entitlement",
        "entitlementID": "90001",
    } in saved["links"]

    code = main(
        [
            *base,
            "--remove-access", str(FIXTURES / "corrected" / "zia" / "RemoveAccessJSON.json"),
            "--account", '{"name": "erin@safemarch.example"}',
            "--entitlement", "entitlement_value=Zscaler Admins",
            "--no-tables",
        ]
    )  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert "Entitlement '90001' removed from account 'erin@safemarch.example'" in out
    assert "erin@safemarch.example" not in scim.zia.members_by_name()["Zscaler Admins"]


def test_a_failed_run_explains_and_exits_1(scim, placeholders, capsys):
    bad = {**placeholders, "zia_scim_token": "Bearer nope"}
    code = main(
        [
            "connector", "run", "--connection", str(ZIA / "ConnectionJSON.txt"),
            "--import", str(ZIA / "ImportAccountEntJSON.txt"), *sets(bad),
        ]
    )  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert code == 1
    assert "why it failed:" in out and "The server refused the credentials (401)" in out
    assert "run failed: 1 of 2 operation(s) failed" in out
    assert "Traceback" not in out


def test_strict_mode_names_the_first_damage(scim, placeholders, capsys):
    code = main(
        [
            "connector", "run", "--strict", "--connection", str(FIXTURES / "zpa" / "ConnectionJSON.txt"),
            "--import", str(FIXTURES / "zpa" / "ImportAccountEntJSON.txt"), *sets(placeholders),
        ]
    )  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert (
        "ConnectionJSON: not JSON the engine can read: "
        "line 7, column 8: invalid JSON: trailing comma before '}'" in out
    )


def test_documents_as_strings_and_stdin(scim, placeholders, monkeypatch, capsys):
    conn = (ZIA / "ConnectionJSON.txt").read_text()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO((ZIA / "RemoveAccountJSON.txt").read_text()))
    uid = next(iter(scim.zia.users))
    code = main(
        [
            "connector",
            "run",
            "--connection",
            conn,
            "--remove-account",
            "-",
            "--account",
            f"accountID={uid}",
            *sets(placeholders),
        ]
    )
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert uid not in scim.zia.users
    assert "no account in the EIC store matches" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--connection", "/nonexistent.json", "--import", "x"],
            "--connection: no such file '/nonexistent.json'",
        ),
        (["--connection", "{}"], "nothing to run"),
        (
            ["--connection", "{}", "--create", "{}", "--user", "novalue"],
            "--user: expected KEY=VALUE or a JSON object",
        ),
        (["--connection", "{}", "--create", "{}", "--user", "[1]"], "--user: expected KEY=VALUE"),
        (["--connection", "{}", "--create", "{}", "--set", "x"], "--set: expected NAME=VALUE"),
        (["--connection", "{}", "--reimport", "--create", "{}"], "--reimport needs --import"),
        (
            ["--connection", "{}", "--create", "{}", "--world-url", "http://127.0.0.1:1"],
            "cannot reach the world's control plane",
        ),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    assert main(["connector", "run", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_broken_store_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "eic.json"
    bad.write_text("{not json")
    assert main(["connector", "run", "--connection", "{}", "--create", "{}", "--store", str(bad)]) == 2
    assert f"{bad}: not an EIC store file" in capsys.readouterr().err
