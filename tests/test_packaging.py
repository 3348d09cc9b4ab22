"""The built wheel installs into a fresh virtual environment and runs outside the source tree."""

import shutil
import subprocess
import sys
import venv
import zipfile

import pytest

from tests.conftest import EXAMPLE_STUDY, ROOT


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("nwb_ketamine-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    folders = {
        "nwb_ketamine": "nwb_ketamine",
        "converters": "nwb_ketamine/converters",
        "explorer": "nwb_ketamine/explorer",
        "schemas": "nwb_ketamine/schemas",
    }
    for folder, installed in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            expected = f"{installed}/{init.relative_to(ROOT / folder).as_posix()}"
            assert expected in shipped, f"{expected} is missing from the wheel: list it in pyproject.toml"
    assert {"nwb_ketamine/schemas/study.schema.json", "nwb_ketamine/schemas/ndx-drug-stress.namespace.yaml"} <= shipped
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)

    outside = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE_STUDY.parent, outside / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, str(outside / "examples" / "make_example_raw.py")], check=True, cwd=outside)
    command = env_dir / "bin" / "nwb-ketamine"

    help_ = subprocess.run([command, "--help"], capture_output=True, text=True, cwd=outside, check=True)
    assert "check" in help_.stdout
    result = subprocess.run(
        [command, "check", "examples/study.yaml"], capture_output=True, text=True, cwd=outside, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "2 subjects" in result.stdout
    where = subprocess.run(
        [python, "-c", "import nwb_ketamine.extension as e; print(e.NAMESPACE_PATH)"],
        capture_output=True,
        text=True,
        cwd=outside,
        check=True,
    )
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    for name in ("converters", "explorer", "schemas"):
        probe = subprocess.run([python, "-c", f"import {name}"], capture_output=True, cwd=outside, check=False)
        assert probe.returncode != 0, f"a generic top-level module {name!r} is installed"
