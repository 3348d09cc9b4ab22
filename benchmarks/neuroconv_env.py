"""NeuroConv in its own benchmark virtual environment, never a dependency of nwb-ketamine.

``python benchmarks/neuroconv_env.py`` creates ``benchmarks/.neuroconv-venv`` (gitignored) with the same
Python as the caller and ``pip install "neuroconv[openephys,abf]"`` from PyPI, then prints the version it
got. The benchmarks that compare against NeuroConv (``bench_tetrode_convert``, ``bench_abf_convert``,
``bench_study``) call :func:`neuroconv_python` to find that venv's interpreter and run
``benchmarks/neuroconv_runner.py`` in it as a subprocess, so both tools are driven in the same run while
NeuroConv's packages (spikeinterface, neo, pinned pynwb/hdmf) never enter the project's environment.
When the venv is absent or broken, :func:`neuroconv_python` returns ``None`` with the reason, and the
benchmarks say so and time our side alone.

Usage::

    python benchmarks/neuroconv_env.py [--recreate] [--spec "neuroconv[openephys,abf]"]
    make bench-env
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".neuroconv-venv"
RUNNER = HERE / "neuroconv_runner.py"
SPEC = "neuroconv[openephys,abf]"


def venv_python(venv: Path = VENV) -> Path:
    """The interpreter of ``venv`` (POSIX or Windows layout)."""
    posix = venv / "bin" / "python"
    return posix if posix.exists() or sys.platform != "win32" else venv / "Scripts" / "python.exe"


def neuroconv_python(venv: Path = VENV) -> tuple[Path | None, str]:
    """The benchmark venv's interpreter and NeuroConv's version, or ``None`` and why it cannot be used."""
    python = venv_python(venv)
    if not python.exists():
        return None, f"no benchmark venv at {venv} (create it with `python benchmarks/neuroconv_env.py`)"
    probe = subprocess.run(
        [str(python), "-c", "import neuroconv, importlib.metadata as m; print(m.version('neuroconv'))"],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        return None, f"NeuroConv does not import in {venv}: {probe.stderr.strip().splitlines()[-1:]}"
    return python, probe.stdout.strip()


def run_in_venv(python: Path | str, script: str | Path, *args: str) -> tuple[list[dict], dict]:
    """Run ``script`` (a path, or code for ``-c``) with ``python``: its JSON lines and what the run cost.

    The cost is ``wall_s``, ``cpu_s`` (user + system of the child) and ``rss_mb``, the child's own peak
    ``ru_maxrss`` from ``os.wait4`` (what ``/usr/bin/time`` reports), with the 1-minute ``load`` after it.
    """
    command = [str(python), str(script)] if isinstance(script, Path) else [str(python), "-c", script]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{command[:2]} failed with exit code {proc.returncode}")
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    cost = {
        "wall_s": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }
    return lines, cost


def create(venv: Path = VENV, spec: str = SPEC, recreate: bool = False) -> Path:
    """Create ``venv`` and install ``spec`` into it; return its interpreter."""
    if recreate and venv.exists():
        shutil.rmtree(venv)
    if not venv_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv_python(venv)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", spec], check=True)
    return python


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recreate", action="store_true", help="delete the venv first")
    parser.add_argument("--spec", default=SPEC, help="what pip installs (default: %(default)s)")
    args = parser.parse_args()
    create(spec=args.spec, recreate=args.recreate)
    python, version = neuroconv_python()
    if python is None:
        sys.exit(version)
    print(f"NeuroConv {version} in {VENV}")


if __name__ == "__main__":
    main()
