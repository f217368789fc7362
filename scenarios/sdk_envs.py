"""Isolated virtual environments for the real Zscaler SDKs that the scenarios drive.

zscaler-sdk-python and pyzscaler cannot share one environment (pyzscaler pins ``python-box==7.0.1``,
the official SDK needs ``python-box>=7.3``), and neither belongs in the simulator's own environment, so
each SDK family gets its own venv and the scenarios run their scripts with that venv's interpreter:

- ``official``: zscaler-sdk-python (legacy session and OneAPI) + zscaler-api-talkers
- ``pyzscaler``: pyzscaler (legacy session only; it has no OneAPI support)

The venvs live under ``$SIMS_SDK_VENVS`` or ``<repo>/.venvs/`` (not tracked). Each is built once and
reused: a stamp file records the pins it was built with, and it is rebuilt only when they change. A file
lock serialises builds, so parallel pytest workers (or two terminals) never race on the same venv.

Build them ahead of time (CI, or to time it)::

    python -m scenarios.sdk_envs            # build whatever is missing or stale, print the timings
    python -m scenarios.sdk_envs --rebuild  # from scratch
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Top-level pins (what the scenarios are written against, and what the reference observed), plus the
# transitive versions they resolved to on Python 3.11, so that a new release of a dependency cannot
# change what the scenarios exercise. Changing anything here rebuilds the venv on next use.
ENVS: dict[str, dict[str, list[str]]] = {
    "official": {
        "requirements": ["zscaler-sdk-python==1.11.3", "zscaler-api-talkers==6.4.1"],
        "constraints": [
            "aenum==3.1.17",
            "appdirs==1.4.4",
            "arrow==1.4.0",
            "certifi==2026.10.18",
            "cffi==2.1.1",
            "charset-normalizer==3.5.2",
            "cryptography==50.0.2",
            "idna==3.20",
            "jmespath==1.1.0",
            "jwcrypto==1.6.1",
            "pycparser==3.12",
            "pydash==8.1.0",
            "PyJWT==2.15.1",
            "python-box==8.0.0",
            "python-dateutil==4.0.0",
            "pytz==2026.6",
            "PyYAML==6.0.3",
            "requests==2.34.2",
            "typing_extensions==4.16.0",
            "tzdata==2026.6",
            "urllib3==2.8.0",
        ],
    },
    "pyzscaler": {
        "requirements": ["pyzscaler==1.6.0"],
        "constraints": [
            "arrow==1.4.0",
            "certifi==2026.10.18",
            "charset-normalizer==3.5.2",
            "idna==3.20",
            "python-box==7.0.1",  # pyzscaler's own pin; the official SDK needs >=7.3
            "python-dateutil==4.0.0",
            "requests==2.34.2",
            "restfly==1.4.7",
            "tzdata==2026.6",
            "urllib3==2.8.0",
        ],
    },
}

STAMP = ".sims-sdk-env.json"
BUILD_TIMEOUT = 900  # seconds, for one pip install


class SdkEnvError(RuntimeError):
    pass


@dataclass(frozen=True)
class SdkEnv:
    name: str
    path: Path
    built: bool  # True if this call (re)built it
    seconds: float  # time spent building (0 when reused)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def venvs_root() -> Path:
    return Path(os.environ.get("SIMS_SDK_VENVS") or REPO / ".venvs")


def _wanted(name: str) -> dict:
    spec = ENVS[name]
    return {
        "requirements": spec["requirements"],
        "constraints": spec["constraints"],
        "python": sys.version.split()[0],
        "base": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
    }


def _stamp_ok(path: Path, wanted: dict) -> bool:
    try:
        stamp = json.loads((path / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("wanted") == wanted and (path / "bin" / "python").exists()


@contextmanager
def _locked(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise SdkEnvError(f"{' '.join(cmd[:4])} ... failed (exit {proc.returncode}); log {log}:\n{tail}")


def ensure(name: str, rebuild: bool = False) -> SdkEnv:
    """Return the venv for ``name``, building it first if it is missing, stale or ``rebuild`` is set."""
    if name not in ENVS:
        raise KeyError(f"unknown SDK environment {name!r}; known: {sorted(ENVS)}")
    root = venvs_root()
    path = root / name
    wanted = _wanted(name)
    if not rebuild and _stamp_ok(path, wanted):
        return SdkEnv(name, path, False, 0.0)
    with _locked(root / f".{name}.lock"):
        # Another worker may have built it while we waited for the lock.
        if not rebuild and _stamp_ok(path, wanted):
            return SdkEnv(name, path, False, 0.0)
        started = time.monotonic()
        if path.exists():
            shutil.rmtree(path)
        log = root / f"{name}.build.log"
        log.write_text("")
        _run([sys.executable, "-m", "venv", str(path)], log)
        python = str(path / "bin" / "python")
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"]
        if wanted["constraints"]:
            constraints = path / "constraints.txt"
            constraints.write_text("\n".join(wanted["constraints"]) + "\n")
            pip += ["-c", str(constraints)]
        _run(pip + wanted["requirements"], log)
        freeze = subprocess.run(
            [python, "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds = round(time.monotonic() - started, 1)
        stamp = {"wanted": wanted, "freeze": freeze, "build_seconds": seconds, "built_at": time.time()}
        (path / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        return SdkEnv(name, path, True, seconds)


def python_for(name: str) -> Path:
    return ensure(name).python


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=sorted(ENVS), help=f"which ({', '.join(sorted(ENVS))})")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    for name in args.names:
        env = ensure(name, rebuild=args.rebuild)
        what = f"built in {env.seconds:.1f} s" if env.built else "up to date"
        print(f"{name}: {env.path} ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
