"""Structured logs: ``sims up --log-format json`` writes one JSON object per line on stderr."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess

import httpx
import pytest

from sims.core import logs
from tests.core.test_cli import ROOT, clean_env, free_base_port, sims_command, wait_healthy


def test_json_formatter_stamps_sim_time_and_keeps_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter(clock=lambda: 1_768_467_600.0))  # 2026-01-15T09:00:00Z
    logger = logging.getLogger("sims.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("hello %s", "world", extra={"sim": "idp", "status": 200})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["time"] == "2026-01-15T09:00:00.000Z"
    assert first["wall_time"] != first["time"]
    assert first["level"] == "info" and first["logger"] == "sims.test.logs"
    assert first["message"] == "hello world"
    assert first["sim"] == "idp" and first["status"] == 200
    assert second["level"] == "error" and "ValueError: boom" in second["exc_info"]


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        logs.configure("info", "xml")


def test_up_with_json_logs_writes_parseable_lines(tmp_path) -> None:
    base = free_base_port()
    proc = subprocess.Popen(
        sims_command(
            "up", "--log-format", "json", "--log-level", "info", "--base-port", str(base), "--clock", "frozen"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{base}")
        r = httpx.get(f"http://127.0.0.1:{base + 1}/oauth2/okta/v1/keys", timeout=5)
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no log lines on stderr"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for rec in records:
        assert {"time", "wall_time", "level", "logger", "message"} <= rec.keys()
    requests = [rec for rec in records if rec["logger"] == "sims.requests"]
    keys = [rec for rec in requests if rec["path"] == "/oauth2/okta/v1/keys"]
    assert keys, requests
    (rec,) = keys
    assert rec["level"] == "info" and rec["sim"] == "idp" and rec["method"] == "GET" and rec["status"] == 200
    assert rec["time"] == "2026-01-15T09:00:00.000Z"  # the frozen sim clock, not the wall clock
    assert rec["wall_time"] != rec["time"]
    assert any(rec["logger"].startswith("uvicorn") for rec in records)  # uvicorn's lines too


def test_requests_are_not_logged_at_the_default_level(tmp_path) -> None:
    base = free_base_port()
    proc = subprocess.Popen(
        sims_command("up", "--log-format", "json", "--base-port", str(base)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{base}")
        httpx.get(f"http://127.0.0.1:{base + 1}/oauth2/okta/v1/keys", timeout=5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "sims.requests" not in err
