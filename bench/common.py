"""Shared helpers: free loopback ports, spawning and stopping ``sims up``, raw HTTP polls, /proc figures.

Everything talks to 127.0.0.1 only, and every wait has a deadline.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.005
BUSY_CORES = 0.25  # other processes' load above which a figure is flagged as disturbed
PORT_BLOCK = 8  # control + every sim ``--base-port`` may place after it, with room to spare

# The Okta-style client of the default world (``sims world --json``).
OKTA_TOKEN_PATH = "/oauth2/okta/v1/token"
TOKEN_FORM = (
    "grant_type=client_credentials&client_id=mimecast-threat-share"
    "&client_secret=okta-mimecast-secret-3173833"
    "&scope=zscloud.net%3A%3A3173833%3A%3AMimecast_Threat_Share"
)
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


# -- ports -----------------------------------------------------------------------------------------
def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_block(count: int = PORT_BLOCK, tries: int = 200) -> int:
    """The first of ``count`` consecutive free loopback ports (for ``sims up --base-port``)."""
    rng = random.Random()
    for _ in range(tries):
        base = rng.randrange(20000, 60000 - count)
        if all(port_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no block of {count} free ports found on {HOST}")


def free_port() -> int:
    return free_port_block(1)


# -- raw HTTP --------------------------------------------------------------------------------------
def http_status(port: int, path: str, host: str = HOST, timeout: float = 1.0) -> int | None:
    """Status code of ``GET path`` with a bare socket (no client library), None if nothing answers."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(request)
            data = b""
            while b"\r\n" not in data and len(data) < 1024:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    parts = data.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])


class ProcessDied(RuntimeError):
    pass


def wait_until(
    ready: Callable[[], bool],
    timeout: float,
    *,
    proc: subprocess.Popen | None = None,
    interval: float = POLL_SECONDS,
) -> float:
    """Poll ``ready`` until true; seconds waited. Raises TimeoutError, or ProcessDied if ``proc`` exits."""
    start = time.perf_counter()
    deadline = start + timeout
    while True:
        if ready():
            return time.perf_counter() - start
        if proc is not None and proc.poll() is not None:
            raise ProcessDied(f"process {proc.pid} exited with status {proc.returncode}")
        if time.perf_counter() >= deadline:
            raise TimeoutError(f"not ready after {timeout:.0f} s")
        time.sleep(interval)


# -- processes -------------------------------------------------------------------------------------
def sims_command() -> list[str]:
    """The ``sims`` console script of this interpreter's environment (its pid is the server's)."""
    script = Path(sys.executable).with_name("sims")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sims.cli"]


@dataclass
class Spawned:
    """A started server process; ``log`` collects its stdout and stderr for error messages."""

    proc: subprocess.Popen
    started: float  # time.perf_counter() just before the spawn
    log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output_tail(self, chars: int = 2000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-chars:]

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; only this process, by its id."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
        finally:
            self.log.close()


def spawn(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Spawned:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Spawned.stop()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,  # a Ctrl-C of the benchmark reaches us, not the server mid-run
    )
    return Spawned(proc, started, log)


def spawn_sims(base_port: int, *extra: str, env: dict[str, str] | None = None) -> Spawned:
    """``sims up --base-port base_port``: control plane on base_port, idp on base_port + 1."""
    return spawn([*sims_command(), "up", "--base-port", str(base_port), *extra], env=env)


def wait_healthy(control_port: int, spawned: Spawned, timeout: float = 30.0) -> float:
    """Seconds from the spawn until ``GET /health`` answers 200 (polled every 5 ms)."""
    try:
        wait_until(lambda: http_status(control_port, "/health") == 200, timeout, proc=spawned.proc)
    except (TimeoutError, ProcessDied) as err:
        raise RuntimeError(f"sims up did not become healthy: {err}\n{spawned.output_tail()}") from None
    return time.perf_counter() - spawned.started


# -- /proc -----------------------------------------------------------------------------------------
def proc_status_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS: resident memory now, VmHWM: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far (utime, stime of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # fields 14 and 15 of proc(5)


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (first line of /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children already waited for (e.g. wrk runs)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class BackgroundMeter:
    """How many cores *other* processes kept busy between start() and cores(): the machine's busy
    time less this process, its waited-for children, and the server's own CPU time."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._busy = machine_busy_seconds()
        self._own = own_cpu_seconds()

    def cores(self, server_cpu_seconds: float) -> float:
        wall = time.perf_counter() - self._wall
        busy = machine_busy_seconds() - self._busy
        own = own_cpu_seconds() - self._own
        return max(0.0, busy - own - server_cpu_seconds) / wall if wall > 0 else 0.0


def machine_note() -> str:
    """One line on what the figures were measured on: cores, load, Python, the repo's commit."""
    load1 = os.getloadavg()[0]
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        head = ""
    note = (
        f"machine: {os.cpu_count()} cores, load average {load1:.2f}, Python {sys.version.split()[0]}"
        f", sims at {head or 'unknown commit'}"
    )
    meter = BackgroundMeter()
    time.sleep(0.5)
    busy = meter.cores(0.0)
    note += f", busy {busy:.2f} cores now"
    if busy > BUSY_CORES:
        note += "\nwarning: other processes keep the machine busy: figures will be lower than on an idle one"
    return note


def mib(kib: float) -> float:
    return kib / 1024


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"
