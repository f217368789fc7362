"""Big worlds (issue 8): bulk users and events are deterministic, counted right, and reported to a
progress callback; nothing is reported unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from sims.core import progress
from sims.core.names import group_names
from sims.launch import Settings, plan, planned_items
from sims.world import load_world

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
name: small-big
seed: 8
clock: {mode: frozen, start: "2026-01-15T09:00:00Z"}
idp:
  directories:
    - id: bulk
      roles: [{name: Admins}]
      generate: {count: 2000, seed: 8, domain: bulk.example, roles: [Everyone], groups: 20}
      web_apps: []
zia:
  tenants:
    - cloud: zscloud.net
      org_id: 8000008
      name: Bulk
      users: [{name: first@bulk.example, groups: [Group 0003]}]
      generate_users: {count: 2000, seed: 8, domain: bulk.example, groups: 20}
mimecast:
  accounts:
    - account_code: CUSA8000008
      name: Bulk
      client_id: c
      client_secret: s
      domains: [bulk.example]
      generator: {seed: 8, clicks_per_hour: 2500, impersonations_per_hour: 0, history_hours: 20}
"""


class Recorder:
    def __init__(self) -> None:
        self.tasks: dict[str, dict] = {}

    def task(self, name: str, total: int):
        entry = self.tasks[name] = {"total": total, "done": 0, "closed": False}

        class Task:
            def advance(self, n: int = 1) -> None:
                entry["done"] += n

            def close(self) -> None:
                entry["closed"] = True

        return Task()


@pytest.fixture
def world_file(tmp_path: Path) -> str:
    path = tmp_path / "small-big.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return str(path)


def build(world_file: str, recorder=None):
    return plan(Settings(world=world_file, only=["idp", "zia", "mimecast"], progress=recorder))


def snapshot(runtime) -> dict:
    directory = runtime.sims["idp"].directories["bulk"]
    people = next(iter(runtime.sims["zia"].tenants.values())).people
    book = runtime.sims["mimecast"].accounts["CUSA8000008"].events
    return {
        "idp": [(u.login, u.display_name, u.department, u.password) for u in directory.users.values()],
        "roles": directory.roles,
        "zia": [(u.id, u.name, u.display_name, u.department, u.groups) for u in people.users.values()],
        "groups": people.groups,
        "clicks": list(book.clicks.times),
    }


def test_generation_is_deterministic_and_counted(world_file):
    first, second = snapshot(build(world_file)), snapshot(build(world_file))
    assert first == second
    assert len(first["idp"]) == len({u[0] for u in first["idp"]}) == 2000
    roles = first["roles"]
    assert [r for r in roles if r.startswith("Group ")] == group_names(20)
    assert all(len(roles[g]) == 100 for g in group_names(20))
    assert len(roles["Everyone"]) == 2000 and roles["Admins"] == []
    zia = first["zia"]
    assert len(zia) == 2001 and len({u[1] for u in zia}) == 2001
    assert [u[0] for u in zia] == list(range(40_000_001, 40_002_002))  # configured user first
    assert zia[0][1] == "first@bulk.example"
    assert sorted(first["groups"].values()) == group_names(20)
    assert all(len(u[4]) == 1 and u[3] is not None for u in zia[1:])
    assert 45_000 < len(first["clicks"]) < 55_000  # 2,500 an hour for 20 hours
    assert first["clicks"] == sorted(first["clicks"])


def test_progress_gets_the_totals(world_file):
    recorder = Recorder()
    runtime = build(world_file, recorder)
    clicks = len(runtime.sims["mimecast"].accounts["CUSA8000008"].events.clicks.times)
    assert recorder.tasks == {
        "idp bulk: users": {"total": 2000, "done": 2000, "closed": True},
        "zia bulk.example: users": {"total": 2000, "done": 2000, "closed": True},
        "mimecast CUSA8000008: clicks": {"total": 50_000, "done": clicks, "closed": True},
    }
    assert planned_items(runtime.world) == 54_000


def test_no_progress_by_default(world_file, monkeypatch):
    assert Settings().progress is None
    assert isinstance(progress.current(), progress.NullProgress)

    def no_bars():
        raise AssertionError("progress bars made though none was asked for")

    monkeypatch.setattr(progress, "RichProgress", no_bars)
    build(world_file)  # no progress asked: the no-op one
    recorder = Recorder()
    with progress.using(recorder):
        assert progress.current() is recorder
    assert isinstance(progress.current(), progress.NullProgress)  # restored after the block


def test_auto_progress_is_quiet_for_small_worlds_off_a_terminal(world_file, capsys):
    plan(Settings(progress="auto"))  # the default world generates ~1,500 items: no bars
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_big_fixture_asks_for_a_big_world():
    world = load_world(ROOT / "fixtures" / "big.yaml")
    directory = world.idp.directories[0].generate
    assert (directory.count, directory.groups) == (100_000, 500)
    assert world.zia.tenants[0].generate_users.count == 100_000
    assert planned_items(world) > 1_100_000
