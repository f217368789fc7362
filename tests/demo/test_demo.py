"""``sims demo NAME`` against an in-process world (frozen clock: the demos advance it, never wait)."""

from __future__ import annotations

import pytest

from sims.cli import main


def demo(sims, capsys, name: str) -> str:
    code = main(["demo", name, "--control-url", sims.url("control"), "--fast"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"demo {name} complete" in out and "/reset" in out
    return out


def test_mimecast(sims, capsys):
    out = demo(sims, capsys, "mimecast")
    assert "Mimecast Threats" in out and "normal" in out
    assert "BLOCK" in out and "ALLOW" in out and "Block Mimecast threats" in out


def test_mimecast_twice_on_the_same_world(sims, capsys):
    demo(sims, capsys, "mimecast")
    assert "already exists" in demo(sims, capsys, "mimecast")


def test_cyberark(sims, capsys):
    out = demo(sims, capsys, "cyberark")
    assert "signed in at ZIA" in out and "Bob Sales" in out
    assert "Start Sync" in out and "carol.eng@safemarch.example" in out
    assert "Field Sales" in out and "PUT" in out


def test_saviynt(sims, capsys):
    out = demo(sims, capsys, "saviynt")
    assert "run succeeded" in out and "saviynt.demo@safemarch.example" in out
    assert "EIC accounts" in out


def test_unreachable_control_plane(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["demo", "mimecast", "--control-url", f"http://127.0.0.1:{port}", "--fast"]) == 2
    assert "cannot reach the control plane" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mimecast", "cyberark", "saviynt"])
def test_help_lists_demos(name, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert name in capsys.readouterr().out
